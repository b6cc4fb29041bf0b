"""Periods: the series per day/week/month/quarter/year, the churn of the top N between periods
and its exact decomposition, date windows (--from/--to/--last), time zones and period labels.

Expected values are worked out by hand below (the arithmetic is in the comments) or come from the
independent reference (tests/reference.py), never from topshare's own functions.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import topshare
from helpers import Writer, run_cli
from reference import net_totals, ranking, ref_churn
from topshare.result import Mover, Period, ShareChange
from topshare.slices import share_change_exact

D = Decimal
EXACT = 1e-12

# Five months, six customers, two regions (and one row-less region: E), two channels; top N = 2.
#   Jan: A 300+200=500, B 300, C 100, D 50                      T=950   top {A, B}
#   Feb: B 400, A 350, C 200, E 100, F 30-80=-50 (refund)        T=1000  top {B, A}: rank swap
#   Mar: C 600, B 250, A 100, D 50                               T=1000  top {C, B}: C in, A out
#   Apr: no rows at all                                          T=0     top {}
#   May: E 700, A 200, B 100                                     T=1000  top {E, A}
# Overall: A 1150, B 1050, C 900, D 100, E 800, F -50 -> T = 3950 = 950+1000+1000+0+1000.
SALES = """customer,amount,date,region,channel
A,300.00,2024-01-05,north,web
A,200.00,2024-01-20,north,shop
B,300.00,2024-01-10,south,web
C,100.00,2024-01-15,south,shop
D,50.00,2024-01-31,north,web
B,400.00,2024-02-01,south,web
F,30.00,2024-02-03,north,shop
A,350.00,2024-02-14,north,web
C,200.00,2024-02-20,south,shop
F,-80.00,2024-02-28,north,shop
E,100.00,2024-02-29,,web
C,600.00,2024-03-02,south,web
B,250.00,2024-03-09,south,shop
A,100.00,2024-03-30,north,web
D,50.00,2024-03-31,north,shop
E,700.00,2024-05-02,,shop
A,200.00,2024-05-10,north,web
B,100.00,2024-05-31,south,web
"""


def approx(x: Fraction | float) -> Any:
    return pytest.approx(float(x), rel=EXACT)


def moves(ms: list[Mover] | None) -> list[tuple[str, int | None, int | None, Decimal, Decimal]]:
    assert ms is not None
    return [(m.entity, m.rank, m.previous_rank, m.value, m.previous_value) for m in ms]


def shares(ms: list[Mover] | None) -> list[tuple[float | None, float | None]]:
    assert ms is not None
    return [(m.share, m.previous_share) for m in ms]


def terms(c: ShareChange | None) -> tuple[float, float, float, float]:
    """(total, entered, left, stayed) of a share change that must be defined."""
    assert c is not None
    assert c.total is not None
    assert c.entered is not None
    assert c.left is not None
    assert c.stayed is not None
    return c.total, c.entered, c.left, c.stayed


def by_label(periods: list[Period] | None) -> dict[str, Period]:
    assert periods is not None
    return {p.label: p for p in periods}


# --- the monthly series, by hand ------------------------------------------------------------------


def test_month_series_metrics(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", SALES), top=2, period="month")
    assert r.periods is not None
    assert [(p.period, p.label) for p in r.periods] == [
        (date(2024, 1, 1), "2024-01"),
        (date(2024, 2, 1), "2024-02"),
        (date(2024, 3, 1), "2024-03"),
        (date(2024, 4, 1), "2024-04"),
        (date(2024, 5, 1), "2024-05"),
    ]
    assert [(p.total, p.rows, p.n_entities, p.top_n_sum) for p in r.periods] == [
        (D("950.00"), 5, 4, D("800.00")),
        (D("1000.00"), 6, 5, D("750.00")),
        (D("1000.00"), 4, 4, D("850.00")),
        (D("0.00"), 0, 0, D("0.00")),  # the month without rows is still there
        (D("1000.00"), 3, 3, D("900.00")),
    ]
    assert sum((p.total for p in r.periods), D(0)) == r.total == D("3950.00")
    assert [[(t.rank, t.entity, t.value) for t in p.top] for p in r.periods] == [
        [(1, "A", D("500.00")), (2, "B", D("300.00"))],
        [(1, "B", D("400.00")), (2, "A", D("350.00"))],
        [(1, "C", D("600.00")), (2, "B", D("250.00"))],
        [],
        [(1, "E", D("700.00")), (2, "A", D("200.00"))],
    ]
    jan, feb, mar, apr, may = r.periods
    # top-N share: 800/950 = 16/19; 750/1000; 850/1000; undefined (T = 0); 900/1000
    assert jan.top_n_share == approx(Fraction(16, 19))
    assert feb.top_n_share == approx(Fraction(3, 4))
    assert mar.top_n_share == approx(Fraction(17, 20))
    assert may.top_n_share == approx(Fraction(9, 10))
    # HHI points = 10,000 * sum x^2 / P^2 over the entities with x >= 0:
    #   Jan (500^2+300^2+100^2+50^2)/950^2 = 352500/902500 = 141/361
    #   Feb F (-50) left out: P = 1050, (400^2+350^2+200^2+100^2)/1050^2 = 332500/1102500 = 19/63
    #   Mar (600^2+250^2+100^2+50^2)/1000^2 = 435000/10^6;  May (700^2+200^2+100^2)/10^6 = 540000/10^6
    assert jan.hhi_points == approx(Fraction(10_000 * 141, 361))
    assert feb.hhi_points == approx(Fraction(10_000 * 19, 63))
    assert mar.hhi_points == approx(4350)
    assert may.hhi_points == approx(5400)
    # Gini = 2 sum i x_(i) / (n P) - (n+1)/n, x ascending:
    #   Jan [50,100,300,500]: 2*(50+200+900+2000)/(4*950) - 5/4 = 63/38 - 5/4 = 31/76
    #   Feb [100,200,350,400]: 2*(100+400+1050+1600)/(4*1050) - 5/4 = 3/2 - 5/4 = 1/4
    #   Mar [50,100,250,600]: 2*(50+200+750+2400)/4000 - 5/4 = 17/10 - 5/4 = 9/20
    #   May [100,200,700]: 2*(100+400+2100)/3000 - 4/3 = 26/15 - 20/15 = 2/5
    assert jan.gini == approx(Fraction(31, 76))
    assert feb.gini == approx(Fraction(1, 4))
    assert mar.gini == approx(Fraction(9, 20))
    assert may.gini == approx(Fraction(2, 5))
    assert (feb.negative.entities, feb.negative.sum) == (1, D("-50.00"))
    assert (jan.negative.entities, mar.negative.entities) == (0, 0)
    assert (apr.top_n_share, apr.hhi, apr.hhi_points, apr.gini) == (None, None, None, None)
    assert (apr.others.entities, apr.others.value) == (0, D("0.00"))


def test_month_series_churn(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", SALES), top=2, period="month")
    assert r.periods is not None
    jan, feb, mar, apr, may = r.periods
    assert (jan.entered, jan.left, jan.stayed, jan.share_change) == (None, None, None, None)

    # Jan -> Feb: the same two, swapped (A #1 -> #2, B #2 -> #1).
    assert moves(feb.entered) == moves(feb.left) == []
    assert moves(feb.stayed) == [
        ("B", 1, 2, D("400.00"), D("300.00")),
        ("A", 2, 1, D("350.00"), D("500.00")),
    ]
    assert shares(feb.stayed) == [
        (approx(Fraction(400, 1000)), approx(Fraction(300, 950))),
        (approx(Fraction(350, 1000)), approx(Fraction(500, 950))),
    ]
    # share 750/1000 - 800/950 = 3/4 - 16/19 = (57 - 64)/76 = -7/76, all of it from the stayers:
    # (400/1000 - 300/950) + (350/1000 - 500/950) = -7/76
    total, entered, left, stayed = terms(feb.share_change)
    assert total == approx(Fraction(-7, 76))
    assert (entered, left) == (0.0, 0.0)
    assert stayed == approx(Fraction(-7, 76))
    assert entered - left + stayed == approx(total)

    # Feb -> Mar: C enters at #1 (it had 200), A leaves (#2 with 350, now 100), B #1 -> #2.
    assert moves(mar.entered) == [("C", 1, None, D("600.00"), D("200.00"))]
    assert moves(mar.left) == [("A", None, 2, D("100.00"), D("350.00"))]
    assert moves(mar.stayed) == [("B", 2, 1, D("250.00"), D("400.00"))]
    assert shares(mar.entered) == [(approx(Fraction(3, 5)), approx(Fraction(1, 5)))]
    assert shares(mar.left) == [(approx(Fraction(1, 10)), approx(Fraction(7, 20)))]
    # total 850/1000 - 750/1000 = 1/10 = entered 600/1000 - left 350/1000 + stayed (250-400)/1000
    total, entered, left, stayed = terms(mar.share_change)
    assert (total, entered, left, stayed) == (
        approx(Fraction(1, 10)),
        approx(Fraction(3, 5)),
        approx(Fraction(7, 20)),
        approx(Fraction(-3, 20)),
    )
    assert entered - left + stayed == approx(total)

    # Mar -> Apr (no rows): both leave, with value 0 and no share (T = 0); no share change.
    assert moves(apr.entered) == moves(apr.stayed) == []
    assert moves(apr.left) == [
        ("C", None, 1, D("0.00"), D("600.00")),
        ("B", None, 2, D("0.00"), D("250.00")),
    ]
    assert shares(apr.left) == [(None, approx(Fraction(3, 5))), (None, approx(Fraction(1, 4)))]
    assert apr.share_change is None
    # Apr -> May: both enter from nothing; the previous total is 0, so no share change.
    assert moves(may.entered) == [
        ("E", 1, None, D("700.00"), D("0.00")),
        ("A", 2, None, D("200.00"), D("0.00")),
    ]
    assert moves(may.left) == moves(may.stayed) == []
    assert shares(may.entered) == [(approx(0.7), None), (approx(0.2), None)]
    assert may.share_change is None


def test_negative_entity_in_a_top_list_keeps_the_identity(write: Writer) -> None:
    # One region only (north), top 2. Jan: A 500, D 50 (T 550). Feb: A 350, F 30-80 = -50 (T 300).
    text = "\n".join(line for line in SALES.splitlines() if ",north," in line or "customer" in line)
    r = topshare.analyze(
        write("north.csv", text + "\n"), top=2, period="month", date_to="2024-02-29"
    )
    _, feb = by_label(r.periods).values()
    assert moves(feb.entered) == [("F", 2, None, D("-50.00"), D("0.00"))]
    assert moves(feb.left) == [("D", None, 2, D("0.00"), D("50.00"))]
    assert moves(feb.stayed) == [("A", 1, 1, D("350.00"), D("500.00"))]
    # total 300/300 - 550/550 = 0 = entered -50/300 - left 50/550 + stayed (350/300 - 500/550)
    #   = -1/6 - 1/11 + 17/66 = (-11 - 6 + 17)/66
    total, entered, left, stayed = terms(feb.share_change)
    assert total == pytest.approx(0.0, abs=EXACT)
    assert (entered, left, stayed) == (
        approx(Fraction(-1, 6)),
        approx(Fraction(1, 11)),
        approx(Fraction(17, 66)),
    )
    assert entered - left + stayed == pytest.approx(total, abs=EXACT)


# --- date windows ---------------------------------------------------------------------------------

# SALES and one rejected row (no date) whose amount, 7.00, is still money in.
WINDOWED = SALES + "G,7.00,,north,web\n"


def test_from_to_inclusive_days_and_reconciliation(write: Writer) -> None:
    r = topshare.analyze(
        write("s.csv", WINDOWED),
        top=2,
        period="month",
        date_from="2024-02-01",
        date_to="2024-03-30",
    )
    # In: Feb (6 rows, 1000, from B on the first day 02-01) and Mar up to 03-30 inclusive
    # (C 600, B 250, A 100 = 950; D's 50 on 03-31 is out).
    assert (r.total, r.rows.analysed) == (D("1950.00"), 9)
    # Out: Jan 5 rows (950), D 03-31 (50), May 3 rows (1000) -> 9 rows, 2000.
    assert (r.rows.out_of_range, r.money.out_of_range) == (9, D("2000.00"))
    assert (r.rows.rejected, r.money.rejected) == (1, D("7.00"))
    assert r.rows.read == 19 == r.rows.analysed + r.rows.rejected + r.rows.out_of_range
    assert r.money.in_ == D("3957.00")  # 3950 + 7
    assert r.money.in_ == r.money.analysed + r.money.rejected + r.money.out_of_range
    assert r.money.reconciled
    assert r.scope is not None
    assert (r.scope.first_day, r.scope.last_day, r.scope.last) == (
        date(2024, 2, 1),
        date(2024, 3, 30),
        None,
    )
    assert [(p.label, p.total) for p in r.periods or []] == [
        ("2024-02", D("1000.00")),
        ("2024-03", D("950.00")),
    ]


def test_from_only_runs_to_the_last_date(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", WINDOWED), top=2, period="month", date_from="2024-03-31")
    # D 50 (03-31), E 700, A 200, B 100 = 1050; Apr empty but inside the window.
    assert [(p.label, p.total) for p in r.periods or []] == [
        ("2024-03", D("50.00")),
        ("2024-04", D("0.00")),
        ("2024-05", D("1000.00")),
    ]
    assert (r.total, r.rows.out_of_range, r.money.out_of_range) == (D("1050.00"), 14, D("2900.00"))
    assert r.money.reconciled


def test_last_whole_months_ending_with_last_date(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", WINDOWED), top=2, period="month", last="2m")
    # The last date is 2024-05-31: 2 whole months = April (no rows) and May.
    assert r.scope is not None
    assert (r.scope.first_day, r.scope.last_day, r.scope.last) == (
        date(2024, 4, 1),
        date(2024, 5, 31),
        "2m",
    )
    assert [(p.label, p.total, p.n_entities) for p in r.periods or []] == [
        ("2024-04", D("0.00"), 0),
        ("2024-05", D("1000.00"), 3),
    ]
    assert (r.total, r.rows.out_of_range, r.money.out_of_range) == (D("1000.00"), 15, D("2950.00"))
    assert r.money.in_ == r.money.analysed + r.money.rejected + r.money.out_of_range
    assert r.money.reconciled
    # 10 days ending 2024-05-31: 05-22 .. 05-31 holds only B's 100.
    ten = topshare.analyze(write("s.csv", WINDOWED), last="10d")
    assert ten.scope is not None
    assert (ten.scope.first_day, ten.total, ten.rows.analysed) == (
        date(2024, 5, 22),
        D("100.00"),
        1,
    )


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"last": "2m", "date_from": "2024-01-01"}, topshare.UsageError, "either --last or --from"),
        (
            {"date_from": "2024-02-01", "date_to": "2024-01-31"},
            topshare.UsageError,
            "--to 2024-01-31 is before --from 2024-02-01",
        ),
        ({"period": "fortnight"}, topshare.UsageError, "period must be one of"),
        ({"period": "month", "date": False}, topshare.UsageError, "needs a date column"),
        ({"last": "2m", "date": False}, topshare.UsageError, "needs a date column"),
        ({"tz": "Mars/Olympus"}, topshare.UsageError, "unknown time zone 'Mars/Olympus'"),
        ({"last": "2 months"}, topshare.UsageError, "--last must be"),
        ({"date_from": "01/02/2024"}, topshare.UsageError, "--from must be a date"),
        ({"segments": ["regoin"]}, topshare.ColumnError, "no column 'regoin' for the segment"),
    ],
)
def test_scope_errors(
    write: Writer, kw: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        topshare.analyze(write("s.csv", SALES), **kw)


def test_cli_scope_error_is_one_line_exit_2(write: Writer) -> None:
    r = run_cli("revenue", write("s.csv", SALES), "--period", "fortnight")
    assert r.code == 2
    assert r.err.startswith("topshare: error: period must be one of")
    assert len(r.err.strip().splitlines()) == 1


# --- time zones across daylight saving time -------------------------------------------------------

# Europe/Berlin: CET (+01:00) until 2024-03-31 01:00 UTC, CEST (+02:00) until 2024-10-27 01:00 UTC.
TZ_SALES = """customer,amount,created_at
a,10.00,2024-03-30T23:30:00Z
b,20.00,2024-03-31T22:30:00Z
c,40.00,2024-03-31T21:59:00+00:00
d,80.00,2024-03-31T00:30:00+01:00
e,160.00,2024-10-26T22:30:00Z
f,320.00,2024-10-27T23:30:00Z
g,640.00,2024-10-27T22:30:00Z
h,1280.00,2024-03-31 23:30:00
"""
# UTC days:   a 03-30, d 03-30 (23:30Z) -> 90; b, c, h (naive) 03-31 -> 1340;
#             e 10-26 -> 160; f, g 10-27 -> 960.
# Berlin:     a 00:30 CET 03-31, d 00:30 03-31, c 23:59 CEST 03-31, h (naive: as written) 03-31
#             -> 1410; b 00:30 CEST 04-01 -> 20 (a +01:00 mistake would give 23:30 03-31);
#             e 00:30 CEST 10-27, g 23:30 CET 10-27 -> 800; f 00:30 CET 10-28 -> 320.


@pytest.mark.parametrize(
    ("tz", "days", "first", "last"),
    [
        (
            None,
            {"2024-03-30": "90", "2024-03-31": "1340", "2024-10-26": "160", "2024-10-27": "960"},
            "2024-03-30",
            "2024-10-27",
        ),
        (
            "Europe/Berlin",
            {"2024-03-31": "1410", "2024-04-01": "20", "2024-10-27": "800", "2024-10-28": "320"},
            "2024-03-31",
            "2024-10-28",
        ),
    ],
)
def test_days_across_dst(
    write: Writer, tz: str | None, days: dict[str, str], first: str, last: str
) -> None:
    r = topshare.analyze(write("s.csv", TZ_SALES), period="day", tz=tz)
    assert r.periods is not None
    assert {p.label: p.total for p in r.periods if p.rows} == {k: D(v) for k, v in days.items()}
    # every day from the first to the last, empty ones included: 212 days either way
    assert (r.periods[0].label, r.periods[-1].label, len(r.periods)) == (first, last, 212)
    assert sum((p.total for p in r.periods), D(0)) == r.total == D("2550.00")
    assert r.scope is not None
    assert r.scope.tz == (tz or "UTC")


def test_window_days_are_in_the_time_zone(write: Writer) -> None:
    path = write("s.csv", TZ_SALES)
    # Up to 2024-03-31 inclusive. UTC: a, b, c, d, h = 10+20+40+80+1280 = 1430.
    utc = topshare.analyze(path, date_to="2024-03-31")
    assert (utc.total, utc.rows.out_of_range, utc.money.out_of_range) == (
        D("1430.00"),
        3,
        D("1120.00"),
    )
    # Berlin: b is on 04-01 there: 1410; out: b, e, f, g = 20+160+320+640 = 1140.
    berlin = topshare.analyze(path, date_to="2024-03-31", tz="Europe/Berlin")
    assert (berlin.total, berlin.rows.out_of_range, berlin.money.out_of_range) == (
        D("1410.00"),
        4,
        D("1140.00"),
    )
    assert berlin.money.reconciled
    assert utc.money.reconciled


# --- period keys and labels -----------------------------------------------------------------------


def test_iso_weeks_start_on_monday(write: Writer) -> None:
    # 2024-12-29 is a Sunday (ISO 2024-W52, from Monday 12-23); 2024-12-30 a Monday, the first
    # day of ISO 2025-W01, which runs to Sunday 2025-01-05; 2025-01-06 starts 2025-W02.
    path = write(
        "s.csv",
        "customer,amount,date\na,1,2024-12-29\nb,2,2024-12-30\nc,4,2025-01-05\nd,8,2025-01-06\n",
    )
    r = topshare.analyze(path, period="week")
    assert [(p.period, p.label, p.total) for p in r.periods or []] == [
        (date(2024, 12, 23), "2024-W52", D(1)),
        (date(2024, 12, 30), "2025-W01", D(6)),
        (date(2025, 1, 6), "2025-W02", D(8)),
    ]


def test_quarter_and_year_labels(write: Writer) -> None:
    path = write(
        "s.csv",
        "customer,amount,date\na,1,2023-12-31\nb,2,2024-03-31\nc,4,2024-04-01\nd,8,2024-12-31\n"
        "e,16,2026-01-01\n",
    )
    q = topshare.analyze(path, period="quarter")
    assert [(p.label, p.total) for p in q.periods or []] == [
        ("2023-Q4", D(1)),
        ("2024-Q1", D(2)),
        ("2024-Q2", D(4)),
        ("2024-Q3", D(0)),
        ("2024-Q4", D(8)),
        ("2025-Q1", D(0)),
        ("2025-Q2", D(0)),
        ("2025-Q3", D(0)),
        ("2025-Q4", D(0)),
        ("2026-Q1", D(16)),
    ]
    assert (q.periods or [])[3].period == date(2024, 7, 1)
    y = topshare.analyze(path, period="year")
    assert [(p.period, p.label, p.total) for p in y.periods or []] == [
        (date(2023, 1, 1), "2023", D(1)),
        (date(2024, 1, 1), "2024", D(14)),
        (date(2025, 1, 1), "2025", D(0)),
        (date(2026, 1, 1), "2026", D(16)),
    ]


# --- through the command --------------------------------------------------------------------------

PERIOD_KEYS = {"period", "label", "total", "top_n_sum", "top_n_share", "hhi", "hhi_points"}
PERIOD_KEYS |= {"gini", "n_entities", "top", "entered", "left", "stayed", "share_change"}


def test_cli_json_periods(write: Writer) -> None:
    path = write("s.csv", SALES)
    r = run_cli("revenue", path, "--top", "2", "--period", "month", "--format", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got == topshare.analyze(str(path), top=2, period="month").to_dict()
    periods = got["periods"]
    assert all(set(p) >= PERIOD_KEYS for p in periods)
    assert [(p["period"], p["label"], p["total"]) for p in periods] == [
        ("2024-01-01", "2024-01", "950.00"),
        ("2024-02-01", "2024-02", "1000.00"),
        ("2024-03-01", "2024-03", "1000.00"),
        ("2024-04-01", "2024-04", "0.00"),
        ("2024-05-01", "2024-05", "1000.00"),
    ]
    assert periods[0]["entered"] is None
    assert periods[0]["share_change"] is None
    mar = periods[2]
    assert (mar["top_n_sum"], mar["n_entities"]) == ("850.00", 4)
    assert mar["hhi_points"] == approx(4350)
    assert mar["entered"] == [
        {
            "entity": "C",
            "rank": 1,
            "previous_rank": None,
            "value": "600.00",
            "previous_value": "200.00",
            "share": approx(0.6),
            "previous_share": approx(0.2),
        }
    ]
    assert [m["entity"] for m in mar["left"]] == ["A"]
    assert [m["entity"] for m in mar["stayed"]] == ["B"]
    assert mar["share_change"] == {
        "total": approx(0.1),
        "entered": approx(0.6),
        "left": approx(0.35),
        "stayed": approx(-0.15),
    }
    assert periods[3]["share_change"] is None


def test_cli_table_periods_and_movers(write: Writer) -> None:
    r = run_cli("revenue", write("s.csv", SALES), "--top", "2", "--period", "month")
    assert r.code == 0, r.err
    for label in ("2024-01", "2024-02", "2024-03", "2024-04", "2024-05"):
        assert label in r.out
    assert "Top-2 share per month" in r.out
    assert "Movers 2024-04 → 2024-05:" in r.out
    assert "entered: E (#1, 70.0 %), A (#2, 20.0 %)" in r.out


# --- properties: random monthly data against the reference ----------------------------------------

customers = st.sampled_from(["A", "B", "C", "D", "E"])
regions = st.sampled_from(["north", "south", ""])  # "" is an empty field: a NULL segment value
rows_strategy = st.lists(
    st.tuples(customers, st.integers(-5_000, 20_000), st.integers(1, 4), regions),
    min_size=1,
    max_size=30,
)
ENGINE = settings(
    max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)


def cents(u: int) -> Decimal:
    return Decimal(u).scaleb(-2)


def units(d: Decimal) -> int:
    return int(d.scaleb(2))


def month_csv(rows: list[tuple[str, int, int, str]]) -> str:
    lines = ["customer,amount,date,region"]
    for key, c, month, region in rows:
        sign = "-" if c < 0 else ""
        lines.append(f"{key},{sign}{abs(c) // 100}.{abs(c) % 100:02d},2024-{month:02d}-15,{region}")
    return "\n".join(lines) + "\n"


def near(got: float | None, want: Fraction) -> bool:
    return got is not None and math.isclose(got, float(want), rel_tol=EXACT, abs_tol=EXACT)


@ENGINE
@given(rows=rows_strategy, top=st.integers(1, 3))
def test_periods_and_segments_add_up(rows: list[tuple[str, int, int, str]], top: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        path.write_text(month_csv(rows), encoding="utf-8")
        r = topshare.analyze(
            path, customer="customer", amount="amount", date="date", top=top, period="month",
            segments=["region"],
        )  # fmt: skip
    months = sorted({m for _, _, m, _ in rows})
    per_month = {m: net_totals((k, c) for k, c, mm, _ in rows if mm == m) for m in months}
    span = list(range(months[0], months[-1] + 1))
    assert r.periods is not None
    assert [p.period for p in r.periods] == [date(2024, m, 1) for m in span]
    for p, m in zip(r.periods, span, strict=True):
        totals = per_month.get(m, {})
        assert p.total == cents(sum(totals.values()))
        assert p.n_entities == len(totals)
        assert [(t.entity, t.value) for t in p.top] == [
            (k, cents(u)) for k, u in ranking(totals)[:top]
        ]
    assert sum((p.total for p in r.periods), Decimal(0)) == r.total
    assert r.total == cents(sum(c for _, c, _, _ in rows))

    for prev, cur, m in zip(r.periods, r.periods[1:], span[1:], strict=False):
        ref = ref_churn(per_month.get(m - 1, {}), per_month.get(m, {}), top)
        assert [x.entity for x in cur.entered or []] == ref.entered
        assert [x.entity for x in cur.left or []] == ref.left
        assert [x.entity for x in cur.stayed or []] == ref.stayed
        before = [(t.entity, units(t.value)) for t in prev.top]
        after = [(t.entity, units(t.value)) for t in cur.top]
        exact = share_change_exact(before, units(prev.total), after, units(cur.total))
        if ref.change is None:
            assert exact is None
            assert cur.share_change is None
            continue
        assert exact == ref.change
        assert exact[0] == exact[1] - exact[2] + exact[3]
        got = terms(cur.share_change)
        assert all(near(g, w) for g, w in zip(got, ref.change, strict=True)), (got, ref.change)
        total, entered, left, stayed = got
        scale = max(1.0, abs(entered), abs(left), abs(stayed))
        assert abs(entered - left + stayed - total) <= EXACT * scale

    # segments: one per region value (NULL last), each summing exactly, all summing to the total
    assert r.segments is not None
    per_region = net_totals((region or "\0", c) for _, c, _, region in rows)
    want = sorted(per_region.items(), key=lambda kv: (kv[0] == "\0", kv[0]))
    assert [(s.segment["region"], s.total) for s in r.segments] == [
        (None if k == "\0" else k, cents(u)) for k, u in want
    ]
    assert sum((s.total for s in r.segments), Decimal(0)) == r.total
    for s in r.segments:
        assert s.periods is not None
        assert sum((p.total for p in s.periods), Decimal(0)) == s.total

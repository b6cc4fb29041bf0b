"""Segments: every metric per segment value (and per segment x period), NULL as a value of its
own, combinations of columns, and the between/within decomposition of Theil T.

The data is the five-month file of tests/test_periods.py; expected values are worked out by hand
in the comments or by the independent reference (tests/reference.py).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

import topshare
from helpers import Writer, run_cli
from reference import ref_theil_split
from test_periods import SALES
from topshare.result import Segment, TheilSplit

D = Decimal
EXACT = 1e-12

# Net totals per region (customers never change region; E has no region: NULL):
#   north: A 300+200+350+100+200 = 1150, D 50+50 = 100, F 30-80 = -50  -> 1200, 9 rows
#   south: B 300+400+250+100 = 1050, C 100+200+600 = 900               -> 1950, 7 rows
#   NULL:  E 100+700 = 800                                             ->  800, 2 rows
# and per (region, channel):
#   north/shop: A 200, D 50, F -50 -> 200     north/web: A 950, D 50 -> 1000
#   south/shop: C 300, B 250 -> 550           south/web: B 800, C 600 -> 1400
#   NULL/shop:  E 700                         NULL/web:  E 100
BY_REGION = [[1150, 100, -50], [1050, 900], [800]]
BY_REGION_CHANNEL = [[200, 50, -50], [950, 50], [300, 250], [800, 600], [700], [100]]


def approx(x: Fraction | float) -> Any:
    return pytest.approx(float(x), rel=EXACT)


def analyze(write: Writer, **kw: Any) -> topshare.Analysis:
    return topshare.analyze(write("s.csv", SALES), top=2, **kw)


def keyed(segments: list[Segment] | None) -> dict[tuple[str | None, ...], Segment]:
    assert segments is not None
    return {tuple(s.segment.values()): s for s in segments}


def test_region_segments_by_hand(write: Writer) -> None:
    r = analyze(write, segments=["region"])
    assert r.segments is not None
    assert [s.segment for s in r.segments] == [
        {"region": "north"},
        {"region": "south"},
        {"region": None},  # the empty field is a segment value of its own, listed last
    ]
    assert [(s.total, s.rows, s.n_entities, s.top_n_sum) for s in r.segments] == [
        (D("1200.00"), 9, 3, D("1250.00")),
        (D("1950.00"), 7, 2, D("1950.00")),
        (D("800.00"), 2, 1, D("800.00")),
    ]
    assert sum((s.total for s in r.segments), D(0)) == r.total == D("3950.00")
    north, south, none = r.segments
    assert [(t.entity, t.value) for t in north.top] == [("A", D("1150.00")), ("D", D("100.00"))]
    assert [(t.entity, t.value) for t in south.top] == [("B", D("1050.00")), ("C", D("900.00"))]
    # north: top 2 = 1250 of T = 1200 (F's refunds): 25/24; top-1 1150/1200 = 23/24
    assert north.top_n_share == approx(Fraction(25, 24))
    assert north.top1_share == approx(Fraction(23, 24))
    assert (north.negative.entities, north.negative.sum) == (1, D("-50.00"))
    # HHI over x >= 0: north (1150^2 + 100^2)/1250^2 = 1332500/1562500 = 533/625 -> 8528 points
    #                  south (1050^2 + 900^2)/1950^2 = 1912500/3802500 = 85/169
    assert north.hhi_points == approx(8528)
    assert south.hhi_points == approx(Fraction(850_000, 169))
    assert (none.hhi_points, none.gini, none.top_n_share) == (approx(10_000), 0.0, approx(1))
    # Gini, n = 2: north 2*(100 + 2*1150)/(2*1250) - 3/2 = 48/25 - 3/2 = 21/50
    #              south 2*(900 + 2*1050)/(2*1950) - 3/2 = 20/13 - 3/2 = 1/26
    assert north.gini == approx(Fraction(21, 50))
    assert south.gini == approx(Fraction(1, 26))
    assert south.top_n_share == approx(1)
    assert r.scope is not None
    assert r.scope.segments == [["region"]]


def test_region_channel_combinations(write: Writer) -> None:
    r = analyze(write, segments=["region,channel"])
    segs = keyed(r.segments)
    assert list(segs) == [
        ("north", "shop"),
        ("north", "web"),
        ("south", "shop"),
        ("south", "web"),
        (None, "shop"),
        (None, "web"),
    ]
    assert next(s.segment for s in r.segments or []) == {"region": "north", "channel": "shop"}
    assert [(s.total, s.rows, s.n_entities) for s in segs.values()] == [
        (D("200.00"), 4, 3),
        (D("1000.00"), 5, 2),
        (D("550.00"), 3, 2),  # C 100 + C 200 + B 250
        (D("1400.00"), 4, 2),
        (D("700.00"), 1, 1),
        (D("100.00"), 1, 1),
    ]
    assert sum((s.total for s in segs.values()), D(0)) == r.total
    assert [(t.entity, t.value) for t in segs["south", "shop"].top] == [
        ("C", D("300.00")),
        ("B", D("250.00")),
    ]
    # north/shop: top 2 = A 200 + D 50 = 250 of T 200 -> 5/4; HHI (200^2+50^2)/250^2 = 17/25
    assert segs["north", "shop"].top_n_share == approx(Fraction(5, 4))
    assert segs["north", "shop"].hhi_points == approx(6800)
    # north/web (950^2+50^2)/1000^2 = 0.905; south/shop (300^2+250^2)/550^2 = 61/121;
    # south/web (800^2+600^2)/1400^2 = 25/49
    assert segs["north", "web"].hhi_points == approx(9050)
    assert segs["south", "shop"].hhi_points == approx(Fraction(610_000, 121))
    assert segs["south", "web"].hhi_points == approx(Fraction(250_000, 49))


def test_two_segment_specs_each_add_up(write: Writer) -> None:
    r = analyze(write, segments=["Region", ["region", "channel"]])  # any case; a list of columns
    assert r.scope is not None
    assert r.scope.segments == [["region"], ["region", "channel"]]
    segs = r.segments or []
    single = [s for s in segs if list(s.segment) == ["region"]]
    pairs = [s for s in segs if list(s.segment) == ["region", "channel"]]
    assert (len(single), len(pairs), len(segs)) == (3, 6, 9)
    assert sum((s.total for s in single), D(0)) == r.total
    assert sum((s.total for s in pairs), D(0)) == r.total
    assert [t.by for t in r.theil_decomposition or []] == [["region"], ["region", "channel"]]


def test_segment_by_period_series(write: Writer) -> None:
    r = analyze(write, segments=["region"], period="month")
    segs = keyed(r.segments)
    # Every segment gets the whole span Jan..May, empty months with 0.
    #   north: Jan A 500 + D 50, Feb A 350 + F -50, Mar A 100 + D 50, Apr -, May A 200
    #   south: Jan B 300 + C 100, Feb B 400 + C 200, Mar C 600 + B 250, Apr -, May B 100
    #   NULL:  Feb E 100, May E 700
    want = {
        ("north",): ["550", "300", "150", "0", "200"],
        ("south",): ["400", "600", "850", "0", "100"],
        (None,): ["0", "100", "0", "0", "700"],
    }
    for key, totals in want.items():
        periods = segs[key].periods
        assert periods is not None
        assert [p.label for p in periods] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
        assert [p.total for p in periods] == [D(t) for t in totals]
        assert sum((p.total for p in periods), D(0)) == segs[key].total
    north = segs["north",].periods or []
    feb = north[1]
    # north Jan top [A 500, D 50] -> Feb top [A 350, F -50]: F enters, D leaves (no Feb rows).
    assert [(m.entity, m.rank, m.previous_rank) for m in feb.entered or []] == [("F", 2, None)]
    assert [(m.entity, m.value, m.previous_value) for m in feb.left or []] == [
        ("D", D("0.00"), D("50.00"))
    ]
    # 300/300 - 550/550 = 0 = -50/300 - 50/550 + (350/300 - 500/550) = -1/6 - 1/11 + 17/66
    c = feb.share_change
    assert c is not None
    assert (c.entered, c.left, c.stayed) == (
        approx(Fraction(-1, 6)),
        approx(Fraction(1, 11)),
        approx(Fraction(17, 66)),
    )
    assert c.total == pytest.approx(0.0, abs=EXACT)
    # south Feb [B 400, C 200] -> Mar [C 600, B 250]: a swap, 100 % both months.
    mar = (segs["south",].periods or [])[2]
    assert [(m.entity, m.rank, m.previous_rank) for m in mar.stayed or []] == [
        ("C", 1, 2),
        ("B", 2, 1),
    ]
    assert mar.share_change is not None
    assert mar.share_change.total == 0.0
    # NULL: nothing in Jan, so no share change into Feb; E enters.
    feb_none = (segs[None,].periods or [])[1]
    assert [m.entity for m in feb_none.entered or []] == ["E"]
    assert feb_none.share_change is None
    # Without a period, no series.
    assert all(s.periods is None for s in analyze(write, segments=["region"]).segments or [])


# --- Theil T between and within -------------------------------------------------------------------


def theil_of(xs: list[int]) -> float:
    """(1/n) sum (x/mu) ln(x/mu), written out for the hand values below."""
    mu = sum(xs) / len(xs)
    return sum(x / mu * math.log(x / mu) for x in xs if x > 0) / len(xs)


def check_split(split: TheilSplit, groups: list[list[int]]) -> None:
    theil, between, within = ref_theil_split(groups)
    assert split.theil is not None
    assert split.between is not None
    assert split.within is not None
    assert split.theil == pytest.approx(split.between + split.within, rel=EXACT)
    assert split.theil == pytest.approx(theil, rel=EXACT)
    assert split.between == pytest.approx(between, rel=EXACT)
    assert split.within == pytest.approx(within, rel=EXACT)
    assert theil == pytest.approx(between + within, rel=EXACT)  # the reference itself


def test_theil_split_nested_by_region(write: Writer) -> None:
    r = analyze(write, segments=["region"])
    (split,) = r.theil_decomposition or []
    assert split.by == ["region"]
    assert split.nested  # every customer is in one region: the cells are the customers
    check_split(split, BY_REGION)
    # By hand: F (< 0) left out; P = 4000, n = 5, mu = 800.
    overall = theil_of([1150, 1050, 900, 100, 800])
    assert r.theil == pytest.approx(overall, rel=EXACT)
    assert split.theil == pytest.approx(r.theil, rel=EXACT)
    # between: north P 1250 (mu 625), south P 1950 (mu 975), NULL P 800 (mu 800)
    between = 1250 / 4000 * math.log(625 / 800) + 1950 / 4000 * math.log(975 / 800)
    within = 1250 / 4000 * theil_of([1150, 100]) + 1950 / 4000 * theil_of([1050, 900])
    assert split.between == pytest.approx(between, rel=EXACT)
    assert split.within == pytest.approx(within, rel=EXACT)


def test_theil_split_over_cells_when_not_nested(write: Writer) -> None:
    r = analyze(write, segments=["region,channel"])
    (split,) = r.theil_decomposition or []
    assert split.by == ["region", "channel"]
    assert not split.nested  # A, B, C, D and E buy through both channels
    check_split(split, BY_REGION_CHANNEL)
    # over the (segment, customer) cells, not the customers: not the overall Theil T
    assert split.theil is not None
    assert r.theil is not None
    assert abs(split.theil - r.theil) > 0.1


# --- through the command --------------------------------------------------------------------------


def test_cli_json_segments(write: Writer) -> None:
    path = write("s.csv", SALES)
    r = run_cli("revenue", path, "--top", "2", "--segment", "region", "--format", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got == topshare.analyze(str(path), top=2, segments=["region"]).to_dict()
    assert [(s["segment"], s["total"], s["top_n_sum"]) for s in got["segments"]] == [
        ({"region": "north"}, "1200.00", "1250.00"),
        ({"region": "south"}, "1950.00", "1950.00"),
        ({"region": None}, "800.00", "800.00"),
    ]
    assert got["segments"][0]["hhi_points"] == approx(8528)
    assert got["segments"][0]["periods"] is None
    (split,) = got["theil_decomposition"]
    assert (split["by"], split["nested"]) == (["region"], True)
    assert split["theil"] == pytest.approx(split["between"] + split["within"], rel=EXACT)


def test_cli_segment_by_period_json_and_table(write: Writer) -> None:
    path = write("s.csv", SALES)
    args = ("revenue", path, "-n", "2", "-s", "region", "-s", "region,channel", "-p", "month")
    r = run_cli(*args, "-f", "json")
    assert r.code == 0, r.err
    segs = json.loads(r.out)["segments"]
    assert [s["segment"] for s in segs][:4] == [
        {"region": "north"},
        {"region": "south"},
        {"region": None},
        {"region": "north", "channel": "shop"},
    ]
    assert [p["total"] for p in segs[1]["periods"]] == [
        "400.00",
        "600.00",
        "850.00",
        "0.00",
        "100.00",
    ]
    table = run_cli(*args)
    assert table.code == 0, table.err
    for label in ("region=north", "region=(none)", "region=south, channel=web"):
        assert label in table.out
    assert "Theil T by region:" in table.out
    assert "Theil T by region × channel:" in table.out


def test_a_column_with_too_many_values_is_not_a_segment(write: Writer) -> None:
    """A customer id given as a segment would give every customer a whole analysis: refused
    with a clear message (10,001 values, one over the limit); 10,000 values are accepted."""
    from topshare.grid import MAX_SEGMENT_VALUES

    n = MAX_SEGMENT_VALUES + 1
    rows = "".join(f"c{i},{i % 7 + 1}.00,s{i}\n" for i in range(n))
    path = write("many.csv", "customer,amount,store\n" + rows)
    with pytest.raises(topshare.UsageError, match=r"--segment store: 10,001 distinct values"):
        topshare.analyze(path, segments=["store"])
    fewer = write("fewer.csv", "customer,amount,store\n" + rows.split("\n", 1)[1])
    r = topshare.analyze(fewer, segments=["store"])
    assert r.segments is not None
    assert len(r.segments) == MAX_SEGMENT_VALUES

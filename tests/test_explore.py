"""The Explorer: one scan at open, then every analysis from the cache, equal to analyze().

The data is the five-month file of tests/test_periods.py (refunds, a month without rows, a
segment value that is empty) plus rejected rows of three kinds. analyze() is the reference for
the same options; the segment filter and the entity series are checked against hand values
(the arithmetic is in the comments of tests/test_periods.py and tests/test_segments.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import topshare
from helpers import Writer
from test_periods import SALES
from topshare.errors import RejectedRowsError, UsageError
from topshare.explore import Explorer, open_explorer

D = Decimal
# Three rejected rows: an amount that is not a number, an empty customer (its 5.00 is money
# rejected), a date that is not a date (its 3.00 too).
REJECTED = "X,N/A,2024-02-01,north,web\n,5.00,2024-01-01,south,web\nY,3.00,notadate,north,web\n"
DATA = SALES + REJECTED
SEGMENTS = ["region", "region,channel", "channel"]


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal, exactly, except floats: equal to 12 significant digits (a float sum in another
    order can differ in the last bit)."""
    if isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert list(a) == list(b), where
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def explorer(source: Path) -> Iterator[Explorer]:
    with open_explorer(source, segments=SEGMENTS) as ex:
        yield ex


OPTIONS: list[dict[str, Any]] = [
    {},
    {"top": 2},
    {"top": 1, "cr": [1, 2], "pareto": 0.5, "hhi_bands": "2010"},
    {"top": 2, "period": "month"},
    {"top": 3, "period": "week", "date_from": "2024-02-01", "date_to": "2024-04-30"},
    {"top": 2, "period": "quarter", "last": "2m"},
    {"top": 2, "period": "day", "date_from": "2024-01-31", "date_to": "2024-02-03"},
    {"top": 2, "period": "year", "date_to": "2024-02-14"},
    {"top": 50, "date_from": "2024-03-01"},
]


@pytest.mark.parametrize("opts", OPTIONS)
@pytest.mark.parametrize("segments", [[], ["region"], SEGMENTS])
def test_same_as_analyze(
    source: Path, explorer: Explorer, opts: dict[str, Any], segments: list[str]
) -> None:
    expected = topshare.analyze(source, segments=segments, **opts).to_dict()
    got = explorer.analyze(segments=segments, **opts).to_dict()
    same(got, expected)


def test_default_segments_are_the_opened_ones(source: Path, explorer: Explorer) -> None:
    expected = topshare.analyze(source, segments=SEGMENTS, period="month").to_dict()
    same(explorer.analyze(period="month").to_dict(), expected)


def test_answers_from_the_cache_after_the_file_is_gone(write: Writer) -> None:
    path = write("gone.csv", DATA)
    expected = topshare.analyze(path, top=2, period="month", segments=["region"]).to_dict()
    ex = open_explorer(path, segments=["region"])
    path.unlink()
    same(ex.analyze(top=2, period="month").to_dict(), expected)


def test_rejections_and_money_by_hand(explorer: Explorer) -> None:
    r = explorer.analyze(date_from="2024-03-01")
    assert [(x.reason, x.rows, x.amount) for x in r.rows.rejected_by_reason] == [
        ("missing_entity", 1, D("5.00")),
        ("bad_value", 1, None),
        ("bad_date", 1, D("3.00")),
    ]
    # March and May: C 600 + B 250 + A 100 + D 50 + E 700 + A 200 + B 100 = 2000, 7 rows;
    # the 11 valid rows of January and February (1950) are out of range.
    assert (r.total, r.rows.analysed, r.rows.out_of_range) == (D("2000.00"), 7, 11)
    assert (r.money.out_of_range, r.money.rejected, r.money.in_) == (
        D("1950.00"),
        D("8.00"),
        D("3958.00"),
    )
    assert r.money.reconciled
    assert r.rows.read == 18 + 3


def test_segment_filter_by_hand(explorer: Explorer) -> None:
    # north: A 1150, D 100, F -50 -> T 1200 over 9 rows; the 9 other valid rows are outside.
    r = explorer.analyze(top=2, where={"region": "north"}, segments=())
    assert (r.total, r.n_entities, r.rows.analysed, r.rows.out_of_range) == (
        D("1200.00"),
        3,
        9,
        9,
    )
    assert [(t.entity, t.value) for t in r.top] == [("A", D("1150.00")), ("D", D("100.00"))]
    assert r.top_n_sum == D("1250.00")
    assert r.money.out_of_range == D("2750.00")  # 3950 - 1200
    assert r.money.reconciled
    # The empty region is a value of its own: E's 800 over 2 rows.
    e = explorer.analyze(where={"REGION": None}, segments=())
    assert (e.total, e.rows.analysed, [t.entity for t in e.top]) == (D("800.00"), 2, ["E"])


def test_segment_filter_equals_analyze_of_the_filtered_rows(write: Writer) -> None:
    """The metrics of a filtered scope are those of analyze() on only those rows."""
    lines = SALES.strip().splitlines()
    north = "\n".join([lines[0], *(x for x in lines[1:] if x.split(",")[3] == "north")]) + "\n"
    ex = open_explorer(write("all.csv", SALES), segments=["region", "channel"])
    got = ex.analyze(top=2, period="month", where={"region": "north"}, segments=["channel"])
    want = topshare.analyze(write("north.csv", north), top=2, period="month", segments=["channel"])
    g, w = got.to_dict(), want.to_dict()
    for key in ("total", "top", "others", "cr", "hhi", "gini", "theil", "pareto", "lorenz",
                "periods", "segments", "theil_decomposition", "negative", "major"):  # fmt: skip
        same(g[key], w[key], key)


def test_entity_series_by_hand(explorer: Explorer) -> None:
    # A per month: Jan 500 of 950 (rank 1), Feb 350 of 1000 (B 400 first: rank 2), Mar 100 of
    # 1000 (C 600, B 250 first: rank 3), Apr no rows, May 200 of 1000 (E 700 first: rank 2).
    s = explorer.entity("A", top=2, period="month")
    assert (s.value, s.rank, s.rows, s.n_entities, s.in_top_n) == (D("1150.00"), 1, 5, 6, True)
    assert s.share == pytest.approx(1150 / 3950, rel=1e-12)
    assert s.periods is not None
    assert [(p.label, p.value, p.rank, p.in_top_n) for p in s.periods] == [
        ("2024-01", D("500.00"), 1, True),
        ("2024-02", D("350.00"), 2, True),
        ("2024-03", D("100.00"), 3, False),
        ("2024-04", D("0.00"), None, False),
        ("2024-05", D("200.00"), 2, True),
    ]
    assert s.periods[3].share is None  # a period without rows has no share
    shares = [p.share for p in s.periods if p.share is not None]
    assert shares == pytest.approx([500 / 950, 0.35, 0.1, 0.2], rel=1e-12)


def test_entity_ties_rank_by_key(explorer: Explorer) -> None:
    # March: D 50 is the smallest; January: C 100 is third (A 500, B 300), D 50 fourth.
    s = explorer.entity("D", period="month", date_to="2024-03-31")
    assert s.periods is not None
    assert [(p.label, p.rank) for p in s.periods] == [
        ("2024-01", 4),
        ("2024-02", None),
        ("2024-03", 4),
    ]


def test_entity_must_exist(explorer: Explorer) -> None:
    with pytest.raises(LookupError, match="no customer 'Z'"):
        explorer.entity("Z")
    assert explorer.has_entity("F")
    assert not explorer.has_entity("f")  # keys as written


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"segments": ["zone"]}, "unknown segment column 'zone'"),
        ({"where": {"zone": "x"}}, "unknown segment column 'zone'"),
        ({"where": {"region": "west"}}, "region has no value 'west'"),
        ({"period": "decade"}, "period must be one of"),
        ({"date_from": "2024-05-01", "date_to": "2024-01-01"}, "is before"),
        ({"last": "2m", "date_from": "2024-01-01"}, "either --last or --from/--to"),
        ({"top": 0}, "top N must be"),
        ({"last": "9999y"}, "outside the calendar"),
    ],
)
def test_bad_options(explorer: Explorer, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        explorer.analyze(**kw)


def test_no_rows_in_scope(explorer: Explorer) -> None:
    with pytest.raises(topshare.InputError, match="no rows left to analyse"):
        explorer.analyze(date_from="2030-01-01")


def test_strict_and_no_date(write: Writer) -> None:
    with pytest.raises(RejectedRowsError):
        open_explorer(write("bad.csv", DATA), strict=True)
    ex = open_explorer(write("nodate.csv", "customer,amount\nA,1\nB,2\n"))
    assert ex.analyze().total == D("3.00")
    with pytest.raises(UsageError, match="needs a date column"):
        ex.analyze(period="month")
    assert ex.segment_columns == []
    assert ex.span() is None


def test_segment_values(explorer: Explorer) -> None:
    assert explorer.segment_values == {
        "region": ["north", "south", None],
        "channel": ["shop", "web"],
    }


def test_repeated_question_is_remembered(explorer: Explorer) -> None:
    first = explorer.analyze(top=2, period="month")
    assert explorer.analyze(top=2, period="month") is first


def test_entity_outside_the_scope(explorer: Explorer) -> None:
    # D buys only in the north: in the south (B 1050, C 900) it has nothing, and ranks nowhere.
    s = explorer.entity("D", period="quarter", where={"region": "south"})
    assert (s.value, s.rank, s.share, s.n_entities, s.rows) == (D("0.00"), None, 0.0, 2, 0)
    assert s.periods is not None
    assert [(p.label, p.value, p.share, p.rank) for p in s.periods] == [
        ("2024-Q1", D("0.00"), 0.0, None),
        ("2024-Q2", D("0.00"), 0.0, None),
    ]


def test_opening_tells_each_stage_and_the_scan_s_progress(
    write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import topshare.cache

    monkeypatch.setattr(topshare.cache, "PROGRESS_EVERY", 0.001)  # as often as it can
    rows = "".join(f"c{i % 997},{i % 89}.25,2024-0{i % 9 + 1}-1{i % 10}\n" for i in range(60_000))
    path = write("many.csv", "customer,amount,day\n" + rows)
    told: list[tuple[str, float | None]] = []
    with open_explorer(path, progress=lambda stage, done: told.append((stage, done))):
        pass
    stages = list(dict.fromkeys(stage for stage, _ in told))
    assert stages == [
        "reading the source",
        "scanning every row once into the cache",
        "finding examples of rejected rows",
        "indexing the cache",
        "holding the cells in memory",
        "computing the first views",
    ]
    # Each stage is told first without a fraction; the scan's fractions never go back.
    firsts = dict(reversed(told))  # the first call of each stage
    assert all(done is None for done in firsts.values())
    fractions = [d for s, d in told if d is not None]
    assert all(s == "scanning every row once into the cache" for s, d in told if d is not None)
    assert fractions == sorted(fractions)
    assert all(0.0 <= d <= 1.0 for d in fractions)

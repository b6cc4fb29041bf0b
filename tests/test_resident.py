"""The in-memory cells (topshare.resident): the same answers as the engine path and analyze().

tests/test_explore.py checks the in-memory explorer (the default) against analyze() on 27
combinations; here the two explorer paths (in memory, and every query in DuckDB) are compared
on generated data with ties, refunds, an entity whose total is zero, an empty segment value and
entities that are major in one period, and the kept-group slice against slices.make_slice.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import topshare
from test_explore import same
from topshare import slices
from topshare.explore import Explorer, open_explorer
from topshare.keptgroups import Kept, kept
from topshare.metrics import compute_indices
from topshare.resident import Group, Resident, day_number


def _rows(seed: int) -> str:
    rng = random.Random(seed)
    lines = ["customer,amount,date,region,channel"]
    for _ in range(600):
        who = f"C{rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]):02d}"
        amount = rng.choice([10, 20, 20, 35, 50, 50, 100, -20, 0]) + rng.choice([0, 0.5])
        day = f"2024-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
        region = rng.choice(["north", "south", "", "east"])
        lines.append(f"{who},{amount:.2f},{day},{region},{rng.choice(['web', 'shop'])}")
    lines += ["ZERO,5.00,2024-02-02,north,web", "ZERO,-5.00,2024-03-03,south,web"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("resident") / "sales.csv"
    path.write_text(_rows(7), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def both(source: Path) -> Iterator[tuple[Explorer, Explorer]]:
    fast = open_explorer(source, segments=["region", "region,channel"])
    slow = open_explorer(source, segments=["region", "region,channel"], in_memory=False)
    assert fast._res is not None
    assert slow._res is None
    with fast, slow:
        yield fast, slow


CASES: list[dict[str, Any]] = [
    {"top": 3},
    {"top": 1, "period": "month"},
    {"top": 4, "period": "week", "date_from": "2024-02-07", "date_to": "2024-04-20"},
    {"top": 2, "period": "quarter", "where": {"region": "north"}},
    {"top": 2, "period": "day", "date_from": "2024-03-01", "date_to": "2024-03-09"},
    {"top": 5, "period": "month", "last": "2m", "where": {"region": None, "channel": "web"}},
    {"top": 20, "where": {"channel": "shop"}, "pareto": 0.5, "cr": [1, 3], "hhi_bands": "2010"},
    {"top": 2, "period": "year", "where": {"region": "east"}, "segments": ["channel"]},
]


@pytest.mark.parametrize("kw", CASES)
def test_in_memory_equals_the_engine(both: tuple[Explorer, Explorer], kw: dict[str, Any]) -> None:
    fast, slow = both
    same(fast.analyze(**kw).to_dict(), slow.analyze(**kw).to_dict())


@pytest.mark.parametrize("kw", CASES[:6])
@pytest.mark.parametrize("name", ["C01", "C07", "ZERO"])
def test_entity_equals_the_engine(
    both: tuple[Explorer, Explorer], kw: dict[str, Any], name: str
) -> None:
    fast, slow = both
    opts = {k: v for k, v in kw.items() if k in ("top", "period", "date_from", "date_to",
                                                  "last", "where")}  # fmt: skip
    same(fast.entity(name, **opts).to_dict(), slow.entity(name, **opts).to_dict())


def test_filter_and_window_equal_analyze(source: Path, both: tuple[Explorer, Explorer]) -> None:
    got = both[0].analyze(top=3, period="month", date_from="2024-02-10", segments=["channel"])
    want = topshare.analyze(source, top=3, period="month", date_from="2024-02-10",
                            segments=["channel"])  # fmt: skip
    same(got.to_dict(), want.to_dict())


def test_the_zero_total_entity_counts(both: tuple[Explorer, Explorer]) -> None:
    # ZERO: +5.00 and -5.00, a net total of zero: still an entity (13 customers in all).
    r = both[0].analyze(segments=())
    assert r.n_entities == 13
    assert both[0].entity("ZERO").value == 0


def _group(units: list[int]) -> Group:
    arr = np.array(units, dtype=np.int64)
    ids = np.arange(arr.size, dtype=np.int32)
    return Group(ids=ids, units=arr, asc=np.sort(arr), rows=arr.size, total=int(arr.sum()),
                 date_min=None, date_max=None)  # fmt: skip


@pytest.mark.parametrize("seed", range(30))
def test_kept_slice_equals_make_slice(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    units = rng.choice([-300, -5, 0, 5, 5, 40, 40, 100, 2500], size=n).tolist()
    grp = _group(units)
    keys = [f"k{i:03d}" for i in range(n)]  # ids follow the key order
    top = int(rng.integers(1, 12))
    opt = slices.Options(top, 0.8, "2023", 2)
    m = top + 1 if grp.total <= 0 else max(top + 1, grp.majors())
    pairs = [(keys[i], u) for i, u in grp.ranked(m)]
    # The reference: ranking by (value desc, key asc) and majors by 10 u >= T, by hand.
    ranked = sorted(zip(keys, units, strict=True), key=lambda p: (-p[1], p[0]))
    majors = sum(1 for u in units if grp.total > 0 and 10 * u >= grp.total)
    assert grp.majors() == (majors if grp.total > 0 else 0)
    assert pairs == ranked[: len(pairs)]
    assert len(pairs) == min(n, top + 1 if grp.total <= 0 else max(top + 1, majors))
    neg = int(np.searchsorted(grp.asc, 0))
    fast = slices.slice_fields(grp.asc, compute_indices(grp.asc, 0.8, "2023", ascending=True),
                               grp.total, neg, int(grp.asc[:neg].sum()), pairs, n, opt)  # fmt: skip
    assert fast == slices.make_slice(grp.units, pairs, n, opt)
    me = int(rng.integers(0, n))
    assert grp.rank_of(me) == 1 + ranked.index((keys[me], units[me]))
    assert [i for i, _ in grp.negatives()] == [
        keys.index(k) for k, u in sorted(ranked, key=lambda p: (p[1], p[0]))[:10] if u < 0
    ]


# ---- periods kept across series, money values shared, questions side by side -------------------
def test_a_window_reuses_the_periods_of_the_whole_series(
    source: Path, both: tuple[Explorer, Explorer]
) -> None:
    """A period depends on its group, the previous one and the options: a window over whole
    months reuses the months of the whole series (the same objects), except its first month,
    which has no churn there; and it still equals analyze() of the window."""
    fast = both[0]
    whole = fast.analyze(top=3, period="month", segments=())
    part = fast.analyze(top=3, period="month", date_from="2024-02-01", date_to="2024-04-30",
                        segments=())  # fmt: skip
    assert whole.periods is not None
    assert part.periods is not None
    assert [p.label for p in part.periods] == ["2024-02", "2024-03", "2024-04"]
    assert part.periods[0].entered is None
    assert whole.periods[1].entered is not None
    assert part.periods[1] is whole.periods[2]
    assert part.periods[2] is whole.periods[3]
    want = topshare.analyze(source, top=3, period="month", date_from="2024-02-01",
                            date_to="2024-04-30")  # fmt: skip
    same(part.to_dict(), want.to_dict())


def test_a_segment_series_is_the_series_filtered_on_it(
    source: Path, both: tuple[Explorer, Explorer]
) -> None:
    fast = both[0]
    by_region = fast.analyze(top=2, period="quarter", segments=["region"])
    north = fast.analyze(top=2, period="quarter", where={"region": "north"}, segments=())
    seg = next(s for s in by_region.segments or [] if s.segment == {"region": "north"})
    assert seg.periods is not None
    assert north.periods is not None
    assert all(a is b for a, b in zip(seg.periods, north.periods, strict=True))
    want = topshare.analyze(source, top=2, period="quarter", segments=["region"]).to_dict()
    same(by_region.to_dict(), want)


@pytest.mark.parametrize(
    ("units", "scale", "text"),
    [(12345, 2, "123.45"), (5, 6, "0.000005"), (1_500_000, 6, "1.50"), (7, 0, "7"),
     (-1, 2, "-0.01"), (0, 2, "0.00"), (10**17 + 3, 2, "1000000000000000.03")],
)  # fmt: skip
def test_kept_money_values_equal_options_dec(units: int, scale: int, text: str) -> None:
    opt = slices.Options(3, 0.8, "2023", scale)
    fast = kept(opt)
    assert isinstance(fast, Kept)
    assert kept(fast) is fast
    for _ in range(2):  # made, then kept
        got, want = fast.dec(units), opt.dec(units)
        assert str(got) == str(want) == text
        assert got.as_tuple() == want.as_tuple()


def test_questions_side_by_side_equal_one_at_a_time(source: Path) -> None:
    """Eight threads asking a fresh explorer the cases (twice, in another order each) get what
    one thread gets from another fresh explorer."""
    asks = [*CASES, *CASES[::-1]] * 2
    with open_explorer(source, segments=["region", "region,channel"]) as alone:
        want = [text(alone.analyze(**kw)) for kw in asks]
        ent = [text(alone.entity("C01", **_entity_kw(kw))) for kw in asks]
    shared = open_explorer(source, segments=["region", "region,channel"])
    with shared, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda kw: text(shared.analyze(**kw)), asks))
        got_ent = list(pool.map(lambda kw: text(shared.entity("C01", **_entity_kw(kw))),
                                asks))  # fmt: skip
    assert got == want
    assert got_ent == ent


def _entity_kw(kw: dict[str, Any]) -> dict[str, Any]:
    names = ("top", "period", "date_from", "date_to", "last", "where")
    return {k: v for k, v in kw.items() if k in names}


def text(result: Any) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, default=str)


@pytest.mark.parametrize(
    ("first", "last", "fixed"),
    [(None, None, ()), ("2024-02-10", "2024-05-03", ()), ("2024-01-05", None, ((1, 0),))],
)
def test_split_makes_the_groups_of_each_value(
    both: tuple[Explorer, Explorer], first: str | None, last: str | None, fixed: Any
) -> None:
    """The one-pass groups of every region value (within a window, a channel) are those made
    one value at a time from the cells."""
    res = both[0]._res
    assert res is not None
    lo = day_number(date.fromisoformat(first)) if first else None
    hi = day_number(date.fromisoformat(last)) if last else None
    scope = res.key(lo, hi, fixed)
    assert scope is not None
    fresh = Resident(ids=res.ids, day=res.day, segs=res.segs, units=res.units, rows=res.rows,
                     tmin=res.tmin, tmax=res.tmax, time_type=res.time_type, keys=res.keys,
                     seg_values=res.seg_values)  # fmt: skip
    fresh.split(scope, 0)
    values = range(len(res.seg_values[0]))
    keys = [res.key(scope[0], scope[1], (*fixed, (0, c))) for c in values]
    assert all(k in fresh._groups for k in keys)  # made by the split, not on demand
    for key in keys:
        assert key is not None
        got, want = fresh.group(key), res._make(key)
        assert got.ids.tolist() == want.ids.tolist()
        assert got.ids.dtype == want.ids.dtype
        assert got.units.tolist() == want.units.tolist()
        assert got.asc.tolist() == want.asc.tolist()
        assert (got.rows, got.total, got.date_min, got.date_max) == (
            want.rows, want.total, want.date_min, want.date_max,
        )  # fmt: skip


def test_split_first_and_last_times_within_days(tmp_path: Path) -> None:
    """With times of day, a value's first and last time are the extremes of its cells, found
    on its first and last day (here the value's earliest row is late on a day others start)."""
    rng = random.Random(3)
    lines = ["customer,amount,date,region"]
    for _ in range(300):
        day, hour, minute = rng.randint(1, 20), rng.randint(0, 23), rng.randint(0, 59)
        lines.append(f"C{rng.randint(1, 30)},{rng.randint(1, 90)}.25,"
                     f"2024-05-{day:02d} {hour:02d}:{minute:02d}:00,{rng.choice('abc')}")  # fmt: skip
    lines += ["C1,5.00,2024-04-30 23:59:00,d", "C2,7.00,2024-04-30 00:01:00,a"]
    path = tmp_path / "times.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open_explorer(path, segments=["region"]) as ex:
        res = ex._res
        assert res is not None
        fresh = Resident(ids=res.ids, day=res.day, segs=res.segs, units=res.units, rows=res.rows,
                         tmin=res.tmin, tmax=res.tmax, time_type=res.time_type, keys=res.keys,
                         seg_values=res.seg_values)  # fmt: skip
        for lo, hi in [(None, None), (day_number(date(2024, 5, 3)), day_number(date(2024, 5, 9)))]:
            scope = res.key(lo, hi, ())
            fresh.split(scope, 0)
            assert scope is not None
            for c in range(len(res.seg_values[0])):
                key = res.key(scope[0], scope[1], ((0, c),))
                got, want = fresh.group(key), res._make(key)
                assert (got.date_min, got.date_max, got.rows, got.total) == (
                    want.date_min, want.date_max, want.rows, want.total,
                )  # fmt: skip
                assert got.units.tolist() == want.units.tolist()

"""The in-memory cells (topshare.resident): the same answers as the engine path and analyze().

tests/test_explore.py checks the in-memory explorer (the default) against analyze() on 27
combinations; here the two explorer paths (in memory, and every query in DuckDB) are compared
on generated data with ties, refunds, an entity whose total is zero, an empty segment value and
entities that are major in one period, and the kept-group slice against slices.make_slice.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import topshare
from test_explore import same
from topshare import slices
from topshare.explore import Explorer, open_explorer
from topshare.metrics import compute_indices
from topshare.resident import Group


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

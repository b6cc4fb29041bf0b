"""The parts that make a dashboard question cheaper give the same answers: the Lorenz curve made
on first use, money values made from the integer, top rows kept per group for every N, and the
engine's copy of the cells dropped once they are held in memory."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import topshare
from test_explore import same
from topshare.explore import Explorer, open_explorer
from topshare.metrics import compute_indices
from topshare.money import normalize, to_decimal
from topshare.resident import RANKED_FIRST, Group
from topshare.slices import money_of
from topshare.web.app import _json_bytes
from topshare.web.plain import Plain


# ---- the Lorenz curve on first use -------------------------------------------------------------
def test_lorenz_is_made_when_asked_and_equals_the_hand_curve() -> None:
    units = np.array([1, 2, 3, 4, -7], dtype=np.int64)  # -7 is outside the index population
    asc = np.sort(units)
    idx = compute_indices(asc, ascending=True)
    assert "lorenz" not in idx.__dict__  # not made by compute_indices
    assert idx.population is not None
    assert np.shares_memory(idx.population, asc)  # a view of the caller's array, no copy
    # 1, 2, 3, 4 of 10: (0, 0), (1/4, .1), (1/2, .3), (3/4, .6), (1, 1)
    want = [(0.0, 0.0), (0.25, 0.1), (0.5, 0.3), (0.75, 0.6), (1.0, 1.0)]
    got = idx.lorenz
    assert [x for x, _ in got] == [x for x, _ in want]
    assert all(abs(y - w) < 1e-15 for (_, y), (_, w) in zip(got, want, strict=True))
    assert idx.lorenz is got  # made once
    assert compute_indices(np.array([-3, 0], dtype=np.int64)).lorenz == []  # no positive total


# ---- money values from the integer -------------------------------------------------------------
@pytest.mark.parametrize(
    ("units", "scale", "text"),
    [(12345, 2, "123.45"), (123450000, 6, "123.45"), (5, 6, "0.000005"), (1_500_000, 6, "1.50"),
     (7, 0, "7"), (-700, 0, "-700"), (15, 1, "1.50"), (-1, 2, "-0.01"), (0, 2, "0.00"),
     (0, 6, "0.00"), (-1_234_567, 6, "-1.234567"), (10**30 + 10, 6, "1000000000000000000000000.00001")],
)  # fmt: skip
def test_money_of_by_hand(units: int, scale: int, text: str) -> None:
    got = money_of(units, scale)
    assert str(got) == text
    assert got == Decimal(text)


def test_money_of_equals_normalize_digit_for_digit() -> None:
    rng = random.Random(3)
    for scale in range(8):
        for _ in range(3000):
            units = rng.choice([rng.randint(-10**7, 10**7), rng.randint(-9, 9) * 10 ** rng.randint(0, 12),
                                rng.randint(-10**35, 10**35)])  # fmt: skip
            want = normalize(to_decimal(units, scale), scale=scale)
            assert money_of(units, scale).as_tuple() == want.as_tuple(), (units, scale)


# ---- ranking once per group --------------------------------------------------------------------
def test_a_group_is_ranked_once_for_every_small_n() -> None:
    rng = np.random.default_rng(5)
    units = rng.integers(-50, 500, size=300).astype(np.int64)
    ids = np.arange(units.size, dtype=np.int32)
    grp = Group(ids=ids, units=units, asc=np.sort(units), rows=300, total=int(units.sum()),
                date_min=None, date_max=None)  # fmt: skip
    by_hand = sorted(zip(ids.tolist(), units.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    assert grp.ranked(3) == by_hand[:3]
    assert len(grp._ranked) == RANKED_FIRST  # ranked beyond 3 the first time
    kept = grp._ranked
    assert grp.ranked(RANKED_FIRST) == by_hand[:RANKED_FIRST]
    assert grp._ranked is kept  # no second ranking
    assert grp.ranked(200) == by_hand[:200]


# ---- top rows kept across N, the engine's copy dropped -----------------------------------------
def _rows(seed: int) -> str:
    rng = random.Random(seed)
    lines = ["customer,amount,date,region"]
    for _ in range(900):
        who = f"C{int(rng.paretovariate(1.2)) % 40:02d}"
        amount = rng.choice([5, 10, 20, 20, 35, 50, 120, -15, 0]) + rng.choice([0, 0.25, 0.5])
        day = f"2024-{rng.randint(1, 8):02d}-{rng.randint(1, 28):02d}"
        lines.append(f"{who},{amount:.2f},{day},{rng.choice(['north', 'south', ''])}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speed") / "sales.csv"
    path.write_text(_rows(11), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def explorer(source: Path) -> Iterator[Explorer]:
    with open_explorer(source, segments=["region"]) as ex:
        assert ex._res is not None
        yield ex


def _tables(ex: Explorer) -> list[Any]:
    query = "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '__topshare_%'"
    return list(ex._con.con.execute(query).fetchall())


def test_the_engine_keeps_no_copy_of_the_cells(source: Path, explorer: Explorer) -> None:
    assert _tables(explorer) == []
    with open_explorer(source, segments=["region"], in_memory=False) as slow:
        assert len(_tables(slow)) >= 3  # cells, per-entity totals, entities: what it queries


@pytest.mark.parametrize(
    "kw",
    [{"period": "week", "segments": []},
     {"period": "month", "date_from": "2024-02-10", "date_to": "2024-07-01", "segments": []},
     {"period": "month", "segments": ["region"]}],
)  # fmt: skip
def test_series_at_n_after_n_equal_analyze(
    source: Path, explorer: Explorer, kw: dict[str, Any]
) -> None:
    # Asked in this order, each N reads the top rows the N before it kept (larger, then smaller).
    for top in (3, 12, 1, 7, 40):
        same(explorer.analyze(top=top, **kw).to_dict(),
             topshare.analyze(source, top=top, **kw).to_dict())  # fmt: skip


def test_filtered_series_at_n_after_n_equal_the_engine(source: Path, explorer: Explorer) -> None:
    with open_explorer(source, segments=["region"], in_memory=False) as slow:
        for top in (3, 12, 1, 7):
            kw: dict[str, Any] = {"top": top, "period": "week", "where": {"region": "north"}}
            same(explorer.analyze(**kw).to_dict(), slow.analyze(**kw).to_dict())
            same(explorer.entity("C01", **kw).to_dict(), slow.entity("C01", **kw).to_dict())


# ---- JSON bodies and money strings -------------------------------------------------------------
def test_json_bodies_are_compact_utf8_with_the_same_values() -> None:
    content = {"é": [0.1, 1e-05, None, True, "—"], "n": 3, "big": {"x": -0.0}}
    body = _json_bytes(content)
    assert body.startswith(b'{"\xc3\xa9":[0.1,')  # UTF-8, no spaces (as JSONResponse writes)
    assert json.loads(body) == content
    wide = {"units": 2**70, 1: "a key that is not a string"}  # orjson refuses: the stdlib writes
    assert json.loads(_json_bytes(wide)) == {"units": 2**70, "1": "a key that is not a string"}


@pytest.mark.parametrize(
    ("value", "scale", "text"),
    [("12.50", 2, "12.50"), ("12.500000", 6, "12.50"), ("12.5", 6, "12.50"), ("1E+3", 0, "1000"),
     ("7.0", 0, "7"), ("0.000005", 6, "0.000005"), ("1.23456789", 6, "1.234568"),
     ("-3.10", 6, "-3.10"), ("2.120", 6, "2.12"), ("5", 2, "5.00")],
)  # fmt: skip
def test_money_strings_by_hand(value: str, scale: int, text: str) -> None:
    assert Plain()._money(Decimal(value), scale) == text

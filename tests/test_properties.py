"""Property tests: topshare's metrics against the independent reference (tests/reference.py), and
the invariants of the contract (bounds, monotonicity, invariance to order and scale)."""

from __future__ import annotations

import math
import random
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import topshare
from reference import (
    BANDS,
    gini_mean_difference,
    net_totals,
    ranking,
    ref_indices,
    ref_top,
)
from topshare.metrics import (
    Indices,
    compute_indices,
    share,
    sort_desc,
    tie_at_boundary,
    top_sums,
)

TOL = 1e-9
FAST = settings(max_examples=200, deadline=None)
# analyze() runs a real engine (~0.1 s a call): few examples, and no shrinking (a failing case is
# printed as generated; shrinking one would take minutes).
SLOWER = settings(
    max_examples=15, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate]
)

# per-entity totals in integer units: small values (many ties), wide values, and zeros
small_values = st.integers(min_value=0, max_value=20)
wide_values = st.integers(min_value=0, max_value=10**12)
totals_lists = st.one_of(
    st.lists(small_values, min_size=1, max_size=40),
    st.lists(wide_values, min_size=1, max_size=40),
).filter(lambda xs: sum(xs) > 0)
with_negatives = st.lists(
    st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=40
).filter(lambda xs: sum(x for x in xs if x >= 0) > 0)
thresholds = st.integers(min_value=1, max_value=100).map(lambda d: d / 100)


def arr(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def near(a: float | None, b: float | Fraction | None, tol: float = TOL) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, float(b), rel_tol=tol, abs_tol=tol)


def assert_matches_reference(values: list[int], p: float = 0.8, bands: str = "2023") -> Indices:
    got = compute_indices(arr(values), p, bands)
    ref = ref_indices(values, p, bands)
    assert got.n == ref.n
    assert got.population_units == ref.population
    assert near(got.hhi, ref.hhi)
    assert near(got.hhi_points, ref.hhi_points)
    assert near(got.hhi_normalized, ref.hhi_normalized)
    assert near(got.effective_number, ref.effective_number)
    assert near(got.gini, ref.gini)
    assert near(got.gini_corrected, ref.gini_corrected)
    assert near(got.theil, ref.theil)
    assert near(got.entropy, ref.entropy)
    assert near(got.entropy_normalized, ref.entropy_normalized)
    assert near(got.entropy_exp, ref.entropy_exp)
    assert got.pareto_k == ref.pareto_k
    assert near(got.pareto_fraction, ref.pareto_fraction)
    if ref.hhi_points is not None:
        # topshare rounds points to 6 decimals before banding (float noise); the exact band is
        # comparable whenever the exact points are not within that noise of an edge.
        edges = BANDS[bands]
        if all(abs(ref.hhi_points - e) > Fraction(1, 10**6) for e in edges):
            assert got.hhi_band == ref.hhi_band
    if len(ref.lorenz) <= 1000:
        assert len(got.lorenz) == len(ref.lorenz)
        for (gx, gy), (rx, ry) in zip(got.lorenz, ref.lorenz, strict=True):
            assert near(gx, rx)
            assert near(gy, ry)
    return got


# --- compute_indices against the reference ------------------------------------------------------


@FAST
@given(values=totals_lists, p=thresholds)
def test_indices_match_reference(values: list[int], p: float) -> None:
    assert_matches_reference(values, p)


@FAST
@given(values=with_negatives, bands=st.sampled_from(["2023", "2010"]))
def test_indices_leave_out_negatives(values: list[int], bands: str) -> None:
    got = assert_matches_reference(values, 0.8, bands)
    assert got.n == sum(1 for x in values if x >= 0)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(min_value=0, max_value=10**25), min_size=1, max_size=20))
def test_indices_beyond_int64_match_reference(values: list[int]) -> None:
    if sum(values) == 0:
        return
    got = compute_indices(np.array(values, dtype=np.object_), 0.8)
    ref = ref_indices(values, 0.8)
    assert got.population_units == ref.population
    assert got.pareto_k == ref.pareto_k
    assert near(got.hhi, ref.hhi)
    assert near(got.gini, ref.gini)


@FAST
@given(values=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=25))
def test_reference_gini_equals_mean_difference_form(values: list[int]) -> None:
    # checks the reference itself: the contract's formula equals the textbook definition
    if sum(values) == 0:
        return
    assert ref_indices(values).gini == gini_mean_difference(values)


# --- bounds ---------------------------------------------------------------------------------------


@FAST
@given(values=totals_lists)
def test_bounds(values: list[int]) -> None:
    r = compute_indices(arr(values))
    n = len(values)
    assert r.hhi is not None
    assert r.gini is not None
    assert r.theil is not None
    assert r.entropy is not None
    eps = 1e-12
    assert 1 / n - eps <= r.hhi <= 1 + eps
    assert -eps <= r.gini < 1
    assert r.gini <= (n - 1) / n + eps  # the largest Gini of n entities
    assert -eps <= r.theil <= math.log(n) + eps
    assert -eps <= r.entropy <= math.log(n) + eps
    assert r.effective_number is not None
    assert 1 - eps <= r.effective_number <= n * (1 + eps)
    if n > 1:
        assert r.hhi_normalized is not None
        assert -eps <= r.hhi_normalized <= 1 + eps
    assert r.pareto_k is not None
    assert 1 <= r.pareto_k <= n


@FAST
@given(values=totals_lists, ks=st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_shares_in_unit_interval_and_cr_non_decreasing(values: list[int], ks: list[int]) -> None:
    total = sum(values)
    ks = sorted(set(ks))
    sums = top_sums(sort_desc(arr(values)), ks)
    shares = [share(sums[k], total) for k in ks]
    floats = [s for s in shares if s is not None]
    assert len(floats) == len(ks)
    assert all(0 <= s <= 1 for s in floats)
    assert floats == sorted(floats)
    for k in ks:  # S_k is exactly the sum of the k largest
        assert sums[k] == sum(sorted(values, reverse=True)[:k])
    for x in values:
        s = share(x, total)
        assert s is not None
        assert 0 <= s <= 1


# --- invariance -----------------------------------------------------------------------------------


def same_indices(a: Indices, b: Indices) -> None:
    for name in (
        "hhi",
        "hhi_normalized",
        "effective_number",
        "gini",
        "gini_corrected",
        "theil",
        "entropy",
        "entropy_normalized",
        "entropy_exp",
        "pareto_fraction",
    ):
        assert near(getattr(a, name), getattr(b, name), 1e-12), name
    assert a.n == b.n
    assert a.pareto_k == b.pareto_k
    assert a.hhi_band == b.hhi_band
    assert len(a.lorenz) == len(b.lorenz)


@FAST
@given(values=totals_lists, seed=st.integers(0, 2**32 - 1))
def test_invariant_to_shuffling(values: list[int], seed: int) -> None:
    shuffled = list(values)
    random.Random(seed).shuffle(shuffled)
    same_indices(compute_indices(arr(values)), compute_indices(arr(shuffled)))


@FAST
@given(values=st.lists(small_values, min_size=1, max_size=40), c=st.integers(1, 10**6))
def test_invariant_to_scaling(values: list[int], c: int) -> None:
    if sum(values) == 0:
        return
    same_indices(compute_indices(arr(values)), compute_indices(arr([c * x for x in values])))


# --- Pareto point: exact --------------------------------------------------------------------------


@FAST
@given(values=totals_lists, d=st.integers(1, 100))
def test_pareto_k_is_smallest_exact(values: list[int], d: int) -> None:
    p = Fraction(d, 100)
    got = compute_indices(arr(values), d / 100)
    desc = sorted(values, reverse=True)
    total = sum(values)
    k = got.pareto_k
    assert k is not None
    assert sum(desc[:k]) >= p * total
    assert sum(desc[: k - 1]) < p * total
    assert got.pareto_fraction == k / len(values)


# --- tie at the boundary --------------------------------------------------------------------------


@FAST
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=20), top=st.integers(1, 25))
def test_tie_at_boundary_matches_reference(values: list[int], top: int) -> None:
    keyed = {f"k{i:03d}": x for i, x in enumerate(values)}
    assert tie_at_boundary(sort_desc(arr(values)), top) == ref_top(keyed, top).tie_at_boundary


# --- end to end: analyze() on generated CSV files -------------------------------------------------

keys = st.sampled_from(["A", "B", "C", "D", "E", "a", "b", "00042", "42", "042", "Zoë", "x y"])
cents = st.integers(min_value=-5_000, max_value=20_000)
sales_rows = st.lists(st.tuples(keys, cents), min_size=1, max_size=40)


def csv_text(rows: list[tuple[str, int]]) -> str:
    lines = ["customer,amount"]
    for key, c in rows:
        sign = "-" if c < 0 else ""
        lines.append(f"{key},{sign}{abs(c) // 100}.{abs(c) % 100:02d}")
    return "\n".join(lines) + "\n"


def check_analysis(r: topshare.Analysis, rows: list[tuple[str, int]], top: int) -> None:
    totals = net_totals(rows)
    ref = ref_top(totals, top, (1, 2, 5))

    def cent(u: int) -> Decimal:
        return Decimal(u).scaleb(-2)

    assert r.total == cent(ref.total)
    assert r.n_entities == ref.n_entities
    assert [(t.rank, t.entity, t.value) for t in r.top] == [
        (t.rank, t.entity, cent(t.value)) for t in ref.rows
    ]
    assert [t.abc for t in r.top] == [t.abc for t in ref.rows]
    assert [t.major for t in r.top] == [t.major for t in ref.rows]
    for got_row, ref_row in zip(r.top, ref.rows, strict=True):
        assert near(got_row.share, ref_row.share)
        assert near(got_row.cumulative_share, ref_row.cumulative_share)
    assert r.top_n_sum == cent(ref.top_sum)
    assert near(r.top_n_share, ref.top_share)
    assert r.others.entities == ref.others_entities
    assert r.others.value == cent(ref.others_value)
    assert r.tie_at_boundary == ref.tie_at_boundary
    assert [(c.k, c.sum) for c in r.cr] == [(k, cent(v[0])) for k, v in sorted(ref.cr.items())]
    # every customer with >= 10 % of T, in ranking order
    assert [m.entity for m in r.major] == ref.majors
    assert r.negative.entities == ref.negative_entities
    assert r.negative.sum == cent(ref.negative_sum)
    idx = ref_indices(totals.values())
    assert r.index_population.entities == idx.n
    assert r.index_population.sum == cent(idx.population)
    assert near(r.hhi, idx.hhi)
    assert near(r.gini, idx.gini)
    assert r.pareto.k == idx.pareto_k
    assert r.rows.read == r.rows.analysed == len(rows)
    assert r.money.reconciled
    assert r.money.in_ == r.money.analysed == r.total


@SLOWER
@given(rows=sales_rows, top=st.integers(1, 6))
def test_analyze_matches_reference(rows: list[tuple[str, int]], top: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        path.write_text(csv_text(rows), encoding="utf-8")
        r = topshare.analyze(path, customer="customer", amount="amount", top=top, cr=(1, 2, 5))
        check_analysis(r, rows, top)


@SLOWER
@given(rows=sales_rows, cut=st.integers(0, 40), seed=st.integers(0, 2**32 - 1))
def test_analyze_split_and_shuffled_gives_same_answer(
    rows: list[tuple[str, int]], cut: int, seed: int
) -> None:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    cut = min(cut, len(rows) - 1)
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.csv"
        whole.write_text(csv_text(rows), encoding="utf-8")
        one = Path(tmp) / "part1.csv"
        two = Path(tmp) / "part2.csv"
        one.write_text(csv_text(shuffled[: cut + 1]), encoding="utf-8")
        two.write_text(csv_text(shuffled[cut + 1 :]), encoding="utf-8")
        opts: dict[str, Any] = {"customer": "customer", "amount": "amount", "top": 3}
        a = topshare.analyze(whole, cr=(1, 2, 5), **opts)
        b = topshare.analyze([one, two], cr=(1, 2, 5), **opts)
        check_analysis(b, rows, 3)
        da, db = a.to_dict(), b.to_dict()
        for d in (da, db):
            d.pop("source")
            d.pop("warnings")
        assert da == db
        assert ranking(net_totals(rows))[:3] == [(t.entity, int(t.value * 100)) for t in b.top]

"""The formulas of topshare.metrics against values computed by hand (arithmetic in the comments)
and published references (US DOJ/FTC HHI examples, the 2023 and 2010 Merger Guidelines bands)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pytest

from topshare.metrics import (
    LORENZ_MAX_POINTS,
    Indices,
    abc_class,
    compute_indices,
    hhi_band,
    lorenz_points,
    share,
    sort_desc,
    tie_at_boundary,
    top_sums,
)
from topshare.money import exact_sum, money_str, threshold_units, to_decimal

LN2 = math.log(2)


def units(*values: int) -> npt.NDArray[np.int64]:
    return np.array(values, dtype=np.int64)


def idx(*values: int, pareto: float | str = 0.8, bands: str = "2023") -> Indices:
    return compute_indices(units(*values), pareto, bands)


def close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


# --- HHI ---------------------------------------------------------------------------------------


def test_hhi_doj_example_30_30_20_20() -> None:
    # US DOJ: "a market of four firms with shares of 30, 30, 20 and 20 percent has an HHI of
    # 30² + 30² + 20² + 20² = 900 + 900 + 400 + 400 = 2,600".
    r = idx(30, 30, 20, 20)
    assert close(r.hhi, 0.26)
    assert close(r.hhi_points, 2600.0)
    # effective number 1 / 0.26 = 3.846153...
    assert close(r.effective_number, 1 / 0.26)
    # normalized (0.26 − 1/4) / (1 − 1/4) = 0.01 / 0.75 = 1/75
    assert close(r.hhi_normalized, 1 / 75)
    assert r.hhi_band == "highly concentrated"  # 2,600 > 1,800
    assert idx(30, 30, 20, 20, bands="2010").hhi_band == "highly concentrated"  # > 2,500


def test_hhi_four_equal_firms() -> None:
    # 4 × 25 %: 4 × 0.25² = 0.25 → 2,500 points; normalized (0.25 − 1/4)/(3/4) = 0; 1/HHI = 4
    r = idx(25, 25, 25, 25)
    assert close(r.hhi, 0.25)
    assert close(r.hhi_points, 2500.0)
    assert close(r.hhi_normalized, 0.0)
    assert close(r.effective_number, 4.0)
    assert r.hhi_band == "highly concentrated"  # 2023: > 1,800
    # 2010: 1,500 ≤ 2,500 ≤ 2,500 → moderately (upper edge inclusive)
    assert idx(25, 25, 25, 25, bands="2010").hhi_band == "moderately concentrated"


def test_one_entity() -> None:
    # n = 1: s = 1, HHI = 1 (10,000 points), normalized undefined (1 − 1/n = 0), Gini 0,
    # corrected undefined (n − 1 = 0), H = −1·ln 1 = 0, H/ln 1 undefined, exp(0) = 1, Theil 0.
    r = idx(123)
    assert r.n == 1
    assert r.hhi == 1.0
    assert r.hhi_points == 10_000.0
    assert r.hhi_normalized is None
    assert r.effective_number == 1.0
    assert r.gini == 0.0
    assert r.gini_corrected is None
    assert r.entropy == 0.0
    assert r.entropy_normalized is None
    assert r.entropy_exp == 1.0
    assert r.theil == 0.0
    assert r.pareto_k == 1
    assert r.pareto_fraction == 1.0
    assert r.lorenz == [(0.0, 0.0), (1.0, 1.0)]


# --- HHI bands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "bands", "expected"),
    [
        (0.0, "2023", "unconcentrated"),
        (999.999, "2023", "unconcentrated"),
        (1000.0, "2023", "moderately concentrated"),
        (1800.0, "2023", "moderately concentrated"),
        (1800.001, "2023", "highly concentrated"),
        (10_000.0, "2023", "highly concentrated"),
        (1499.999, "2010", "unconcentrated"),
        (1500.0, "2010", "moderately concentrated"),
        (2500.0, "2010", "moderately concentrated"),
        (2500.001, "2010", "highly concentrated"),
        # float noise at an edge must not move the band
        (1799.9999999999998, "2023", "moderately concentrated"),
        (1800.0000000000002, "2023", "moderately concentrated"),
        (999.9999999999999, "2023", "moderately concentrated"),
    ],
)
def test_hhi_band_edges(points: float, bands: str, expected: str) -> None:
    assert hhi_band(points, bands) == expected


def test_hhi_band_none() -> None:
    assert hhi_band(None) is None


def test_hhi_band_edges_from_data() -> None:
    # 10 × 1 of 10: 10 × (1/10)² = 0.10 → exactly 1,000 points → moderately (2023)
    r = idx(*[1] * 10)
    assert close(r.hhi_points, 1000.0)
    assert r.hhi_band == "moderately concentrated"
    # 2,2,2,2,1,1 of 10: (4·4 + 2·1)/100 = 18/100 → exactly 1,800 points → moderately (2023)
    r = idx(2, 2, 2, 2, 1, 1)
    assert close(r.hhi_points, 1800.0)
    assert r.hhi_band == "moderately concentrated"
    # 4,4,4,2,2,1,1,1,1 of 20: (3·16 + 2·4 + 4·1)/400 = 60/400 → exactly 1,500 points (2010 edge)
    r = idx(4, 4, 4, 2, 2, 1, 1, 1, 1, bands="2010")
    assert close(r.hhi_points, 1500.0)
    assert r.hhi_band == "moderately concentrated"
    # 11 × 1 of 11: 1/11 → 909.09 points → unconcentrated (2023)
    assert idx(*[1] * 11).hhi_band == "unconcentrated"
    # 3,2,2,1,1,1 of 10: (9 + 8 + 3)/100 = 0.20 → 2,000 > 1,800 → highly (2023), moderately (2010)
    assert idx(3, 2, 2, 1, 1, 1).hhi_band == "highly concentrated"
    assert idx(3, 2, 2, 1, 1, 1, bands="2010").hhi_band == "moderately concentrated"


# --- Gini ---------------------------------------------------------------------------------------


def test_gini_1_2_3_4() -> None:
    # ascending 1,2,3,4; P = 10, n = 4; Σ i·x_(i) = 1·1 + 2·2 + 3·3 + 4·4 = 30
    # G = 2·30/(4·10) − 5/4 = 1.5 − 1.25 = 0.25; corrected 0.25 · 4/3 = 1/3
    r = idx(4, 2, 1, 3)
    assert close(r.gini, 0.25)
    assert close(r.gini_corrected, 1 / 3)


def test_gini_0_0_0_1() -> None:
    # Σ i·x_(i) = 4·1 = 4; G = 2·4/(4·1) − 5/4 = 2 − 1.25 = 0.75 (zeros count in n)
    r = idx(0, 0, 1, 0)
    assert r.n == 4
    assert close(r.gini, 0.75)
    assert close(r.gini_corrected, 1.0)  # 0.75 · 4/3


def test_gini_equal_is_zero() -> None:
    # x all equal: Σ i·x = x·n(n+1)/2, G = 2·x·n(n+1)/2 /(n·n·x) − (n+1)/n = 0
    r = idx(7, 7, 7, 7, 7)
    assert close(r.gini, 0.0)
    assert close(r.theil, 0.0)
    assert close(r.hhi_normalized, 0.0)


# --- Theil and Shannon entropy ------------------------------------------------------------------


def test_theil_and_entropy_1_1_2() -> None:
    # P = 4, s = 1/4, 1/4, 1/2; μ = 4/3, x/μ = 3/4, 3/4, 3/2
    # H = −(2·¼·ln ¼ + ½·ln ½) = ½·ln 4 + ½·ln 2 = 1.5·ln 2 = 1.0397207708...
    # T = ⅓·(2·¾·ln ¾ + 3/2·ln 3/2) = ½·(ln ¾ + ln 3/2) = ½·ln(9/8) = 0.0588915...
    r = idx(1, 1, 2)
    h = 1.5 * LN2
    assert close(r.entropy, h)
    assert close(r.entropy_normalized, h / math.log(3))
    assert close(r.entropy_exp, 2**1.5)  # exp(1.5 ln 2) = 2^1.5 = 2.828...
    assert close(r.theil, 0.5 * math.log(9 / 8))
    # identity T = ln n − H: ln 3 − 1.5 ln 2 = ln(3/2^1.5) = ½ ln(9/8)
    assert r.theil is not None
    assert r.entropy is not None
    assert close(r.theil, math.log(3) - r.entropy)


def test_theil_with_zeros() -> None:
    # 0,0,0,1: μ = 1/4, x/μ = 0,0,0,4; 0·ln 0 = 0; T = ¼·4·ln 4 = ln 4; H = −1·ln 1 = 0
    # T = ln n − H = ln 4 − 0 (zeros count in n)
    r = idx(0, 0, 0, 1)
    assert close(r.theil, math.log(4))
    assert close(r.entropy, 0.0)
    assert close(r.entropy_normalized, 0.0)
    assert close(r.entropy_exp, 1.0)


def test_theil_identity_and_entropy_bounds() -> None:
    # T = ln n − H holds for any data (Σ s ln(n s) = ln n + Σ s ln s); 0 ≤ H ≤ ln n
    values = (5, 3, 0, 9, 1, 1, 12)
    r = idx(*values)
    assert r.theil is not None
    assert r.entropy is not None
    assert close(r.theil, math.log(len(values)) - r.entropy)
    assert 0 <= r.entropy <= math.log(len(values))


# --- Pareto point -------------------------------------------------------------------------------


def test_pareto_exact_at_boundary_80_20() -> None:
    # 80, 20; p·P = 0.8·100 = 80; top-1 sum 80 ≥ 80 → k = 1, k/n = 1/2
    r = idx(20, 80)
    assert r.pareto_k == 1
    assert r.pareto_fraction == 0.5


def test_pareto_7_1_1_1() -> None:
    # 7,1,1,1; p = 0.7, P = 10; p·P = 7 exactly; top-1 = 7 ≥ 7 → k = 1, k/n = 1/4
    r = idx(7, 1, 1, 1, pareto=0.7)
    assert r.pareto_k == 1
    assert r.pareto_fraction == 0.25


@pytest.mark.parametrize(("p", "head"), [(0.28, 7), (0.56, 14)])
def test_pareto_where_float_misrounds(p: float, head: int) -> None:
    # P = 25: in binary floating point 0.28·25 = 7.000000000000001 and 0.56·25 = 14.000000000000002,
    # but exactly 0.28·25 = 7 and 0.56·25 = 14, reached by the top-1 entity: k = 1.
    assert p * 25 > head  # the float trap is real
    rest = [1] * (25 - head)
    r = idx(head, *rest, pareto=p)
    assert r.pareto_k == 1
    assert close(r.pareto_fraction, 1 / (1 + len(rest)))


def test_pareto_p_one_and_zeros() -> None:
    # p = 1: the smallest k whose top-k sum reaches P; zeros are not needed: 5,3,0,0 → k = 2
    r = idx(5, 3, 0, 0, pareto=1.0)
    assert r.pareto_k == 2
    assert r.pareto_fraction == 0.5


def test_pareto_not_at_boundary() -> None:
    # 50, 20, 20, 10; 0.8·100 = 80; top sums 50, 70, 90 → k = 3, k/n = 3/4
    r = idx(50, 20, 20, 10)
    assert r.pareto_k == 3
    assert r.pareto_fraction == 0.75


def test_threshold_units_is_exact() -> None:
    # ceil(p·total) from p's decimal text
    assert threshold_units(25, 0.28) == 7
    assert threshold_units(10, 0.7) == 7
    assert threshold_units(100, 0.8) == 80
    assert threshold_units(101, 0.8) == 81  # 80.8 → 81
    assert threshold_units(3, "0.5") == 2  # 1.5 → 2
    assert threshold_units(10**30, 0.8) == 8 * 10**29


# --- negatives, zeros, empty --------------------------------------------------------------------


def test_negatives_are_left_out() -> None:
    # population = 6, 2, 0 (x ≥ 0; the zero counts), P = 8; −5 is left out
    # HHI = (36 + 4)/64 = 0.625
    r = idx(6, -5, 2, 0)
    assert r.n == 3
    assert r.population_units == 8
    assert close(r.hhi, 40 / 64)
    # Gini: ascending 0,2,6; Σ i·x = 0 + 4 + 18 = 22; 2·22/(3·8) − 4/3 = 11/6 − 8/6 = 1/2
    assert close(r.gini, 0.5)


@pytest.mark.parametrize(
    "values",
    [(), (0,), (0, 0, 0), (-1, -2), (0, -3)],
    ids=["empty", "one-zero", "all-zero", "all-negative", "zero-and-negative"],
)
def test_no_positive_population_gives_none(values: tuple[int, ...]) -> None:
    r = compute_indices(np.array(values, dtype=np.int64))
    ratios = [
        r.hhi,
        r.hhi_points,
        r.hhi_normalized,
        r.hhi_band,
        r.effective_number,
        r.gini,
        r.gini_corrected,
        r.theil,
        r.entropy,
        r.entropy_normalized,
        r.entropy_exp,
        r.pareto_k,
        r.pareto_fraction,
    ]
    assert ratios == [None] * len(ratios)
    assert r.lorenz == []
    assert r.population_units == 0


def test_share_undefined_for_non_positive_total() -> None:
    assert share(5, 0) is None
    assert share(5, -10) is None
    assert share(0, 4) == 0.0
    assert share(1, 4) == 0.25


# --- ranking helpers ----------------------------------------------------------------------------


def test_top_sums_and_cr() -> None:
    desc = sort_desc(units(1, 5, 3, 3, 8))
    assert desc.tolist() == [8, 5, 3, 3, 1]
    # k > n means all entities; k = 0 is empty
    assert top_sums(desc, [0, 1, 2, 4, 5, 10]) == {0: 0, 1: 8, 2: 13, 4: 19, 5: 20, 10: 20}


def test_tie_at_boundary() -> None:
    desc = sort_desc(units(9, 5, 5, 1))
    assert tie_at_boundary(desc, 2)  # rank 2 = 5 = rank 3
    assert not tie_at_boundary(desc, 1)  # 9 ≠ 5
    assert not tie_at_boundary(desc, 3)  # 5 ≠ 1
    assert not tie_at_boundary(desc, 4)  # no rank N+1
    assert not tie_at_boundary(desc, 10)  # N > n
    assert tie_at_boundary(sort_desc(units(0, 0)), 1)  # zeros tie too


# --- ABC ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        (0.0, "A"),
        (0.7999999, "A"),
        (0.8, "B"),
        (0.9499999, "B"),
        (0.95, "C"),
        (1.0, "C"),
        (None, None),
    ],
)
def test_abc_class(before: float | None, expected: str | None) -> None:
    assert abc_class(before) == expected


def test_abc_from_cumulative_shares() -> None:
    # 50, 30, 15, 4, 1 of 100: cumulative before = 0, .50, .80, .95, .99 → A, A, B, C, C
    values = [50, 30, 15, 4, 1]
    total = sum(values)
    running = 0
    classes = []
    for v in values:
        classes.append(abc_class(share(running, total)))
        running += v
    assert classes == ["A", "A", "B", "C", "C"]


# --- Lorenz -------------------------------------------------------------------------------------


def test_lorenz_small_exact() -> None:
    # 1,2,3,4 of 10: (0,0), (¼, .1), (½, .3), (¾, .6), (1, 1)
    pts = idx(4, 3, 2, 1).lorenz
    expected = [(0.0, 0.0), (0.25, 0.1), (0.5, 0.3), (0.75, 0.6), (1.0, 1.0)]
    assert len(pts) == len(expected)
    for (x, y), (ex, ey) in zip(pts, expected, strict=True):
        assert close(x, ex)
        assert close(y, ey)


def test_lorenz_thinned_keeps_both_ends() -> None:
    n = 5000
    values = np.arange(1, n + 1, dtype=np.int64)  # P = n(n+1)/2
    pts = compute_indices(values).lorenz
    assert 2 <= len(pts) <= LORENZ_MAX_POINTS
    assert pts[0] == (0.0, 0.0)
    assert pts[-1] == (1.0, 1.0)
    xs = [x for x, _ in pts]
    ys = [y for _, y in pts]
    assert xs == sorted(xs)
    assert len(set(xs)) == len(xs)
    assert ys == sorted(ys)
    # every kept point lies on the exact curve: i smallest of 1..n sum to i(i+1)/2
    total = n * (n + 1) // 2
    for x, y in pts:
        i = round(x * n)
        assert close(x, i / n)
        assert math.isclose(y, i * (i + 1) / 2 / total, rel_tol=1e-9, abs_tol=1e-12)


def test_lorenz_not_thinned_at_limit() -> None:
    # n + 1 = 1,000 points fit: every point is kept
    shares = np.full(999, 1 / 999)
    pts = lorenz_points(shares)
    assert len(pts) == 1000
    assert pts[0] == (0.0, 0.0)
    assert pts[-1] == (1.0, 1.0)
    assert lorenz_points(np.array([], dtype=np.float64)) == []


# --- exact money --------------------------------------------------------------------------------


def test_exact_sum_does_not_overflow() -> None:
    big = np.array([2**62, 2**62, 2**62], dtype=np.int64)
    assert exact_sum(big) == 3 * 2**62  # beyond int64: a Python int
    huge = np.array([10**20, -(10**19), 7], dtype=np.object_)
    assert exact_sum(huge) == 10**20 - 10**19 + 7


def test_indices_on_object_arrays_beyond_int64() -> None:
    # 1e20 and 3e20 (beyond int64): s = ¼, ¾; HHI = 1/16 + 9/16 = 10/16 = 0.625
    # Gini: ascending ¼·P, ¾·P; Σ i·x/P = ¼ + 2·¾ = 7/4; 2·(7/4)/2 − 3/2 = 1/4
    r = compute_indices(np.array([10**20, 3 * 10**20], dtype=np.object_))
    assert r.population_units == 4 * 10**20
    assert close(r.hhi, 0.625)
    assert close(r.gini, 0.25)
    # 0.8 · 4e20 = 3.2e20 > 3e20 → k = 2
    assert r.pareto_k == 2


def test_money_strings() -> None:
    assert to_decimal(123450, 2) == Decimal("1234.5")
    assert str(to_decimal(123450, 2)) == "1234.50"
    assert money_str(1_234_500_000, 6) == "1234.50"  # trailing zeros trimmed to 2 places
    assert money_str(1_234_567_891, 6) == "1234.567891"
    assert money_str(-12_000_000, 6) == "-12.00"
    assert money_str(42, 0) == "42"  # counts stay integers

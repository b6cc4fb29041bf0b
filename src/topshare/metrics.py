"""Concentration formulas on per-entity totals (small arrays), exactly as docs/formulas.md says.

Inputs are integer units (see :mod:`topshare.money`): sums, thresholds and comparisons are exact;
ratios are float64 computed after the sums. Nothing here knows about files, engines or output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from topshare.money import UnitsArray, exact_sum, fits_int64, threshold_units

#: HHI band edges in points: (moderate from, high above). 2023 US Merger Guidelines and 2010.
HHI_BANDS: dict[str, tuple[float, float]] = {"2023": (1000.0, 1800.0), "2010": (1500.0, 2500.0)}
MAJOR_SHARE = 0.10
MAJOR_SHARE_DENOMINATOR = 10  # share >= 1/10, compared exactly as 10 * x >= T
LORENZ_MAX_POINTS = 1000


@dataclass(frozen=True)
class Indices:
    """Indices over the index population (entities with a total >= 0)."""

    n: int
    population_units: int
    hhi: float | None
    hhi_points: float | None
    hhi_normalized: float | None
    hhi_band: str | None
    effective_number: float | None
    gini: float | None
    gini_corrected: float | None
    theil: float | None
    entropy: float | None
    entropy_normalized: float | None
    entropy_exp: float | None
    pareto_k: int | None
    pareto_fraction: float | None
    #: The population's totals, ascending (a view of the caller's array, no copy; None: none
    #: to share): what :attr:`lorenz` is drawn from.
    population: UnitsArray | None = field(default=None, repr=False, compare=False)

    @cached_property
    def lorenz(self) -> list[tuple[float, float]]:
        """The Lorenz curve (:func:`lorenz_points`), made on first use: only the overall
        analysis and its charts show it, while every period and segment has indices."""
        if self.population is None:
            return []
        return lorenz_points(self.population.astype(np.float64) / float(self.population_units))


def sort_desc(units: UnitsArray) -> UnitsArray:
    """Totals in ranking order (descending). Ties keep no key order: callers that need keys get
    them from the engine, which breaks ties by entity key ascending."""
    out: UnitsArray = np.sort(units)[::-1].copy()
    return out


def top_sums(sorted_desc: UnitsArray, ks: list[int]) -> dict[int, int]:
    """Exact sum of the k highest totals for each k (k > n means all entities)."""
    out: dict[int, int] = {}
    for k in ks:
        out[k] = exact_sum(sorted_desc[: max(k, 0)])
    return out


def tie_at_boundary(sorted_desc: UnitsArray, n_top: int) -> bool:
    """True when the totals ranked N and N+1 are equal, so the top-N set depends on the key order."""
    if n_top < 1 or sorted_desc.size <= n_top:
        return False
    return bool(sorted_desc[n_top - 1] == sorted_desc[n_top])


def share(part: int, total: int) -> float | None:
    """part / total in float64; undefined (None) when the total is not positive."""
    if total <= 0:
        return None
    return part / total


def hhi_band(points: float | None, bands: str = "2023") -> str | None:
    """Band name for HHI points; edges are inclusive for the moderate band (1,000 and 1,800)."""
    if points is None:
        return None
    low, high = HHI_BANDS[bands]
    pts = round(points, 6)  # float noise must not move 1,800.0000000001 into the next band
    if pts < low:
        return "unconcentrated"
    if pts <= high:
        return "moderately concentrated"
    return "highly concentrated"


def abc_class(cumulative_before: float | None) -> str | None:
    """A while the cumulative share before the entity is < 80 %, B while < 95 %, else C."""
    if cumulative_before is None:
        return None
    if cumulative_before < 0.80:
        return "A"
    if cumulative_before < 0.95:
        return "B"
    return "C"


def lorenz_points(
    ascending: npt.NDArray[np.float64], max_points: int = LORENZ_MAX_POINTS
) -> list[tuple[float, float]]:
    """(i/n, cumulative share of the i smallest) from (0, 0) to (1, 1), thinned to at most
    ``max_points`` points, both ends kept. ``ascending`` holds shares summing to 1."""
    n = ascending.size
    if n == 0:
        return []
    cum = np.concatenate(([0.0], np.cumsum(ascending)))
    if n + 1 <= max_points:
        idx = np.arange(n + 1)
    else:
        idx = np.unique(np.round(np.linspace(0, n, max_points)).astype(np.int64))
    pts = [(float(i) / n, float(cum[i])) for i in idx]
    pts[-1] = (1.0, 1.0)
    return pts


def compute_indices(
    units: UnitsArray,
    pareto: float | str = 0.8,
    bands: str = "2023",
    *,
    ascending: bool = False,
) -> Indices:
    """All indices of the contract over the entities with a total >= 0. ``ascending=True``
    says ``units`` is already sorted ascending (no second sort of a large array)."""
    if ascending:
        asc: UnitsArray = units[int(np.searchsorted(units, 0, side="left")) :]
    else:
        asc = np.sort(units[units >= 0])
    pop = asc
    n = int(pop.size)
    p_units = exact_sum(pop)
    if n == 0 or p_units <= 0:
        return Indices(n, p_units, None, None, None, None, None, None, None, None, None, None,
                       None, None, None)  # fmt: skip
    s = asc.astype(np.float64) / float(p_units)
    hhi = float(np.sum(s * s))
    points = 10_000.0 * hhi
    hhi_norm = (hhi - 1.0 / n) / (1.0 - 1.0 / n) if n > 1 else None
    i = np.arange(1, n + 1, dtype=np.float64)
    gini = float(2.0 * np.sum(i * s) / n - (n + 1.0) / n)
    gini_corr = gini * n / (n - 1) if n > 1 else None
    pos = s[s > 0]
    entropy = float(-np.sum(pos * np.log(pos))) + 0.0  # + 0.0: no "-0.0" for one entity
    ratio = s * n  # x_i / mu
    rpos = ratio[ratio > 0]
    theil = float(np.sum(rpos * np.log(rpos)) / n)
    desc = asc[::-1]
    cum = _cumsum_exact(desc)
    need = threshold_units(p_units, pareto)
    k = int(np.searchsorted(cum, need, side="left")) + 1 if need > 0 else 0
    k = min(k, n)
    return Indices(
        n=n,
        population_units=p_units,
        hhi=hhi,
        hhi_points=points,
        hhi_normalized=hhi_norm,
        hhi_band=hhi_band(points, bands),
        effective_number=1.0 / hhi,
        gini=gini,
        gini_corrected=gini_corr,
        theil=theil,
        entropy=entropy,
        entropy_normalized=min(entropy / math.log(n), 1.0) if n > 1 else None,
        entropy_exp=math.exp(entropy),
        pareto_k=k,
        pareto_fraction=k / n,
        population=asc,
    )


def _cumsum_exact(desc: UnitsArray) -> UnitsArray:
    """Cumulative sums without overflow: int64 when the grand total fits, Python ints otherwise."""
    if fits_int64(desc):
        return np.cumsum(desc, dtype=np.int64)
    return np.cumsum(desc.astype(np.object_))


def theil_split(parts: list[UnitsArray]) -> tuple[float | None, float | None, float | None]:
    """Theil T over all the cells of ``parts`` (groups of per-entity totals; cells < 0 left out,
    as in the index population) and its exact decomposition (total, between, within):

        T = sum_g (P_g / P) ln(mu_g / mu)  +  sum_g (P_g / P) T_g

    with P_g, mu_g and T_g the sum, mean and Theil T of group g, P and mu those of all cells."""
    pops = [p[p >= 0] for p in parts]
    n = sum(int(p.size) for p in pops)
    p_all = sum(exact_sum(p) for p in pops)
    if n == 0 or p_all <= 0:
        return None, None, None
    mu = p_all / n
    between = 0.0
    within = 0.0
    ratios = []
    for pop in pops:
        p_g = exact_sum(pop)
        if pop.size == 0 or p_g <= 0:
            continue  # a group with nothing to share carries no weight
        weight = p_g / p_all
        mu_g = p_g / pop.size
        between += weight * math.log(mu_g / mu)
        r = pop.astype(np.float64) / mu_g
        r = r[r > 0]
        within += weight * float(np.sum(r * np.log(r)) / pop.size)
        ratios.append(pop.astype(np.float64) / mu)
    every = np.concatenate(ratios) if ratios else np.empty(0)
    every = every[every > 0]
    total = float(np.sum(every * np.log(every)) / n)
    return total, between, within

"""An independent, deliberately plain reference for the metric contract (PRODUCT.md, "Definitions").

Written from the definitions alone, with exact rational arithmetic (:class:`fractions.Fraction`),
sorted lists and loops; it never imports topshare. Only the logarithms (Theil, entropy) are
floats, taken of exact ratios. Tests compare topshare with these functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

#: (moderate from, high above), in HHI points.
BANDS: dict[str, tuple[int, int]] = {"2023": (1000, 1800), "2010": (1500, 2500)}


@dataclass(frozen=True)
class RefIndices:
    """Indices over the index population (entities with a net total >= 0)."""

    n: int
    population: int
    hhi: Fraction | None
    hhi_points: Fraction | None
    hhi_normalized: Fraction | None
    hhi_band: str | None
    effective_number: Fraction | None
    gini: Fraction | None
    gini_corrected: Fraction | None
    theil: float | None
    entropy: float | None
    entropy_normalized: float | None
    entropy_exp: float | None
    pareto_k: int | None
    pareto_fraction: Fraction | None
    lorenz: list[tuple[Fraction, Fraction]]


def exact_p(p: float | str | Decimal | Fraction) -> Fraction:
    """A threshold as the decimal the user wrote: 0.8 means 4/5, not the binary float."""
    if isinstance(p, Fraction):
        return p
    return Fraction(str(p))


def band_of(points: Fraction, bands: str = "2023") -> str:
    """< low unconcentrated, low..high (both inclusive) moderately, > high highly."""
    low, high = BANDS[bands]
    if points < low:
        return "unconcentrated"
    if points <= high:
        return "moderately concentrated"
    return "highly concentrated"


def gini_mean_difference(values: Sequence[int]) -> Fraction:
    """Gini from the mean absolute difference, sum_i sum_j |x_i - x_j| / (2 n^2 mu): a second,
    algebraically equal form used to check the reference itself."""
    n = len(values)
    total = sum(values)
    diff = sum(abs(a - b) for a in values for b in values)
    return Fraction(diff, 2 * n * total)


def ref_indices(
    totals: Iterable[int], p: float | str | Decimal | Fraction = "0.8", bands: str = "2023"
) -> RefIndices:
    """Every index of the contract, from per-entity net totals (integers)."""
    pop = [int(x) for x in totals if x >= 0]
    n = len(pop)
    total = sum(pop)
    if n == 0 or total <= 0:
        return RefIndices(
            n=n,
            population=total,
            hhi=None,
            hhi_points=None,
            hhi_normalized=None,
            hhi_band=None,
            effective_number=None,
            gini=None,
            gini_corrected=None,
            theil=None,
            entropy=None,
            entropy_normalized=None,
            entropy_exp=None,
            pareto_k=None,
            pareto_fraction=None,
            lorenz=[],
        )
    shares = [Fraction(x, total) for x in pop]
    hhi = sum((s * s for s in shares), Fraction(0))
    hhi_norm = (hhi - Fraction(1, n)) / (1 - Fraction(1, n)) if n > 1 else None

    ascending = sorted(pop)
    weighted = sum(i * x for i, x in enumerate(ascending, start=1))
    gini = Fraction(2 * weighted, n * total) - Fraction(n + 1, n)
    gini_corr = gini * n / (n - 1) if n > 1 else None

    mu = Fraction(total, n)
    theil = 0.0
    for x in pop:
        if x > 0:
            r = x / mu
            theil += float(r) * math.log(r)
    theil /= n
    entropy = 0.0
    for s in shares:
        if s > 0:
            entropy -= float(s) * math.log(s)

    threshold = exact_p(p) * total
    descending = sorted(pop, reverse=True)
    k = 1
    while sum(descending[:k]) < threshold:
        k += 1

    lorenz = [(Fraction(0), Fraction(0))]
    cum = 0
    for i, x in enumerate(ascending, start=1):
        cum += x
        lorenz.append((Fraction(i, n), Fraction(cum, total)))

    return RefIndices(
        n=n,
        population=total,
        hhi=hhi,
        hhi_points=10_000 * hhi,
        hhi_normalized=hhi_norm,
        hhi_band=band_of(10_000 * hhi, bands),
        effective_number=1 / hhi,
        gini=gini,
        gini_corrected=gini_corr,
        theil=theil,
        entropy=entropy,
        entropy_normalized=entropy / math.log(n) if n > 1 else None,
        entropy_exp=math.exp(entropy),
        pareto_k=k,
        pareto_fraction=Fraction(k, n),
        lorenz=lorenz,
    )


def net_totals(rows: Iterable[tuple[str, int]]) -> dict[str, int]:
    """x_i: the sum of the value over each entity's rows (refunds net out)."""
    out: dict[str, int] = {}
    for key, value in rows:
        out[key] = out.get(key, 0) + value
    return out


def ranking(totals: dict[str, int]) -> list[tuple[str, int]]:
    """x descending, ties broken by entity key ascending (a total order: ROW_NUMBER, not RANK)."""
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def share_of(part: int, total: int) -> Fraction | None:
    """part / total; undefined when the total is not positive."""
    return Fraction(part, total) if total > 0 else None


def abc_of(cumulative_before: Fraction | None) -> str | None:
    if cumulative_before is None:
        return None
    if cumulative_before < Fraction(4, 5):
        return "A"
    if cumulative_before < Fraction(19, 20):
        return "B"
    return "C"


@dataclass(frozen=True)
class RefTopRow:
    rank: int
    entity: str
    value: int
    share: Fraction | None
    cumulative_share: Fraction | None
    abc: str | None
    major: bool


@dataclass(frozen=True)
class RefTop:
    """The top-N table of the contract, with its Others row and CR_k."""

    total: int
    n_entities: int
    rows: list[RefTopRow]
    top_sum: int
    top_share: Fraction | None
    others_entities: int
    others_value: int
    tie_at_boundary: bool
    cr: dict[int, tuple[int, Fraction | None]]
    majors: list[str]
    negative_entities: int
    negative_sum: int


def ref_top(totals: dict[str, int], top: int = 10, ks: Sequence[int] = (1, 4, 10, 20)) -> RefTop:
    ranked = ranking(totals)
    total = sum(totals.values())
    rows: list[RefTopRow] = []
    running = 0
    for rank, (key, x) in enumerate(ranked[:top], start=1):
        before = share_of(running, total)
        running += x
        s = share_of(x, total)
        rows.append(
            RefTopRow(
                rank=rank,
                entity=key,
                value=x,
                share=s,
                cumulative_share=share_of(running, total),
                abc=abc_of(before),
                major=total > 0 and 10 * x >= total,
            )
        )
    top_sum = sum(x for _, x in ranked[:top])
    tie = len(ranked) > top and ranked[top - 1][1] == ranked[top][1]
    cr = {
        k: (sum(x for _, x in ranked[:k]), share_of(sum(x for _, x in ranked[:k]), total))
        for k in ks
    }
    negatives = [x for x in totals.values() if x < 0]
    return RefTop(
        total=total,
        n_entities=len(ranked),
        rows=rows,
        top_sum=top_sum,
        top_share=share_of(top_sum, total),
        others_entities=max(len(ranked) - top, 0),
        others_value=total - top_sum,
        tie_at_boundary=tie,
        cr=cr,
        majors=[key for key, x in ranked if total > 0 and 10 * x >= total],
        negative_entities=len(negatives),
        negative_sum=sum(negatives),
    )


# --- over time and by segment ---------------------------------------------------------------------


@dataclass(frozen=True)
class RefChurn:
    """The top-N sets of two consecutive periods compared: entity keys in ranking order, and the
    change of the top-N share with its terms, (total, entered, left, stayed); None when either
    total is not positive."""

    entered: list[str]
    left: list[str]
    stayed: list[str]
    change: tuple[Fraction, Fraction, Fraction, Fraction] | None


def ref_churn(before: dict[str, int], after: dict[str, int], top: int) -> RefChurn:
    """Churn of the top N from ``before`` to ``after`` (entity -> net total in each period):
    entered and stayed in the new ranking order, left in the old one. The share change is
    computed from the two top-N shares, each term from its own definition."""
    old = [key for key, _ in ranking(before)[:top]]
    new = [key for key, _ in ranking(after)[:top]]
    entered = [key for key in new if key not in old]
    left = [key for key in old if key not in new]
    stayed = [key for key in new if key in old]
    t0, t1 = sum(before.values()), sum(after.values())
    if t0 <= 0 or t1 <= 0:
        return RefChurn(entered, left, stayed, None)
    change = Fraction(sum(after[k] for k in new), t1) - Fraction(sum(before[k] for k in old), t0)
    in_share = sum((Fraction(after[k], t1) for k in entered), Fraction(0))
    out_share = sum((Fraction(before[k], t0) for k in left), Fraction(0))
    kept = sum((Fraction(after[k], t1) - Fraction(before[k], t0) for k in stayed), Fraction(0))
    return RefChurn(entered, left, stayed, (change, in_share, out_share, kept))


def ref_theil(values: Sequence[int]) -> float:
    """Theil T = (1/n) sum (x/mu) ln(x/mu), 0 ln 0 = 0, over the values >= 0 (zeros count in n)."""
    pop = [x for x in values if x >= 0]
    mu = Fraction(sum(pop), len(pop))
    return sum(float(x / mu) * math.log(x / mu) for x in pop if x > 0) / len(pop)


def ref_theil_split(groups: Sequence[Sequence[int]]) -> tuple[float, float, float]:
    """(T, between, within) of Theil T over every cell of ``groups`` (cells < 0 left out):
    between = sum_g (P_g/P) ln(mu_g/mu), within = sum_g (P_g/P) T_g; a group whose population
    sums to 0 has no weight. T is computed over all the cells directly, not as the sum."""
    pops = [[x for x in g if x >= 0] for g in groups]
    cells = [x for g in pops for x in g]
    total = sum(cells)
    mu = Fraction(total, len(cells))
    between = 0.0
    within = 0.0
    for g in pops:
        p_g = sum(g)
        if not g or p_g <= 0:
            continue
        weight = Fraction(p_g, total)
        between += float(weight) * math.log(Fraction(p_g, len(g)) / mu)
        within += float(weight) * ref_theil(g)
    return ref_theil(cells), between, within

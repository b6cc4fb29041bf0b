"""Metrics per part of the data: per period (with the churn of the top N between consecutive
periods and its exact decomposition), per segment value, per segment x period.

Everything here works on the small per-group arrays of :mod:`topshare.grid`; the formulas are
those of :mod:`topshare.metrics`, so a period or a segment is computed exactly like the whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from topshare.grid import Groups
from topshare.metrics import (
    MAJOR_SHARE_DENOMINATOR,
    Indices,
    abc_class,
    compute_indices,
    share,
    tie_at_boundary,
)
from topshare.money import WIDE, UnitsArray, exact_sum, fits_int64
from topshare.periods import label, period_range
from topshare.result import (
    EntityValue,
    Mover,
    Negative,
    Others,
    Pareto,
    Period,
    Segment,
    ShareChange,
    TheilSplit,
    TopRow,
)


@dataclass(frozen=True)
class Options:
    top: int
    pareto: float
    bands: str
    scale: int

    def dec(self, units: int) -> Decimal:
        """``normalize(to_decimal(units, scale), scale=scale)``, on the integer: at least two
        places (none at scale 0), trailing zeros beyond them dropped."""
        return money_of(int(units), self.scale)


def money_of(units: int, scale: int) -> Decimal:
    """:func:`topshare.money.normalize` of ``units`` at ``scale`` (the same digits and
    exponent), made from the integer without a quantize: a series makes thousands."""
    if scale == 0:
        return Decimal(units)
    places = scale
    if scale < 2:
        units, places = units * 10 ** (2 - scale), 2
    while places > 2 and units % 10 == 0:
        units //= 10
        places -= 1
    return Decimal(units).scaleb(-places, WIDE)


def is_major(units: int, total: int) -> bool:
    """Share >= 10 % of the total, decided exactly on integers."""
    return total > 0 and units * MAJOR_SHARE_DENOMINATOR >= total


def top_rows(pairs: list[tuple[str, int]], total: int, n: int, opt: Options) -> list[TopRow]:
    """The ranked rows of a top-N table (rank, value, share, cumulative share, ABC, major)."""
    rows: list[TopRow] = []
    running = 0
    for rank, (key, u) in enumerate(pairs[:n], start=1):
        before = share(running, total)
        running += u
        rows.append(
            TopRow(rank, key, opt.dec(u), share(u, total), share(running, total),
                   abc_class(before), is_major(u, total))
        )  # fmt: skip
    return rows


def fetch_count(units: UnitsArray, top: int) -> int:
    """How many ranked entities a slice needs by name: N + 1, and every major customer."""
    total = exact_sum(units)
    if total <= 0 or not units.size:
        return top + 1
    small = units.dtype != np.object_ and fits_int64(units, factor=MAJOR_SHARE_DENOMINATOR)
    scaled = (
        units * MAJOR_SHARE_DENOMINATOR
        if small
        else units.astype(np.object_) * MAJOR_SHARE_DENOMINATOR
    )
    majors = int(np.count_nonzero(scaled >= total))
    return max(top + 1, majors)


def make_slice(
    units: UnitsArray, pairs: list[tuple[str, int]], rows: int, opt: Options
) -> dict[str, Any]:
    """The fields of :class:`~topshare.result.Slice` for one group (``pairs``: its first ranked
    entities with their keys, as many as :func:`fetch_count` says)."""
    asc: UnitsArray = np.sort(units)
    idx = compute_indices(asc, opt.pareto, opt.bands, ascending=True)
    neg = units[units < 0]
    return slice_fields(asc, idx, exact_sum(units), int(neg.size), exact_sum(neg), pairs, rows, opt)


def slice_fields(
    asc: UnitsArray,
    idx: Indices,
    total: int,
    neg_count: int,
    neg_sum: int,
    pairs: list[tuple[str, int]],
    rows: int,
    opt: Options,
    ranked: list[TopRow] | None = None,
) -> dict[str, Any]:
    """:func:`make_slice` from a group's sorted totals and their indices (computed once per
    group by a caller that keeps them, :mod:`topshare.resident`): only O(top) work here.
    ``ranked``: the group's first :func:`top_rows` (at least ``min(top, n)`` of them), which
    do not depend on N, kept by the caller; None: made here from ``pairs``."""
    n = int(asc.size)
    desc = asc[::-1]
    top_sum = exact_sum(desc[: opt.top])
    negatives = sorted((p for p in pairs if p[1] < 0), key=lambda p: (p[1], p[0]))
    return {
        "total": opt.dec(total),
        "rows": rows,
        "n_entities": n,
        "top_n_sum": opt.dec(top_sum),
        "top_n_share": share(top_sum, total),
        "tie_at_boundary": tie_at_boundary(desc, opt.top),
        "top": (
            top_rows(pairs, total, min(opt.top, n), opt)
            if ranked is None
            else ranked[: min(opt.top, n)]
        ),
        "others": Others(
            max(n - opt.top, 0), opt.dec(total - top_sum), share(total - top_sum, total)
        ),
        "hhi": idx.hhi,
        "hhi_points": idx.hhi_points,
        "hhi_normalized": idx.hhi_normalized,
        "hhi_band": idx.hhi_band,
        "effective_number": idx.effective_number,
        "gini": idx.gini,
        "gini_corrected": idx.gini_corrected,
        "theil": idx.theil,
        "pareto": Pareto(float(opt.pareto), idx.pareto_k, idx.pareto_fraction),
        "major": [
            EntityValue(k, opt.dec(u), share(u, total)) for k, u in pairs if is_major(u, total)
        ],
        "negative": Negative(
            neg_count,
            opt.dec(neg_sum),
            [EntityValue(k, opt.dec(u), share(u, total)) for k, u in negatives[:10]],
        ),
    }


def group_slice(groups: Groups, g: int | None, opt: Options) -> dict[str, Any]:
    """Slice fields of group ``g`` (None: an empty group, a period without rows)."""
    if g is None:
        return make_slice(np.empty(0, dtype=np.int64), [], 0, opt)
    kept = groups.slice_fields(g, opt)
    if kept is not None:
        return kept
    units = groups.group_units(g)
    pairs = groups.top(g, fetch_count(units, opt.top))
    return make_slice(units, pairs, groups.rows[g], opt)


def series(
    groups: Groups,
    prefix: tuple[Any, ...],
    first: date,
    last: date,
    period: str,
    opt: Options,
) -> list[Period]:
    """Every period from ``first`` to ``last`` (empty ones with zero totals) for the groups whose
    key starts with ``prefix`` (the segment values; () for all), with the churn of the top N."""
    where = groups.index()
    out: list[Period] = []
    prev: tuple[list[tuple[str, int]], int, int | None] | None = None  # top pairs, total, group
    for start in period_range(first, last, period):
        g = where.get((*prefix, start))
        fields = group_slice(groups, g, opt)
        total = int(fields["total"].scaleb(opt.scale, WIDE))  # exact: the group's total
        pairs = [(r.entity, int(r.value.scaleb(opt.scale, WIDE))) for r in fields["top"]]
        churn = _churn(prev, (pairs, total, g), groups, opt) if prev is not None else None
        out.append(
            Period(
                **fields,
                period=start,
                label=label(start, period),
                entered=churn[0] if churn else None,
                left=churn[1] if churn else None,
                stayed=churn[2] if churn else None,
                share_change=churn[3] if churn else None,
            )
        )
        prev = (pairs, total, g)
    return out


def share_change_exact(
    before: list[tuple[str, int]], t_before: int, after: list[tuple[str, int]], t_after: int
) -> tuple[Fraction, Fraction, Fraction, Fraction] | None:
    """(change, entered, left, stayed) of the top-N share as exact fractions:
    change = entered - left + stayed. None when either total is not positive (no share)."""
    if t_before <= 0 or t_after <= 0:
        return None
    old, new = dict(before), dict(after)
    entered = Fraction(sum(u for k, u in after if k not in old), t_after)
    left = Fraction(sum(u for k, u in before if k not in new), t_before)
    # sum over the stayed of (u / t_after - u_before / t_before), as one fraction
    now = sum(u for k, u in after if k in old)
    then = sum(old[k] for k, _ in after if k in old)
    both = t_after * t_before
    stayed = Fraction(now * t_before - then * t_after, both)
    change = Fraction(sum(new.values()) * t_before - sum(old.values()) * t_after, both)
    return change, entered, left, stayed


def _churn(
    prev: tuple[list[tuple[str, int]], int, int | None],
    cur: tuple[list[tuple[str, int]], int, int | None],
    groups: Groups,
    opt: Options,
) -> tuple[list[Mover], list[Mover], list[Mover], ShareChange | None]:
    (before, t0, g0), (after, t1, g1) = prev, cur
    old_rank = {k: i for i, (k, _) in enumerate(before, start=1)}
    new_rank = {k: i for i, (k, _) in enumerate(after, start=1)}
    old_val, new_val = dict(before), dict(after)
    # Values outside the top N: the entered entities in the previous period, the left ones now.
    old_val.update(_lookup(groups, g0, [k for k in new_rank if k not in old_rank]))
    new_val.update(_lookup(groups, g1, [k for k in old_rank if k not in new_rank]))

    def mover(k: str) -> Mover:
        u1, u0 = new_val.get(k, 0), old_val.get(k, 0)
        return Mover(k, new_rank.get(k), old_rank.get(k), opt.dec(u1), opt.dec(u0),
                     share(u1, t1), share(u0, t0))  # fmt: skip

    entered = [mover(k) for k, _ in after if k not in old_rank]
    left = [mover(k) for k, _ in before if k not in new_rank]
    stayed = [mover(k) for k, _ in after if k in old_rank]
    exact = share_change_exact(before, t0, after, t1)
    change = ShareChange(*(float(x) for x in exact)) if exact else None
    return entered, left, stayed, change


def _lookup(groups: Groups, g: int | None, keys: list[str]) -> dict[str, int]:
    return groups.values_of(g, keys) if g is not None and keys else {}


def segments(
    groups: Groups,
    names: list[str],
    opt: Options,
    periods: Groups | None = None,
    period_args: tuple[date, date, str] | None = None,
) -> list[Segment]:
    """One entry per segment value (``groups`` is grouped by the segment columns), each with its
    period series when ``periods`` (grouped by the segment columns and the period) is given."""
    out = []
    for g, key in enumerate(groups.keys):
        fields = group_slice(groups, g, opt)
        series_ = None
        if periods is not None and period_args is not None:
            series_ = series(periods, key, *period_args, opt)
        out.append(Segment(**fields, segment=dict(zip(names, key, strict=True)), periods=series_))
    return out


def theil_of(groups: Groups, names: list[str]) -> Callable[[int], TheilSplit]:
    """The between/within decomposition of Theil T over the (segment, entity) cells, made when
    told the number of entities (the split is nested when each entity is in one segment)."""
    cells = sum(int(groups.group_units(g).size) for g in range(len(groups)))
    total, between, within = groups.theil()
    return lambda n_entities: TheilSplit(names, total, between, within, nested=cells == n_entities)

"""An explorer's analyses and entity series answered from its resident cells (no engine query).

The same pipeline as :meth:`topshare.explore.Explorer.analyze` on the engine: the scope's
per-entity totals (a kept :class:`~topshare.resident.Group`) become the
:class:`~topshare.engine.Totals` that :func:`topshare.engine.collect` would have returned, then
``_build`` of :mod:`topshare.analyze` and :func:`topshare.breakdown.over_time_and_segments`
run on them, the series and segments reading kept groups through
:func:`topshare.keptgroups.loader`.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import TYPE_CHECKING, Any

from topshare import slices
from topshare.analyze import _build, _Scope
from topshare.breakdown import over_time_and_segments
from topshare.engine import Prepared, Totals
from topshare.entity import EntityPeriod, EntitySeries
from topshare.keptgroups import Kept, ResidentGroups, loader
from topshare.metrics import share
from topshare.periods import PERIODS, Window, label, period_range, shift
from topshare.resident import Group, GroupKey, Resident, day_date, day_number
from topshare.result import Analysis, Period, Segment

if TYPE_CHECKING:
    from topshare.explore import Explorer

Filter = tuple[tuple[str, Any], ...]


def scope_key(ex: Explorer, res: Resident, win: Window | None, filt: Filter) -> GroupKey | None:
    """The group of the whole scope: its day range and the filter's (segment, code) pairs."""
    first = day_number(win.first_day) if win is not None and win.first_day else None
    last = day_number(win.last_day) if win is not None and win.last_day else None
    fixed = []
    for col, value in filt:
        seg = ex.segment_columns.index(col)
        fixed.append((seg, res.seg_values[seg].index(value)))
    key: GroupKey | None = res.key(first, last, tuple(fixed))
    return key


def analysis(
    ex: Explorer,
    res: Resident,
    top: int,
    ks: list[int],
    pareto: float,
    bands: str,
    scope: _Scope,
    filt: Filter,
) -> Analysis:
    win = ex._window(scope)
    key = scope_key(ex, res, win, filt)
    grp = res.group(key)
    fetch = max(top + 1, max(ks))
    if grp.total > 0:  # every major entity must be among the ranked rows (as collect() does)
        fetch = max(fetch, grp.majors())
    tot = Totals(
        scale=ex.scale,
        units=grp.asc,
        top=res.pairs(grp.ranked(fetch)),
        negatives=res.pairs(grp.negatives()),
        rows_valid=grp.rows,
        rejected=ex._tot_all.rejected,
        out_of_range=None,
        date_min=res.when(grp.date_min) if ex.has_date else None,
        date_max=res.when(grp.date_max) if ex.has_date else None,
    )
    tot = dataclasses.replace(tot, out_of_range=ex._outside(win, filt, tot, grp.total))
    if tot.rows_valid == 0:
        raise ex._no_rows(tot, win)
    result = _build(
        tot, ks, top, pareto, bands, ex.roles, ex.source, ex.rejections, ex._rows_read,
        ex._money_in, ex.labels, asc=grp.asc, idx=grp.indices(pareto, bands),
    )  # fmt: skip
    seg_cols = ex._seg_cols(scope)
    names = ex._cache.seg_names
    prepared = Prepared(
        table=None,
        scale=ex.scale,
        has_date=ex.has_date,
        period=PERIODS[scope.period] if scope.period else None,
        segments=tuple(names[c] for c in seg_cols),
    )
    first = (win.first_day if win else None) or (tot.date_min.date() if tot.date_min else None)
    last = (win.last_day if win else None) or (tot.date_max.date() if tot.date_max else None)
    span = (first, last) if first and last else None
    seg_index = {names[c]: i for i, c in enumerate(ex.segment_columns)}
    assert key is not None  # rows_valid > 0
    load, count = loader(res, key, key[2], seg_index, scope.period, span)
    # The segments without their series, then every series from kept periods (below).
    flat = dataclasses.replace(scope, period=None)
    out = over_time_and_segments(
        result, None, tot, prepared, flat, win, seg_cols, top, pareto, bands, load, count
    )
    assert out.scope is not None
    out = dataclasses.replace(out, scope=dataclasses.replace(out.scope, period=scope.period))
    if scope.period is None or span is None:
        return out
    opt = Kept(top, pareto, bands, ex.scale)
    args = (span[0], span[1], scope.period)
    by_segments: dict[tuple[str, ...], ResidentGroups] = {}

    def segment_series(seg: Segment) -> list[Period]:
        by = tuple(names[c] for c in seg.segment)
        if by not in by_segments:
            by_segments[by] = load([*by, "period"])
        return series(res, by_segments[by], tuple(seg.segment.values()), *args, opt)

    return dataclasses.replace(
        out,
        periods=series(res, load(["period"]), (), *args, opt),
        segments=None if out.segments is None else [
            dataclasses.replace(seg, periods=segment_series(seg)) for seg in out.segments
        ],
    )  # fmt: skip


def warm_series(ex: Explorer, res: Resident, period: str, filt: Filter) -> None:
    """Make the groups of ``period``'s series over the whole source (with ``filt``) and their
    indices at the default options: what every N and window of that series reads."""
    key = scope_key(ex, res, None, filt)
    grp = res.group(key)
    if key is None or not grp.n or grp.date_min is None or grp.date_max is None:
        return
    first, last = res.when(grp.date_min), res.when(grp.date_max)
    assert first is not None
    assert last is not None
    names = ex._cache.seg_names
    seg_index = {names[c]: i for i, c in enumerate(ex.segment_columns)}
    load, _ = loader(res, key, key[2], seg_index, period, (first.date(), last.date()))
    for g in load(["period"])._groups:
        g.indices(0.8, "2023")


_FIRST = ("first",)  # the previous group of a series' first period (it has no churn)


def series(
    res: Resident,
    groups: ResidentGroups,
    prefix: tuple[Any, ...],
    first: date,
    last: date,
    period: str,
    opt: slices.Options,
) -> list[Period]:
    """:func:`topshare.slices.series` with each period kept: a period depends only on its
    group, the previous period's group (its churn) and the options, so one computed for a
    series is reused by every other series that has the same two groups (another window over
    the same whole periods, a segment value's series and the series filtered on it, another
    view). A period not kept yet is computed by :func:`slices.series` itself, on these two."""
    where = groups.index()
    out: list[Period] = []
    before: tuple[date, int | None] | None = None
    for start in period_range(first, last, period):
        g = where.get((*prefix, start))
        gkey = groups.group_keys[g] if g is not None else None
        prev = _FIRST if before is None else (groups.group_keys[before[1]]
                                               if before[1] is not None else None)  # fmt: skip
        memo_key = (prev, gkey, start, period, opt)
        hit: Period | None = res.periods.get(memo_key)
        if hit is None:
            pick = [x for x in (before, (start, g)) if x is not None]
            two = ResidentGroups(
                res, ["period"], [(s,) for s, i in pick if i is not None],
                [groups._groups[i] for _, i in pick if i is not None],
                [groups.group_keys[i] for _, i in pick if i is not None],
            )  # fmt: skip
            hit = slices.series(two, (), pick[0][0], start, period, opt)[-1]
            res.periods[memo_key] = hit
        out.append(hit)
        before = (start, g)
    return out


def entity(
    ex: Explorer, res: Resident, name: str, top: int, scope: _Scope, filt: Filter
) -> EntitySeries:
    """One entity's total, share and rank in the scope, and per period (as
    :func:`topshare.entity.rank_in` counts them in the engine)."""
    win = ex._window(scope)
    key = scope_key(ex, res, win, filt)
    grp = res.group(key)
    me = res.key_id[name]
    at = grp.find(me)
    units = int(grp.units[at]) if at is not None else 0
    rank = grp.rank_of(me)
    periods = None
    if scope.period:
        found: dict[date, Group] = {}
        if key is not None:
            for start in period_range(day_date(key[0]), day_date(key[1]), scope.period):
                stop = day_number(shift(start, scope.period, 1)) - 1
                g = res.group(res.key(max(day_number(start), key[0]), min(stop, key[1]), key[2]))
                if g.n:
                    found[start] = g
        first = (win.first_day if win else None) or min(found, default=None)
        last = (win.last_day if win else None) or max(found, default=None)
        starts = period_range(first, last, scope.period) if first and last else []
        periods = [_period(ex, s, scope.period, found.get(s), me, top) for s in starts]
    return EntitySeries(
        entity=name,
        value=ex._dec(units),
        share=share(units, grp.total) if grp.n else None,
        rank=rank,
        rows=res.entity_rows(me, key) if at is not None else 0,
        n_entities=grp.n,
        top_n=top,
        in_top_n=rank is not None and rank <= top,
        period=scope.period,
        periods=periods,
    )


def _period(
    ex: Explorer, start: date, period: str, grp: Group | None, me: int, top: int
) -> EntityPeriod:
    rank = grp.rank_of(me) if grp is not None else None
    if grp is None or rank is None:
        share_ = share(0, grp.total) if grp is not None else None
        return EntityPeriod(start, label(start, period), ex._dec(0), share_, None, False)
    at = grp.find(me)
    assert at is not None
    units = int(grp.units[at])
    return EntityPeriod(
        start, label(start, period), ex._dec(units), share(units, grp.total), rank, rank <= top
    )

"""The :class:`topshare.grid.Groups` of a question answered from a :class:`Resident`'s kept groups.

:func:`loader` gives :func:`topshare.breakdown.over_time_and_segments` the groups of a scope by
segment columns and/or period, each a kept :class:`~topshare.resident.Group` (no per-call sort
or scan); :class:`ResidentGroups` answers the slicing code's questions from them, and
:class:`Kept` shares the money values of the results.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from topshare import slices
from topshare.grid import Groups
from topshare.money import exact_sum
from topshare.periods import period_range, shift
from topshare.resident import Group, GroupKey, Resident, day_number

_DECIMALS: dict[tuple[int, int], Decimal] = {}
_DECIMALS_KEPT = 200_000


class Kept(slices.Options):
    """:class:`topshare.slices.Options` whose money values (``dec``) are made once per
    (units, scale) and shared: a Decimal is immutable, and the same totals recur in every
    period, view and N that shows them."""

    def dec(self, units: int) -> Decimal:
        key = (units, self.scale)
        hit = _DECIMALS.get(key)
        if hit is None:
            hit = super().dec(units)
            if len(_DECIMALS) >= _DECIMALS_KEPT:
                _DECIMALS.clear()
            _DECIMALS[key] = hit
        return hit


def kept(opt: slices.Options) -> Kept:
    return opt if isinstance(opt, Kept) else Kept(opt.top, opt.pareto, opt.bands, opt.scale)


class ResidentGroups(Groups):
    """:class:`topshare.grid.Groups` answered from kept groups (no per-call sort or scan)."""

    def __init__(self, res: Resident, by: list[str], keys: list[tuple[Any, ...]],
                 groups: list[Group], group_keys: list[GroupKey]) -> None:  # fmt: skip
        empty = np.empty(0, dtype=np.int64)
        super().__init__(by=by, keys=keys, units=empty, offsets=np.zeros(1, dtype=np.int64),
                         rows=[g.rows for g in groups], entities=pa.array([], pa.string()),
                         order=empty)  # fmt: skip
        self._res: Resident
        self._groups: list[Group]
        self.group_keys: list[GroupKey]  # each group's key in the Resident (what it holds)
        object.__setattr__(self, "_res", res)  # a frozen dataclass: set once, here
        object.__setattr__(self, "_groups", groups)
        object.__setattr__(self, "group_keys", group_keys)

    def group_units(self, g: int) -> Any:
        return self._groups[g].asc

    def theil(self) -> tuple[float | None, float | None, float | None]:
        key = ("theil", *(id(g) for g in self._groups))
        hit: tuple[list[Group], tuple[float | None, float | None, float | None]] | None
        hit = self._res.memo.get(key)
        if hit is None or hit[0] != self._groups:
            hit = (list(self._groups), super().theil())
            self._res.memo[key] = hit
        return hit[1]

    def top(self, g: int, m: int) -> list[tuple[str, int]]:
        return self._res.pairs(self._groups[g].ranked(m))

    def values_of(self, g: int, entities: list[str]) -> dict[str, int]:
        grp = self._groups[g]
        key_id = self._res.key_id
        known = [(name, key_id[name]) for name in entities if name in key_id]
        if not known or not grp.n:
            return {}
        want = np.array([i for _, i in known], dtype=np.int32)  # one search for them all
        at = np.minimum(np.searchsorted(grp.ids, want), grp.n - 1)
        found = (grp.ids[at] == want).tolist()
        units = grp.units[at].tolist()
        return {name: u for (name, _), u, ok in zip(known, units, found, strict=True) if ok}

    def slice_fields(self, g: int, opt: Any) -> dict[str, Any] | None:
        grp = self._groups[g]
        key = (opt.top, float(opt.pareto), opt.bands, opt.scale)
        hit = grp._fields.get(key)
        if hit is None:
            m = opt.top + 1 if grp.total <= 0 or not grp.n else max(opt.top + 1, grp.majors())
            pairs = self.top(g, m)
            neg = int(np.searchsorted(grp.asc, 0, side="left"))
            money = kept(opt)
            shown = min(opt.top, grp.n)
            ranked = grp._rows.get(opt.scale)
            if ranked is None or len(ranked) < shown:  # rows of rank r are the same for any N
                ranked = slices.top_rows(pairs, grp.total, shown, money)
                grp._rows[opt.scale] = ranked
            hit = slices.slice_fields(grp.asc, grp.indices(opt.pareto, opt.bands), grp.total,
                                      neg, exact_sum(grp.asc[:neg]), pairs, grp.rows,
                                      money, ranked)  # fmt: skip
            if len(grp._fields) > 16:
                grp._fields.clear()
            grp._fields[key] = hit
        return dict(hit)  # the values are immutable results, shared


def loader(
    res: Resident,
    scope: GroupKey | None,
    fixed: tuple[tuple[int, int], ...],
    seg_index: dict[str, int],
    period: str | None,
    span: tuple[date, date] | None,
) -> tuple[Callable[[list[str]], ResidentGroups], Callable[[list[str]], int]]:
    """``load(by)`` and ``count(by)`` for :func:`topshare.breakdown.over_time_and_segments`:
    the groups of the scope by segment columns (names as in the cells) and/or the period."""

    def periods() -> list[tuple[date, int, int]]:
        if period is None or span is None or scope is None:
            return []
        out = []
        for start in period_range(span[0], span[1], period):
            stop = day_number(shift(start, period, 1)) - 1
            out.append((start, day_number(start), stop))
        return out

    def combos(by: list[str]) -> list[tuple[int, ...]]:
        segs = [seg_index[b] for b in by if b != "period"]
        return res.present(scope, segs) if segs else [()]

    def load(by: list[str]) -> ResidentGroups:
        segs = [seg_index[b] for b in by if b != "period"]
        keys: list[tuple[Any, ...]] = []
        groups: list[Group] = []
        group_keys: list[GroupKey] = []
        with_period = "period" in by

        def add(key: tuple[Any, ...], gkey: GroupKey | None) -> None:
            grp = res.group(gkey)
            if grp.n and gkey is not None:
                keys.append(key)
                groups.append(grp)
                group_keys.append(gkey)

        if len(segs) == 1 and not with_period:
            res.split(scope, segs[0])  # every value's group in one pass
        for combo in combos(by):
            values = tuple(res.seg_values[s][c] for s, c in zip(segs, combo, strict=True))
            more = fixed + tuple(zip(segs, combo, strict=True))
            if not with_period:
                add(values, res.key(scope[0], scope[1], more) if scope else None)
                continue
            for start, lo, hi in periods():
                assert scope is not None
                add((*values, start), res.key(max(lo, scope[0]), min(hi, scope[1]), more))
        return ResidentGroups(res, by, keys, groups, group_keys)

    def count(by: list[str]) -> int:
        return len(combos(by))

    return load, count

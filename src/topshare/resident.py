"""The explorer's cells held in memory as numpy arrays, and every group of them kept sorted.

After the one scan (:mod:`topshare.cache`) the valid cells (entity x day x segment values) are
read once into integer arrays: the entity as an id (ids follow the keys' sort order, so "key
ascending" on ties is "id ascending"), the day as days since 1970-01-01, each segment column as
a code (values sorted, the empty value last, as :mod:`topshare.grid` orders them), the amount as
int64 units, the row count and the first/last timestamp. Cells are ordered by (day, entity): a
date range is a slice.

Every question is made of *groups*: the cells of a day range and a set of fixed segment values
(the whole scope, one period of it, one segment value, one segment value in one period). A group
is summed per entity once (``np.add.at`` on int64: exact) and kept with its totals sorted, its
indices per (Pareto threshold, HHI bands) and its first ranked entities, so that another N, a
window that covers the same whole periods, or another view reuses it. The metrics are the
functions of :mod:`topshare.metrics` and :mod:`topshare.slices` on these arrays, so the numbers
are those of :func:`topshare.analyze`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from topshare.engine import _as_datetime
from topshare.metrics import MAJOR_SHARE_DENOMINATOR, Indices, compute_indices
from topshare.money import WIDE

_EPOCH = date(1970, 1, 1)
_MAX_UNITS = 2**62
#: Memory kept for groups (sorted per-entity totals), least recently used dropped first.
GROUP_BYTES = 1_500_000_000
#: Most (segment value, entity) bins of a one-pass split (int64 each: 400 MB at most).
_SPLIT_CELLS = 50_000_000
#: Entities ranked at least, the first time a group is ranked: one partition of its totals
#: then serves every N up to 63 (the ranking costs the same for 6 or 64).
RANKED_FIRST = 64
#: Periods of a series kept (each with its top rows and churn movers), by group pair and N.
PERIODS_KEPT = 8192

Ints = npt.NDArray[np.int64]
#: A group: first day, last day (inclusive, days since 1970-01-01), fixed (segment, code) pairs.
GroupKey = tuple[int, int, tuple[tuple[int, int], ...]]


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def day_date(n: int) -> date:
    return _EPOCH + timedelta(days=int(n))


@dataclass(eq=False)  # compared by identity
class Group:
    """One group's per-entity totals: ``ids`` ascending with their ``units``, ``asc`` sorted."""

    ids: npt.NDArray[np.int32]
    units: Ints
    asc: Ints
    rows: int
    total: int
    date_min: int | None  # the cells' own time unit (see Resident.time_type)
    date_max: int | None
    _ranked: list[tuple[int, int]] = field(default_factory=list)  # (id, units), rank order
    _indices: dict[tuple[float, str], Indices] = field(default_factory=dict)
    _negatives: list[tuple[int, int]] | None = None
    _majors: int | None = None
    _fields: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    _rows: dict[int, list[Any]] = field(default_factory=dict)  # top rows (TopRow) by scale

    @property
    def n(self) -> int:
        return int(self.ids.size)

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.units.nbytes + self.asc.nbytes) + 200

    def indices(self, pareto: float, bands: str) -> Indices:
        key = (float(pareto), bands)
        hit = self._indices.get(key)
        if hit is None:
            hit = compute_indices(self.asc, pareto, bands, ascending=True)
            self._indices[key] = hit
        return hit

    def majors(self) -> int:
        """Entities with a share >= 10 % (10 u >= T on integers: u >= ceil(T / 10)), 0 when
        the total is not positive."""
        if self._majors is None:
            if self.total <= 0 or not self.n:
                self._majors = 0
            else:
                need = -(-self.total // MAJOR_SHARE_DENOMINATOR)
                self._majors = self.n - int(np.searchsorted(self.asc, need, side="left"))
        return self._majors

    def ranked(self, m: int) -> list[tuple[int, int]]:
        """The first ``m`` entities (value descending, id = key ascending on ties)."""
        m = min(m, self.n)
        if len(self._ranked) < m:
            want = min(self.n, max(m, 2 * len(self._ranked), RANKED_FIRST))
            if want < self.n:
                kth = np.partition(self.units, self.n - want)[self.n - want]
                cand = np.nonzero(self.units >= kth)[0]
            else:
                cand = np.arange(self.n)
            order = np.lexsort((self.ids[cand], -self.units[cand]))[:want]
            pick = cand[order]
            self._ranked = list(
                zip(self.ids[pick].tolist(), self.units[pick].tolist(), strict=True)
            )
        return self._ranked[:m]

    def negatives(self) -> list[tuple[int, int]]:
        """The 10 most negative entities (value ascending, key ascending)."""
        if self._negatives is None:
            neg = np.nonzero(self.units < 0)[0]
            order = np.lexsort((self.ids[neg], self.units[neg]))[:10]
            pick = neg[order]
            self._negatives = list(zip(self.ids[pick].tolist(), self.units[pick].tolist(),
                                       strict=True))  # fmt: skip
        return self._negatives

    def find(self, entity: int) -> int | None:
        """The position of ``entity`` in ``ids`` (None: not in this group)."""
        i = int(np.searchsorted(self.ids, np.int32(entity)))  # same dtype: no copy
        return i if i < self.n and int(self.ids[i]) == entity else None

    def rank_of(self, entity: int) -> int | None:
        i = self.find(entity)
        if i is None:
            return None
        u = self.units[i]
        ahead = int(np.count_nonzero(self.units > u))
        ties = np.nonzero(self.units == u)[0]
        return ahead + int(np.count_nonzero(self.ids[ties] < entity)) + 1


class Resident:
    """The valid cells as arrays (see the module docstring) and the groups asked so far."""

    def __init__(
        self,
        *,
        ids: Ints,
        day: npt.NDArray[np.int32],
        segs: list[npt.NDArray[np.int16]],
        units: Ints,
        rows: Ints,
        tmin: Ints,
        tmax: Ints,
        time_type: Any,
        keys: list[str],
        seg_values: list[list[str | None]],
    ) -> None:
        self.ids, self.day, self.segs, self.units, self.rows = ids, day, segs, units, rows
        self.tmin, self.tmax, self.time_type = tmin, tmax, time_type
        self.keys = keys
        self.key_id = {k: i for i, k in enumerate(keys)}
        self.seg_values = seg_values
        self.first_day = int(day[0]) if day.size else 0
        self.last_day = int(day[-1]) if day.size else 0
        self._groups: OrderedDict[GroupKey, Group] = OrderedDict()
        self.memo = _Memo()  # small answers about groups (segment values present, Theil)
        self.periods = _Memo(PERIODS_KEPT)  # one period of a series, with its churn
        self._bytes = 0
        self._lock = threading.Lock()
        by_entity = np.argsort(ids, kind="stable")
        self._by_entity = by_entity
        self._entity_start = np.searchsorted(ids[by_entity], np.arange(len(keys) + 1))

    @property
    def nbytes(self) -> int:
        arrays: list[npt.NDArray[Any]] = [self.ids, self.day, self.units, self.rows, self.tmin,
                                          self.tmax, self._by_entity, self._entity_start,
                                          *self.segs]  # fmt: skip
        return sum(int(a.nbytes) for a in arrays)

    def when(self, value: int | None) -> datetime | None:
        if value is None:
            return None
        if pa.types.is_date32(self.time_type):
            return _as_datetime(day_date(value))
        return _as_datetime(pa.scalar(value, pa.int64()).cast(self.time_type).as_py())

    # ---- groups -------------------------------------------------------------------------------
    def key(self, first: int | None, last: int | None, fixed: tuple[tuple[int, int], ...]) -> Any:
        """The normalised key of a group (None: it is empty by construction)."""
        lo = self.first_day if first is None else max(first, self.first_day)
        hi = self.last_day if last is None else min(last, self.last_day)
        codes: dict[int, int] = {}
        for seg, code in fixed:
            if codes.setdefault(seg, code) != code:
                return None  # two values of one column: no cell is in both
        if lo > hi:
            return None
        return (lo, hi, tuple(sorted(codes.items())))

    def group(self, key: GroupKey | None) -> Group:
        if key is None:
            return _EMPTY
        with self._lock:
            hit = self._groups.get(key)
            if hit is not None:
                self._groups.move_to_end(key)
                return hit
        return self._keep_group(key, self._make(key))

    def _keep_group(self, key: GroupKey, made: Group) -> Group:
        with self._lock:
            if key not in self._groups:
                self._groups[key] = made
                self._bytes += made.nbytes
                while self._bytes > GROUP_BYTES and len(self._groups) > 1:
                    _, old = self._groups.popitem(last=False)
                    self._bytes -= old.nbytes
        return made

    def _slice(self, lo_day: int, hi_day: int) -> tuple[int, int]:
        """The cells of days ``lo_day`` to ``hi_day`` (searched with the array's own dtype:
        a Python int would make numpy convert the whole array first)."""
        lo = int(np.searchsorted(self.day, np.int32(lo_day), side="left"))
        return lo, int(np.searchsorted(self.day, np.int32(hi_day), side="right"))

    def _make(self, key: GroupKey) -> Group:
        lo_day, hi_day, fixed = key
        lo, hi = self._slice(lo_day, hi_day)
        ids, units = self.ids[lo:hi], self.units[lo:hi]
        rows, tmin, tmax = self.rows[lo:hi], self.tmin[lo:hi], self.tmax[lo:hi]
        if fixed:
            mask = np.ones(hi - lo, dtype=bool)
            for seg, code in fixed:
                mask &= self.segs[seg][lo:hi] == code
            ids, units, rows, tmin, tmax = (
                ids[mask],
                units[mask],
                rows[mask],
                tmin[mask],
                tmax[mask],
            )
        if not ids.size:
            return _EMPTY
        n_keys = len(self.keys)
        if ids.size * 8 < n_keys:  # a small group: sort its cells rather than scan every entity
            uniq, inverse = np.unique(ids, return_inverse=True)
            sums = np.zeros(uniq.size, dtype=np.int64)
            np.add.at(sums, inverse, units)
            present = uniq
        else:
            sums_all = np.zeros(n_keys, dtype=np.int64)
            np.add.at(sums_all, ids, units)
            seen = np.zeros(n_keys, dtype=bool)
            seen[ids] = True
            present = np.flatnonzero(seen)
            sums = sums_all[present]
        return Group(
            ids=present.astype(np.int32),
            units=sums,
            asc=np.sort(sums),
            rows=int(rows.sum()),
            total=int(sums.sum()),  # |sum| < 2**62: checked when the cells were loaded
            date_min=int(tmin.min()),
            date_max=int(tmax.max()),
        )

    def split(self, key: GroupKey | None, seg: int) -> None:
        """Make, in one pass over the cells of group ``key``, the groups of every value of
        segment ``seg`` inside it that are not kept yet (one pass of ``np.add.at`` on
        (value, entity) rather than one masked pass per value)."""
        if key is None or any(s == seg for s, _ in key[2]):
            return
        lo_day, hi_day, fixed = key
        radix, n_keys = len(self.seg_values[seg]), len(self.keys)
        wanted = {c: (lo_day, hi_day, tuple(sorted((*fixed, (seg, c))))) for c in range(radix)}
        with self._lock:
            missing = {c for c, k in wanted.items() if k not in self._groups}
        if len(missing) < 2 or radix * n_keys > _SPLIT_CELLS:
            return  # one value (or too many bins): group() makes it the plain way
        lo, hi = self._slice(lo_day, hi_day)
        pick: Any = slice(lo, hi)
        if fixed:
            mask = np.ones(hi - lo, dtype=bool)
            for s, code in fixed:
                mask &= self.segs[s][lo:hi] == code
            pick = np.flatnonzero(mask) + lo
        codes = self.segs[seg][pick]
        ids, units = self.ids[pick], self.units[pick]
        sums = np.zeros(radix * n_keys, dtype=np.int64)
        at = codes.astype(np.int64) * n_keys + ids
        np.add.at(sums, at, units)
        seen = np.zeros(radix * n_keys, dtype=bool)
        seen[at] = True
        present = np.flatnonzero(seen)  # by (value, entity)
        bounds = np.searchsorted(present, np.arange(radix + 1, dtype=np.int64) * n_keys)
        rows = np.bincount(codes, weights=self.rows[pick], minlength=radix)  # exact: < 2**53
        tmin, tmax, day = self.tmin[pick], self.tmax[pick], self.day[pick]
        for c in sorted(missing):
            if bounds[c] == bounds[c + 1]:
                continue  # no cell: group() gives the empty group
            where = codes == c
            # Cells are ordered by day, and a time's day never decreases with the time: the
            # first and last time of value c are among its cells of its first and last day.
            first, last = int(np.argmax(where)), int(where.size - 1 - np.argmax(where[::-1]))
            a, b = np.searchsorted(day, day[[first, last]], side="left")
            e, f = np.searchsorted(day, day[[first, last]], side="right")
            grp_ids = (present[bounds[c] : bounds[c + 1]] - c * n_keys).astype(np.int32)
            grp_units = sums[present[bounds[c] : bounds[c + 1]]]
            self._keep_group(wanted[c], Group(
                ids=grp_ids, units=grp_units, asc=np.sort(grp_units), rows=int(rows[c]),
                total=int(grp_units.sum()), date_min=int(tmin[a:e][where[a:e]].min()),
                date_max=int(tmax[b:f][where[b:f]].max()),
            ))  # fmt: skip

    def present(self, key: GroupKey | None, segs: list[int]) -> list[tuple[int, ...]]:
        """The combinations of codes of ``segs`` that have cells in group ``key`` (sorted)."""
        if key is None:
            return []
        memo_key = ("present", key, tuple(segs))
        hit = self.memo.get(memo_key)
        if hit is None:
            hit = self._present(key, segs)
            self.memo[memo_key] = hit
        return list(hit)

    def _present(self, key: GroupKey, segs: list[int]) -> list[tuple[int, ...]]:
        lo_day, hi_day, fixed = key
        lo, hi = self._slice(lo_day, hi_day)
        mask = None
        for seg, code in fixed:
            m = self.segs[seg][lo:hi] == code
            mask = m if mask is None else mask & m
        radices = [len(self.seg_values[s]) for s in segs]
        if len(segs) == 1:  # one column: its small codes as they are
            combined: Any = self.segs[segs[0]][lo:hi]
        else:
            combined = np.zeros(hi - lo, dtype=np.int64)
            for seg, radix in zip(segs, radices, strict=True):
                combined = combined * radix + self.segs[seg][lo:hi]
        if mask is not None:
            combined = combined[mask]
        found: Any = np.flatnonzero(np.bincount(combined)) if combined.size else []
        out = []
        for code in (int(c) for c in found):
            parts = []
            for radix in reversed(radices):
                parts.append(code % radix)
                code //= radix
            out.append(tuple(reversed(parts)))
        return out

    def entity_rows(self, entity: int, key: GroupKey | None) -> int:
        """The rows of one entity in group ``key``."""
        if key is None:
            return 0
        lo_day, hi_day, fixed = key
        at = self._by_entity[self._entity_start[entity] : self._entity_start[entity + 1]]
        mask = (self.day[at] >= lo_day) & (self.day[at] <= hi_day)
        for seg, code in fixed:
            mask &= self.segs[seg][at] == code
        return int(self.rows[at][mask].sum())

    def pairs(self, ranked: list[tuple[int, int]]) -> list[tuple[str, int]]:
        return [(self.keys[i], u) for i, u in ranked]


class _Memo(OrderedDict[Any, Any]):
    """A bounded, thread-safe memo (least recently stored dropped first)."""

    def __init__(self, size: int = 4096) -> None:
        super().__init__()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            return super().get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            super().__setitem__(key, value)
            while len(self) > self._size:
                self.popitem(last=False)


_EMPTY = Group(
    ids=np.empty(0, dtype=np.int32),
    units=np.empty(0, dtype=np.int64),
    asc=np.empty(0, dtype=np.int64),
    rows=0,
    total=0,
    date_min=None,
    date_max=None,
)


def load(cells: Any, seg_names: list[str], seg_values: list[list[str | None]],
         entities: Any, scale: int, has_date: bool) -> Resident | None:  # fmt: skip
    """Read the valid cells of the cache into a :class:`Resident` (None when some total could
    overflow int64: the explorer then stays on the engine)."""
    valid = cells.filter(cells.reason.isnull())
    bound = valid.aggregate(a=valid.value.abs().sum()).to_pyarrow().to_pylist()[0]["a"]
    if bound is not None and int(bound.scaleb(scale, WIDE)) >= _MAX_UNITS:
        return None
    names = entities.order_by("key").select("key").to_pyarrow()["key"].combine_chunks()
    ids_of = ibis.memtable(
        pa.table({"key": names, "id": pa.array(np.arange(len(names), dtype=np.int64))})
    )
    joined = valid.join(ids_of, "key")
    cols: dict[str, Any] = {
        "id": joined.id,
        "u": (joined.value * 10**scale).cast("int64"),
        "rows": joined.rows,
    }
    order = ["id"]
    if has_date:
        cols.update(day=joined.day, tmin=joined.date_min, tmax=joined.date_max)
        order = ["day", "id"]
    for name in seg_names:
        cols[name] = joined[name]
    table = joined.select(**cols).order_by(order).to_pyarrow().combine_chunks()
    n = table.num_rows

    def ints(name: str, dtype: Any) -> Any:
        col = table[name].combine_chunks() if n else pa.array([], pa.int64())
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=dtype)

    if has_date:
        day = ints("day", np.int32) if n else np.empty(0, np.int32)
        time_type = table["tmin"].type
        tmin = np.asarray(table["tmin"].combine_chunks().cast(
            pa.int32() if pa.types.is_date32(time_type) else pa.int64()
        ).to_numpy(zero_copy_only=False), dtype=np.int64)  # fmt: skip
        tmax = np.asarray(table["tmax"].combine_chunks().cast(
            pa.int32() if pa.types.is_date32(time_type) else pa.int64()
        ).to_numpy(zero_copy_only=False), dtype=np.int64)  # fmt: skip
    else:
        day = np.zeros(n, dtype=np.int32)
        time_type = pa.int64()
        tmin = tmax = np.zeros(n, dtype=np.int64)
    segs = []
    for name, values in zip(seg_names, seg_values, strict=True):
        col = table[name].combine_chunks()
        code_of = {v: i for i, v in enumerate(values)}
        encoded = pc.dictionary_encode(col)
        lookup = np.array([code_of[v] for v in encoded.dictionary.to_pylist()] + [code_of.get(None, 0)],
                          dtype=np.int16)  # fmt: skip
        raw = encoded.indices.fill_null(len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        segs.append(lookup[raw.astype(np.int64)])
    return Resident(
        ids=ints("id", np.int64),
        day=day,
        segs=segs,
        units=ints("u", np.int64),
        rows=ints("rows", np.int64),
        tmin=tmin,
        tmax=tmax,
        time_type=time_type,
        keys=names.to_pylist(),
        seg_values=seg_values,
    )

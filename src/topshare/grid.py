"""Per-entity totals of every group (a period, a segment value, or both) from the engine's cells.

The engine has already summed the rows per (entity, period, segment values); this module asks it
for the totals grouped by the columns wanted (one query, integer units), and lays them out in
Python as one array per group without any per-row Python objects: group keys are dictionary-
encoded by Arrow, the groups ordered with numpy. Entity keys stay in an Arrow array and only
the few that a top list needs are turned into Python strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from topshare.arrays import (
    arrow_ints,
    arrow_strings,
    chunk,
    int64_array,
    one_text_array,
    python_values,
    units_array,
    valid_mask,
)
from topshare.metrics import theil_split
from topshare.money import UnitsArray

MAX_SEGMENT_COLUMNS = 8
#: A segment is a column with few values (a region, a channel): beyond this many, every value
#: would get a whole analysis of its own (a customer id given as a segment, say).
MAX_SEGMENT_VALUES = 10_000


@dataclass(frozen=True)
class Groups:
    """``units[offsets[g]:offsets[g + 1]]`` are the per-entity totals of group ``keys[g]``."""

    by: list[str]
    keys: list[tuple[Any, ...]]
    units: UnitsArray
    offsets: npt.NDArray[np.int64]
    rows: list[int]
    entities: pa.Array | pa.ChunkedArray  # entity keys, in the engine's order
    order: npt.NDArray[np.int64]  # units[i] belongs to entities[order[i]]

    def __len__(self) -> int:
        return len(self.keys)

    def index(self) -> dict[tuple[Any, ...], int]:
        return {k: g for g, k in enumerate(self.keys)}

    def group_units(self, g: int) -> UnitsArray:
        return self.units[self.offsets[g] : self.offsets[g + 1]]

    def top(self, g: int, m: int) -> list[tuple[str, int]]:
        """The ``m`` first entities of group ``g``: value descending, key ascending on ties."""
        lo = int(self.offsets[g])
        seg = self.group_units(g)
        if m <= 0 or seg.size == 0:
            return []
        if seg.size > m and seg.dtype != np.object_:
            kth = np.partition(seg, seg.size - m)[seg.size - m]  # the m-th largest value
            cand = np.nonzero(seg >= kth)[0]  # every entity tied with it too
        else:
            cand = np.arange(seg.size)
        keys = self.entities.take(arrow_ints(self.order[lo + cand])).to_pylist()
        pairs = sorted(zip(keys, (int(u) for u in seg[cand]), strict=True),
                       key=lambda p: (-p[1], p[0]))  # fmt: skip
        return pairs[:m]

    def theil(self) -> tuple[float | None, float | None, float | None]:
        """Theil T over the cells of every group and its between/within split."""
        return theil_split([self.group_units(g) for g in range(len(self))])

    def slice_fields(self, g: int, opt: Any) -> dict[str, Any] | None:
        """The slice fields of group ``g`` when this layout keeps them ready (a subclass that
        keeps sorted groups, :mod:`topshare.resident`); None: computed by :mod:`slices`."""
        return None

    def values_of(self, g: int, entities: list[str]) -> dict[str, int]:
        """The totals of a few given entities in group ``g`` (absent: not in the dict)."""
        if not entities:
            return {}
        lo, hi = int(self.offsets[g]), int(self.offsets[g + 1])
        keys = self.entities.take(arrow_ints(self.order[lo:hi]))
        hit = int64_array(pc.indices_nonzero(pc.is_in(keys, value_set=arrow_strings(entities))))
        names = keys.take(arrow_ints(hit)).to_pylist()
        return {name: int(self.units[lo + i]) for name, i in zip(names, hit, strict=True)}


def count_groups(cells: Any, by: list[str]) -> int:
    """How many distinct values the ``by`` columns take over the valid cells (one small query,
    before anything is brought into Python)."""
    valid = cells.filter(cells.reason.isnull())
    return int(valid.select(*by).distinct().count().to_pyarrow().as_py())


def load(cells: Any, by: list[str], scale: int, dims: tuple[str, ...]) -> Groups:
    """Per-entity totals for each distinct value of the ``by`` columns of the valid cells
    (``dims``: every column the cells are grouped by besides the entity)."""
    return layout(fetch(cells, by, dims), by, scale)


def fetch(cells: Any, by: list[str], dims: tuple[str, ...]) -> pa.Table:
    """The query half of :func:`load`: the valid cells summed by ``by`` and the entity."""
    valid = cells.filter(cells.reason.isnull())
    if set(dims) - set(by):
        valid = valid.group_by([*by, "key"]).aggregate(
            value=valid.value.sum(), rows=valid.rows.sum()
        )
    table: pa.Table = valid.select(*by, "key", "rows", "value").to_pyarrow()
    return table


def layout(table: pa.Table, by: list[str], scale: int) -> Groups:
    """The Python half of :func:`load` (no engine: it may run on another thread)."""
    n = table.num_rows
    units = units_array(table["value"], scale)
    rows = int64_array(table["rows"])

    # One integer code (>= 0) per cell from the sorted distinct values of each ``by`` column.
    gid = np.zeros(n, dtype=np.int64)
    for i, col in enumerate(by):
        codes, radix = _sorted_codes(table[col])
        gid = codes if i == 0 else gid * radix + codes
    # Few groups (periods, segment values): a 16-bit key sorts by radix, in linear time. Each
    # pass over the cells allocates (and, on a cold start, faults in) an array as long as they
    # are: small codes are sorted and counted as they are, without a dense renumbering first.
    if n and int(gid.max()) < 2**15:
        per_code = np.bincount(gid)
        present = np.flatnonzero(per_code)
        counts = per_code[present]
        order = np.argsort(gid.astype(np.int16), kind="stable")
        group_rows = np.bincount(gid, weights=rows)[present]
    else:
        uniq, inverse = _dense(gid)
        small_keys = inverse.astype(np.int16) if uniq.size < 2**15 else inverse
        order = np.argsort(small_keys, kind="stable")
        counts = np.bincount(inverse, minlength=uniq.size)
        group_rows = np.bincount(inverse, weights=rows, minlength=uniq.size)
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    first_of_group = order[offsets[:-1]] if n else np.empty(0, dtype=np.int64)
    key_cols = [python_values(table[col].take(arrow_ints(first_of_group))) for col in by]
    keys = list(zip(*key_cols, strict=True)) if by else [()] * counts.size
    return Groups(
        by=by,
        keys=keys,
        units=units[order],
        offsets=offsets,
        rows=[int(r) for r in group_rows],
        entities=one_text_array(table["key"]),
        order=order,
    )


def _dense(gid: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The sorted distinct codes and each cell's index among them (``np.unique`` without its
    sort when the codes are small enough for a lookup table)."""
    if gid.size and int(gid.min()) >= 0 and int(gid.max()) < max(4 * gid.size, 1 << 20):
        present = np.bincount(gid) > 0
        uniq = np.nonzero(present)[0].astype(np.int64)
        lookup = np.cumsum(present) - 1
        return uniq, lookup[gid].astype(np.int64)
    uniq, inverse = np.unique(gid, return_inverse=True)
    return uniq.astype(np.int64), inverse.astype(np.int64)


def _sorted_codes(column: Any) -> tuple[npt.NDArray[np.int64], int]:
    """Codes 0..k-1 that sort like the values (NULL last), and k + 1 (the radix). Dates (the
    period keys) are their day numbers from the first, without a dictionary."""
    arr = chunk(column)
    if pa.types.is_date32(arr.type) and arr.null_count < len(arr):
        # The day numbers themselves (date32 holds them as int32), read in place: one pass.
        days = np.frombuffer(
            arr.buffers()[1], dtype=np.int32, count=len(arr), offset=arr.offset * 4
        )
        span = pc.min_max(arr.view(pa.int32())).as_py()  # NULLs (any day number) left out
        first, last = int(span["min"]), int(span["max"])
        codes = np.subtract(days, first, dtype=np.int64)
        if arr.null_count:
            codes[~valid_mask(arr)] = last - first + 1
        return codes, last - first + 2
    encoded = pc.dictionary_encode(arr)
    values = encoded.dictionary.to_pylist()
    rank = np.empty(len(values) + 1, dtype=np.int64)
    for position, i in enumerate(sorted(range(len(values)), key=lambda j: values[j])):
        rank[i] = position
    rank[len(values)] = len(values)  # NULL
    raw = int64_array(encoded.indices, null=len(values))
    return rank[raw], len(values) + 1

"""Exact conversions between the engine's Arrow columns and numpy arrays of integer units.

The engine's money columns arrive as Arrow ``decimal128(p, s)``: each value is stored as its
unscaled 128-bit integer, which is exactly the integer number of units at scale ``s``. These
functions read those integers straight from the Arrow buffers, without a Python object per row
and without pyarrow's ``to_numpy`` (which imports pandas, a third of a second on a cold start).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from topshare.money import UnitsArray

#: Money arrays whose absolute values add up to less than this are kept as int64: every partial
#: sum of them is then exact in 64 bits (with a factor of two to spare for rounding in the bound).
MAX_INT64_UNITS = 2**62


def chunk(column: Any, empty_type: Any = None) -> Any:
    """A chunked (or plain) Arrow column as one array."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.array([], empty_type or column.type)
        return column.combine_chunks()
    return column


def one_text_array(column: Any) -> Any:
    """A chunked text column as one array (``take`` of a few rows of a chunked column costs
    as much as joining its chunks once: milliseconds at millions of rows). Past 2 GB of text,
    as ``large_string``: 32-bit offsets cannot address it."""
    if not isinstance(column, pa.ChunkedArray) or column.num_chunks == 1:
        return chunk(column)
    if pa.types.is_string(column.type) and column.nbytes >= 2**31 - 1:
        column = column.cast(pa.large_string())
    return chunk(column)


def int64_array(column: Any, null: int | None = None) -> npt.NDArray[np.int64]:
    """An Arrow integer column as an int64 numpy array, from its buffers (a read-only view when
    it has no NULLs); NULLs become ``null`` (refused when it is None)."""
    arr = chunk(column, pa.int64())
    if arr.null_count and null is None:
        raise ValueError("an integer column with NULLs has no exact int64 array")
    if arr.type != pa.int64():
        arr = arr.cast(pa.int64())
    if len(arr) == 0:
        return np.empty(0, dtype=np.int64)
    data = arr.buffers()[1]
    out = np.frombuffer(data, dtype=np.int64, count=len(arr), offset=arr.offset * 8)
    if not arr.null_count:
        return out  # read-only: a view of the Arrow buffer, not a copy
    out = out.copy()
    assert null is not None  # refused above
    out[~valid_mask(arr)] = null
    return out


def valid_mask(arr: Any) -> npt.NDArray[np.bool_]:
    """Which values of an Arrow array are not NULL, from its validity bitmap."""
    if not arr.null_count:
        return np.ones(len(arr), dtype=np.bool_)
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[arr.offset : arr.offset + len(arr)].astype(
        np.bool_
    )


def units_array(column: Any, scale: int) -> UnitsArray:
    """The values of a decimal column (no NULLs) as integer units at ``scale``, exactly: int64
    when their absolute values add up to less than :data:`MAX_INT64_UNITS`, Python ints
    otherwise. Read chunk by chunk (no Arrow copy of the whole column first)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    lows, highs = [], []
    for arr in chunks:
        if arr.null_count:
            raise ValueError("money totals must not be NULL")
        if not pa.types.is_decimal128(arr.type) or arr.type.scale != scale:
            arr = arr.cast(pa.decimal128(38, scale))  # exact: a wider scale only adds zeros
        n = len(arr)
        if n:
            words = np.frombuffer(arr.buffers()[1], dtype=np.int64, count=2 * n,
                                  offset=arr.offset * 16)  # fmt: skip
            lows.append(words[0::2])
            highs.append(words[1::2])
    if not lows:
        return np.empty(0, dtype=np.int64)
    low = np.concatenate(lows)  # a contiguous copy of the low words
    high = np.concatenate(highs) if len(highs) > 1 else highs[0]
    n = low.size
    if np.array_equal(high, low >> 63):  # every value fits 64 bits
        biggest = max(int(low.max()), -int(low.min()))
        if biggest * n < MAX_INT64_UNITS or float(np.abs(low, dtype=np.float64).sum()) < (
            MAX_INT64_UNITS
        ):
            return low
        return low.astype(np.object_)
    unsigned = low.view(np.uint64)
    return np.array(
        [(int(h) << 64) | int(u) for h, u in zip(high, unsigned, strict=True)], dtype=np.object_
    )


def decimal_from_units(units: Any, scale: int) -> Any:
    """int64 units as DECIMAL(38, scale) values, exactly: the same integers, 128 bits wide."""
    arr = chunk(units, pa.int64())
    arr = arr.cast(pa.int64())
    n = len(arr)
    ints = int64_array(arr, null=0)
    wide = np.empty((n, 2), dtype=np.int64)
    wide[:, 0] = ints
    wide[:, 1] = ints >> 63  # sign extension of the high 64 bits (little-endian)
    valid = arr.is_valid().buffers()[1] if arr.null_count else None
    return pa.Array.from_buffers(
        pa.decimal128(38, scale), n, [valid, pa.py_buffer(wide.tobytes())], arr.null_count
    )


_EPOCH = date(1970, 1, 1)


def python_values(column: Any) -> list[Any]:
    """``column.to_pylist()``; DATE columns converted here (pyarrow's conversion of dates
    imports pandas, a third of a second on a cold start)."""
    arr = chunk(column)
    if not pa.types.is_date32(arr.type):
        return list(arr.to_pylist())
    days = int64_array(arr.cast(pa.int32()), null=0).tolist()
    valid = [True] * len(days) if not arr.null_count else arr.is_valid().to_pylist()
    return [_EPOCH + timedelta(days=d) if ok else None for d, ok in zip(days, valid, strict=True)]


def arrow_ints(values: npt.NDArray[Any]) -> Any:
    """A numpy integer array as an Arrow int64 array, from its buffer (``pa.array`` asks
    pandas whether its argument is array-like: an import of a third of a second)."""
    ints = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(ints), [None, pa.py_buffer(ints)])


def arrow_strings(values: list[str]) -> Any:
    """A few Python strings as an Arrow string array, from buffers (as :func:`arrow_ints`)."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)

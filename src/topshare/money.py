"""Exact money: values travel as integers of the smallest unit (``units``) at a fixed scale.

A value column is summed in the engine as ``DECIMAL(38, scale)``; per-entity totals come into
Python as integer units (value x 10**scale), so that every sum here is exact integer arithmetic.
Ratios are computed in float64 only after the sums.
"""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

#: Scale (decimal places) used for amounts parsed from text and for floating-point columns.
AMOUNT_SCALE = 6

#: The context of every Decimal step here: 38 digits (DECIMAL(38, s)) with room to spare, where
#: the default context (28 digits) would round.
WIDE = Context(prec=80)

#: int64 units, or Python ints (dtype object) when a sum could overflow int64.
UnitsArray = npt.NDArray[Any]


def to_decimal(units: int, scale: int) -> Decimal:
    """Integer units at ``scale`` as an exact Decimal (``12345, 2 -> 123.45``)."""
    return Decimal(int(units)).scaleb(-scale, WIDE)


def normalize(value: Decimal, min_places: int = 2, scale: int = AMOUNT_SCALE) -> Decimal:
    """Drop trailing zeros beyond ``min_places`` (``12.500000 -> 12.50``); integers stay integers
    when ``scale`` is 0."""
    if scale == 0:
        return value.quantize(Decimal(1), context=WIDE)
    places = max(min_places, -value.normalize(WIDE).as_tuple().exponent)  # type: ignore[operator]
    places = min(places, max(scale, min_places))
    return value.quantize(Decimal(1).scaleb(-places), context=WIDE)


def money_str(units: int, scale: int) -> str:
    """Exact decimal string for JSON/CSV: at least two decimals for money, none for counts."""
    return str(normalize(to_decimal(units, scale), scale=scale))


def threshold_units(total_units: int, p: float | str | Decimal) -> int:
    """Smallest integer u with u >= p * total, computed exactly from p's decimal text."""
    frac = Fraction(Decimal(str(p))) * total_units
    return -((-frac.numerator) // frac.denominator)


def fits_int64(units: UnitsArray, factor: int = 1) -> bool:
    """True when every partial sum of ``units`` (times ``factor``) fits in int64, with margin:
    the sum of absolute values bounds them all."""
    if units.dtype == np.object_:
        return False
    if units.size == 0:
        return True
    return float(np.abs(units).sum(dtype=np.float64)) * factor < 2.0**62


def exact_sum(units: UnitsArray) -> int:
    """Exact sum of an integer-units array (Python int, no overflow)."""
    if fits_int64(units):
        return int(units.sum(dtype=np.int64))
    return int(sum(int(u) for u in units))

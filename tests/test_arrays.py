"""Exact Arrow decimal <-> integer unit conversions (topshare.arrays), against Python's Decimal."""

from __future__ import annotations

from decimal import Context, Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

import topshare
from helpers import Writer
from topshare.arrays import MAX_INT64_UNITS, decimal_from_units, int64_array, units_array


def _expected(values: list[Decimal], scale: int) -> list[int]:
    return [int(v.scaleb(scale, Context(prec=80))) for v in values]  # 28 digits would round


def test_small_values_come_back_as_int64_units() -> None:
    values = [Decimal("12.34"), Decimal("-0.01"), Decimal("0"), Decimal("99999.99")]
    got = units_array(pa.array(values, pa.decimal128(38, 2)), 2)
    assert got.dtype == np.int64
    assert got.tolist() == [1234, -1, 0, 9999999]


def test_a_wider_scale_is_exact() -> None:
    got = units_array(pa.array([Decimal("1.5"), Decimal("-2.25")], pa.decimal128(20, 2)), 6)
    assert got.tolist() == [1_500_000, -2_250_000]


def test_values_beyond_64_bits_are_python_ints() -> None:
    big = Decimal(2**70) + Decimal("0.07")
    values = [big, -big, Decimal("1.00")]
    got = units_array(pa.array(values, pa.decimal128(38, 2)), 2)
    assert got.dtype == np.object_
    assert got.tolist() == _expected(values, 2)
    assert sum(got.tolist()) == 100


def test_a_sum_of_magnitudes_past_the_bound_is_kept_exact() -> None:
    # Each value fits int64, but two of them added in int64 would overflow.
    v = Decimal(MAX_INT64_UNITS) / 100
    got = units_array(pa.array([v, v], pa.decimal128(38, 2)), 2)
    assert got.dtype == np.object_
    assert sum(got.tolist()) == 2 * MAX_INT64_UNITS


def test_chunked_and_sliced_columns() -> None:
    arr = pa.array([Decimal(i) / 100 for i in range(-5, 20)], pa.decimal128(38, 2))
    chunked = pa.chunked_array([arr.slice(3, 7), arr.slice(12, 5)])
    assert units_array(chunked, 2).tolist() == [*range(-2, 5), *range(7, 12)]
    ints = pa.chunked_array([pa.array(range(10)).slice(4, 3), pa.array([7, 8])])
    assert int64_array(ints).tolist() == [4, 5, 6, 7, 8]


def test_nulls_are_refused() -> None:
    with pytest.raises(ValueError, match="NULL"):
        units_array(pa.array([Decimal(1), None], pa.decimal128(38, 2)), 2)
    with pytest.raises(ValueError, match="NULL"):
        int64_array(pa.array([1, None]))


def test_empty_columns() -> None:
    assert units_array(pa.chunked_array([], pa.decimal128(38, 2)), 2).size == 0
    assert int64_array(pa.chunked_array([], pa.int64())).size == 0


@given(
    st.lists(
        st.decimals(min_value=-(10**30), max_value=10**30, places=3, allow_nan=False), max_size=30
    )
)
def test_units_round_trip_exactly(values: list[Decimal]) -> None:
    arr = pa.array(values, pa.decimal128(38, 3))
    units = units_array(arr, 3)
    assert [int(u) for u in units] == _expected(values, 3)
    if units.dtype == np.int64:
        back = decimal_from_units(pa.array(units), 3)
        assert back.to_pylist() == values


def test_amounts_past_28_digits_stay_exact_end_to_end(write: Writer) -> None:
    """Units with more digits than Python's default Decimal context (28) keeps: no rounding."""
    rows = [
        ("a", "1234567890123456789012345678.45"),
        ("b", "1.01"),
        ("b", "9876543210987654321098765432.55"),
    ]
    rows += [("c", "not money"), ("a", "-0.07")]
    path = write("big.csv", "customer,amount,day\n" + "".join(
        f"{c},{v},2024-0{i % 3 + 1}-15\n" for i, (c, v) in enumerate(rows)
    ))  # fmt: skip
    wide = Context(prec=80)
    per: dict[str, Decimal] = {}
    for c, v in rows:
        if v != "not money":
            per[c] = wide.add(per.get(c, Decimal(0)), Decimal(v))
    r = topshare.analyze(path, top=1, period="month")
    assert r.total == wide.add(per["a"], per["b"])
    assert [(row.entity, row.value) for row in r.top] == [("b", per["b"])]
    assert r.others.value == per["a"]
    assert r.periods is not None
    summed = Decimal(0)
    for p in r.periods:
        summed = wide.add(summed, p.total)
    assert summed == r.total
    january = r.periods[0]
    assert january.total == Decimal("1234567890123456789012345678.45")  # rows 0 and 3 (rejected)


def test_nulls_can_be_given_a_code() -> None:
    arr = pa.array([5, None, 7, None, 9, 10, None, 3, 4], pa.int32()).slice(1, 7)
    assert int64_array(arr, null=-1).tolist() == [-1, 7, -1, 9, 10, -1, 3]


def test_checks_and_the_report_stay_exact_past_28_digits(write: Writer) -> None:
    # The top customer holds just under 10 % of a 31-digit total: 10 % of the total is
    # ...567.845, which the default 28-digit context rounds to ...567.8 (below the top's value).
    top = Decimal("123456789012345678901234567.84")
    rest = [Decimal("111111110111111111011111111.06")] * 9 + [
        Decimal("111111110111111111011111111.07")
    ]
    wide = Context(prec=80)
    total = Decimal(0)
    for v in [top, *rest]:
        total = wide.add(total, v)
    assert total == Decimal("1234567890123456789012345678.45")
    assert wide.multiply(Decimal("0.1"), total) > top  # not a major customer, exactly
    path = write("big.csv", "customer,amount\n" + "".join(
        f"c{i},{v}\n" for i, v in enumerate([top, *rest])
    ))  # fmt: skip
    result = topshare.check(path, [topshare.Rule("major", 0.1)])
    assert [o.status for o in result.outcomes] == ["pass"]
    assert topshare.analyze(path).major == []


def test_arrow_arrays_built_from_buffers() -> None:
    from datetime import date

    from topshare.arrays import arrow_ints, arrow_strings, python_values

    words = ["", "acme", "Müller & Søn", "東京", "a,b"]
    assert arrow_strings(words).to_pylist() == words
    assert arrow_strings([]).to_pylist() == []
    picked = np.array([[3, 1], [0, 2]])[:, 0]  # a strided view
    assert arrow_ints(picked).to_pylist() == [3, 0]
    days = pa.array([date(1969, 12, 31), None, date(2024, 2, 29)], pa.date32())
    assert python_values(days) == [date(1969, 12, 31), None, date(2024, 2, 29)]
    assert python_values(pa.array(["x", None])) == ["x", None]


def test_date_group_codes_sort_like_the_dates_null_last() -> None:
    from datetime import date

    from topshare.grid import _sorted_codes

    col = pa.chunked_array([pa.array([date(2024, 3, 1), None], pa.date32()),
                            pa.array([date(2024, 1, 1)], pa.date32())])  # fmt: skip
    codes, radix = _sorted_codes(col)
    assert codes.tolist() == [60, 61, 0]  # 1 Jan + 60 days = 1 Mar (2024 is a leap year)
    assert radix == 62
    text, k = _sorted_codes(pa.chunked_array([pa.array(["b", None, "a", "b"])]))
    assert (text.tolist(), k) == ([1, 2, 0, 1], 3)


def test_date_group_codes_without_nulls_read_the_day_numbers_of_a_slice() -> None:
    from datetime import date

    from topshare.grid import _sorted_codes

    days = pa.array([date(2023, 12, 1), date(2024, 3, 1), date(2024, 1, 1), date(2024, 2, 1)])
    codes, radix = _sorted_codes(days.slice(1))  # an offset into the buffer
    assert codes.dtype == np.int64
    assert codes.tolist() == [60, 0, 31]
    assert radix == 62


def test_one_text_array_joins_chunks_with_the_same_values() -> None:
    from topshare.arrays import one_text_array

    col = pa.chunked_array([pa.array(["a", None]), pa.array(["ccc"]), pa.array([], pa.string())])
    got = one_text_array(col)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == ["a", None, "ccc"]
    assert got.take(pa.array([2, 0])).to_pylist() == ["ccc", "a"]

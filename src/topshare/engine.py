"""Engine: Ibis expressions from rows to per-entity totals, rejection counts and examples.

Nothing here imports a backend: the expressions run wherever the source table lives (DuckDB by
default). Per-row data never comes into Python. One scan classifies every row (valid, or the
first reason it is rejected), sums valid rows per entity and rejected rows per reason and file,
and the result (one row per entity) is kept in the engine as a temporary table that the smaller
queries below read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa

from topshare import dialects, textrules
from topshare.arrays import decimal_from_units, units_array
from topshare.columns import Roles
from topshare.money import AMOUNT_SCALE, WIDE, UnitsArray, exact_sum, fits_int64
from topshare.periods import PERIODS, Window
from topshare.sources import LINE_COL, MALFORMED_COL

#: Reasons a row is rejected, in the order they are checked (a row counts once, for the first).
REASONS: dict[str, str] = {
    "malformed_line": "the line does not split into the file's columns",
    "missing_entity": "the {entity} is empty",
    "missing_value": "the {value} is empty",
    "bad_value": "the {value} is not a number",
    "too_precise": "the {value} has more than {scale} decimal places",
    "missing_date": "the date is empty",
    "bad_date": "the date is not a date",
}
#: Reasons travel through the engine as small integers (cheap to compare and group by).
CODES: dict[str, int] = {name: code for code, name in enumerate(REASONS, start=1)}
NAMES: dict[int, str] = {code: name for name, code in CODES.items()}
#: A valid row outside the date window (--from/--to/--last): not analysed, not rejected either.
OUT_OF_RANGE = 99
EXAMPLES_PER_REASON = 5

_tmp_ids = itertools.count(1)


@dataclass(frozen=True)
class Prepared:
    """Rows with their roles typed: ``entity`` (text), ``value`` (DECIMAL), ``reason``."""

    table: Any
    scale: int
    has_date: bool
    period: str | None = None  # truncation unit of the period key (see topshare.periods)
    segments: tuple[str, ...] = ()  # names of the segment columns in ``table`` (seg0, seg1...)
    units: bool = False  # ``value`` holds integer units (SQLite), not a DECIMAL

    @property
    def dims(self) -> tuple[str, ...]:
        """The columns the cells are grouped by besides the entity."""
        return (("period",) if self.period else ()) + self.segments


@dataclass
class RejectStat:
    reason: str
    rows: int
    units: int | None  # sum of the parseable values of these rows; None when none could be read
    unknown: int = 0  # rows whose value could not be read (not in any money sum)
    by_file: dict[str, int] = field(default_factory=dict)


@dataclass
class Totals:
    """What the engine hands to the metrics: small, per-entity at most."""

    scale: int
    units: UnitsArray  # every entity's net total, in units, in no particular order
    top: list[tuple[str, int]]  # the first ranked entities (value desc, key asc)
    negatives: list[tuple[str, int]]  # the most negative entities (up to 10)
    rows_valid: int
    rejected: list[RejectStat]
    out_of_range: RejectStat | None
    date_min: datetime | None
    date_max: datetime | None


@dataclass(frozen=True)
class ValidStats:
    """How many valid rows the scan counted, and their first and last dates."""

    rows: int
    date_min: datetime | None
    date_max: datetime | None


def prepare(
    table: Any,
    roles: Roles,
    *,
    file_col: str,
    date_format: str | None = None,
    decimal_comma: bool = False,
    keep: tuple[str, ...] = (),
    segments: tuple[str, ...] = (),
    window: Window | None = None,
    period: str | None = None,
) -> Prepared:
    """Type the mapped columns and classify each row (``reason`` is NULL for a valid row).

    Two stages: the first parses each mapped column once; the second classifies the row from
    the parsed columns. A compiled-SQL boundary between them keeps Ibis from inlining the
    parsing into every condition of the classification (which would parse each amount 3 times).
    """
    scale = _scale_for(roles)
    dec = dt.Decimal(38, scale)
    engine = dialects.flavor(table)
    units = engine == "sqlite"  # no decimal type: values become integer units per row
    raw_ent = table[roles.entity]
    typed: dict[str, Any] = {
        "entity": raw_ent if raw_ent.type().is_string() else raw_ent.cast("string"),
        "file": table[file_col],
    }
    text_value = roles.value is not None and roles.value_kind == "text" and not units
    sqlite_text = roles.value is not None and roles.value_kind == "text" and units
    text_date = roles.date is not None and (roles.date_kind == "text" or engine == "sqlite")
    if roles.value is None:
        typed["value"] = ibis.literal(1, type=dt.int64) if units else ibis.literal(1).cast(dec)
    elif sqlite_text:  # the DuckDB rules, as a Python function on the SQLite connection
        typed["value_text"] = table[roles.value]
        typed["value"] = dialects.sqlite_text_units(table[roles.value], scale, decimal_comma)
    elif units:
        typed["value_text"] = table[roles.value].cast("string")
        typed["value"] = dialects.sqlite_units(table[roles.value], scale)
    elif text_value:
        text = table[roles.value]  # the casts accept surrounding spaces themselves
        typed["value_text"] = text
        typed["value"] = _parse_amount(text, dec, decimal_comma)
    else:
        typed["value"] = table[roles.value].cast(dec)  # NULL only where the column is NULL
    if roles.date is not None:
        raw_date = table[roles.date]
        if text_date and engine == "sqlite":
            typed["date_text"] = raw_date.cast("string")
            typed["date"] = (
                dialects.sqlite_text_timestamp(raw_date)
                if roles.date_kind == "text"
                else dialects.sqlite_timestamp(raw_date)
            )
        elif text_date:
            typed["date_text"] = raw_date
            typed["date"] = _parse_date(raw_date, date_format, engine)
        elif getattr(raw_date.type(), "timezone", None):
            typed["date"] = raw_date.cast(dt.Timestamp())  # wall clock in the session's zone
        else:
            typed["date"] = raw_date  # DATE or TIMESTAMP: min/max need no conversion per row
    malformed = MALFORMED_COL in table.columns
    if malformed:
        typed["malformed"] = table[MALFORMED_COL]
    seg_names = tuple(f"seg{i}" for i in range(len(segments)))
    for name, col in zip(seg_names, segments, strict=True):
        raw = table[col]
        typed[name] = raw if raw.type().is_string() else raw.cast("string")
    if keep:  # for examples: the raw text of the mapped columns and the row number
        typed["raw_entity"] = raw_ent.cast("string")
        if roles.value is not None:
            typed["raw_value"] = table[roles.value].cast("string")
        if roles.date is not None:
            typed["raw_date"] = table[roles.date].cast("string")
        if LINE_COL in table.columns:
            typed["raw_line"] = table[LINE_COL]
        for name in keep:
            typed[name] = table[name]
    stage = table.select(**typed)
    t = _barrier(stage)

    # Every check is cheap on the common path; trimming happens only where a value is suspect
    # (CASE branches are evaluated only for the rows that reach them).
    c = {name: ibis.literal(code, type=dt.int8) for name, code in CODES.items()}
    checks: list[tuple[Any, Any]] = [(t.malformed, c["malformed_line"])] if malformed else []
    checks.append((dialects.blank(t.entity, engine), c["missing_entity"]))
    if roles.value is not None:
        if text_value or units:
            blank_value = dialects.blank(t.value_text, engine)
            why = ibis.cases((blank_value, c["missing_value"]), else_=c["bad_value"])
            checks.append((t.value.isnull(), why))
        if text_value:
            checks.append(
                (_too_precise(t.value_text, t.value, scale, decimal_comma), c["too_precise"])
            )
        elif sqlite_text:
            long = t.value_text.length() > scale + 2
            finer = dialects.sqlite_too_precise(t.value_text, scale, decimal_comma)
            checks.append((ibis.cases((long, finer), else_=False), c["too_precise"]))
        else:
            checks.append((t.value.isnull(), c["missing_value"]))
    if roles.date is not None:
        if text_date:
            blank_date = dialects.blank(t.date_text, engine)
            why = ibis.cases((blank_date, c["missing_date"]), else_=c["bad_date"])
            checks.append((t.date.isnull(), why))
        else:
            checks.append((t.date.isnull(), c["missing_date"]))
    if window is not None and (window.start or window.stop):
        outside = ibis.literal(False)
        date_type = t.date.type()
        for bound, before in ((window.start, True), (window.stop, False)):
            if bound is None:
                continue
            lit = ibis.literal(bound.date() if date_type.is_date() else bound, type=date_type)
            outside = outside | (t.date < lit if before else t.date >= lit)
        checks.append((outside, ibis.literal(OUT_OF_RANGE, type=dt.int8)))
    reason = ibis.cases(*checks, else_=ibis.null(dt.int8))
    drop = [c for c in ("value_text", "date_text", "malformed") if c in t.columns]
    out = t.mutate(reason=reason).drop(*drop)
    return Prepared(out, scale, roles.date is not None, PERIODS[period] if period else None,
                    seg_names, units)  # fmt: skip


def _barrier(expr: Any) -> Any:
    """The expression as an opaque SQL query of its own backend (an optimisation boundary).

    PostgreSQL and SQLite would flatten the subquery back into the classification (parsing
    each text amount several times per row): ``OFFSET 0`` keeps them from doing so."""
    backend = expr._find_backend()
    sql = str(backend.compile(expr))
    fence = {"postgres": " OFFSET 0", "sqlite": " LIMIT -1 OFFSET 0"}.get(backend.name, "")
    return backend.sql(sql + fence, schema=expr.schema())


def _scale_for(roles: Roles) -> int:
    if roles.value is None or roles.value_kind == "integer":
        return 0
    if roles.value_kind == "decimal":
        return roles.value_scale
    return AMOUNT_SCALE


# Formatted amounts accepted when a plain cast fails: an optional sign, currency symbol and
# parentheses (negative), and thousands separators in groups of exactly three digits, so that
# "1,50" is never read as 150.
#
# Each expensive expression below appears exactly once: DuckDB hoists repeated subexpressions
# into a projection computed for every row, which would defeat the lazy CASE/COALESCE branches
# (measured: a repeated TRIM in the fallback cost 1.7 s per 10 M rows).
_CURRENCY = textrules.CURRENCY
_EN_AMOUNT = rf"^\s*\(?[-+]?{_CURRENCY}?\s?[-+]?\d{{1,3}}(,\d{{3}})*(\.\d+)?\)?\s*$"
_EU_AMOUNT = (
    rf"^\s*\(?[-+]?{_CURRENCY}?\s?[-+]?\d{{1,3}}([. ]\d{{3}})*(,\d+)?\s?{_CURRENCY}?\)?\s*$"
)
#: The formatted-amount patterns (English, decimal comma), for engines that parse in Python.
AMOUNT_PATTERNS = (_EN_AMOUNT, _EU_AMOUNT)


def _parse_amount(text: Any, dec: dt.DataType, decimal_comma: bool) -> Any:
    """Plain numbers first; then '$1,234.50' and '(12.00)' (negative), or with ``decimal_comma``
    '1.234,50' and '12,5 €'. Anything else is NULL: the row is rejected as not a number."""
    null = ibis.null(dec)
    engine = dialects.flavor(text)

    def cast(x: Any) -> Any:
        return dialects.try_cast(x, dec, engine)

    def rx(pattern: str) -> str:
        return dialects.regex(pattern, engine)

    if decimal_comma:
        first = ibis.cases((text.contains("."), null), else_=cast(text.replace(",", ".")))
        digits = text.re_replace(rx(r"[\s$€£¥.()]"), "").replace(",", ".")
        pattern = _EU_AMOUNT
    else:
        first = cast(text)
        digits = text.re_replace(rx(r"[\s$€£¥,()]"), "")
        pattern = _EN_AMOUNT
    sign = ibis.cases((text.re_search(rx(r"^\s*\(.*\)\s*$")), -1), else_=1)
    bad_parens = dialects.differ(
        text.re_search(rx(r"^\s*\(")), text.re_search(rx(r"\)\s*$")), engine
    )
    fallback = ibis.cases(
        (text.re_search(rx(pattern)) & ~bad_parens, cast(digits) * sign), else_=null
    )
    return ibis.coalesce(first, fallback)


def _too_precise(text: Any, value: Any, scale: int, decimal_comma: bool) -> Any:
    """True when the text was read as a number (``value``) and has more than ``scale`` decimal
    places that are not all zeros (the value was rounded). Only texts longer than ``scale`` + 2
    are looked at further. A pattern, not a comparison with a finer cast: that cast overflows
    DECIMAL(38, s) for texts with many integer digits (and would stop the whole query)."""
    pattern = dialects.regex(
        textrules.too_precise_pattern(scale, decimal_comma), dialects.flavor(text)
    )
    rounded = text.re_search(pattern) & value.notnull()
    return ibis.cases((text.length() > scale + 2, rounded.fill_null(False)), else_=False)


def _parse_date(text: Any, date_format: str | None, engine: str = "duckdb") -> Any:
    """Text to a naive UTC timestamp. Plain dates take the fast DATE cast; anything longer goes
    through TIMESTAMPTZ so that offsets ('+02:00', 'Z') are honoured."""
    naive = dt.Timestamp()
    if date_format:
        return dialects.strptime(text, date_format, engine).cast(naive)
    as_date = dialects.try_cast(text, dt.date, engine).cast(naive)
    as_time = dialects.try_cast(text, dt.Timestamp(timezone="UTC"), engine).cast(naive)
    return ibis.cases((text.length() <= 10, as_date), else_=as_time)


def aggregate(con: Any, prepared: Prepared) -> tuple[Any, Any]:
    """``(totals, cells)``: :func:`scan`, then :func:`per_entity` of its cells."""
    cells = scan(con, prepared)
    return per_entity(con, cells, prepared), cells


def scan(con: Any, prepared: Prepared) -> Any:
    """The one scan: valid rows summed per entity, rejected rows per reason and file (the
    ``key`` column holds the entity for valid rows and the file for rejected ones), as a
    temporary table of ``con``. With periods or segments the valid rows are grouped by entity,
    period key and segment values too (the cells)."""
    t = prepared.table
    valid = t.reason.isnull()
    # A value that was rounded (too_precise) is not known exactly: it joins no money sum.
    value = ibis.cases((t.reason == CODES["too_precise"], ibis.null(t.value.type())), else_=t.value)
    cols: dict[str, Any] = {
        "reason": t.reason,
        "key": ibis.cases((valid, t.entity), else_=t.file),
        "value": value,
    }
    if prepared.has_date:
        cols["date"] = t.date
    extra: list[str] = []
    if prepared.period:
        key = t.date.truncate(prepared.period).cast(dt.date)
        cols["period"] = ibis.cases((valid, key), else_=ibis.null(dt.date))
        extra.append("period")
    for name in prepared.segments:
        cols[name] = ibis.cases((valid, t[name]), else_=ibis.null(dt.string))
        extra.append(name)
    grouped = t.select(**cols)
    metrics: dict[str, Any] = {
        "value": grouped.value.sum(),
        "rows": ibis._.count(),
        "known": grouped.value.count(),
    }
    if prepared.has_date:
        metrics["date_min"] = grouped.date.min()
        metrics["date_max"] = grouped.date.max()
    expr = grouped.group_by(["reason", "key", *extra]).aggregate(**metrics)
    return _keep(con, f"__topshare_cells_{next(_tmp_ids)}", expr, prepared)


def per_entity(con: Any, cells: Any, prepared: Prepared, dates: bool = True) -> Any:
    """The cells of :func:`scan` summed per entity (and per reason and file for the rejected
    rows): a temporary table of ``con``, the cells themselves when they have no other column.
    ``dates=False``: without each entity's first and last date (a caller that has asked
    :func:`valid_stats` of the cells needs none)."""
    if not prepared.dims:
        return cells
    regrouped = regroup(cells, ["reason", "key"], prepared.has_date and dates)
    return con.create_table(f"__topshare_totals_{next(_tmp_ids)}", regrouped, temp=True)


def regroup(cells: Any, by: list[str], has_date: bool) -> Any:
    """Cells (or any table of the scan's shape) summed again by ``by``: the value, row and
    known-value counts added up, the date range widened."""
    sums: dict[str, Any] = {
        "value": cells.value.sum(),
        "rows": cells.rows.sum(),
        "known": cells.known.sum(),
    }
    if has_date:
        sums["date_min"] = cells.date_min.min()
        sums["date_max"] = cells.date_max.max()
    return cells.group_by(by).aggregate(**sums)


def _keep(con: Any, name: str, expr: Any, prepared: Prepared) -> Any:
    """The scan's result as a temporary table of ``con`` (topshare's DuckDB). A scan that ran
    in another database (PostgreSQL, SQLite) sends its result here once: one row per entity
    (or cell), never a row of the source; integer units become DECIMALs again."""
    if expr._find_backend() is con:
        return con.create_table(name, expr, temp=True)
    data = expr.to_pyarrow()
    if prepared.units:
        at = data.schema.get_field_index("value")
        value = decimal_from_units(data.column(at), prepared.scale)
        data = data.set_column(at, pa.field("value", value.type), value)
    return con.create_table(name, ibis.memtable(data), temp=True)


def valid_stats(table: Any, has_date: bool) -> ValidStats:
    """The valid rows of the scan's table (or of its per-entity totals: the same answer) and
    their first and last dates: one small query."""
    valid = table.filter(table.reason.isnull())
    sums: dict[str, Any] = {"rows": valid.rows.sum()}
    if has_date:
        sums.update(date_min=valid.date_min.min(), date_max=valid.date_max.max())
    got = valid.aggregate(**sums).to_pyarrow().to_pylist()[0]
    return ValidStats(
        int(got["rows"] or 0), _as_datetime(got.get("date_min")), _as_datetime(got.get("date_max"))
    )


def collect(
    totals: Any, prepared: Prepared, top_rows: int, counted: ValidStats | None = None
) -> Totals:
    """Small results from the aggregated table: units per entity, the top rows with keys,
    the most negative entities, rejection statistics and the date range (``counted``: the
    :func:`valid_stats` already asked for)."""
    scale = prepared.scale
    valid = totals.filter(totals.reason.isnull()).rename(entity="key")
    stats = valid_stats(totals, prepared.has_date) if counted is None else counted
    # int64 when every partial sum is bounded by 2**62 (the sum of absolute values): exact.
    units = units_array(valid.select("value").to_pyarrow()["value"], scale)

    total = exact_sum(units)
    if total > 0:  # every major customer (10 x >= T) must be among the rows fetched with keys
        small = units.dtype != np.object_ and fits_int64(units, factor=10)
        tens = units * 10 if small else units.astype(np.object_) * 10
        top_rows = max(top_rows, int(np.count_nonzero(tens >= total)))
    top = (
        valid.order_by([valid.value.desc(), valid.entity.asc()])
        .limit(top_rows)
        .select("entity", "value")
        .to_pyarrow()
        .to_pylist()
    )
    neg = (
        valid.filter(valid.value < 0)
        .order_by([valid.value.asc(), valid.entity.asc()])
        .limit(10)
        .select("entity", "value")
        .to_pyarrow()
        .to_pylist()
    )
    rej_rows = (
        totals.filter(totals.reason.notnull())
        .select("reason", "value", "rows", "known", file="key")
        .to_pyarrow()
        .to_pylist()
    )
    rejected: dict[str, RejectStat] = {}
    for r in rej_rows:
        name = NAMES.get(r["reason"], "out_of_range")
        stat = rejected.setdefault(name, RejectStat(name, 0, None))
        stat.rows += int(r["rows"])
        stat.unknown += int(r["rows"]) - int(r["known"] or 0)
        stat.by_file[r["file"]] = stat.by_file.get(r["file"], 0) + int(r["rows"])
        if r["value"] is not None and int(r["known"] or 0) > 0:
            stat.units = (stat.units or 0) + int(r["value"].scaleb(scale, WIDE))
    order = list(REASONS)
    return Totals(
        scale=scale,
        units=units,
        top=[(r["entity"], int(r["value"].scaleb(scale, WIDE))) for r in top],
        negatives=[(r["entity"], int(r["value"].scaleb(scale, WIDE))) for r in neg],
        rows_valid=stats.rows,
        out_of_range=rejected.pop("out_of_range", None),
        rejected=sorted(rejected.values(), key=lambda s: order.index(s.reason)),
        date_min=stats.date_min,
        date_max=stats.date_max,
    )


def _as_datetime(value: Any) -> datetime | None:
    """DATE results (a typed date column) as midnight timestamps; timestamps as they are."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def latest_date(prepared: Prepared) -> datetime | None:
    """The last date of a valid row (for a trailing window): a scan of its own."""
    valid = prepared.table.filter(prepared.table.reason.isnull())
    value = valid.aggregate(d=valid.date.max()).to_pyarrow().to_pylist()[0]
    return _as_datetime(value["d"])


def examples(
    prepared_numbered: Prepared, row_col: str, reasons: list[str], limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` rows rejected for one of ``reasons`` in one file, in file order, with
    their record number and the raw text of the mapped columns. The scan streams and stops as
    soon as it has found them (the caller knows how many there are in each file)."""
    t = prepared_numbered.table
    picked = t.filter(t.reason.isin([CODES[r] for r in reasons])).limit(limit)
    rows = picked.to_pyarrow().to_pylist()
    for row in rows:
        row["reason"] = NAMES[row["reason"]]
    return list(rows)

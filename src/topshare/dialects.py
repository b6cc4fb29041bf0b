"""The few expressions that differ between the engines a source can live on.

The engine's expressions are Ibis throughout; these are the places where the same Ibis
expression would mean something different (or not compile) on another backend:

- DuckDB (files, DuckDB databases): the reference; text is parsed with ``TRY_CAST``.
- PostgreSQL: Ibis compiles ``try_cast`` to a strict ``CAST`` there (one bad value would fail
  the query), so :func:`try_cast` guards each cast with a regular expression of DuckDB's
  grammar (:mod:`topshare.textrules`) inside a ``CASE``: the cast only sees text it accepts.
  ``CASE`` is evaluated lazily per row; with a constant text the planner folds the guard first
  and drops the branch. Patterns are rewritten to mean what RE2's mean (:func:`regex`).
  ``NUMERIC`` sums are exact.
- Spark (pyspark): the DuckDB expressions compile as they are (``TRY_CAST``, ``RLIKE``,
  ``ASCII``, ``DATE_TRUNC`` in the session time zone); ``--date-format`` becomes
  ``try_to_timestamp`` with the strptime codes turned into Spark's datetime pattern.
- SQLite: no decimal type and dynamic typing. A value is used when its storage class is
  INTEGER or REAL, turned into integer units at the column's declared scale *per row* (exact
  from then on: SQLite sums integers exactly, or fails on overflow); any other stored text is a
  bad value. Dates in DATE/TIMESTAMP columns are ISO text, parsed with SQLite's own
  ``datetime()``. Text columns follow the DuckDB rules through Python functions registered on
  the connection (:func:`topshare.textrules.register`): one call per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from topshare import textrules
from topshare.errors import UsageError


def flavor(table: Any) -> str:
    """The name of the backend a table lives on: duckdb, postgres or sqlite."""
    return str(table._find_backend().name)


def blank(text: Any, engine: str) -> Any:
    """NULL, empty or only whitespace. DuckDB and PostgreSQL trim only when the first character
    is a space or a control character; SQLite's ``ascii`` is a Python function in Ibis (slow
    per row), so there the text is trimmed directly."""
    if engine == "sqlite":
        return text.isnull() | (text.strip() == "")
    return text.isnull() | ibis.cases((text.ascii_str() <= 32, text.strip() == ""), else_=False)


def sqlite_units(raw: Any, scale: int) -> Any:
    """A SQLite value as integer units at ``scale`` decimal places, NULL unless it is stored as
    a number (text such as 'abc' in a NUMERIC column stays text in SQLite)."""
    number = raw.typeof().isin(["integer", "real"])
    units = (raw.cast(dt.float64) * 10**scale).round().cast(dt.int64)
    return ibis.cases((number, units), else_=ibis.null(dt.int64))


@ibis.udf.scalar.builtin(name="datetime")
def _sqlite_datetime(text: str) -> datetime:  # type: ignore[empty-body]
    """SQLite's datetime(): 'YYYY-MM-DD HH:MM:SS' from ISO text, NULL when it is not a date."""


def sqlite_timestamp(raw: Any) -> Any:
    """A SQLite date or timestamp (ISO text) as a timestamp, NULL when it is not one."""
    return _sqlite_datetime(raw.cast(dt.string))


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(text: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """DuckDB's TRY_STRPTIME: NULL where the text does not match the format."""


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(text: str, fmt: str) -> datetime:  # type: ignore[empty-body]
    """Spark's try_to_timestamp: NULL where the text does not match the pattern."""


#: strptime codes -> Spark datetime pattern letters (one letter: 1 or 2 digits, as strptime).
_SPARK_CODES = {
    "Y": "yyyy", "y": "yy", "m": "M", "d": "d", "H": "H", "I": "h", "M": "m", "S": "s",
    "f": "SSSSSS", "p": "a", "b": "MMM", "B": "MMMM", "a": "EEE", "A": "EEEE", "j": "D",
    "z": "XX", "e": "d",
}  # fmt: skip


def spark_pattern(fmt: str) -> str:
    """A strptime format as a Spark datetime pattern; other text is quoted literally."""
    out: list[str] = []
    literal = ""
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt) and fmt[i + 1] != "%":
            code = fmt[i + 1]
            if code not in _SPARK_CODES:
                raise UsageError(f"--date-format code %{code} is not available on Spark")
            if literal:
                out.append("'" + literal.replace("'", "''") + "'")
                literal = ""
            out.append(_SPARK_CODES[code])
            i += 2
            continue
        literal += "%" if ch == "%" else ch
        i += 2 if ch == "%" else 1
    if literal:
        out.append("'" + literal.replace("'", "''") + "'")
    return "".join(out)


def strptime(text: Any, fmt: str, engine: str) -> Any:
    """Text parsed with a strptime format, NULL where it does not match."""
    if engine == "pyspark":
        return _try_to_timestamp(text, spark_pattern(fmt))
    return _try_strptime(text, fmt)


def differ(a: Any, b: Any, engine: str) -> Any:
    """``a != b`` for two booleans. Ibis compiles two RLIKE predicates compared with ``<>``
    without parentheses, which Spark's parser refuses: there they are compared as integers."""
    if engine == "pyspark":
        return a.cast(dt.int8) != b.cast(dt.int8)
    return a != b


def regex(pattern: str, engine: str) -> str:
    """A pattern written for DuckDB (RE2) with the same meaning on ``engine``."""
    return textrules.translate(pattern, engine)


def try_cast(text: Any, to: dt.DataType, engine: str) -> Any:
    """``TRY_CAST(text AS to)``: NULL where the text is not a value of that type. On PostgreSQL
    the cast is guarded by DuckDB's grammar (DECIMAL, DATE and TIMESTAMP WITH TIME ZONE)."""
    if engine != "postgres":
        return text.try_cast(to)
    if to.is_decimal():
        return _pg_decimal(text, to)
    if to.is_date() or to.is_timestamp():
        # PostgreSQL reads every text of the grammar as DuckDB does (whatever its DateStyle:
        # the year comes first), except that it rounds fractions of a microsecond
        if to.is_date():
            grammar = (textrules.DATE_COMMON, textrules.DATE)
        else:
            grammar = (textrules.TIMESTAMP_COMMON, textrules.TIMESTAMP)
        valid = text.re_search(grammar[0]) | text.re_search(grammar[1])
        iso = text
        if to.is_timestamp():
            long = text.re_search(textrules.LONG_FRACTION)
            iso = ibis.cases((long, text.re_replace(textrules.EXTRA_FRACTION, r"\1")), else_=text)
        return ibis.cases((valid, iso.cast(to)), else_=ibis.null(to))
    raise TypeError(f"no guarded cast to {to} on PostgreSQL")  # pragma: no cover


def _pg_decimal(text: Any, to: Any) -> Any:
    """A guarded cast to DECIMAL(p, s): NULL unless the text is a number whose rounded value
    fits (PostgreSQL would raise 'numeric field overflow')."""
    null = ibis.null(to)
    exact = text.replace("_", "").cast(dt.Decimal())
    # the largest value that rounds below 10 ** (p - s); a string literal: Ibis would round a
    # Decimal literal of 38 digits
    p, s = int(to.precision or 38), int(to.scale or 0)
    top = "9" * (p - s) + ("." + "9" * s + "5" if s else ".5")
    limit = ibis.literal(top).cast(dt.Decimal())
    fits = ibis.cases((exact.abs() < limit, exact.cast(to)), else_=null)
    return ibis.cases((text.re_search(textrules.NUMBER), fits), else_=null)


@ibis.udf.scalar.builtin(name="topshare_amount")
def _sqlite_amount(text: str, scale: int, decimal_comma: int) -> int:  # type: ignore[empty-body]
    """topshare's SQLite function: the text amount in integer units, NULL if not a number."""


@ibis.udf.scalar.builtin(name="topshare_too_precise")
def _sqlite_too_precise(text: str, scale: int, decimal_comma: int) -> int:  # type: ignore[empty-body]
    """topshare's SQLite function: 1 when the text has more decimal places than ``scale``."""


@ibis.udf.scalar.builtin(name="topshare_timestamp")
def _sqlite_text_timestamp(text: str) -> datetime:  # type: ignore[empty-body]
    """topshare's SQLite function: the text date as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in --tz."""


def sqlite_text_units(text: Any, scale: int, decimal_comma: bool) -> Any:
    """A SQLite text amount as integer units at ``scale`` (the DuckDB rules), NULL when the
    text is not a number."""
    return _sqlite_amount(text, scale, int(decimal_comma))


def sqlite_too_precise(text: Any, scale: int, decimal_comma: bool) -> Any:
    """True when a SQLite text amount has more than ``scale`` decimal places (not all zeros)."""
    return _sqlite_too_precise(text, scale, int(decimal_comma)) == 1


def sqlite_text_timestamp(text: Any) -> Any:
    """A SQLite text date or timestamp (the DuckDB rules) as a timestamp, NULL if not one."""
    return _sqlite_text_timestamp(text)

"""The text rules of the DuckDB path, for databases that have no ``TRY_CAST``.

Amounts and dates stored as text are parsed on DuckDB with ``TRY_CAST`` (see
:func:`topshare.engine._parse_amount`). PostgreSQL has only a strict ``CAST`` (one bad value
fails the query) and SQLite has no decimal or date type, so there the same grammar is written
out:

- as regular expressions (:data:`NUMBER`, :data:`DATE`, :data:`TIMESTAMP`) that guard every
  PostgreSQL cast inside a ``CASE`` (:mod:`topshare.dialects`), so that a cast only ever sees
  text it accepts;
- as Python functions over the same expressions, registered on the SQLite connection
  (:func:`register`): one call per row gives the amount in integer units, the too-precise flag
  or the timestamp.

The grammar is DuckDB's (1.x/2.x) for the forms real data has: an amount is optional spaces, a
sign, digits (single ``_`` between digits allowed), an optional fraction and exponent (up to
three digits), rounded half away from zero; a date is ``YYYY-MM-DD`` (``/`` or a space as the
separator, one-digit month and day allowed, a real calendar day); a timestamp adds ``T`` or
spaces, ``H:MM[:SS[.fraction]]`` (fractions truncated to microseconds) and an offset ``Z``,
``±HH``, ``±HHMM`` or ``±HH:MM``. Differences from DuckDB, on forms no export writes: years
before 1000 or after 9999, named zones (``UTC``, ``EST``), ``24:00:00``, ``10:00:``, offsets with
seconds or of 16 hours or more and exponents of four digits or more are not dates or numbers here.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Any
from zoneinfo import ZoneInfo

#: The characters DuckDB's casts trim (C's isspace in the C locale).
SPACE = r"[ \t\n\v\f\r]"
_DIGITS = r"[0-9]+(_[0-9]+)*"
#: DuckDB's text-to-DECIMAL cast.
NUMBER = rf"^{SPACE}*[+-]?({_DIGITS}(\.({_DIGITS})?)?|\.{_DIGITS})([eE][+-]?[0-9]{{1,3}})?{SPACE}*$"

_YEAR = "([1-9][0-9]{3})"
_LEAP = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|([2468][048]|[13579][26]|0[48])00)"


def _ymd(sep: str) -> str:
    """A calendar day with ``sep`` between its parts: 31-day months, 30-day months,
    February to the 28th, and the 29th of February of leap years."""
    m31, d31 = "(0?[13578]|1[02])", "(0?[1-9]|[12][0-9]|3[01])"
    m30, d30 = "(0?[469]|11)", "(0?[1-9]|[12][0-9]|30)"
    feb, d28 = "0?2", "(0?[1-9]|1[0-9]|2[0-8])"
    days = f"({m31}{sep}{d31}|{m30}{sep}{d30}|{feb}{sep}{d28})"
    return f"({_YEAR}{sep}{days}|{_LEAP}{sep}{feb}{sep}29)"


_DAY = "(" + "|".join(_ymd(sep) for sep in ("-", "/", " ")) + ")"
#: Days 1 to 28 of any month: the same texts where they are valid, a cheaper expression for
#: PostgreSQL's regex engine to try first (the full calendar costs it twice as much per row).
_MONTH = "(0?[1-9]|1[0-2])"
_COMMON_DAY = rf"{_YEAR}(-{_MONTH}-|/{_MONTH}/| {_MONTH} )(0?[1-9]|1[0-9]|2[0-8])"
_TIME = r"([01]?[0-9]|2[0-3]):[0-5]?[0-9](:[0-5]?[0-9](\.[0-9]+)?)?"
_OFFSET = "(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)"
#: DuckDB's text-to-DATE cast (what the engine uses for texts of up to 10 characters).
DATE = rf"^{SPACE}*{_DAY}{SPACE}*$"
#: DuckDB's text-to-TIMESTAMPTZ cast (longer texts): a date alone, or a date and a time.
TIMESTAMP = rf"^{SPACE}*{_DAY}((T *| +){_TIME}{_OFFSET}? *)?$"  # (only spaces after a time)
DATE_COMMON = rf"^{SPACE}*{_COMMON_DAY}{SPACE}*$"
TIMESTAMP_COMMON = rf"^{SPACE}*{_COMMON_DAY}((T *| +){_TIME}{_OFFSET}? *)?$"
#: Fractions of a second beyond microseconds (DuckDB truncates them, PostgreSQL would round).
LONG_FRACTION = r"\.[0-9]{7}"
EXTRA_FRACTION = r"(\.[0-9]{6})[0-9]+"


def translate(pattern: str, engine: str) -> str:
    """A pattern written for DuckDB's RE2 with the same meaning on ``engine``.

    RE2's ``\\s`` is ``[ \\t\\n\\f\\r]``, ``\\d`` is ASCII digits, ``.`` is not a newline and ``$``
    is the end of the text. PostgreSQL's ``\\s``/``\\d`` follow the locale and its ``.`` matches
    a newline; Python's (``engine="python"``) are Unicode-aware and its ``$`` also matches
    before a final newline. DuckDB and Spark get the pattern as it is.
    """
    if engine not in ("postgres", "python"):
        return pattern
    out: list[str] = []
    inside = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        pair = pattern[i : i + 2]
        if pair in (r"\s", r"\d"):
            chars = r" \t\n\f\r" if pair == r"\s" else "0-9"
            out.append(chars if inside else f"[{chars}]")
            i += 2
            continue
        if ch == "\\":
            out.append(pair)
            i += 2
            continue
        if ch == "[" and not inside:
            inside = True
            out.append(ch)
            if pattern[i + 1 : i + 2] == "^":  # a negated class: its first ']' is literal
                out.append("^")
                i += 1
        elif ch == "]" and inside and out[-1] not in ("[", "^"):
            inside = False
            out.append(ch)
        elif ch == "." and not inside:
            out.append(r"[^\n]")
        elif ch == "$" and not inside and engine == "python":
            out.append(r"\Z")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern, "python"))


_NUMBER = _compiled(NUMBER)
_DATE = _compiled(DATE)
_TIMESTAMP = _compiled(TIMESTAMP)
_ISO_DAY = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}\Z")
_CONTEXT = Context(prec=200, rounding=ROUND_HALF_UP)
_STRIP = " \t\n\v\f\r"


def try_decimal(text: str, scale: int, precision: int = 38) -> Decimal | None:
    """``TRY_CAST(text AS DECIMAL(precision, scale))``: rounded half away from zero, None when
    the text is not a number or does not fit."""
    if not _NUMBER.match(text):
        return None
    with localcontext(_CONTEXT):
        try:
            value = Decimal(text.strip(_STRIP).replace("_", ""))
            limit = Decimal(10) ** (precision - scale)
            if abs(value) >= limit:
                return None
            rounded = value.quantize(Decimal(1).scaleb(-scale))
        except InvalidOperation:
            return None
        return None if abs(rounded) >= limit else rounded  # (abs() rounds to the context)


_PLAIN = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,6})?\Z")


def _plain(text: str, scale: int) -> Decimal | None:
    """The common case, fast: ``-123.45`` with no more decimal places than ``scale`` (exact:
    no rounding, far from any limit)."""
    if scale < 6 or not _PLAIN.match(text):
        return None
    return Decimal(text)


_SIGN = _compiled(r"^\s*\(.*\)\s*$")
_OPEN = _compiled(r"^\s*\(")
_CLOSE = _compiled(r"\)\s*$")


def parse_amount(text: str, scale: int, decimal_comma: bool, patterns: tuple[str, str]) -> Any:
    """:func:`topshare.engine._parse_amount` in Python: plain numbers first, then the formatted
    ones (``patterns`` are the engine's English and decimal-comma expressions)."""
    if decimal_comma:
        first = None if "." in text else try_decimal(text.replace(",", "."), scale)
    else:
        first = _plain(text, scale) or try_decimal(text, scale)
    if first is not None:
        return first
    sign = -1 if _SIGN.search(text) else 1
    bad_parens = bool(_OPEN.search(text)) != bool(_CLOSE.search(text))
    if not _compiled(patterns[int(decimal_comma)]).search(text) or bad_parens:
        return None
    if decimal_comma:
        digits = _compiled(r"[\s$€£¥.()]").sub("", text).replace(",", ".")
    else:
        digits = _compiled(r"[\s$€£¥,()]").sub("", text)
    value = try_decimal(digits, scale)
    return None if value is None else value * sign


#: The currency signs a formatted amount may carry.
CURRENCY = "[$€£¥]"


def too_precise_pattern(scale: int, decimal_comma: bool) -> str:
    """The end of a text with more than ``scale`` decimal places that are not all zeros, before
    an optional currency sign and closing parenthesis ('12.0000001', '(1,234.0000001 €)')."""
    sep = "," if decimal_comma else r"\."
    return rf"{sep}\d{{{scale}}}\d*[1-9]\d*\s?{CURRENCY}?\)?\s*$"


def too_precise(text: str, value: Decimal | None, scale: int, decimal_comma: bool) -> bool:
    """:func:`topshare.engine._too_precise` in Python: more than ``scale`` decimal places that
    are not all zeros."""
    if len(text) <= scale + 2 or value is None:
        return False
    return bool(_compiled(too_precise_pattern(scale, decimal_comma)).search(text))


_DATE_COMMON = _compiled(DATE_COMMON)
_TIMESTAMP_COMMON = _compiled(TIMESTAMP_COMMON)
_DAY_PARTS = re.compile(r"([0-9]{4})[-/ ]([0-9]{1,2})[-/ ]([0-9]{1,2})(?:(?:T *| +)(.*))?\Z")
_TIME_PARTS = re.compile(r"([0-9]+):([0-9]+)(?::([0-9]+)(?:\.([0-9]+))?)?(.*)\Z")


@functools.cache
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def timestamp(text: str, tz: str) -> str | None:
    """The engine's text-to-timestamp rule: a date (texts of up to 10 characters) or a
    timestamp, an offset converted to ``tz``; ISO text ``YYYY-MM-DD HH:MM:SS[.ffffff]``."""
    if len(text) == 10 and _ISO_DAY.match(text):  # the common case, fast
        try:
            datetime(int(text[:4]), int(text[5:7]), int(text[8:]))
        except ValueError:
            return None
        return text + " 00:00:00"
    common, full = (_DATE_COMMON, _DATE) if len(text) <= 10 else (_TIMESTAMP_COMMON, _TIMESTAMP)
    if not (common.match(text) or full.match(text)):
        return None
    body = text.strip(_STRIP)
    m = _DAY_PARTS.match(body)
    if m is None:  # pragma: no cover - the grammar above admits only this shape
        return None
    day = datetime(int(m[1]), int(m[2]), int(m[3]))
    rest = m[4]
    if not rest:
        return day.strftime("%Y-%m-%d %H:%M:%S")
    t = _TIME_PARTS.match(rest)
    if t is None:  # pragma: no cover
        return None
    micros = int((t[4] or "").ljust(6, "0")[:6])
    value = day.replace(hour=int(t[1]), minute=int(t[2]), second=int(t[3] or 0), microsecond=micros)
    offset = t[5]
    try:
        if offset:
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2] or 0), minutes=int(digits[2:4] or 0))
            zone = timezone(sign * delta) if offset != "Z" else UTC
            value = value.replace(tzinfo=zone).astimezone(_zone(tz)).replace(tzinfo=None)
    except OverflowError:
        return None
    return value.isoformat(sep=" ")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return None
    return str(value)


def register(con: Any, tz: str, patterns: tuple[str, str]) -> None:
    """The SQLite functions ``topshare_amount(text, scale, decimal_comma)`` (integer units or
    NULL), ``topshare_too_precise(text, scale, decimal_comma)`` (0 or 1) and
    ``topshare_timestamp(text)`` on a sqlite3 connection (registering writes nothing)."""
    limit = 2**63

    def units(raw: Any, scale: int, decimal_comma: int) -> int | None:
        text = _text(raw)
        if text is None:
            return None
        value = parse_amount(text, scale, bool(decimal_comma), patterns)
        if value is None:
            return None
        n = int(value.scaleb(scale))
        return n if -limit <= n < limit else None  # beyond SQLite's integers: not a number

    def precise(raw: Any, scale: int, decimal_comma: int) -> int:
        text = _text(raw)
        if text is None:
            return 0
        value = parse_amount(text, scale, bool(decimal_comma), patterns)
        return int(too_precise(text, value, scale, bool(decimal_comma)))

    def stamp(raw: Any) -> str | None:
        text = _text(raw)
        return None if text is None else timestamp(text, tz)

    con.create_function("topshare_amount", 3, units, deterministic=True)
    con.create_function("topshare_too_precise", 3, precise, deterministic=True)
    con.create_function("topshare_timestamp", 1, stamp, deterministic=True)

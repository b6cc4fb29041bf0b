"""Calendar periods: names, parsing of ``--from/--to/--last``, and the list of period starts.

Period keys are DATEs computed in the engine (``DATE_TRUNC``; ISO weeks start on Monday). This
module only does the calendar arithmetic on a handful of dates in Python: the full list of
periods between two dates (so that a period with no rows still appears, with zero totals) and
the bounds of a trailing window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from topshare.errors import UsageError

#: Period name -> Ibis truncation unit.
PERIODS: dict[str, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
#: ``--last`` suffix -> period name.
LAST_UNITS: dict[str, str] = {"d": "day", "w": "week", "m": "month", "q": "quarter", "y": "year"}


@dataclass(frozen=True)
class Window:
    """Rows kept: ``start <= date < stop`` (either bound may be open)."""

    start: datetime | None
    stop: datetime | None

    @property
    def first_day(self) -> date | None:
        return self.start.date() if self.start else None

    @property
    def last_day(self) -> date | None:
        """The last calendar day inside the window (the inclusive ``--to`` date)."""
        if self.stop is None:
            return None
        return (self.stop - timedelta(microseconds=1)).date()


def check_period(period: str | None) -> str | None:
    if period is None:
        return None
    name = period.strip().lower()
    if name not in PERIODS:
        raise UsageError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return name


def check_tz(tz: str | None) -> str:
    """An IANA zone name ('Europe/Berlin'), checked here so that a typo is a clear error."""
    if tz is None or tz.upper() == "UTC":
        return "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        near = sorted(z for z in available_timezones() if tz.lower() in z.lower())[:3]
        hint = (
            f" (did you mean {', '.join(near)}?)"
            if near
            else " (an IANA name such as Europe/Berlin)"
        )
        raise UsageError(f"unknown time zone {tz!r}{hint}") from None
    return tz


def parse_day(text: str | date | None, option: str) -> date | None:
    """``--from``/``--to``: a calendar day, YYYY-MM-DD."""
    if text is None or isinstance(text, date):
        return text if not isinstance(text, datetime) else text.date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} must be a date as YYYY-MM-DD, got {text!r}") from None


def parse_last(text: str | None) -> tuple[int, str] | None:
    """``--last 30d|12w|12m|4q|2y`` -> (count, period name)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([dwmqy])\s*", text.lower())
    if not m or int(m.group(1)) < 1:
        raise UsageError(
            f"--last must be a count and a unit, like 30d, 12w, 12m, 4q or 2y; got {text!r}"
        )
    return int(m.group(1)), LAST_UNITS[m.group(2)]


def window(start: date | None, end: date | None) -> Window:
    """The rows from the day ``start`` to the day ``end``, both included."""
    if start and end and end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    return Window(
        datetime(start.year, start.month, start.day) if start else None,
        datetime(end.year, end.month, end.day) + timedelta(days=1) if end else None,
    )


def trailing(last: tuple[int, str], latest: datetime) -> Window:
    """``count`` whole calendar periods ending with the one that holds ``latest`` (so ``12m`` on
    2024-06-15 is 2023-07-01 .. 2024-06-15, and ``30d`` is the 30 days ending that day)."""
    count, period = last
    current = period_start(latest.date(), period)
    start = shift(current, period, -(count - 1))
    end = latest.date()
    return window(start, end)


def period_start(day: date, period: str) -> date:
    """The first day of the period that holds ``day`` (what DATE_TRUNC gives in the engine)."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


def shift(start: date, period: str, n: int) -> date:
    """The start of the period ``n`` periods after the one starting on ``start``."""
    if period == "day":
        return start + timedelta(days=n)
    if period == "week":
        return start + timedelta(weeks=n)
    months = {"month": 1, "quarter": 3, "year": 12}[period] * n
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_range(first: date, last: date, period: str) -> list[date]:
    """Every period start from the period holding ``first`` to the one holding ``last``."""
    out = []
    current = period_start(first, period)
    while current <= last:
        out.append(current)
        current = shift(current, period, 1)
    return out


def label(start: date, period: str) -> str:
    """A short human name: 2024-03-05, 2024-W10, 2024-03, 2024-Q1, 2024."""
    if period == "day":
        return start.isoformat()
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{start.year}-{start.month:02d}"
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)

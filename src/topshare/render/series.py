"""Terminal views of the period series (with a sparkline and the movers) and the segments."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from topshare.render.text import money, num, pct
from topshare.result import Analysis, Period, Segment

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled between the smallest and largest; blank when undefined."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            level = 0 if span == 0 else round((v - low) / span * (len(_BARS) - 1))
            out.append(_BARS[level])
    return "".join(out)


def points(x: float | None) -> str:
    """A change of share in percentage points: +2.1 pts."""
    if x is None:
        return "n/a"
    value = 100 * x
    return f"{0.0 if abs(value) < 0.05 else value:+.1f} pts"  # no "-0.0 pts"


def scope_line(result: Analysis) -> str | None:
    s = result.scope
    if s is None:
        return None
    parts = []
    if s.first_day or s.last_day:
        window = f"{s.first_day or '…'} to {s.last_day or '…'}"
        parts.append(f"window {window}" + (f" (last {s.last})" if s.last else ""))
    if s.period:
        parts.append(f"per {s.period}")
    if s.tz != "UTC" or s.period or s.first_day or s.last_day:
        parts.append(f"time zone {s.tz}")
    if s.segments:
        parts.append("segments " + "; ".join(" × ".join(cols) for cols in s.segments))
    return "Scope: " + ", ".join(parts) if parts else None


def period_views(result: Analysis, periods: list[Period], title: str = "") -> list[object]:
    """The series table, its sparkline, and the movers of the last period."""
    n = result.top_n
    shares = [p.top_n_share for p in periods]
    head = f"Top-{n} share per {result.scope.period if result.scope else 'period'}"
    out: list[object] = [
        Text(
            f"{title}{head}: {sparkline(shares)}  ({pct(shares[0])} → {pct(shares[-1])})",
            style="bold",
        ),
    ]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name, justify in (("Period", "left"), ("Total", "right"), (f"Top-{n}", "right"),
                          ("Share", "right"), ("Δ share", "right"), ("HHI", "right"),
                          ("Gini", "right"), (result.labels.entities.capitalize(), "right"),
                          ("In/out", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in periods:
        moves = "" if p.entered is None else f"+{len(p.entered)}/−{len(p.left or [])}"
        table.add_row(
            p.label,
            money(p.total, result),
            money(p.top_n_sum, result),
            pct(p.top_n_share),
            points(p.share_change.total) if p.share_change else "",
            num(p.hhi_points, 0),
            num(p.gini, 3),
            f"{p.n_entities:,}",
            moves,
        )
    out.append(table)
    out += movers(result, periods)
    return out


def movers(result: Analysis, periods: list[Period]) -> list[object]:
    """Who entered and left the top N in the last period, and how the share change splits."""
    last = periods[-1]
    if len(periods) < 2 or last.entered is None:
        return []
    prev = periods[-2]
    lines: list[object] = [Text(f"Movers {prev.label} → {last.label}:", style="bold")]
    if last.entered:
        lines.append(Text("  entered: " + ", ".join(
            f"{m.entity} (#{m.rank}, {pct(m.share)})" for m in last.entered)))  # fmt: skip
    if last.left:
        lines.append(Text("  left:    " + ", ".join(
            f"{m.entity} (was #{m.previous_rank}, {pct(m.previous_share)})" for m in last.left)))  # fmt: skip
    moved = [m for m in last.stayed or [] if m.rank != m.previous_rank]
    if moved:
        moved.sort(key=lambda m: -abs((m.previous_rank or 0) - (m.rank or 0)))
        lines.append(Text("  moved:   " + ", ".join(
            f"{m.entity} #{m.previous_rank}→#{m.rank}" for m in moved[:5])))  # fmt: skip
    if not (last.entered or last.left or moved):
        lines.append(Text(f"  the same top {result.top_n}, in the same order"))
    c = last.share_change
    if c is not None:
        lines.append(Text(
            f"  Δ top-{result.top_n} share {points(c.total)} = entered {points(c.entered)} "
            f"− left {points(c.left).lstrip('+')} + stayed {points(c.stayed)}"))  # fmt: skip
    return lines


def segment_views(result: Analysis) -> list[object]:
    segments: list[Segment] = result.segments or []
    n = result.top_n
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_footer=True)
    table.add_column("Segment", footer="Overall")
    cols = (
        ("Total", money(result.total, result)),
        (f"Top-{n} share", pct(result.top_n_share)),
        ("Top-1 share", pct(result.top1_share)),
        ("HHI", num(result.hhi_points, 0)),
        ("Gini", num(result.gini, 3)),
        (result.labels.entities.capitalize(), f"{result.n_entities:,}"),
    )
    for name, footer in cols:
        table.add_column(name, justify="right", footer=footer)
    for s in segments:
        label = ", ".join(f"{k}={'(none)' if v is None else v}" for k, v in s.segment.items())
        table.add_row(label, money(s.total, result), pct(s.top_n_share), pct(s.top1_share),
                      num(s.hhi_points, 0), num(s.gini, 3), f"{s.n_entities:,}")  # fmt: skip
    out: list[object] = [table]
    for split in result.theil_decomposition or []:
        cells = "" if split.nested else " (over segment × entity cells: entities span segments)"
        out.append(Text(
            f"Theil T by {' × '.join(split.by)}: {num(split.theil, 4)} = between "
            f"{num(split.between, 4)} + within {num(split.within, 4)}{cells}"))  # fmt: skip
    return out

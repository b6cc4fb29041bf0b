"""Plain-text renderers: JSON, CSV (the top list), Markdown; and the dispatcher."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from topshare.errors import UsageError
from topshare.money import normalize
from topshare.result import Analysis

FORMATS = ("table", "json", "csv", "markdown", "html")


def render(result: Analysis, fmt: str, *, width: int | None = None, color: bool = False) -> str:
    """Render ``result`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return result.to_json() + "\n"
    if fmt == "csv":
        return to_csv(result)
    if fmt == "markdown":
        return to_markdown(result)
    if fmt == "table":
        from topshare.render.table import to_table

        return to_table(result, width=width, color=color)
    if fmt == "html":
        from topshare.render.html import to_html

        return to_html(result)
    raise UsageError(f"unknown output format {fmt!r}: expected one of {', '.join(FORMATS)}")


def money(value: Decimal | None, result: Analysis) -> str:
    """A value for people: thousands separators, exact (at least two decimals for money)."""
    if value is None:
        return "n/a"
    return f"{normalize(value, scale=result.scale):,}"


def pct(x: float | None, places: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{places}f} %"


def num(x: float | None, places: int = 3) -> str:
    return "n/a" if x is None else f"{x:,.{places}f}"


def headline(result: Analysis) -> str:
    """The KPI first: 'Top 10 customers: 1,234,567.89 = 41.2 % of revenue'."""
    shown = min(result.top_n, result.n_entities)
    who = result.labels.entities if shown != 1 else result.labels.entity
    prefix = f"Top {result.top_n} {who}" if shown == result.top_n else f"All {shown} {who}"
    return f"{prefix}: {money(result.top_n_sum, result)} = {pct(result.top_n_share)} of {result.labels.value}"


def to_csv(result: Analysis) -> str:
    """The top list with its Others row (the rows add up to the total)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", result.labels.entity, "value", "share", "cumulative_share", "abc", "major"])
    plain = result.to_dict()
    for row in plain["top"]:
        w.writerow(
            [row["rank"], row["entity"], row["value"], _f(row["share"]),
             _f(row["cumulative_share"]), row["abc"] or "", str(row["major"]).lower()]
        )  # fmt: skip
    others = plain["others"]
    if result.others.entities:
        w.writerow(["", f"Others ({others['entities']})", others["value"], _f(others["share"]),
                    _f(1.0 if others["share"] is not None else None), "", "false"])  # fmt: skip
    return buf.getvalue()


def _f(x: float | None) -> str:
    return "" if x is None else repr(float(x))


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: Analysis) -> str:
    lines = [f"## {headline(result)}", ""]
    lines += [
        f"Total {result.labels.value}: **{money(result.total, result)}** from "
        f"{result.labels.count(result.n_entities)}.",
        "",
        f"| # | {result.labels.entity} | {result.labels.value} | share | cumulative | ABC |",
        "|---:|---|---:|---:|---:|:---:|",
    ]
    for r in result.top:
        lines.append(
            f"| {r.rank} | {_md_escape(r.entity)}{' ★' if r.major else ''} | {money(r.value, result)} "
            f"| {pct(r.share)} | {pct(r.cumulative_share)} | {r.abc or ''} |"
        )
    if result.others.entities:
        lines.append(
            f"| | *Others ({result.others.entities:,})* | {money(result.others.value, result)} "
            f"| {pct(result.others.share)} | | |"
        )
    lines.append(f"| | **Total** | **{money(result.total, result)}** | | | |")
    if result.traffic is not None:
        lines += [""] + [f"- {line}" for line in traffic_lines(result)]
        if result.traffic.visitors:
            lines += ["", f"| {result.labels.entity} | visitors |", "|---|---:|"]
            lines += [f"| {_md_escape(v.entity)} | {v.count:,} |" for v in result.traffic.visitors]
    lines += ["", "| index | value |", "|---|---:|"]
    for name, value in index_lines(result):
        lines.append(f"| {name} | {value} |")
    lines += _md_series(result)
    lines += ["", f"Rows: {result.rows.read:,} read, {result.rows.analysed:,} analysed, "
                  f"{result.rows.rejected:,} rejected. {reconciliation(result)}"]  # fmt: skip
    for rej in result.rows.rejected_by_reason:
        lines.append(f"- {rej.rows:,} × {rej.reason}: {rej.description}")
    for w in result.warnings:
        lines.append(f"> Note: {w}")
    return "\n".join(lines) + "\n"


def _md_series(result: Analysis) -> list[str]:
    """The period series and the segments as Markdown tables."""
    n = result.top_n
    out: list[str] = []
    if result.periods:
        out += ["", f"| period | total | top-{n} | share | Δ share (entered − left + stayed) "
                    "| HHI | Gini | entities |",
                "|---|---:|---:|---:|---|---:|---:|---:|"]  # fmt: skip
        for p in result.periods:
            c = p.share_change
            change = (
                f"{pct(c.total)} ({pct(c.entered)} − {pct(c.left)} + {pct(c.stayed)})" if c else ""
            )
            out.append(
                f"| {p.label} | {money(p.total, result)} | {money(p.top_n_sum, result)} "
                f"| {pct(p.top_n_share)} | {change} | {num(p.hhi_points, 0)} | {num(p.gini, 3)} "
                f"| {p.n_entities:,} |"
            )
    if result.segments:
        out += ["", f"| segment | total | top-{n} share | top-1 share | HHI | Gini | entities |",
                "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for s in result.segments:
            name = ", ".join(f"{k}={'(none)' if v is None else v}" for k, v in s.segment.items())
            out.append(
                f"| {_md_escape(name)} | {money(s.total, result)} | {pct(s.top_n_share)} "
                f"| {pct(s.top1_share)} | {num(s.hhi_points, 0)} | {num(s.gini, 3)} "
                f"| {s.n_entities:,} |"
            )
    return out


def index_lines(result: Analysis) -> list[tuple[str, str]]:
    """The indices as (name, formatted value) pairs, shared by the table and Markdown views."""
    out = [(f"CR{c.k}", f"{pct(c.share)} ({money(c.sum, result)})") for c in result.cr]
    band = f" — {result.hhi_band} ({result.hhi_bands} bands)" if result.hhi_band else ""
    out += [
        ("HHI", f"{num(result.hhi_points, 0)} points{band}"),
        ("HHI normalized", num(result.hhi_normalized, 4)),
        ("Effective number (1/HHI)", num(result.effective_number, 1)),
        ("Gini (corrected)", f"{num(result.gini, 4)} ({num(result.gini_corrected, 4)})"),
        ("Theil T", num(result.theil, 4)),
        (
            "Shannon entropy (normalized, exp)",
            f"{num(result.entropy.shannon, 4)} ({num(result.entropy.normalized, 4)}, "
            f"{num(result.entropy.exp, 1)})",
        ),
    ]
    p = result.pareto
    if p.k is not None:
        out.append(
            (
                f"Pareto point ({pct(p.threshold, 0)})",
                f"top {result.labels.count(p.k)} = {pct(p.fraction, 2)} of them",
            )
        )
    return out


def reconciliation(result: Analysis) -> str:
    m = result.money
    mark = "reconciled" if m.reconciled else "DOES NOT RECONCILE"
    text = (
        f"{'Money' if result.traffic is None else result.labels.value.capitalize()} in "
        f"{money(m.in_, result)} = analysed {money(m.analysed, result)} + rejected "
        f"{money(m.rejected, result)}"
        + (
            f" + outside the window {money(m.out_of_range, result)}"
            if result.rows.out_of_range
            else ""
        )
        + f" ({mark})"
    )
    if m.unreadable_rows:
        text += f"; {m.unreadable_rows:,} row(s) had no readable amount"
    return text


def _size(n: int) -> str:
    """Bytes for people: 1.5 MB (decimal units)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{n} B"


def traffic_lines(result: Analysis) -> list[str]:
    """What a log analysis says besides the numbers: the format and lines read; the bots; the
    visitors note. Empty for a revenue analysis."""
    t = result.traffic
    if t is None:
        return []
    skipped = []
    if t.blank_lines:
        skipped.append(f"{t.blank_lines:,} blank")
    if t.directive_lines:
        skipped.append(f"{t.directive_lines:,} #-directive")
    lines = f"{t.lines:,} lines" + (f" ({', '.join(skipped)}, not requests)" if skipped else "")
    first = f"Log: {t.format} format, {lines}; by {t.dimension}, measuring {t.measure}"
    bots = (
        f"Bots (crawler list): {t.bot_hits:,} of {t.all_hits:,} hits ({pct(t.bot_share_hits)}), "
        f"{_size(t.bot_bytes)} of {_size(t.all_bytes)} ({pct(t.bot_share_bytes)})"
        + {"include": "; included", "exclude": "; excluded here", "only": "; only bots here"}[
            t.bots
        ]
    )
    if not t.visitors:
        return [first, bots, f"Visitors: {t.note}"]
    return [first, bots, f"Visitors: distinct IP + user agent per day; {t.note.split(': ', 1)[1]}"]

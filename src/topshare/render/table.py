"""The terminal view (rich): the KPI headline first, then the top list, indices and data quality."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from topshare.rejections import shown_value
from topshare.render.series import period_views, scope_line, segment_views
from topshare.render.text import headline, index_lines, money, pct, reconciliation, traffic_lines
from topshare.result import Analysis


def to_table(result: Analysis, *, width: int | None = None, color: bool = False) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width or 100,
        force_terminal=color,
        color_system="auto" if color else None,
        highlight=False,
    )
    console.print(_view(result))
    return buf.getvalue()


def _columns_line(result: Analysis) -> str:
    if result.traffic is not None:
        return traffic_lines(result)[0]
    c = result.columns
    how = c.detected
    parts = [f"{result.labels.entity} = {c.entity!r} ({_how(how.get('entity'))})"]
    if c.value is not None:
        parts.append(f"amount = {c.value!r} ({_how(how.get('value'))})")
    else:
        parts.append("counting rows (--count)")
    if c.date is not None:
        parts.append(f"date = {c.date!r} ({_how(how.get('date'))})")
    return "Columns: " + ", ".join(parts)


def _title(word: str) -> str:
    """'customer' -> 'Customer', 'IP' stays 'IP'."""
    return word[:1].upper() + word[1:]


def _how(kind: str | None) -> str:
    return {"flag": "given", "name": "detected by name", "content": "detected by content"}.get(
        kind or "", kind or "?"
    )


def _view(result: Analysis) -> Group:
    s = result.source
    src = ", ".join(s.paths) + f"  [{s.format}"
    if s.delimiter:
        src += f", delimiter {s.delimiter!r}, {'header' if s.header else 'no header'}"
    src += f", {s.files} file{'s' if s.files != 1 else ''}]"
    parts: list[object] = [
        Text(headline(result), style="bold"),
        Text(
            f"Total {result.labels.value} {money(result.total, result)} from "
            f"{result.labels.count(result.n_entities)}"
            + (
                f", {result.date_range.first:%Y-%m-%d} to {result.date_range.last:%Y-%m-%d}"
                if result.date_range
                else ""
            )
        ),
        Text(f"Source: {src}", style="dim"),
        Text(_columns_line(result), style="dim"),
    ]
    scope = scope_line(result)
    if scope:
        parts.append(Text(scope, style="dim"))
    parts.append(Text(""))
    top = Table(box=box.SIMPLE_HEAD, show_footer=True, pad_edge=False)
    top.add_column("#", justify="right")
    top.add_column(_title(result.labels.entity), footer="Total", overflow="fold")
    top.add_column(_title(result.labels.value), justify="right",
                   footer=money(result.total, result))  # fmt: skip
    top.add_column("Share", justify="right", footer=pct(1.0 if result.total > 0 else None))
    top.add_column("Cumulative", justify="right")
    top.add_column("ABC", justify="center")
    t = result.traffic
    seen = {v.entity: v.count for v in t.visitors} if t and t.visitors else None
    if seen is not None:
        top.add_column("Visitors", justify="right")
    for r in result.top:
        cells = [
            str(r.rank),
            r.entity + (" ★" if r.major else ""),
            money(r.value, result),
            pct(r.share),
            pct(r.cumulative_share),
            r.abc or "",
        ]
        top.add_row(*cells, *([f"{seen.get(r.entity, 0):,}"] if seen is not None else []))
    if result.others.entities:
        top.add_row("", Text(f"Others ({result.others.entities:,})", style="italic"),
                    money(result.others.value, result), pct(result.others.share), "", "",
                    *([""] if seen is not None else []))  # fmt: skip
    parts.append(top)
    if any(r.major for r in result.top):
        who = "customer" if result.traffic is None else result.labels.entity
        note = " (ASC 280 / IFRS 8)" if result.traffic is None else ""
        parts.append(Text(f"★ major {who}: 10 % of the total or more{note}"))
    if result.traffic is not None:
        parts += [Text(line, style="dim") for line in traffic_lines(result)[1:]]
    idx = Table(box=box.SIMPLE_HEAD, show_header=True, pad_edge=False)
    idx.add_column("Concentration")
    idx.add_column("Value", justify="right")
    for name, value in index_lines(result):
        idx.add_row(name, value)
    parts += [idx]
    if result.periods:
        parts += period_views(result, result.periods)
    if result.segments:
        parts += segment_views(result)
    if result.negative.entities:
        neg = result.negative
        parts.append(
            Text(
                f"{result.labels.count(neg.entities)} with a negative net total "
                f"({money(neg.sum, result)}), left out of the indices: "
                + ", ".join(f"{e.entity} {money(e.value, result)}" for e in neg.most_negative[:5])
            )
        )
    rows = result.rows
    parts.append(
        Text(
            f"Rows: {rows.read:,} read, {rows.analysed:,} analysed, {rows.rejected:,} rejected"
            + (f", {rows.out_of_range:,} outside the date window" if rows.out_of_range else "")
            + ". "
            + reconciliation(result),
            style="bold" if rows.rejected else "",
        )
    )
    for rej in rows.rejected_by_reason:
        amount = (
            f", amount {money(rej.amount, result)}"
            if rej.amount is not None and result.columns.value is not None
            else ""
        )
        parts.append(Text(f"  {rej.rows:,} rejected: {rej.description} [{rej.reason}]{amount}"))
        for ex in rej.examples:
            shown = shown_value(rej.reason, ex)
            loc = f"{ex.file}:{ex.line}" if ex.line is not None else ex.file
            parts.append(Text(f"      {loc}  {shown!r}" if shown is not None else f"      {loc}",
                              style="dim"))  # fmt: skip
    for w in result.warnings:
        parts.append(Text(f"Note: {w}", style="yellow"))
    return Group(*parts)  # type: ignore[arg-type]

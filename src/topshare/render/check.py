"""Terminal view of a check: each rule with its value, threshold and status."""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

from topshare.alerts import METRICS, CheckResult


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric in ("top_n_share", "top1_share", "major"):
        return f"{100 * value:.2f} %"
    if metric == "hhi":
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def render_check(result: CheckResult, width: int = 100) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Rule", "Scope", "Where", "Value", "Threshold", "Status"):
        table.add_column(name, justify="right" if name in ("Value", "Threshold") else "left")
    for o in result.outcomes:
        sign = "<" if METRICS[o.metric][0] == "min" else (">=" if o.metric == "major" else ">")
        status = o.status.upper() + (f" ({', '.join(o.entities[:3])})" if o.entities else "")
        table.add_row(o.rule, o.scope, o.where, _value(o.metric, o.value),
                      f"breach {sign} {_value(o.metric, o.threshold)}", status)  # fmt: skip
    console.print(table)
    if result.status == "breach":
        console.print(f"BREACH: {result.breached} of {len(result.outcomes)} checks failed (exit 1)")
    else:
        console.print(f"OK: all {len(result.outcomes)} checks pass")
    return buf.getvalue()

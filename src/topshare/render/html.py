"""The self-contained HTML report: one file, charts included, no network request when opened.

The page is a Jinja2 template (``templates/report.html.j2``, autoescaped: every text from the
data is escaped) with the chart specifications of :mod:`topshare.charts` embedded as JSON and the
plotly.js bundle of the installed ``plotly`` package inlined. A Content-Security-Policy forbids
every load from outside the file. Its size is bounded: the lists are capped (see the constants
below and docs/report.md), so it is about the size of plotly.js plus at most a few hundred KB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, reduce
from typing import Any

import jinja2

from topshare import charts
from topshare.metrics import HHI_BANDS
from topshare.money import WIDE
from topshare.render.text import (
    headline,
    index_lines,
    money,
    num,
    pct,
    reconciliation,
    traffic_lines,
)
from topshare.result import Analysis, Mover, Period, Segment, TopRow

#: Most rows of the top list shown; ranks beyond are summed in one row before Others.
MAX_TOP_ROWS = 100
#: Most periods in the period table (the latest); the charts draw up to charts.MAX_PERIODS.
MAX_PERIOD_ROWS = 120
#: Most segment values in the segment table (the largest by total).
MAX_SEGMENT_ROWS = 50
#: Most names listed per churn group (entered, left) of the latest period.
MAX_MOVERS = 10
#: Most input paths listed in the method section.
MAX_PATHS = 20
#: Longest entity key shown in a table cell.
MAX_KEY_CHARS = 120

FORMULAS = (
    ("Top-N share", "S_N / T: the sum of the N largest net totals over the net total of all."),
    (
        "HHI",
        "Σ s_i² over the index population (net total ≥ 0), s_i = x_i / P; points = 10,000 × HHI.",
    ),
    ("Effective number", "1 / HHI: as concentrated as this many equal-sized ones."),
    ("Gini", "2 Σ i·x_(i) / (n P) − (n + 1)/n, totals ascending (0 = all equal)."),
    ("Lorenz curve", "(i/n, share of the i smallest); at most 1,000 points, both ends kept."),
    ("Pareto point", "the smallest k whose top-k sum reaches the threshold share of P."),
    ("Churn", "Δ top-N share = Σ entered s_p − Σ left s_(p−1) + Σ stayed (s_p − s_(p−1)), exact."),
    ("Major", "a share of the total of at least 10 % (the ASC 280 / IFRS 8 disclosure threshold)."),
)


@dataclass(frozen=True)
class Row:
    """One line of the top table, already formatted."""

    rank: str
    entity: str
    value: str
    share: str
    cumulative: str
    abc: str
    major: bool
    kind: str = ""  # "", "rest", "others", "total"


def _key(text: str) -> str:
    return text if len(text) <= MAX_KEY_CHARS else text[: MAX_KEY_CHARS - 1] + "…"


def _top_rows(r: Analysis) -> list[Row]:
    rows = [
        Row(
            str(t.rank),
            _key(t.entity),
            money(t.value, r),
            pct(t.share),
            pct(t.cumulative_share),
            t.abc or "",
            t.major,
        )
        for t in r.top[:MAX_TOP_ROWS]
    ]
    rest: list[TopRow] = r.top[MAX_TOP_ROWS:]
    if rest:
        value = reduce(WIDE.add, (t.value for t in rest), Decimal(0))  # exact
        share = None if r.total <= 0 else float(value / r.total)
        rows.append(
            Row(
                f"{rest[0].rank}–{rest[-1].rank}",
                f"ranks {rest[0].rank:,} to {rest[-1].rank:,} ({r.labels.count(len(rest))})",
                money(value, r),
                pct(share),
                pct(rest[-1].cumulative_share),
                "",
                False,
                "rest",
            )
        )
    if r.others.entities:
        rows.append(
            Row(
                "",
                f"Others ({r.labels.count(r.others.entities)})",
                money(r.others.value, r),
                pct(r.others.share),
                pct(1.0 if r.others.share is not None else None),
                "",
                False,
                "others",
            )
        )
    full = None if r.total <= 0 else 1.0
    rows.append(Row("", "Total", money(r.total, r), pct(full), "", "", False, "total"))
    return rows


def _cards(r: Analysis) -> list[dict[str, str]]:
    lab = r.labels
    shown = min(r.top_n, r.n_entities)
    top1 = r.top[0] if r.top else None
    p = r.pareto
    cards = [
        {
            "label": f"Top {shown} share",
            "value": pct(r.top_n_share),
            "note": f"{money(r.top_n_sum, r)} of {money(r.total, r)}",
            "tone": "key",
        },
        {
            "label": f"Top {lab.entity}",
            "value": pct(r.top1_share),
            "note": _key(top1.entity) if top1 else "n/a",
            "tone": "major" if top1 and top1.major else "",
        },
        {
            "label": "HHI",
            "value": num(r.hhi_points, 0),
            "note": f"{r.hhi_band or 'n/a'} ({r.hhi_bands} bands)",
            "tone": _band_tone(r.hhi_points, r.hhi_bands),
        },
        {
            "label": "Gini",
            "value": num(r.gini, 3),
            "note": "0 = all equal, 1 = one holds all",
            "tone": "",
        },
        {
            "label": "Effective number",
            "value": num(r.effective_number, 1),
            "note": f"equal {lab.entities} give the same HHI",
            "tone": "",
        },
        {
            "label": f"Pareto {pct(p.threshold, 0)}",
            "value": "n/a" if p.k is None else f"{p.k:,}",
            "note": "n/a"
            if p.fraction is None
            else f"{lab.entities if p.k != 1 else lab.entity} ({pct(p.fraction, 1)} of all) "
            f"bring {pct(p.threshold, 0)} of {lab.value}",
            "tone": "",
        },
        {
            "label": "Major (≥ 10 %)",
            "value": f"{len(r.major):,}",
            "note": ", ".join(f"{_key(m.entity)} {pct(m.share)}" for m in r.major[:5])
            + (f" and {len(r.major) - 5:,} more" if len(r.major) > 5 else "")
            or "none",
            "tone": "major" if r.major else "",
        },
    ]
    return cards


def _summary(r: Analysis) -> list[str]:
    """Three sentences: how concentrated, is it getting worse, who drives it."""
    lab = r.labels
    out = []
    if r.hhi_points is not None:
        out.append(
            f"How concentrated: HHI {num(r.hhi_points, 0)} points, {r.hhi_band} "
            f"({r.hhi_bands} bands): like {num(r.effective_number, 1)} equal {lab.entities}."
        )
    series = [(p, p.top_n_share) for p in r.periods or [] if p.top_n_share is not None]
    if len(series) >= 2:
        (first, s0), (prev, s1), (last, s2) = series[0], series[-2], series[-1]
        out.append(
            f"Trend: the top-{r.top_n} share is {pct(s2)} in {last.label}, "
            f"{_moved(s2 - s1)} {prev.label} and {_moved(s2 - s0)} {first.label}; HHI "
            f"{num(prev.hhi_points, 0)} → {num(last.hhi_points, 0)}."
        )
    top1 = r.top[0] if r.top else None
    if top1 is not None:
        who = f"Who drives it: {_key(top1.entity)} alone brings {pct(top1.share)}"
        if len(r.major) > 1:
            who += f"; {len(r.major)} {lab.entities} are major (≥ 10 % each)"
        elif top1.major:
            who += " (a major " + lab.entity + ", ≥ 10 %)"
        if r.pareto.k is not None:
            who += (
                f"; {lab.count(r.pareto.k)} ({pct(r.pareto.fraction, 1)} of all) bring "
                f"{pct(r.pareto.threshold, 0)} of {lab.value}"
            )
        out.append(who + ".")
    return out


def _moved(delta: float) -> str:
    points = 100 * delta
    if abs(points) < 0.05:
        return "unchanged from"
    return f"{abs(points):.1f} pp {'up' if points > 0 else 'down'} from"


def _band_tone(points: float | None, bands: str) -> str:
    if points is None:
        return ""
    low, high = HHI_BANDS[bands]
    return "low" if points < low else "mid" if points <= high else "high"


def _period_rows(r: Analysis, periods: list[Period]) -> list[dict[str, Any]]:
    out = []
    for p in periods[-MAX_PERIOD_ROWS:]:
        c = p.share_change
        out.append(
            {
                "label": p.label,
                "total": money(p.total, r),
                "top_sum": money(p.top_n_sum, r),
                "share": pct(p.top_n_share),
                "change": "" if c is None else _pp(c.total),
                "entered": "" if p.entered is None else f"{len(p.entered):,}",
                "left": "" if p.left is None else f"{len(p.left):,}",
                "decomposition": ""
                if c is None
                else f"{_pp(c.entered)} − {_pp(c.left)} {_signed_pp(c.stayed)}",
                "hhi": num(p.hhi_points, 0),
                "band": p.hhi_band or "n/a",
                "tone": _band_tone(p.hhi_points, r.hhi_bands),
                "gini": num(p.gini, 3),
                "entities": f"{p.n_entities:,}",
            }
        )
    return out


def _pp(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} pp"


def _signed_pp(x: float | None) -> str:
    if x is None:
        return "+ n/a"
    return f"+ {100 * x:.2f} pp" if x >= 0 else f"− {-100 * x:.2f} pp"


def _movers(r: Analysis, movers: list[Mover] | None, *, current: bool) -> dict[str, Any]:
    movers = movers or []
    items = [
        {
            "entity": _key(m.entity),
            "rank": m.rank if current else m.previous_rank,
            "value": money(m.value if current else m.previous_value, r),
            "share": pct(m.share if current else m.previous_share),
        }
        for m in movers[:MAX_MOVERS]
    ]
    return {"rows": items, "more": max(len(movers) - MAX_MOVERS, 0), "count": len(movers)}


def _segment_rows(r: Analysis, segs: list[Segment]) -> list[dict[str, Any]]:
    shown = sorted(segs, key=lambda s: s.total, reverse=True)[:MAX_SEGMENT_ROWS]
    keys_shown = charts.one_column(segs) is None
    return [
        {
            "name": _key(charts.segment_name(s, keys_shown=keys_shown)),
            "total": money(s.total, r),
            "share_of_all": pct(None if r.total <= 0 else float(s.total / r.total)),
            "top_share": pct(s.top_n_share),
            "top1": pct(s.top1_share),
            "hhi": num(s.hhi_points, 0),
            "band": s.hhi_band or "n/a",
            "tone": _band_tone(s.hhi_points, r.hhi_bands),
            "gini": num(s.gini, 3),
            "entities": f"{s.n_entities:,}",
        }
        for s in shown
    ]


def _scope_text(r: Analysis) -> list[tuple[str, str]]:
    s = r.scope
    out: list[tuple[str, str]] = []
    if r.date_range:
        out.append(
            (
                "Dates in the data",
                f"{r.date_range.first:%Y-%m-%d} to {r.date_range.last:%Y-%m-%d}",
            )
        )
    if s is None:
        return out
    if s.first_day or s.last_day:
        window = f"{s.first_day or 'start'} to {s.last_day or 'end'} (inclusive)"
        if s.last:
            window += f", the last {s.last}"
        out.append(("Window", window))
    else:
        out.append(("Window", "all rows (no date filter)"))
    if s.period:
        out.append(("Periods", f"per {s.period}, time zone {s.tz}"))
    if s.segments:
        out.append(("Segments", "; ".join(", ".join(spec) for spec in s.segments)))
    return out


def context(r: Analysis, *, generated_at: datetime | None = None) -> dict[str, Any]:
    """Everything the template shows, formatted for people (no logic left to the template)."""
    generated = (generated_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    figs = charts.figures(r)
    latest = r.periods[-1] if r.periods and len(r.periods) >= 2 else None
    paths = r.source.paths
    return {
        "r": r,
        "labels": r.labels,
        "title": f"Concentration of {r.labels.value} by {r.labels.entity}",
        "headline": headline(r),
        "source_name": ", ".join(paths[:3])
        + (f" and {len(paths) - 3:,} more" if len(paths) > 3 else ""),
        "cards": _cards(r),
        "summary": _summary(r),
        "generated_human": generated.strftime("%Y-%m-%d %H:%M UTC"),
        "top_rows": _top_rows(r),
        "top_capped": max(len(r.top) - MAX_TOP_ROWS, 0),
        "top_listed": min(len(r.top), MAX_TOP_ROWS),
        "threshold": pct(r.pareto.threshold, 0),
        "indices": index_lines(r),
        "figures": figs,
        "figures_json": {k: safe_json(v) for k, v in figs.items()},
        "config_json": safe_json(charts.PLOTLY_CONFIG),
        "plotly_js": charts.plotly_js(),
        "periods": _period_rows(r, r.periods) if r.periods else None,
        "periods_hidden": max(len(r.periods or []) - MAX_PERIOD_ROWS, 0),
        "latest": latest,
        "entered": _movers(r, latest.entered, current=True) if latest else None,
        "left": _movers(r, latest.left, current=False) if latest else None,
        "segments": _segment_rows(r, r.segments) if r.segments else None,
        "segments_hidden": max(len(r.segments or []) - MAX_SEGMENT_ROWS, 0),
        "segment_column": (charts.one_column(r.segments) if r.segments else None) or "segment",
        "total_money": money(r.total, r),
        "money_in": money(r.money.in_, r),
        "money_analysed": money(r.money.analysed, r),
        "money_rejected": money(r.money.rejected, r),
        "money_out_of_range": money(r.money.out_of_range, r),
        "reconciliation": reconciliation(r),
        "rejections": [
            {
                "reason": j.reason,
                "description": j.description,
                "rows": f"{j.rows:,}",
                "amount": "unknown" if j.amount is None else money(j.amount, r),
                "unreadable": f"{j.unreadable:,}",
                "examples": j.examples,
            }
            for j in r.rows.rejected_by_reason
        ],
        "negative": r.negative,
        "negative_sum": money(r.negative.sum, r),
        "paths": paths[:MAX_PATHS],
        "paths_hidden": max(len(paths) - MAX_PATHS, 0),
        "scope": _scope_text(r),
        "traffic": [line for line in traffic_lines(r) if ": " in line],
        "formulas": FORMULAS,
        "hhi_edges": HHI_BANDS[r.hhi_bands],
        "generated_at": generated.isoformat(),
        "money": lambda v: money(v, r),
    }


def safe_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("topshare.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def to_html(result: Analysis, *, generated_at: datetime | None = None) -> str:
    """The report as one HTML document (a string of a few MB, mostly plotly.js)."""
    template = _environment().get_template("report.html.j2")
    return template.render(**context(result, generated_at=generated_at))

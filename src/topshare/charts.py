"""Chart specifications, built once in Python, drawn by plotly.js (the HTML report, the dashboard).

:func:`figures` turns an :class:`~topshare.result.Analysis` into Plotly figure specifications:
plain JSON-serialisable dicts ``{"data": [...], "layout": {...}}`` (no plotly Python objects).
Every figure has axis titles, hover values formatted for people (exact money strings, shares in
per cent), the Okabe–Ito colour-blind-safe palette and ``layout.meta = {"chart": key}``.

Text taken from the data (entity keys, segment values) is HTML-escaped before it goes into a
figure, because plotly.js reads ``<b>``, ``<a href>`` and friends in labels as markup.

>>> from topshare.charts import figures, plotly_js, PLOTLY_CONFIG  # doctest: +SKIP
>>> figs = figures(topshare.analyze("sales.csv"))  # doctest: +SKIP
>>> list(figs)  # doctest: +SKIP
['pareto', 'lorenz']
"""

from __future__ import annotations

import html
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from topshare.metrics import HHI_BANDS
from topshare.render.text import money, num, pct
from topshare.result import Analysis, Period, Segment

#: Okabe & Ito (2008), "Color Universal Design": distinguishable with any colour vision.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
GREY = "#8C8C8C"
GRID = "#E6E6E6"
FONT = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", '
    '"Liberation Sans", sans-serif'
)

#: Passed to ``Plotly.newPlot(div, data, layout, PLOTLY_CONFIG)``.
PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}

#: Longest entity label on an axis (the hover shows the whole key).
TICK_CHARS = 18
#: Most segment values drawn (the largest by total); the rest are counted in the title.
MAX_SEGMENTS = 30
#: Most periods drawn in the trend and churn charts (the latest): four years of days.
MAX_PERIODS = 1500
#: Longest data text put into a hover label.
MAX_TEXT = 200


@cache
def plotly_js() -> str:
    """The minified plotly.js bundle shipped inside the installed ``plotly`` package."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text("utf-8")


def figures(result: Analysis, *, bars: int = 30) -> dict[str, dict[str, Any]]:
    """The charts that apply to ``result``, by key: pareto, lorenz, then trend and churn when
    there are periods (churn needs two), then segments when there are segments."""
    out = {"pareto": pareto(result, bars=bars), "lorenz": lorenz(result)}
    if result.periods:
        out["trend"] = trend(result, result.periods[-MAX_PERIODS:])
        if len(result.periods) >= 2:
            out["churn"] = churn(result, result.periods[-MAX_PERIODS - 1 :])
    if result.segments:
        out["segments"] = segments(result, result.segments)
    return out


def esc(text: str) -> str:
    """Data text made safe for plotly.js labels (which read a subset of HTML), and capped."""
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return html.escape(text, quote=False)


def short(text: str, limit: int = TICK_CHARS) -> str:
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def _unit(values: list[Decimal]) -> tuple[float, str]:
    """A divisor and its name so that axis ticks stay short: 12.3 (millions)."""
    biggest = max((abs(v) for v in values), default=Decimal(0))
    for div, name in ((10**9, "billions"), (10**6, "millions"), (10**3, "thousands")):
        if biggest >= 10 * div:
            return float(div), name
    return 1.0, ""


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "gridcolor": GRID,
        "zerolinecolor": "#BDBDBD",
        "linecolor": "#BDBDBD",
        "automargin": True,
        **extra,
    }


def _layout(key: str, title: str, subtitle: str = "", **extra: Any) -> dict[str, Any]:
    """Title and subtitle at the top of the figure, the legend in one row above the plot."""
    head: dict[str, Any] = {
        "text": title,
        "x": 0,
        "xanchor": "left",
        "xref": "container",
        "pad": {"l": 12},
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "font": {"size": 15},
    }
    if subtitle:
        head["subtitle"] = {"text": subtitle, "font": {"size": 12, "color": "#57606A"}}
    top = 100 if subtitle else 80
    head["pad"]["t"] = 10
    return {
        "meta": {"chart": key},
        "title": head,
        "font": {"family": FONT, "size": 12, "color": "#1F2328"},
        "colorway": list(OKABE_ITO.values())[1:],
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "margin": {"l": 60, "r": 60, "t": top, "b": 50},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "xanchor": "left"},
        "hoverlabel": {"font": {"family": FONT}},
        "separators": ".,",
        **extra,
    }


def _value_title(result: Analysis, unit: str) -> str:
    return f"{esc(result.labels.value)} ({unit})" if unit else esc(result.labels.value)


def pareto(result: Analysis, *, bars: int = 30) -> dict[str, Any]:
    """Bars of value by rank for the top entities, the cumulative share (right axis, 0–100 %)
    and the Pareto threshold."""
    lab = result.labels
    rows = result.top[: max(bars, 0)]
    div, unit = _unit([r.value for r in rows])
    ranks = [r.rank for r in rows]
    custom = [
        [esc(r.entity), money(r.value, result), pct(r.share), pct(r.cumulative_share)] for r in rows
    ]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": f"{esc(lab.value)} by {esc(lab.entity)}",
            "x": ranks,
            "y": [float(r.value) / div for r in rows],
            "customdata": custom,
            "marker": {"color": [OKABE_ITO["vermillion" if r.major else "blue"] for r in rows]},
            "hovertemplate": (
                "#%{x} %{customdata[0]}<br>"
                + esc(lab.value)
                + " %{customdata[1]} (%{customdata[2]})<extra></extra>"
            ),
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "cumulative share",
            "x": ranks,
            "y": [r.cumulative_share for r in rows],
            "yaxis": "y2",
            "customdata": custom,
            "line": {"color": OKABE_ITO["orange"], "width": 2.5},
            "marker": {"size": 5},
            "hovertemplate": "top %{x}: %{customdata[3]} of " + esc(lab.value) + "<extra></extra>",
        },
    ]
    p = result.pareto
    threshold = pct(p.threshold, 0)
    data.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"Pareto threshold ({threshold})",
            "x": [0.5, max(len(rows), 1) + 0.5],
            "y": [p.threshold, p.threshold],
            "yaxis": "y2",
            "line": {"color": OKABE_ITO["black"], "dash": "dash", "width": 1.5},
            "hoverinfo": "skip",
        }
    )
    if p.k is not None:
        where = f"{esc(lab.count(p.k))} ({pct(p.fraction, 2)} of {esc(lab.entities)})"
        note = f"{threshold} of {esc(lab.value)} is reached by the top {where}"
    else:
        note = f"no Pareto point: the total {esc(lab.value)} is not positive"
    if any(r.major for r in rows):
        note += "; major (≥ 10 % of the total) in vermillion"
    layout = _layout(
        "pareto",
        f"Top {len(rows)} {esc(lab.entities if len(rows) != 1 else lab.entity)} by "
        f"{esc(lab.value)}",
        note,
        xaxis=_axis(
            f"{esc(lab.entity)} (by rank)",
            tickmode="array",
            tickvals=ranks,
            ticktext=[short(r.entity) for r in rows],
            tickangle=-40 if len(rows) > 6 else 0,
            range=[0.5, max(len(rows), 1) + 0.5],
        ),
        yaxis=_axis(_value_title(result, unit), rangemode="tozero", tickformat=",~r"),
        yaxis2=_axis(
            "cumulative share of the total",
            overlaying="y",
            side="right",
            range=[0, 1.0],
            tickmode="linear",
            tick0=0,
            dtick=0.2,
            tickformat=".0%",
            showgrid=False,
        ),
        bargap=0.25,
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def lorenz(result: Analysis) -> dict[str, Any]:
    """The Lorenz curve (thinned to at most 1,000 points, ends kept) and the equality line."""
    lab = result.labels
    xs = [x for x, _ in result.lorenz]
    ys = [y for _, y in result.lorenz]
    gini = num(result.gini, 3)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "perfect equality",
            "x": [0, 1],
            "y": [0, 1],
            "line": {"color": GREY, "dash": "dot", "width": 1.5},
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": f"Lorenz curve (Gini {gini})",
            "x": xs,
            "y": ys,
            "fill": "tonexty",
            "fillcolor": "rgba(0, 114, 178, 0.12)",
            "line": {"color": OKABE_ITO["blue"], "width": 2.5},
            "hovertemplate": (
                f"the smallest %{{x:.1%}} of {esc(lab.entities)} hold "
                f"%{{y:.1%}} of {esc(lab.value)}<extra></extra>"
            ),
        },
    ]
    layout = _layout(
        "lorenz",
        "Lorenz curve",
        xaxis=_axis(
            f"cumulative share of {esc(lab.entities)} (smallest first)",
            range=[0, 1],
            tickformat=".0%",
            constrain="domain",
        ),
        yaxis=_axis(f"cumulative share of {esc(lab.value)}", range=[0, 1], tickformat=".0%"),
        hovermode="closest",
    )
    return {"data": data, "layout": layout}


def _band_shapes(result: Analysis, yref: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    low, high = HHI_BANDS[result.hhi_bands]
    shapes = [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": yref,
            "y0": edge,
            "y1": edge,
            "line": {"color": color, "dash": "dash", "width": 1.2},
            "layer": "below",
        }
        for edge, color in ((low, OKABE_ITO["orange"]), (high, OKABE_ITO["vermillion"]))
    ]
    notes = [
        {
            "text": f"HHI {low:,.0f}: moderately concentrated ({result.hhi_bands} bands)",
            "y": low,
        },
        {"text": f"HHI {high:,.0f}: highly concentrated", "y": high},
    ]
    annotations = [
        {
            **a,
            "xref": "paper",
            "x": 1,
            "xanchor": "right",
            "yref": yref,
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": 10, "color": "#57606A"},
        }
        for a in notes
    ]
    return shapes, annotations


def _hhi_range(values: list[float | None], high: float) -> list[float]:
    top = max([v for v in values if v is not None] + [high])
    return [0, top * 1.12]


def trend(result: Analysis, periods: list[Period]) -> dict[str, Any]:
    """Top-N share (top) and HHI points (below, with the HHI bands) per period."""
    n = result.top_n
    labels = [p.label for p in periods]
    shares = [p.top_n_share for p in periods]
    points = [p.hhi_points for p in periods]
    custom = [
        [
            money(p.top_n_sum, result),
            money(p.total, result),
            num(p.hhi_points, 0),
            p.hhi_band or "n/a",
        ]
        for p in periods
    ]
    marker = {"size": 6} if len(periods) <= 60 else {"size": 3}
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"top-{n} share",
            "x": labels,
            "y": shares,
            "customdata": custom,
            "line": {"color": OKABE_ITO["blue"], "width": 2.5},
            "marker": marker,
            "connectgaps": False,
            "hovertemplate": (
                f"%{{x}}: top {n} %{{customdata[0]}} of %{{customdata[1]}} = %{{y:.1%}}"
                "<extra></extra>"
            ),
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "HHI (points)",
            "x": labels,
            "y": points,
            "yaxis": "y2",
            "customdata": custom,
            "line": {"color": OKABE_ITO["green"], "width": 2, "dash": "solid"},
            "marker": {**marker, "symbol": "diamond"},
            "connectgaps": False,
            "hovertemplate": (
                "%{x}: HHI %{customdata[2]} points (%{customdata[3]})<extra></extra>"
            ),
        },
    ]
    shapes, annotations = _band_shapes(result, "y2")
    share_top = max([s for s in shares if s is not None] + [0.0])
    layout = _layout(
        "trend",
        f"Top-{n} share and HHI per {result.scope.period if result.scope and result.scope.period else 'period'}",
        height=520,
        xaxis=_axis(
            "period",
            type="category",
            anchor="y2",
            tickangle=-40 if len(periods) > 12 else 0,
        ),
        yaxis=_axis(
            f"top-{n} share",
            domain=[0.54, 1],
            color=OKABE_ITO["blue"],
            tickformat=".0%",
            range=[0, min(1.0, share_top * 1.15) or 1.0],
        ),
        yaxis2=_axis(
            "HHI (points)",
            domain=[0, 0.44],
            anchor="x",
            color=OKABE_ITO["green"],
            tickmode="auto",
            nticks=5,
            tickformat=",.0f",
            range=_hhi_range(points, HHI_BANDS[result.hhi_bands][1]),
        ),
        shapes=shapes,
        annotations=annotations,
        hovermode="x unified",
    )
    return {"data": data, "layout": layout}


def churn(result: Analysis, periods: list[Period]) -> dict[str, Any]:
    """Per period, the change of the top-N share in percentage points and its exact
    decomposition: entered − left + stayed (bars), with the total change as markers."""
    n = result.top_n
    rows = [p for p in periods[1:] if p.share_change is not None]
    labels = [p.label for p in rows]

    def pp(x: float | None) -> float | None:
        return None if x is None else 100 * x

    changes = [p.share_change for p in rows]
    entered = [pp(c.entered) if c else None for c in changes]
    left = [-v if (v := pp(c.left if c else None)) is not None else None for c in changes]
    stayed = [pp(c.stayed) if c else None for c in changes]
    total = [pp(c.total) if c else None for c in changes]
    counts = [[len(p.entered or []), len(p.left or []), len(p.stayed or [])] for p in rows]
    lab = result.labels

    def bar(name: str, ys: list[float | None], color: str, what: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "name": name,
            "x": labels,
            "y": ys,
            "customdata": counts,
            "marker": {"color": color},
            "hovertemplate": f"%{{x}}: {what} %{{y:+.2f}} pp<extra></extra>",
        }

    data = [
        bar(
            f"entered the top {n}",
            entered,
            OKABE_ITO["green"],
            f"%{{customdata[0]}} {esc(lab.entities)} entered:",
        ),
        bar(
            f"left the top {n} (−)",
            left,
            OKABE_ITO["vermillion"],
            f"%{{customdata[1]}} {esc(lab.entities)} left:",
        ),
        bar(
            "stayed (share change)",
            stayed,
            OKABE_ITO["sky"],
            f"%{{customdata[2]}} {esc(lab.entities)} stayed:",
        ),
        {
            "type": "scatter",
            "mode": "markers+lines",
            "name": "total change",
            "x": labels,
            "y": total,
            "line": {"color": OKABE_ITO["black"], "width": 1.5},
            "marker": {"color": OKABE_ITO["black"], "size": 7, "symbol": "diamond"},
            "hovertemplate": f"%{{x}}: top-{n} share %{{y:+.2f}} pp<extra></extra>",
        },
    ]
    layout = _layout(
        "churn",
        f"Change of the top-{n} share per period: entered − left + stayed",
        xaxis=_axis("period", type="category", tickangle=-40 if len(rows) > 12 else 0),
        yaxis=_axis(
            "change of the top-N share (percentage points)", ticksuffix=" pp", zeroline=True
        ),
        barmode="relative",
        hovermode="x unified",
    )
    layout["yaxis"]["title"]["text"] = f"change of the top-{n} share (percentage points)"
    return {"data": data, "layout": layout}


def segment_name(segment: Segment, keys_shown: bool = True) -> str:
    """'EMEA' or 'region=EMEA, channel=Web' (unescaped); an empty value is '(none)'."""
    parts = [(k, "(none)" if v is None else v) for k, v in segment.segment.items()]
    if not keys_shown and len(parts) == 1:
        return parts[0][1]
    return ", ".join(f"{k}={v}" for k, v in parts)


def one_column(segs: list[Segment]) -> str | None:
    """The column name when every segment is a value of the same single column, else None."""
    specs = {tuple(s.segment) for s in segs}
    if len(specs) == 1 and len(spec := next(iter(specs))) == 1:
        return spec[0]
    return None


def segments(result: Analysis, segs: list[Segment]) -> dict[str, Any]:
    """Top-N share and HHI points per segment value (the largest segments by total first)."""
    n = result.top_n
    column = one_column(segs)
    shown = sorted(segs, key=lambda s: s.total, reverse=True)[:MAX_SEGMENTS]
    shown.reverse()  # horizontal bars are drawn bottom-up: largest on top
    names = [short(segment_name(s, keys_shown=column is None), 28) for s in shown]
    custom = [
        [
            esc(segment_name(s)),
            money(s.total, result),
            money(s.top_n_sum, result),
            num(s.hhi_points, 0),
            s.hhi_band or "n/a",
            f"{s.n_entities:,}",
        ]
        for s in shown
    ]
    points = [s.hhi_points for s in shown]
    low, high = HHI_BANDS[result.hhi_bands]
    colors = [
        OKABE_ITO["sky"]
        if p is None or p < low
        else OKABE_ITO["orange"]
        if p <= high
        else OKABE_ITO["vermillion"]
        for p in points
    ]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": f"top-{n} share",
            "y": names,
            "x": [s.top_n_share for s in shown],
            "customdata": custom,
            "marker": {"color": OKABE_ITO["blue"]},
            "hovertemplate": (
                f"%{{customdata[0]}}: top {n} %{{customdata[2]}} of %{{customdata[1]}} "
                "= %{x:.1%} (%{customdata[5]} " + esc(result.labels.entities) + ")<extra></extra>"
            ),
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "HHI (points)",
            "y": names,
            "x": points,
            "xaxis": "x2",
            "customdata": custom,
            "marker": {"color": colors},
            "hovertemplate": "%{customdata[0]}: HHI %{customdata[3]} (%{customdata[4]})<extra></extra>",
        },
    ]
    hidden = len(segs) - len(shown)
    title = f"Concentration by {esc(column or 'segment')}" + (
        f" (largest {len(shown)} of {len(segs)} by {esc(result.labels.value)})" if hidden else ""
    )
    shapes = [
        {
            "type": "line",
            "xref": "x2",
            "x0": edge,
            "x1": edge,
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": color, "dash": "dash", "width": 1.2},
        }
        for edge, color in ((low, OKABE_ITO["orange"]), (high, OKABE_ITO["vermillion"]))
    ]
    layout = _layout(
        "segments",
        title,
        height=max(320, 90 + 28 * len(shown)),
        xaxis=_axis(f"top-{n} share", domain=[0, 0.47], tickformat=".0%", rangemode="tozero"),
        xaxis2=_axis(
            f"HHI (points; bands at {low:,.0f} and {high:,.0f})",
            domain=[0.53, 1],
            anchor="y",
            tickformat=",.0f",
            range=_hhi_range(points, high),
        ),
        yaxis=_axis("", type="category"),
        shapes=shapes,
        showlegend=False,
        hovermode="closest",
    )
    return {"data": data, "layout": layout}

"""The one chart the report has no use for: one entity's share and rank per period.

Built like the charts of :mod:`topshare.charts` (a plain Plotly spec, the same palette, escaped
labels); the dashboard draws it when an entity is clicked.
"""

from __future__ import annotations

from typing import Any

from topshare.charts import FONT, GRID, OKABE_ITO, esc
from topshare.entity import EntitySeries


def entity_figure(series: EntitySeries, value_label: str) -> dict[str, Any] | None:
    """Share of each period's total (bars) and rank (line, right axis, 1 at the top)."""
    if not series.periods:
        return None
    labels = [p.label for p in series.periods]
    money = [f"{p.value:,}" for p in series.periods]
    ranks = [p.rank for p in series.periods]
    axis = {"gridcolor": GRID, "automargin": True}
    return {
        "data": [
            {
                "type": "bar",
                "name": f"share of {esc(value_label)}",
                "x": labels,
                "y": [p.share for p in series.periods],
                "customdata": money,
                "marker": {"color": OKABE_ITO["blue"]},
                "hovertemplate": "%{x}: %{customdata} = %{y:.1%}<extra></extra>",
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "rank (right axis)",
                "x": labels,
                "y": ranks,
                "yaxis": "y2",
                "connectgaps": False,
                "line": {"color": OKABE_ITO["vermillion"], "width": 2},
                "hovertemplate": "%{x}: rank %{y}<extra></extra>",
            },
        ],
        "layout": {
            "meta": {"chart": "entity"},
            "title": {"text": f"{esc(series.entity)} per {series.period}", "x": 0},
            "font": {"family": FONT, "size": 12},
            "xaxis": {**axis, "title": {"text": "period"}, "type": "category"},
            "yaxis": {**axis, "title": {"text": "share of the period's total"},
                      "tickformat": ".1%", "rangemode": "tozero"},
            "yaxis2": {**axis, "title": {"text": "rank"}, "overlaying": "y", "side": "right",
                       "autorange": "reversed", "showgrid": False, "dtick": 1,
                       "tickformat": "d", "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": 1.12},
            "margin": {"t": 70, "r": 60},
            "plot_bgcolor": "#FFFFFF",
            "paper_bgcolor": "#FFFFFF",
        },
    }  # fmt: skip

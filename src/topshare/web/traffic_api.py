"""The dashboard on access logs: ``dimension=`` and ``measure=`` choose the explorer.

A :class:`~topshare.explore_logs.TrafficExplorer` holds one explorer per (dimension, measure),
built from the parsed log on first use; :class:`LogAnswers` answers each request from the one
its ``Ask`` names (the defaults: the ``--by`` and ``--measure`` the server was started with).
Only the dimension names the log has are accepted, never a column name: an unknown one is a
400 with the list of the known ones. The OpenAPI document lists them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from topshare.explore import Explorer
from topshare.explore_logs import TrafficExplorer
from topshare.web.app import Ask, _Answers

#: The query parameters of a log's dashboard, absent from a sales source's document.
PARAMETERS = ("dimension", "measure")


class LogAnswers(_Answers):
    """:class:`~topshare.web.app._Answers` whose explorer is the one of the request's
    dimension and measure."""

    def __init__(self, traffic: TrafficExplorer, bars: int) -> None:
        super().__init__(traffic.default, bars)
        self.traffic = traffic

    def _explorer(self, ask: Ask) -> Explorer:
        return self.traffic.pick(ask.dimension, ask.measure)  # unknown names: UsageError, 400


def document(app: FastAPI, explorer: Explorer | TrafficExplorer) -> None:
    """In the OpenAPI document: the dimensions and measures of this log as enums, or, for a
    source that is not a log, no such parameters at all."""
    build = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        doc = build()
        if not done:
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    params = op.get("parameters", [])
                    if not isinstance(explorer, TrafficExplorer):
                        op["parameters"] = [p for p in params if p.get("name") not in PARAMETERS]
                        continue
                    for param in params:
                        if param.get("name") == "dimension":
                            param["schema"] = {"type": "string", "enum": explorer.dimensions}
                        elif param.get("name") == "measure":
                            param["schema"] = {"type": "string", "enum": explorer.measures}
            done = True
        return doc

    app.openapi = openapi  # type: ignore[method-assign]

"""The dashboard's FastAPI app: the page, its static files and the read-only JSON API.

Every answer comes from one :class:`~topshare.explore.Explorer` (the source was scanned once);
every endpoint of a page view takes the same query parameters and answers with a subset of the
keys of ``Analysis.to_dict()`` (the ``--format json`` shape), so one analysis per distinct set of
parameters serves the whole page. See docs/web.md.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from topshare import __version__
from topshare.analyze import DEFAULT_CR
from topshare.charts import PLOTLY_CONFIG, figures, plotly_js
from topshare.errors import InputError, TopshareError
from topshare.explore import Explorer
from topshare.result import SCHEMA_VERSION, Analysis
from topshare.web.figures import entity_figure
from topshare.web.security import Guard

MAX_TOP = 1000
#: Most periods one answer may hold (ten years of days): a bound on the work of one request.
MAX_PERIODS = 3700
_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365}
_MEMO = 256  # answers kept (JSON-ready dicts); the explorer keeps fewer analyses

SUMMARY_KEYS = (
    "total", "n_entities", "top_n", "top_n_sum", "top_n_share", "tie_at_boundary", "cr", "hhi",
    "hhi_points", "hhi_normalized", "hhi_band", "hhi_bands", "effective_number", "gini",
    "gini_corrected", "theil", "entropy", "pareto", "index_population", "negative", "major",
    "rows", "money", "columns", "source", "date_range", "labels", "warnings", "scale", "scope",
)  # fmt: skip
TOP_KEYS = ("total", "n_entities", "top_n", "top_n_sum", "top_n_share", "tie_at_boundary",
            "top", "others", "labels", "scale", "scope")  # fmt: skip
LORENZ_KEYS = ("n_entities", "gini", "gini_corrected", "pareto", "index_population", "lorenz",
               "labels", "scope")  # fmt: skip
CHURN_KEYS = ("period", "label", "total", "n_entities", "top_n_sum", "top_n_share", "entered",
              "left", "stayed", "share_change")  # fmt: skip
PERIOD_DROP = ("entered", "left", "stayed", "share_change")

PeriodName = Literal["day", "week", "month", "quarter", "year"]


class ErrorDetail(BaseModel):
    status: int
    message: str


class ErrorBody(BaseModel):
    """Every error: a status and one sentence for people (never a stack trace)."""

    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A parameter is not valid (the message says which)"},
    401: {"model": ErrorBody, "description": "A token is required"},
    421: {"model": ErrorBody, "description": "Not a loopback Host name (server without a token)"},
    422: {"model": ErrorBody, "description": "No rows are left in the scope asked for"},
}


@dataclass(frozen=True)
class Ask:
    """The normalised parameters of one page view (hashable: the key of the answer memo)."""

    top: int
    period: str | None
    date_from: date | None
    date_to: date | None
    last: str | None
    filter: tuple[tuple[str, str | None], ...]
    cr: tuple[int, ...]
    pareto: float
    hhi_bands: str


def _ask(
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="N: the size of the top list.")] = 10,
    period: Annotated[
        PeriodName | None, Query(description="Series per day, week, month, quarter or year.")
    ] = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="First day, YYYY-MM-DD (inclusive).")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="Last day, YYYY-MM-DD (inclusive).")
    ] = None,
    last: Annotated[
        str | None,
        Query(
            pattern=r"^[1-9][0-9]{0,3}[dwmqy]$",
            description="Trailing window of whole periods: 30d, 12w, 12m, 4q, 2y.",
        ),
    ] = None,
    filter: Annotated[
        list[str],
        Query(
            description="Keep rows whose segment column has this value: COLUMN=VALUE "
            "(repeatable; COLUMN= for the empty value). Only the served segment columns.",
            max_length=8,
        ),
    ] = [],  # noqa: B006 - FastAPI copies defaults
    cr: Annotated[
        str,
        Query(
            pattern=r"^[1-9][0-9]{0,2}(,[1-9][0-9]{0,2}){0,9}$",
            description="CR_k values, comma separated (each 1..999).",
        ),
    ] = ",".join(map(str, DEFAULT_CR)),
    pareto: Annotated[float, Query(gt=0, le=1, description="Pareto threshold p.")] = 0.8,
    hhi_bands: Annotated[Literal["2023", "2010"], Query(description="HHI bands.")] = "2023",
) -> Ask:
    pairs: list[tuple[str, str | None]] = []
    for item in filter:
        col, sep, value = item.partition("=")
        if not sep or not col:
            raise _BadRequest(f"filter must be COLUMN=VALUE, got {item!r}")
        pairs.append((col, value))
    return Ask(top, period, date_from, date_to, last, tuple(pairs),
               tuple(int(k) for k in cr.split(",")), float(pareto), hhi_bands)  # fmt: skip


class _BadRequest(Exception):
    pass


AskDep = Annotated[Ask, Depends(_ask)]


class _Answers:
    """Analyses (as JSON-ready dicts) and chart specs per :class:`Ask`, computed once each."""

    def __init__(self, explorer: Explorer, bars: int) -> None:
        self.explorer = explorer
        self.bars = bars
        self._lock = threading.Lock()
        self._memo: OrderedDict[Any, Any] = OrderedDict()

    def _where(self, ask: Ask) -> dict[str, str | None]:
        values = self.explorer.segment_values
        out: dict[str, str | None] = {}
        for col, value in ask.filter:
            name = next((c for c in values if c.lower() == col.lower()), None)
            if name is None:
                cols = ", ".join(values) or "none"
                raise _BadRequest(f"unknown segment column {col!r} (segment columns: {cols})")
            out[name] = None if value == "" and "" not in values[name] else value
        return out

    def _check_span(self, ask: Ask) -> None:
        if ask.period is None:
            return
        span = self.explorer.span(date_from=ask.date_from, date_to=ask.date_to, last=ask.last)
        if span and (span[1] - span[0]).days // _DAYS[ask.period] + 1 > MAX_PERIODS:
            raise _BadRequest(
                f"more than {MAX_PERIODS:,} periods of one {ask.period} from {span[0]} to "
                f"{span[1]}: choose a longer period or a shorter date range"
            )

    def analysis(
        self, ask: Ask, *, series: bool = True, segments: bool = True
    ) -> tuple[Analysis, dict[str, Any]]:
        """The analysis for ``ask``; without ``series`` the period is left out (none of the
        overall numbers depends on it), without ``segments`` the segment breakdowns."""
        if not series:  # the period changes none of these numbers: one answer for all
            ask = dataclasses.replace(ask, period=None)
        key = ("a", ask, series, segments)
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit  # type: ignore[no-any-return]
        if series:
            self._check_span(ask)
        result = self.explorer.analyze(
            top=ask.top, cr=ask.cr, pareto=ask.pareto, hhi_bands=ask.hhi_bands,
            period=ask.period if series else None, date_from=ask.date_from, date_to=ask.date_to,
            last=ask.last, where=self._where(ask), segments=None if segments else (),
        )  # fmt: skip
        data = result.to_dict()
        data["filter"] = self._where(ask)
        answer = (result, data)
        self._keep(key, answer)
        return answer

    def charts(self, ask: Ask) -> dict[str, dict[str, Any]]:
        with self._lock:
            hit = self._memo.get(("c", ask))
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        figs = figures(self.analysis(ask)[0], bars=self.bars)
        self._keep(("c", ask), figs)
        return figs

    def entity(self, name: str, ask: Ask) -> dict[str, Any]:
        self._check_span(ask)
        series = self.explorer.entity(
            name, top=ask.top, period=ask.period, date_from=ask.date_from, date_to=ask.date_to,
            last=ask.last, where=self._where(ask),
        )  # fmt: skip
        return {**series.to_dict(), "chart": entity_figure(series, self.explorer.labels.value)}

    def _keep(self, key: Any, value: Any) -> None:
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)


def _head() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "topshare_version": __version__}


def _pick(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {**_head(), **{k: data[k] for k in keys}, "filter": data["filter"]}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


@cache
def _static(name: str) -> bytes:
    return (resources.files("topshare.web") / "static" / name).read_bytes()


@cache
def _plotly() -> bytes:
    return plotly_js().encode()


def create_app(
    explorer: Explorer, *, token: str | None = None, loopback_only: bool = True, bars: int = 30
) -> Any:
    """The ASGI app serving ``explorer``. ``token``: every request must carry it (Bearer header,
    or a cookie set by opening ``/?token=…`` once). ``loopback_only``: refuse requests whose
    Host is not a loopback name (for a server without a token, bound to 127.0.0.1)."""
    answers = _Answers(explorer, bars)
    app = FastAPI(
        title="topshare",
        version=__version__,
        description="Concentration of one source: top-N share, HHI, Gini, Lorenz, Pareto, "
        "periods with churn, segments. Read-only. Money is an exact decimal string.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path"))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(_BadRequest)
    async def _bad(request: Request, exc: _BadRequest) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(TopshareError)
    async def _usage(request: Request, exc: TopshareError) -> JSONResponse:
        return _error(422 if isinstance(exc, InputError) else 400, str(exc))

    @app.exception_handler(LookupError)
    async def _missing(request: Request, exc: LookupError) -> JSONResponse:
        return _error(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        return _error(500, "internal error")  # the details go to the server's log only

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-store"})  # fmt: skip

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> Response:
        return Response(_plotly(), media_type="text/javascript; charset=utf-8",
                        headers={"cache-control": "max-age=3600"})  # fmt: skip

    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("topshare.web") / "static")),
        name="static",
    )

    @app.get("/api/meta", responses=_ERRORS, tags=["api"])
    def meta() -> JSONResponse:
        """What the page needs to draw its controls: columns, date range, segment columns and
        their values, period names, limits."""
        dr = explorer.date_range
        return JSONResponse({
            "schema_version": SCHEMA_VERSION,
            "topshare_version": __version__,
            "source": {"paths": list(explorer.source.paths), "format": explorer.source.format,
                       "files": len(explorer.source.files)},
            "columns": {"entity": explorer.roles.entity, "value": explorer.roles.value,
                        "date": explorer.roles.date},
            "labels": {"entity": explorer.labels.entity, "entities": explorer.labels.entities,
                       "value": explorer.labels.value},
            "date_range": {"first": dr[0].isoformat(), "last": dr[1].isoformat()} if dr else None,
            "segments": explorer.segment_values,
            "periods": list(_DAYS) if explorer.has_date else [],
            "limits": {"top": MAX_TOP, "periods": MAX_PERIODS},
        })  # fmt: skip

    @app.get("/api/summary", responses=_ERRORS, tags=["api"])
    def summary(ask: AskDep) -> JSONResponse:
        """The headline numbers: top-N sum and share, CR_k, HHI, Gini, Theil, entropy, Pareto,
        majors, negatives, rows and money reconciliation, columns, source, scope. (`period`
        changes none of these numbers and is not applied here.)"""
        data = answers.analysis(ask, series=False, segments=False)[1]
        return JSONResponse(_pick(data, SUMMARY_KEYS))

    @app.get("/api/top", responses=_ERRORS, tags=["api"])
    def top(ask: AskDep) -> JSONResponse:
        """The top-N table with its Others row (rows add up to the total)."""
        data = answers.analysis(ask, series=False, segments=False)[1]
        return JSONResponse(_pick(data, TOP_KEYS))

    @app.get("/api/lorenz", responses=_ERRORS, tags=["api"])
    def lorenz(ask: AskDep) -> JSONResponse:
        """The Lorenz curve (at most 1,000 points), the Gini and the Pareto point."""
        data = answers.analysis(ask, series=False, segments=False)[1]
        return JSONResponse(_pick(data, LORENZ_KEYS))

    @app.get("/api/periods", responses=_ERRORS, tags=["api"])
    def periods(ask: AskDep) -> JSONResponse:
        """Every metric per period (needs `period`), empty periods included."""
        data = _needs_period(answers, ask)
        rows = [{k: v for k, v in p.items() if k not in PERIOD_DROP} for p in data["periods"]]
        return JSONResponse({**_pick(data, ("top_n", "labels", "scale", "scope")),
                             "periods": rows})  # fmt: skip

    @app.get("/api/churn", responses=_ERRORS, tags=["api"])
    def churn(ask: AskDep) -> JSONResponse:
        """Who entered, left and stayed in the top N between consecutive periods, and the exact
        decomposition of the change in top-N share (needs `period`)."""
        data = _needs_period(answers, ask)
        rows = [{k: p[k] for k in CHURN_KEYS} for p in data["periods"]]
        return JSONResponse({**_pick(data, ("top_n", "labels", "scale", "scope")),
                             "periods": rows})  # fmt: skip

    @app.get("/api/segments", responses=_ERRORS, tags=["api"])
    def segments(ask: AskDep) -> JSONResponse:
        """Every metric per segment value of the served segment columns (with `period`, each
        segment's series too) and the between/within split of Theil T."""
        data = answers.analysis(ask)[1]
        return JSONResponse(_pick(data, ("top_n", "total", "labels", "scale", "scope",
                                         "segments", "theil_decomposition")))  # fmt: skip

    @app.get("/api/charts", responses=_ERRORS, tags=["api"])
    def charts(
        ask: AskDep,
        chart: Annotated[
            Literal["pareto", "lorenz", "trend", "churn", "segments"] | None,
            Query(description="Only this chart (default: every chart that applies)."),
        ] = None,
    ) -> JSONResponse:
        """The Plotly figure specifications of the page's charts (the same as the HTML report's)
        and the Plotly config they are drawn with."""
        figs = answers.charts(ask)
        if chart is not None:
            if chart not in figs:
                raise _BadRequest(f"no {chart} chart for these parameters (it needs a period "
                                  "or segments)")  # fmt: skip
            figs = {chart: figs[chart]}
        return JSONResponse({"schema_version": SCHEMA_VERSION, "topshare_version": __version__,
                             "charts": figs, "config": PLOTLY_CONFIG})  # fmt: skip

    @app.get(
        "/api/entity",
        responses={**_ERRORS, 404: {"model": ErrorBody, "description": "No such entity"}},
        tags=["api"],
    )
    def entity(
        ask: AskDep,
        name: Annotated[
            str, Query(min_length=1, max_length=1000, description="The entity's key, as written.")
        ],
    ) -> JSONResponse:
        """One entity: its total, share and rank in the scope, and with `period` its value,
        share and rank in every period."""
        return JSONResponse({**_head(), **answers.entity(name, ask),
                             "filter": answers._where(ask)})  # fmt: skip

    _document_filter_values(app, explorer)
    return Guard(app, token=token, loopback_only=loopback_only)


def _document_filter_values(app: FastAPI, explorer: Explorer, most: int = 500) -> None:
    """List the valid ``filter`` values (COLUMN=VALUE, of this source) in the OpenAPI document
    when there are not too many of them."""
    choices = [
        f"{col}={'' if v is None else v}"
        for col, values in explorer.segment_values.items()
        for v in values
    ]
    if not choices or len(choices) > most:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = build()
            for item in doc.get("paths", {}).values():
                for op in item.values():
                    for param in op.get("parameters", []):
                        if param.get("name") == "filter":
                            param["schema"]["items"] = {"type": "string", "enum": choices}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _needs_period(answers: _Answers, ask: Ask) -> dict[str, Any]:
    if ask.period is None:
        raise _BadRequest("this view needs a period: day, week, month, quarter or year")
    data = answers.analysis(ask, segments=False)[1]
    if data["periods"] is None:
        raise _BadRequest("the source has no date column: no periods")
    return data

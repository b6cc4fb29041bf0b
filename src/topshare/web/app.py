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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from topshare import __version__
from topshare.analyze import DEFAULT_CR
from topshare.charts import PLOTLY_CONFIG, figures, plotly_js
from topshare.errors import InputError, TopshareError
from topshare.explore import Explorer
from topshare.explore_logs import TrafficExplorer
from topshare.result import SCHEMA_VERSION, Analysis
from topshare.web.figures import entity_figure
from topshare.web.plain import Plain
from topshare.web.security import Guard

MAX_TOP = 1000
#: Most periods one answer may hold (ten years of days): a bound on the work of one request.
MAX_PERIODS = 3700
_DAYS = {"day": 1, "week": 7, "month": 28, "quarter": 89, "year": 365}
_MEMO = 256  # analyses and chart specs kept; the explorer keeps fewer analyses
_BODY_BYTES = 64 * 2**20  # response bodies kept (least recently used dropped first)

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
    dimension: str | None = None  # access logs only (serve --traffic): a --by name
    measure: str | None = None  # access logs only: hits or bytes


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
    dimension: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Access logs only: the dimension (path, ip, referrer-domain...; "
            "/api/meta lists this log's).",
        ),
    ] = None,
    measure: Annotated[
        Literal["hits", "bytes"] | None, Query(description="Access logs only: hits or bytes.")
    ] = None,
) -> Ask:
    pairs: list[tuple[str, str | None]] = []
    for item in filter:
        col, sep, value = item.partition("=")
        if not sep or not col:
            raise _BadRequest(f"filter must be COLUMN=VALUE, got {item!r}")
        pairs.append((col, value))
    return Ask(top, period, date_from, date_to, last, tuple(pairs),
               tuple(int(k) for k in cr.split(",")), float(pareto), hhi_bands,
               dimension, measure)  # fmt: skip


class _BadRequest(Exception):
    pass


#: Taken by the guard in front of the app (the one-time login), never by a view.
_GUARD_PARAMETERS = frozenset({"token"})


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route declares (its own and its dependencies'), by the names a
    URL spells them with."""
    names: set[str] = set()
    todo = [route.dependant]
    while todo:
        dependant = todo.pop()
        names.update(p.alias for p in dependant.query_params)
        todo.extend(dependant.dependencies)
    return frozenset(names)


def _known_query(hidden: frozenset[str]) -> Callable[[Request], None]:
    """A dependency refusing a query parameter the view does not take (a misspelt
    ``date_from=`` for ``from=`` would otherwise answer for the whole range, silently).
    ``hidden``: parameters this app's document leaves out (the log ones of a sales source;
    they are refused with their own message), not listed among the view's own."""

    def check(request: Request) -> None:
        route = request.scope.get("route")
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/"):
            return  # the page itself: a link may carry anything (tracking tags, say)
        names = _query_names(route)
        for key in request.query_params:
            if key not in names and key not in _GUARD_PARAMETERS:
                known = ", ".join(sorted(names - hidden)) or "none"
                raise _BadRequest(f"unknown query parameter {key!r} (this view takes: {known})")

    return check


AskDep = Annotated[Ask, Depends(_ask)]


class _Answers:
    """Analyses, chart specs and response bodies per :class:`Ask`, computed once each."""

    def __init__(self, explorer: Explorer, bars: int) -> None:
        self.explorer = explorer
        self.bars = bars
        self.plain = Plain()
        self._lock = threading.Lock()
        self._memo: OrderedDict[Any, Any] = OrderedDict()
        self._bodies: OrderedDict[Any, bytes] = OrderedDict()
        self._body_bytes = 0

    def _explorer(self, ask: Ask) -> Explorer:
        """The explorer that answers ``ask`` (one per dimension and measure for a log: see
        :mod:`topshare.web.traffic_api`)."""
        if ask.dimension is not None or ask.measure is not None:
            raise _BadRequest("dimension and measure apply to access logs (serve --traffic)")
        return self.explorer

    def _where(self, ask: Ask) -> dict[str, str | None]:
        values = self._explorer(ask).segment_values
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
        span = self._explorer(ask).span(date_from=ask.date_from, date_to=ask.date_to, last=ask.last)
        if span and (span[1] - span[0]).days // _DAYS[ask.period] + 1 > MAX_PERIODS:
            raise _BadRequest(
                f"more than {MAX_PERIODS:,} periods of one {ask.period} from {span[0]} to "
                f"{span[1]}: choose a longer period or a shorter date range"
            )

    def analysis(self, ask: Ask, *, series: bool = True, segments: bool = True) -> Analysis:
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
        result = self._explorer(ask).analyze(
            top=ask.top, cr=ask.cr, pareto=ask.pareto, hhi_bands=ask.hhi_bands,
            period=ask.period if series else None, date_from=ask.date_from, date_to=ask.date_to,
            last=ask.last, where=self._where(ask), segments=None if segments else (),
        )  # fmt: skip
        self._keep(key, result)
        return result

    def pick(self, ask: Ask, keys: tuple[str, ...], **kind: bool) -> dict[str, Any]:
        """The keys ``keys`` of ``Analysis.to_dict()`` for ``ask``, with the head and filter."""
        result = self.analysis(ask, **kind)
        return {**_head(), **{k: self.plain.key(result, k) for k in keys},
                "filter": self._where(ask)}  # fmt: skip

    def periods(self, ask: Ask, keys: tuple[str, ...] | None, drop: tuple[str, ...] = ()) -> Any:
        """Each period of ``ask``'s series as in ``to_dict()`` (only ``keys``, or all but
        ``drop``)."""
        result = self.analysis(ask, segments=False)
        if result.periods is None:
            raise _BadRequest("the source has no date column: no periods")
        return [self.plain.fields(p, result.scale, keys, drop) for p in result.periods]

    def charts(self, ask: Ask) -> dict[str, dict[str, Any]]:
        with self._lock:
            hit = self._memo.get(("c", ask))
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        # The charts read the series of the whole scope and the overall numbers of each
        # segment value, never a segment's own series: the analysis of the periods and that
        # of the segments (shared with those views) draw what the full analysis would.
        if ask.period is None:
            result = self.analysis(ask)
        else:
            by_segment = self.analysis(ask, series=False).segments
            result = dataclasses.replace(self.analysis(ask, segments=False), segments=by_segment)
        figs = figures(result, bars=self.bars)
        self._keep(("c", ask), figs)
        return figs

    def entity(self, name: str, ask: Ask) -> dict[str, Any]:
        self._check_span(ask)
        series = self._explorer(ask).entity(
            name, top=ask.top, period=ask.period, date_from=ask.date_from, date_to=ask.date_to,
            last=ask.last, where=self._where(ask),
        )  # fmt: skip
        value = self._explorer(ask).labels.value
        return {**series.to_dict(), "chart": entity_figure(series, value)}

    def respond(self, key: Any, build: Callable[[], Any]) -> Response:
        """The JSON response of ``build()``, its body kept per ``key`` (a view and its Ask)."""
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
        if body is None:
            body = _json_bytes(build())
            with self._lock:
                if key not in self._bodies:
                    self._bodies[key] = body
                    self._body_bytes += len(body)
                while self._body_bytes > _BODY_BYTES and len(self._bodies) > 1:
                    self._body_bytes -= len(self._bodies.popitem(last=False)[1])
        return Response(body, media_type="application/json")

    def _keep(self, key: Any, value: Any) -> None:
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)


def _json_bytes(content: Any) -> bytes:
    """``JSONResponse(content).body``: compact UTF-8 JSON, written by orjson (a long series is
    thousands of rows: 35 ms in ``json.dumps``, 4 in orjson). The same values; a float may be
    spelled another way (``0.00001`` for ``1e-05``). Anything orjson refuses (an integer past
    64 bits, a key that is not a string) is written by the standard library, as before."""
    try:
        return orjson.dumps(content)
    except TypeError:
        return bytes(JSONResponse(content).body)


def _head() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "topshare_version": __version__}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


@cache
def _static(name: str) -> bytes:
    return (resources.files("topshare.web") / "static" / name).read_bytes()


@cache
def _plotly() -> bytes:
    return plotly_js().encode()


def create_app(
    explorer: Explorer | TrafficExplorer,
    *,
    token: str | None = None,
    loopback_only: bool = True,
    bars: int = 30,
) -> Any:
    """The ASGI app serving ``explorer`` (or the explorers of an access log, chosen per request
    by ``dimension`` and ``measure``). ``token``: every request must carry it (Bearer header,
    or a cookie set by opening ``/?token=…`` once). ``loopback_only``: refuse requests whose
    Host is not a loopback name (for a server without a token, bound to 127.0.0.1)."""
    from topshare.web import traffic_api

    log = isinstance(explorer, TrafficExplorer)
    answers = (
        traffic_api.LogAnswers(explorer, bars)
        if isinstance(explorer, TrafficExplorer)
        else _Answers(explorer, bars)
    )
    log_keys = ("traffic",) if log else ()  # the format, bot share, visitors of the top rows
    app = FastAPI(
        title="topshare",
        version=__version__,
        description="Concentration of one source: top-N share, HHI, Gini, Lorenz, Pareto, "
        "periods with churn, segments. Read-only. Money is an exact decimal string.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(_known_query(frozenset(() if log else traffic_api.PARAMETERS)))],
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
            **({"traffic": explorer.describe()} if isinstance(explorer, TrafficExplorer) else {}),
        })  # fmt: skip

    def overall(ask: Ask, view: str, keys: tuple[str, ...]) -> Response:
        ask = dataclasses.replace(ask, period=None)  # not applied: one answer for every period
        return answers.respond(
            (view, ask), lambda: answers.pick(ask, keys, series=False, segments=False)
        )

    @app.get("/api/summary", responses=_ERRORS, tags=["api"])
    def summary(ask: AskDep) -> Response:
        """The headline numbers: top-N sum and share, CR_k, HHI, Gini, Theil, entropy, Pareto,
        majors, negatives, rows and money reconciliation, columns, source, scope. (`period`
        changes none of these numbers and is not applied here.)"""
        return overall(ask, "summary", SUMMARY_KEYS + log_keys)

    @app.get("/api/top", responses=_ERRORS, tags=["api"])
    def top(ask: AskDep) -> Response:
        """The top-N table with its Others row (rows add up to the total)."""
        return overall(ask, "top", TOP_KEYS + log_keys)

    @app.get("/api/lorenz", responses=_ERRORS, tags=["api"])
    def lorenz(ask: AskDep) -> Response:
        """The Lorenz curve (at most 1,000 points), the Gini and the Pareto point."""
        return overall(ask, "lorenz", LORENZ_KEYS)

    def series(
        ask: Ask, view: str, keys: tuple[str, ...] | None, drop: tuple[str, ...]
    ) -> Response:
        if ask.period is None:
            raise _BadRequest("this view needs a period: day, week, month, quarter or year")

        def build() -> dict[str, Any]:
            rows = answers.periods(ask, keys, drop)
            head = answers.pick(ask, ("top_n", "labels", "scale", "scope"), segments=False)
            return {**head, "periods": rows}

        return answers.respond((view, ask), build)

    @app.get("/api/periods", responses=_ERRORS, tags=["api"])
    def periods(ask: AskDep) -> Response:
        """Every metric per period (needs `period`), empty periods included."""
        return series(ask, "periods", None, PERIOD_DROP)

    @app.get("/api/churn", responses=_ERRORS, tags=["api"])
    def churn(ask: AskDep) -> Response:
        """Who entered, left and stayed in the top N between consecutive periods, and the exact
        decomposition of the change in top-N share (needs `period`)."""
        return series(ask, "churn", CHURN_KEYS, ())

    @app.get("/api/segments", responses=_ERRORS, tags=["api"])
    def segments(ask: AskDep) -> Response:
        """Every metric per segment value of the served segment columns (with `period`, each
        segment's series too) and the between/within split of Theil T."""
        keys = ("top_n", "total", "labels", "scale", "scope", "segments", "theil_decomposition")
        return answers.respond(("segments", ask), lambda: answers.pick(ask, keys))

    @app.get("/api/charts", responses=_ERRORS, tags=["api"])
    def charts(
        ask: AskDep,
        chart: Annotated[
            Literal["pareto", "lorenz", "trend", "churn", "segments"] | None,
            Query(description="Only this chart (default: every chart that applies)."),
        ] = None,
    ) -> Response:
        """The Plotly figure specifications of the page's charts (the same as the HTML report's)
        and the Plotly config they are drawn with."""
        figs = answers.charts(ask)
        if chart is not None:
            if chart not in figs:
                raise _BadRequest(f"no {chart} chart for these parameters (it needs a period "
                                  "or segments)")  # fmt: skip
            figs = {chart: figs[chart]}
        return answers.respond(("charts", chart, ask), lambda: {
            "schema_version": SCHEMA_VERSION, "topshare_version": __version__, "charts": figs,
            "config": PLOTLY_CONFIG,
        })  # fmt: skip

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
    ) -> Response:
        """One entity: its total, share and rank in the scope, and with `period` its value,
        share and rank in every period."""
        return answers.respond(("entity", name, ask), lambda: {
            **_head(), **answers.entity(name, ask), "filter": answers._where(ask),
        })  # fmt: skip

    _document_filter_values(app, explorer)
    traffic_api.document(app, explorer)
    return Guard(app, token=token, loopback_only=loopback_only)


def _document_filter_values(
    app: FastAPI, explorer: Explorer | TrafficExplorer, most: int = 500
) -> None:
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

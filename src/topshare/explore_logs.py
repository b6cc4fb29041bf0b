"""Access logs in the dashboard: the log parsed once, one explorer per (dimension, measure).

:func:`open_traffic_explorer` parses the log once (:func:`topshare.logs.open_log`), with every
dimension its format has materialised in the parsed table. An :class:`~topshare.explore.Explorer`
of one ``--by`` dimension and one measure (hits or bytes) is then built from that table the
first time it is asked for: the same one scan as :func:`topshare.cache.scan` (cells of entity x
day x segment values, the rejection accounting with file:line), run on the parsed table, not on
the files. Its analyses are those of :func:`topshare.traffic.traffic` for the same options,
with the log's own block (format, skipped lines, bot share, visitors of the top rows).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis.expr.datatypes as dt

from topshare import resident
from topshare.backend import connect
from topshare.cache import Cache, Progress, quiet, release, scan_source
from topshare.columns import map_roles, resolve
from topshare.errors import TopshareError, UsageError
from topshare.explore import Explorer, warm
from topshare.logs import (
    DIMENSIONS,
    MEASURES,
    LogOptions,
    LogSource,
    _schema,
    has_visitors,
    open_log,
    visitors,
)
from topshare.periods import check_tz
from topshare.result import Analysis, Labels
from topshare.sources import paths_of
from topshare.traffic import LogInput, labels_for, log_options, segment_columns, window_days

#: The explorers of a log kept at once (dimension x measure pairs, the default included).
MAX_EXPLORERS = 6
#: Visitor counts kept per (date window, filter, top keys) for the requests of one explorer.
_WINDOWED_KEPT = 256


class LogExplorer(Explorer):
    """The explorer of one dimension and measure of a parsed log; its analyses carry the
    log's block (``Analysis.traffic``), as :func:`topshare.traffic.traffic` gives it."""

    def __init__(
        self,
        cache: Cache,
        cells: resident.Resident | None,
        log: LogInput,
        view: LogSource,
        seen: dict[str, int] | None,
        con_lock: threading.RLock | None = None,
    ) -> None:
        super().__init__(cache, cells)
        self.dimension = log.options.by
        self.measure = log.options.measure
        self._log = log
        self._view = view
        self._seen = seen  # visitors of every key over the whole log (no window, no filter)
        self._windowed: OrderedDict[Any, dict[str, int]] = OrderedDict()  # (scope, keys)
        # The log's one connection answers one query at a time (shared by every dimension).
        self._windowed_lock = con_lock or threading.RLock()

    def analyze(self, **kw: Any) -> Analysis:
        result = super().analyze(**kw)
        first, last = window_days(result)
        filt = self._where(kw.get("where"))  # known segment columns and values only
        if self._seen is None or (first is None and last is None and not filt):
            return self._log.finish(self._view, result, self._seen)
        # A date window or a filter: the visitors of the top keys within it (one query, kept).
        keys = [r.entity for r in result.top]
        memo = (first, last, filt, tuple(keys))
        with self._windowed_lock:
            counts = self._windowed.get(memo)
            if counts is None:
                dim = DIMENSIONS[self.dimension]
                counts = visitors(self._view, dim, keys, first, last, filt)
                self._windowed[memo] = counts
                while len(self._windowed) > _WINDOWED_KEPT:
                    self._windowed.popitem(last=False)
        return self._log.finish(self._view, result, counts)


class TrafficExplorer:
    """A parsed log and its explorers, one per (dimension, measure), built on first use.

    :meth:`pick` gives the explorer of a dimension and measure; the attributes the web app
    reads without one (source, labels, date range, segment values...) are the default's.
    """

    def __init__(
        self,
        con: Any,
        src: LogSource,
        opts: LogOptions,
        segments: list[list[str]],
        strict: bool,
        tz: str,
        progress: Progress | None = None,
    ) -> None:
        self._con = con
        self._src = src
        self._opts = opts  # the user's options (their --by, --measure and --segment)
        self._segments = segments  # the segment specs, as columns of the parsed table
        self._strict = strict
        self._tz = tz
        self._lock = threading.RLock()
        self._explorers: dict[tuple[str, str], LogExplorer] = {}
        self._failed: dict[tuple[str, str], TopshareError] = {}  # e.g. --strict, no rows
        self._visitors: dict[str, dict[str, int] | None] = {}
        parsed = set(src.opts.dims())
        #: The --by names this log can be explored by (those its format has the fields for).
        self.dimensions = [d for d, col in DIMENSIONS.items() if col in parsed]
        #: hits, and bytes when the format has a size field.
        self.measures = [m for m in MEASURES if m == "hits" or "bytes" in src._fields()]
        self.dimension = opts.by
        self.measure = opts.measure
        for seg in (s for spec in segments for s in spec):
            if seg not in parsed:
                raise UsageError(
                    f"{self._where()}: the log format ({src.log.name}) has no field for "
                    f"--segment {seg.replace('_', '-')}"
                )
        self.default = self._explorers[(self.dimension, self.measure)] = self._build(
            self.dimension, self.measure, progress
        )

    # ---- the default explorer's description (what the page needs before a choice) --------
    @property
    def source(self) -> LogSource:
        return self._src

    @property
    def roles(self) -> Any:
        return self.default.roles

    @property
    def labels(self) -> Labels:
        return self.default.labels

    @property
    def has_date(self) -> bool:
        return self.default.has_date

    @property
    def rows_read(self) -> int:
        return self.default.rows_read

    @property
    def date_range(self) -> tuple[datetime, datetime] | None:
        return self.default.date_range

    @property
    def segment_values(self) -> dict[str, list[str | None]]:
        return self.default.segment_values

    def describe(self) -> dict[str, Any]:
        """The ``traffic`` block of ``/api/meta``: dimensions, measures, defaults, bots."""
        info = self._src.info
        agents = "user_agent" in self._src._fields()
        return {
            "format": info.format,
            "format_spec": info.format_spec,
            "dimensions": [
                {"name": d, "entity": label.entity, "entities": label.entities}
                for d, label in ((d, labels_for(d, "hits")) for d in self.dimensions)
            ],
            "measures": list(self.measures),
            "dimension": self.dimension,
            "measure": self.measure,
            "bots": self._opts.bots,
            "lines": info.lines,
            "all_hits": info.all_hits,
            "bot_hits": info.bot_hits,
            "bot_share_hits": info.bot_hits / info.all_hits if agents and info.all_hits else None,
        }

    # ---- explorers --------------------------------------------------------------------------
    def pick(self, dimension: str | None = None, measure: str | None = None) -> LogExplorer:
        """The explorer of ``dimension`` (a ``--by`` name) and ``measure`` (default: the ones
        the log was opened with), built from the parsed table the first time."""
        by = self.dimension if dimension is None else dimension
        what = self.measure if measure is None else measure
        if by not in self.dimensions:
            raise UsageError(
                f"unknown dimension {by!r} for this log (dimensions: {', '.join(self.dimensions)})"
            )
        if what not in self.measures:
            raise UsageError(
                f"unknown measure {what!r} for this log (measures: {', '.join(self.measures)})"
            )
        key = (by, what)
        hit = self._explorers.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._explorers.get(key)
            if hit is None:
                if key in self._failed:  # the same one-line error, without scanning again
                    raise self._failed[key]
                try:
                    hit = self._explorers[key] = self._build(by, what)
                except TopshareError as exc:
                    self._failed[key] = exc
                    raise
                self._forget_old(keep=key)
            return hit

    def _forget_old(self, keep: tuple[str, str]) -> None:
        """Keep at most :data:`MAX_EXPLORERS` explorers (the default always): the oldest built
        other than the default is forgotten, its cells freed when no request holds it (a later
        request builds it again). Any request can name any dimension: without a bound, a server
        would keep every dimension x measure of the log in memory."""
        default = (self.dimension, self.measure)
        while len(self._explorers) > MAX_EXPLORERS:
            old = next(k for k in self._explorers if k not in (default, keep))
            del self._explorers[old]  # in memory: its engine tables went at its build

    def _build(self, by: str, measure: str, progress: Progress | None = None) -> LogExplorer:
        opts = dataclasses.replace(self._opts, by=by, measure=measure, every_dimension=False)
        view = copy.copy(self._src)  # the same parsed table, seen through another dimension
        view.opts = opts
        view._tmpdir = None  # the spool files (stdin) belong to the parsed source
        columns = {"time": dt.string, "bytes": dt.int64, **dict.fromkeys(opts.dims(), dt.string)}
        view.columns = columns
        view._schema = _schema(columns)
        cache = _scan(self._con, view, labels_for(by, measure), self._segments, self._tz,
                      self._strict, progress)  # fmt: skip
        col = DIMENSIONS[by]
        if col not in self._visitors:
            self._visitors[col] = visitors(view, col, None) if has_visitors(view) else None
        cols = list(cache.seg_names)
        cells = resident.load(
            cache.cells, [cache.seg_names[c] for c in cols], [cache.values[c] for c in cols],
            cache.entities, cache.tot.scale, True,
        )  # fmt: skip
        explorer = LogExplorer(
            cache, cells, LogInput(view.paths, opts), view, self._visitors[col], self._lock
        )
        if cells is None:  # answered in the engine: share the one connection's lock
            explorer._lock = self._lock
        else:
            warm(explorer)
            release(cache)  # answered from memory from now on: the engine's copy can go
        return explorer

    def _where(self) -> str:
        return self._src.where()

    def close(self) -> None:
        with self._lock:
            for explorer in self._explorers.values():
                explorer._res = None
            self._explorers.clear()
            self._src.close()
            self._con.disconnect()

    def __enter__(self) -> TrafficExplorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _scan(
    con: Any,
    src: LogSource,
    labels: Labels,
    specs: list[list[str]],
    tz: str,
    strict: bool,
    progress: Progress | None,
) -> Cache:
    """The one scan of :func:`topshare.cache.scan`, on the parsed log of ``src`` (its
    ``opts.by`` and ``opts.measure``) rather than on files."""
    say = progress or quiet
    hits = src.opts.measure == "hits"
    where = src.where()
    roles = map_roles(
        src.columns, where, entity=DIMENSIONS[src.opts.by], value=None if hits else "bytes",
        date="time", count=hits, entity_label=labels.entity, value_label="amount",
    )  # fmt: skip
    seg_cols = list(dict.fromkeys(
        resolve(c, list(src.columns), where, "segment") for spec in specs for c in spec
    ))  # fmt: skip
    opts: dict[str, Any] = {"date_format": src.log.time_format, "decimal_comma": False}
    src.check_roles(roles, opts)
    stage = f"scanning the requests by {src.opts.by} ({src.opts.measure})"
    return scan_source(con, src, roles, seg_cols, specs, opts, labels, tz, strict, say, stage)


def open_traffic_explorer(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    by: str = "path",
    measure: str = "hits",
    log_format: str | None = None,
    keep_query: bool = False,
    group: Sequence[str | tuple[str, str]] = (),
    exclude_bots: bool = False,
    only_bots: bool = False,
    geoip: str | os.PathLike[str] | None = None,
    fields: Sequence[str | tuple[str, str]] = (),
    segments: Sequence[str] = (),
    strict: bool = False,
    tz: str | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> TrafficExplorer:
    """Open access logs for the dashboard (the reading keyword arguments of
    :func:`topshare.traffic.traffic`): parse them once with every dimension their format has,
    and build the explorer of ``by`` and ``measure`` (the others on first use)."""
    say = progress or quiet
    opts = log_options(
        by=by, measure=measure, log_format=log_format, keep_query=keep_query, group=group,
        exclude_bots=exclude_bots, only_bots=only_bots, geoip=geoip, fields=fields,
        segments=segments,
    )  # fmt: skip
    specs = segment_columns(segments)
    tz = check_tz(tz)
    paths = paths_of(source)
    con = connect(threads=threads, tz=tz)
    src: LogSource | None = None
    try:
        say("parsing the log (every dimension)", None)
        src = open_log(con, paths, dataclasses.replace(opts, every_dimension=True))
        return TrafficExplorer(con, src, opts, specs, strict, tz, progress)
    except BaseException:
        if src is not None:
            src.close()
        con.disconnect()
        raise

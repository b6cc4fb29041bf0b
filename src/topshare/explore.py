"""``Explorer``: scan a source once, then answer many analyses from an aggregated cache.

Opening reads the source exactly once, in the engine, into a table of *cells*: the valid rows
summed per (entity, day, segment values), with their row counts and first/last timestamps, plus
the rejected rows per reason and file. The rejection accounting of the whole source (counts,
examples with file:line, money in) is computed at that moment, exactly as :func:`topshare.analyze`
does it. Every later :meth:`Explorer.analyze` call (any N, period, date window, segment filter)
reads only that cache: it regroups the cells of the scope into the same tables the one scan of
``analyze()`` would have made, and runs the same collection, metrics and slicing code on them, so
the two agree to the cent.

Rows left out by a date window or a segment filter are valid rows outside the scope: they are
counted in ``rows.out_of_range`` and ``money.out_of_range`` (the money still reconciles).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from topshare import inmemory, resident
from topshare.analyze import (
    DEFAULT_CR,
    PathArg,
    _build,
    _check_options,
    _check_segments,
    _Scope,
)
from topshare.breakdown import over_time_and_segments
from topshare.cache import Cache, Progress, _drop, release, scan
from topshare.engine import (
    Prepared,
    RejectStat,
    Totals,
    collect,
    regroup,
)
from topshare.entity import EntityPeriod, EntitySeries, rank_in
from topshare.errors import InputError, UsageError
from topshare.metrics import share
from topshare.money import exact_sum, normalize, to_decimal
from topshare.periods import (
    PERIODS,
    Window,
    check_period,
    label,
    parse_day,
    parse_last,
    period_range,
    trailing,
    window,
)
from topshare.rejections import (
    run,
)
from topshare.resident import Resident
from topshare.result import Analysis, Labels

_ids = itertools.count(1)
#: Analyses kept per explorer (the same question asked twice is answered from memory).
CACHE_SIZE = 32


class Explorer:
    """A source opened once (see the module docstring); use :func:`open_explorer` to build one.

    Thread-safe: queries on the engine are serialised on its one connection; questions
    answered from the cells in memory run side by side.
    """

    def __init__(self, cache: Cache, resident: Resident | None = None) -> None:
        self._cache = cache
        self._res = resident  # the cells in memory (None: every query runs in the engine)
        self._con = cache.con
        self.source = cache.source
        self.roles = cache.roles
        self._tot_all = cache.tot
        self._all_units: int | None = None  # exact sum of every entity's total, made once
        self.rejections = cache.rejections
        self._rows_read = cache.rows_read
        self._money_in = cache.money_in_units
        self.labels = cache.labels
        self.tz = cache.tz
        self.segments = cache.segments  # the segment specs broken down by default
        self._entities = cache.entities  # temp table of every valid entity key
        self._lock = threading.RLock()  # the engine connection
        self._memo_lock = threading.Lock()
        self._memo: OrderedDict[Any, Any] = OrderedDict()

    # ---- what the explorer knows without a query ------------------------------------------
    @property
    def scale(self) -> int:
        return self._tot_all.scale

    @property
    def rows_read(self) -> int:
        return self._rows_read

    @property
    def has_date(self) -> bool:
        return self.roles.date is not None

    @property
    def segment_columns(self) -> list[str]:
        """The segment columns cached (the only ones a query may name)."""
        return list(self._cache.seg_names)

    @property
    def segment_values(self) -> dict[str, list[str | None]]:
        return {c: list(v) for c, v in self._cache.values.items()}

    @property
    def date_range(self) -> tuple[datetime, datetime] | None:
        t = self._tot_all
        return (t.date_min, t.date_max) if t.date_min and t.date_max else None

    def has_entity(self, key: str) -> bool:
        if self._res is not None:
            return key in self._res.key_id
        with self._lock:
            t = self._entities
            hit = t.filter(t.key == key).limit(1).to_pyarrow()  # (execute() imports pandas)
            return bool(hit.num_rows)

    def close(self) -> None:
        with self._lock:
            self._res = None  # the arrays are freed; a closed explorer answers nothing
            self._con.disconnect()

    def __enter__(self) -> Explorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- queries ----------------------------------------------------------------------------
    def analyze(
        self,
        *,
        top: int = 10,
        cr: Sequence[int] = DEFAULT_CR,
        pareto: float = 0.8,
        hhi_bands: str = "2023",
        period: str | None = None,
        segments: Sequence[str | Sequence[str]] | None = None,
        date_from: str | date | None = None,
        date_to: str | date | None = None,
        last: str | None = None,
        where: Mapping[str, str | None] | None = None,
    ) -> Analysis:
        """The :class:`~topshare.result.Analysis` of the cached source for these options, equal
        to what :func:`topshare.analyze` returns for them. ``segments`` (default: the ones the
        explorer was opened with) are broken down; ``where`` keeps only the rows whose segment
        columns have the given values (the others count as out of range)."""
        ks = _check_options(top, cr, pareto, hhi_bands)
        scope = self._scope(period, segments, date_from, date_to, last)
        filt = self._where(where)
        key = ("analyze", top, tuple(ks), float(pareto), hhi_bands, _scope_key(scope), filt)
        hit = self._recall(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        res = self._res
        if res is not None:  # no lock: the arrays are read-only, the kept groups have their own
            result = inmemory.analysis(self, res, top, ks, pareto, hhi_bands, scope, filt)
        else:
            with self._lock:  # one query at a time on the one engine connection
                result = self._analyze(top, ks, pareto, hhi_bands, scope, filt)
        self._remember(key, result)
        return result

    def entity(
        self,
        key: str,
        *,
        top: int = 10,
        period: str | None = None,
        date_from: str | date | None = None,
        date_to: str | date | None = None,
        last: str | None = None,
        where: Mapping[str, str | None] | None = None,
    ) -> EntitySeries:
        """One entity's total, share and rank in the scope, and per period when ``period`` is
        given (every period of the scope, with zero where the entity has no rows)."""
        _check_options(top, DEFAULT_CR, 0.8, "2023")
        scope = self._scope(period, (), date_from, date_to, last)
        filt = self._where(where)
        memo_key = ("entity", key, top, _scope_key(scope), filt)
        hit = self._recall(memo_key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        if not self.has_entity(key):
            raise LookupError(f"no {self.labels.entity} {key!r} in the source")
        res = self._res
        if res is not None:
            result = inmemory.entity(self, res, key, top, scope, filt)
        else:
            with self._lock:
                result = self._entity(key, top, scope, filt)
        self._remember(memo_key, result)
        return result

    def _recall(self, key: Any) -> Any:
        with self._memo_lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
            return hit

    def _remember(self, key: Any, value: Any) -> None:
        with self._memo_lock:
            self._memo[key] = value
            while len(self._memo) > CACHE_SIZE:
                self._memo.popitem(last=False)

    def _scope(
        self,
        period: str | None,
        segments: Sequence[str | Sequence[str]] | None,
        date_from: str | date | None,
        date_to: str | date | None,
        last: str | None,
    ) -> _Scope:
        specs = self.segments if segments is None else _check_segments(segments)
        resolved = [[self._segment_column(c) for c in spec] for spec in specs]
        scope = _Scope(
            period=check_period(period),
            first=parse_day(date_from, "--from"),
            last_day=parse_day(date_to, "--to"),
            last=parse_last(last),
            last_text=last,
            tz=self.tz,
            segments=resolved,
        )
        if scope.last and (scope.first or scope.last_day):
            raise UsageError("give either --last or --from/--to, not both")
        if scope.first or scope.last_day:
            window(scope.first, scope.last_day)  # checks the order of the bounds
        if scope.needs_date and self.roles.date is None:
            raise UsageError(
                f"{self._where_name()}: {scope.needs_date} needs a date column and none was "
                "found; name it with --date COLUMN"
            )
        return scope

    def _segment_column(self, name: str) -> str:
        cols = self.segment_columns
        for c in cols:
            if c == name or c.lower() == name.lower():
                return c
        known = ", ".join(cols) if cols else "none"
        raise UsageError(f"unknown segment column {name!r} (segment columns: {known})")

    def _where(self, where: Mapping[str, str | None] | None) -> tuple[tuple[str, Any], ...]:
        out: dict[str, str | None] = {}
        for name, value in (where or {}).items():
            col = self._segment_column(name)
            if value not in self._cache.values[col]:
                raise UsageError(f"{col} has no value {value!r}")
            out[col] = value
        return tuple(sorted(out.items()))

    def _where_name(self) -> str:
        return self.source.where()

    def _window(self, scope: _Scope) -> Window | None:
        if scope.first or scope.last_day:
            return window(scope.first, scope.last_day)
        if scope.last is None:
            return None
        latest = self._tot_all.date_max  # the last date of a valid row, as analyze() finds it
        if latest is None:
            return None
        try:
            return trailing(scope.last, latest)
        except (ValueError, OverflowError):
            raise UsageError(f"--last {scope.last_text} reaches outside the calendar") from None

    def span(
        self,
        *,
        date_from: str | date | None = None,
        date_to: str | date | None = None,
        last: str | None = None,
    ) -> tuple[date, date] | None:
        """The first and last day a period series of this window covers (None: no dates)."""
        scope = self._scope(None, (), date_from, date_to, last)
        win = self._window(scope)
        t = self._tot_all
        first = (win.first_day if win else None) or (t.date_min.date() if t.date_min else None)
        last_day = (win.last_day if win else None) or (t.date_max.date() if t.date_max else None)
        return (first, last_day) if first and last_day else None

    def _table(self, win: Window | None, period: str | None) -> Any:
        """The cache's cells by day, or (no window, no period) the smaller table without days."""
        return self._cache.cells if win is not None or period else self._cache.undated

    def _in_scope(self, win: Window | None, filt: tuple[tuple[str, Any], ...], c: Any) -> Any:
        """The condition a valid cell of ``c`` meets when it is inside the query's scope."""
        cond = ibis.literal(True)
        if win is not None and win.first_day is not None:
            cond = cond & (c.day >= ibis.literal(win.first_day, type=dt.date))
        if win is not None and win.last_day is not None:
            cond = cond & (c.day <= ibis.literal(win.last_day, type=dt.date))
        for col, value in filt:
            seg = c[self._cache.seg_names[col]]
            cond = cond & (seg.isnull() if value is None else (seg == value).fill_null(False))
        return cond

    def _cells(self, scope: _Scope, win: Window | None, filt: tuple[tuple[str, Any], ...]) -> Any:
        """The cells the one scan of analyze() would have made for this scope (a temp table)."""
        c = self._table(win, scope.period)
        inside = c.filter(c.reason.isnull() & self._in_scope(win, filt, c))
        seg_cols = self._seg_cols(scope)
        cols: dict[str, Any] = {"reason": inside.reason, "key": inside.key}
        extra = []
        if scope.period:
            cols["period"] = inside.day.truncate(PERIODS[scope.period]).cast(dt.date)
            extra.append("period")
        for col in seg_cols:
            name = self._cache.seg_names[col]
            cols[name] = inside[name]
            extra.append(name)
        cols.update(value=inside.value, rows=inside.rows, known=inside.known)
        if self.has_date:
            cols.update(date_min=inside.date_min, date_max=inside.date_max)
        expr = regroup(inside.select(**cols), ["reason", "key", *extra], self.has_date)
        return self._con.create_table(f"__topshare_q{next(_ids)}", expr, temp=True), extra

    def _seg_cols(self, scope: _Scope) -> list[str]:
        return list(dict.fromkeys(c for spec in scope.segments for c in spec))

    def _outside(
        self,
        win: Window | None,
        filt: tuple[tuple[str, Any], ...],
        inside: Totals,
        inside_units: int | None = None,
    ) -> RejectStat | None:
        """The valid rows outside the scope (what analyze() counts as out of range): the whole
        source's valid rows less those inside, exactly (a valid row's amount is always known)."""
        if win is None and not filt:
            return None
        rows = self._tot_all.rows_valid - inside.rows_valid
        if not rows:
            return None
        if self._all_units is None:
            self._all_units = exact_sum(self._tot_all.units)
        units = self._all_units - (
            exact_sum(inside.units) if inside_units is None else inside_units
        )
        return RejectStat("out_of_range", rows, units, 0)

    def _query_totals(
        self, scope: _Scope, win: Window | None, filt: tuple[tuple[str, Any], ...], fetch: int
    ) -> tuple[Totals, Any, Prepared, list[Any]]:
        if win is None and not filt and not scope.period and not self._seg_cols(scope):
            # The whole source, no series: the per-entity table of the one scan as it is.
            cells, extra, temp = self._cache.totals, [], []
        else:
            cells, extra = self._cells(scope, win, filt)
            temp = [cells]
        totals = cells
        if extra:
            regrouped = regroup(cells, ["reason", "key"], self.has_date)
            totals = self._con.create_table(f"__topshare_q{next(_ids)}", regrouped, temp=True)
            temp.append(totals)
        prepared = Prepared(
            table=None,
            scale=self.scale,
            has_date=self.has_date,
            period=PERIODS[scope.period] if scope.period else None,
            segments=tuple(self._cache.seg_names[c] for c in self._seg_cols(scope)),
        )
        src = self.source
        tot = run(src, lambda: collect(totals, prepared, fetch))
        tot = dataclasses.replace(
            tot, rejected=self._tot_all.rejected, out_of_range=self._outside(win, filt, tot)
        )
        return tot, cells, prepared, temp

    def _analyze(
        self,
        top: int,
        ks: list[int],
        pareto: float,
        bands: str,
        scope: _Scope,
        filt: tuple[tuple[str, Any], ...],
    ) -> Analysis:
        win = self._window(scope)
        tot, cells, prepared, temp = self._query_totals(scope, win, filt, max(top + 1, max(ks)))
        try:
            if tot.rows_valid == 0:
                raise self._no_rows(tot, win)
            result = _build(
                tot, ks, top, pareto, bands, self.roles, self.source, self.rejections,
                self._rows_read, self._money_in, self.labels,
            )  # fmt: skip
            full: Analysis = run(self.source, lambda: over_time_and_segments(
                result, cells, tot, prepared, scope, win, self._seg_cols(scope), top, pareto,
                bands,
            ))  # fmt: skip
            return full
        finally:
            for t in temp:
                _drop(self._con, t)

    def _no_rows(self, tot: Totals, win: Window | None) -> InputError:
        parts = [f"{r.rows:,} {r.reason}" for r in self.rejections]
        if tot.out_of_range and win:
            parts.append(
                f"{tot.out_of_range.rows:,} outside {win.first_day or '…'} to {win.last_day or '…'}"
            )
        elif tot.out_of_range:
            parts.append(f"{tot.out_of_range.rows:,} outside the segment filter")
        detail = "; ".join(parts) or "no data rows"
        return InputError(
            f"{self.source.name(self.source.files[0])}: no rows left to analyse ({detail})"
        )

    def _entity(
        self, key: str, top: int, scope: _Scope, filt: tuple[tuple[str, Any], ...]
    ) -> EntitySeries:
        """Straight from the cache: the per-entity totals of each group of the scope, and the
        entity's rank among them (value desc, key asc), counted in the engine."""
        win = self._window(scope)
        c = self._table(win, scope.period)
        inside = c.filter(c.reason.isnull() & self._in_scope(win, filt, c))
        overall = rank_in(inside, key, None, self.scale)
        row = overall[0] if overall else None
        periods = None
        if scope.period:
            found = {
                r["period"]: r for r in rank_in(inside, key, PERIODS[scope.period], self.scale)
            }
            first = (win.first_day if win else None) or min(found, default=None)
            last = (win.last_day if win else None) or max(found, default=None)
            starts = period_range(first, last, scope.period) if first and last else []
            periods = [self._entity_period(s, scope.period, found.get(s), top) for s in starts]
        rank = int(row["rank"]) if row and row["rank"] is not None else None
        return EntitySeries(
            entity=key,
            value=self._dec(row["units"] if row else 0),
            share=share(row["units"], row["total"]) if row else None,
            rank=rank,
            rows=int(row["rows"]) if row else 0,
            n_entities=int(row["n"]) if row else 0,
            top_n=top,
            in_top_n=rank is not None and rank <= top,
            period=scope.period,
            periods=periods,
        )

    def _entity_period(
        self, start: date, period: str, row: dict[str, Any] | None, top: int
    ) -> EntityPeriod:
        if row is None or row["rank"] is None:
            share_ = share(0, row["total"]) if row else None  # rows in the period, none its own
            return EntityPeriod(start, label(start, period), self._dec(0), share_, None, False)
        rank = int(row["rank"])
        return EntityPeriod(
            start,
            label(start, period),
            self._dec(row["units"]),
            share(row["units"], row["total"]),
            rank,
            rank <= top,
        )

    def _dec(self, units: int) -> Decimal:
        return normalize(to_decimal(units, self.scale), scale=self.scale)


def _scope_key(scope: _Scope) -> tuple[Any, ...]:
    return (scope.period, scope.first, scope.last_day, scope.last, scope.tz,
            tuple(tuple(spec) for spec in scope.segments))  # fmt: skip


def open_explorer(
    source: PathArg | Sequence[PathArg],
    *,
    customer: str | None = None,
    amount: str | None = None,
    date: str | bool | None = None,
    entity: str | None = None,
    value: str | None = None,
    count: bool = False,
    strict: bool = False,
    format: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    decimal_comma: bool = False,
    labels: Labels | None = None,
    threads: int | None = None,
    segments: Sequence[str | Sequence[str]] = (),
    tz: str | None = None,
    progress: Progress | None = None,
    in_memory: bool = True,
) -> Explorer:
    """Open ``source`` (the reading keyword arguments of :func:`topshare.analyze`) and scan it
    once into the cache (:func:`topshare.cache.scan`). ``progress`` is told each stage.
    ``in_memory``: hold the cells as numpy arrays and answer from them (:mod:`topshare.resident`);
    False keeps every query in the engine."""
    cache = scan(
        source, customer=customer, amount=amount, date=date, entity=entity, value=value,
        count=count, strict=strict, format=format, delimiter=delimiter, header=header,
        encoding=encoding, date_format=date_format, decimal_comma=decimal_comma, labels=labels,
        threads=threads, segments=segments, tz=tz, progress=progress,
    )  # fmt: skip
    if not in_memory:
        return Explorer(cache)
    try:
        if progress:
            progress("holding the cells in memory", None)
        cols = list(cache.seg_names)
        res = resident.load(
            cache.cells, [cache.seg_names[c] for c in cols], [cache.values[c] for c in cols],
            cache.entities, cache.tot.scale, cache.roles.date is not None,
        )  # fmt: skip
        explorer = Explorer(cache, res)
        if res is not None:
            release(cache)  # nothing reads the engine's copy of the cells any more
            if progress:
                progress("computing the first views", None)
            warm(explorer)
        return explorer
    except BaseException:
        cache.con.disconnect()
        raise


#: Most filter values whose groups are computed at open (beyond them: on first use).
WARM_FILTERS = 64


def warm(explorer: Explorer) -> None:
    """Compute the groups the page asks for before any window is chosen: the whole source with
    its segments, its series per day, week, month, quarter and year, the segments per month
    (the page's default), and for each value of each segment column (the filter control) the
    same without the daily series. Windows that cover whole periods reuse these groups.
    The whole source's series are answered whole at the page's N (10); for a filter value
    only the groups and their indices are made (its rows and churn when an N is asked)."""
    explorer.analyze()
    periods = [p for p in PERIODS if explorer.has_date]
    for period in periods:
        explorer.analyze(period=period, segments=None if period == "month" else ())
    res = explorer._res
    filters = [(c, v) for c, values in explorer.segment_values.items() for v in values]
    for col, value in filters[:WARM_FILTERS]:
        explorer.analyze(where={col: value}, segments=())
        for period in periods[1:]:
            if res is not None:
                inmemory.warm_series(explorer, res, period, explorer._where({col: value}))
            else:
                explorer.analyze(period=period, where={col: value}, segments=())

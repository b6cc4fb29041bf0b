"""The one scan of an explorer: a source read once into an aggregated cache in the engine.

The valid rows are summed per (entity, day, segment values) with their row counts and first and
last timestamps (stored in day order, so that a date window reads only the row groups it
covers), the same cells without the day, the per-entity totals, and the rejected rows per reason
and file. The rejection accounting of the whole source (counts, examples with file:line, money
in) is computed here, once, exactly as :func:`topshare.analyze` does it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from topshare.analyze import PathArg, _check_segments
from topshare.backend import connect
from topshare.breakdown import resolve_in
from topshare.columns import Roles, map_roles, resolve
from topshare.engine import Prepared, Totals, aggregate, collect, prepare, regroup
from topshare.errors import InputError, RejectedRowsError, UsageError
from topshare.periods import check_tz
from topshare.rejections import (
    build_rejections,
    engine_totals,
    refuse_wrong_encoding,
    run,
    strict_message,
)
from topshare.result import Labels, Rejection
from topshare.sources import FILE_COL, Source, open_source, paths_of, validate_delimiter

_ids = itertools.count(1)
#: Told the name of each stage of opening as it starts, with None; and while the one scan runs,
#: the same name again with the fraction of the scan done (0 to 1) when the engine can tell.
Progress = Callable[[str, float | None], None]
#: How often the scan's progress is told (seconds).
PROGRESS_EVERY = 0.25


def quiet(stage: str, done: float | None) -> None:
    """The :data:`Progress` that tells no one."""


@dataclass(frozen=True)
class Cache:
    """Everything an explorer knows after its one scan."""

    con: Any
    source: Source  # closed (its spool files removed): only its description is used
    roles: Roles
    prepared: Prepared
    tot: Totals  # the whole source: rejections, date range
    rejections: list[Rejection]
    rows_read: int
    money_in_units: int
    labels: Labels
    tz: str
    segments: list[list[str]]  # the segment specs, resolved
    cells: Any  # (reason, key, [day], seg0.., value, rows, known, date_min, date_max)
    totals: Any  # (reason, key, value, rows, known, date_min, date_max): per entity
    undated: Any  # the cells without the day: (reason, key, seg0.., value, rows, ...)
    seg_names: dict[str, str]  # segment column -> its name in the cells (seg0, seg1...)
    values: dict[str, list[str | None]]  # the distinct values of every segment column
    entities: Any  # (key): every valid entity


def scan(
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
) -> Cache:
    """Scan ``source`` once (the reading keyword arguments of :func:`topshare.analyze`) into
    the cache; ``progress`` is told each stage ("reading the source", ...)."""
    say = progress or quiet
    if customer is not None and entity is not None and customer != entity:
        raise UsageError("give either customer= or entity=, not both")
    if amount is not None and value is not None and amount != value:
        raise UsageError("give either amount= or value=, not both")
    ent_col = customer if customer is not None else entity
    val_col = amount if amount is not None else value
    labels = labels or Labels(value="orders" if count else "revenue")
    specs = _check_segments(segments)
    tz = check_tz(tz)
    con = connect(threads=threads, tz=tz)
    try:
        paths = paths_of(source)
        say("reading the source", None)
        with open_source(
            con, list(paths), format=format, delimiter=validate_delimiter(delimiter), header=header,
            encoding=encoding,
        ) as src:  # fmt: skip
            where = src.where()
            roles = map_roles(
                src.columns, where, entity=ent_col, value=val_col, date=date, count=count,
                content_types=src.content_types if not src.header else None,
                entity_label=labels.entity, value_label="amount",
            )  # fmt: skip
            seg_cols = list(dict.fromkeys(
                resolve(c, list(src.columns), where, "segment") for spec in specs for c in spec
            ))  # fmt: skip
            specs = [[resolve_in(seg_cols, c) for c in spec] for spec in specs]
            opts = {"date_format": date_format, "decimal_comma": decimal_comma}
            return scan_source(con, src, roles, seg_cols, specs, opts, labels, tz, strict, say)
    except BaseException:
        con.disconnect()
        raise


def scan_source(
    con: Any,
    src: Source,
    roles: Roles,
    seg_cols: list[str],
    specs: list[list[str]],
    opts: dict[str, Any],
    labels: Labels,
    tz: str,
    strict: bool,
    say: Progress,
    stage: str = "scanning every row once into the cache",
) -> Cache:
    """The one scan of an opened source (files, or a parsed log seen through one dimension)
    whose roles and segment columns are known: the cells, totals and rejection accounting."""
    first = src.name(src.files[0])
    prepared = prepare(
        src.table, roles, file_col=FILE_COL, segments=tuple(seg_cols),
        period="day" if roles.date is not None else None, **opts,
    )  # fmt: skip
    say(stage, None)
    totals, cells = run(src, lambda: watched(con, say, stage, lambda: aggregate(con, prepared)))
    malformed = src.malformed()
    refuse_wrong_encoding(src, malformed)
    tot = run(src, lambda: collect(totals, prepared, 11))
    money_in_units, rows_total = engine_totals(totals, prepared.scale)
    say("finding examples of rejected rows", None)
    rejections = build_rejections(src, roles, tot, malformed, labels, opts)
    if strict and rejections:
        raise RejectedRowsError(strict_message(rejections))
    if tot.rows_valid == 0:
        detail = "; ".join(f"{r.rows:,} {r.reason}" for r in rejections) or "no data rows"
        raise InputError(f"{first}: no rows left to analyse ({detail})")
    say("indexing the cache", None)
    if roles.date is not None:
        # Stored in day order: a date window then reads only the row groups whose days it
        # covers (DuckDB keeps the min and max of each row group).
        day_cells = cells.rename(day="period").order_by("day")
        ordered = con.create_table(f"__topshare_days_{next(_ids)}", day_cells, temp=True)
        if totals is not cells:
            _drop(con, cells)
        cells = ordered
    undated = cells
    if roles.date is not None and prepared.segments:
        per_segment = regroup(cells, ["reason", "key", *prepared.segments], True)
        undated = con.create_table(f"__topshare_undated_{next(_ids)}", per_segment, temp=True)
    elif roles.date is not None:
        undated = totals
    seg_names = dict(zip(seg_cols, prepared.segments, strict=True))
    ents = con.create_table(
        f"__topshare_entities_{next(_ids)}",
        totals.filter(totals.reason.isnull()).select("key"),
        temp=True,
    )
    return Cache(
        con=con, source=src, roles=roles, prepared=prepared, tot=tot, rejections=rejections,
        rows_read=rows_total + len(malformed), money_in_units=money_in_units, labels=labels,
        tz=tz, segments=specs, cells=cells, totals=totals, undated=undated, seg_names=seg_names,
        values=_segment_values(cells, seg_names), entities=ents,
    )  # fmt: skip


def watched(con: Any, say: Progress, stage: str, work: Callable[[], Any]) -> Any:
    """``work()`` (one long query on ``con``, topshare's DuckDB), with ``say(stage, fraction)``
    told every :data:`PROGRESS_EVERY` seconds from another thread while it runs (DuckDB's
    estimate of the running query, never going back; told only when it has one)."""
    if say is quiet:
        return work()
    raw = con.con
    raw.execute("SET enable_progress_bar = true")
    raw.execute("SET enable_progress_bar_print = false")  # the estimate only, nothing printed
    stop = threading.Event()

    def watch() -> None:
        best = 0.0  # the estimate can step back (another pipeline of the query): never shown
        while not stop.wait(PROGRESS_EVERY):
            done = raw.query_progress()  # safe from another thread; -1: no estimate yet
            if done >= 0:
                best = max(best, min(float(done), 100.0) / 100.0)
                say(stage, best)

    watcher = threading.Thread(target=watch, name="topshare-progress", daemon=True)
    watcher.start()
    try:
        return work()
    finally:
        stop.set()
        watcher.join()
        raw.execute("SET enable_progress_bar = false")


def _segment_values(cells: Any, seg_names: dict[str, str]) -> dict[str, list[str | None]]:
    """The distinct values of each segment column among the valid rows (None last)."""
    out: dict[str, list[str | None]] = {}
    valid = cells.filter(cells.reason.isnull())
    for col, name in seg_names.items():
        got = valid.select(v=valid[name]).distinct().to_pyarrow()["v"].to_pylist()
        out[col] = sorted((v for v in got if v is not None), key=str) + (
            [None] if None in got else []
        )
    return out


def _drop(con: Any, table: Any) -> None:
    """Drop a temporary table of this connection (the query's own, never the cache)."""
    name = table.op().name  # one of ours: letters, digits and underscores only
    con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')


def release(cache: Cache) -> None:
    """Drop the cache's tables from the engine (cells, per-entity totals, undated cells,
    entities): for an explorer that holds the cells in memory (:mod:`topshare.resident`) and
    never queries the engine again. Its small facts (totals, rejections, segment values) stay."""
    for table in {
        id(t): t for t in (cache.cells, cache.totals, cache.undated, cache.entities)
    }.values():
        name = getattr(table.op(), "name", "")
        if isinstance(name, str) and name.startswith("__topshare_"):
            cache.con.con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')

"""The period series and the segment breakdowns of an analysis, in two halves.

:func:`plan` asks the engine for the groups it needs (queries, on the caller's thread) and
returns a job that does the arithmetic (numpy and Python, no engine). ``analyze()`` runs that
job on a thread of its own while the engine sums the cells per entity and counts the rejected
rows: on a large file the two take about as long, so the series costs little extra time.
:func:`over_time_and_segments` runs both halves one after the other.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from topshare import grid, slices
from topshare.engine import Prepared, Totals
from topshare.errors import UsageError
from topshare.periods import Window
from topshare.result import Analysis, Period, Scope, Segment, TheilSplit

if TYPE_CHECKING:
    from topshare.analyze import _Scope

#: ``fetch(by)``: the groups of the cells by ``by``, queried now and laid out when called.
Fetch = Callable[[list[str]], Callable[[], grid.Groups]]
#: The arithmetic half, run once: told by the event when its caller has stopped waiting.
Job = Callable[[threading.Event], "Sliced"]


@dataclass(frozen=True)
class Sliced:
    """What the job of :func:`plan` computed."""

    periods: list[Period] | None
    segments: list[Segment] | None
    theil: list[Callable[[int], TheilSplit]] | None  # told the number of entities


def engine_fetch(cells: Any, prepared: Prepared) -> Fetch:
    """``fetch`` on the engine's cells: one query each, the layout left to the job."""

    def fetch(by: list[str]) -> Callable[[], grid.Groups]:
        table = grid.fetch(cells, by, prepared.dims)
        return lambda: grid.layout(table, by, prepared.scale)

    return fetch


def plan(
    span: tuple[datetime | None, datetime | None],
    prepared: Prepared,
    scope: _Scope,
    win: Window | None,
    seg_cols: list[str],
    top: int,
    pareto: float,
    bands: str,
    fetch: Fetch,
    count: Callable[[list[str]], int],
) -> Job:
    """Query the groups of the series and segments (``span``: the first and last date of the
    valid rows); the returned job computes them without the engine, on any thread. A segment
    with too many values fetches nothing: the job raises that error (when the caller asks for
    the result, after its own checks, as it did before the job had a thread)."""
    opt = slices.Options(top, pareto, bands, prepared.scale)
    seg_name = dict(zip(seg_cols, prepared.segments, strict=True))
    specs = []
    for spec in scope.segments:
        cols = [resolve_in(seg_cols, c) for c in spec]
        by = [seg_name[c] for c in cols]
        values = count(by)
        if values > grid.MAX_SEGMENT_VALUES:
            return _refuse(UsageError(
                f"--segment {','.join(cols)}: {values:,} distinct values; a segment is a "
                f"column with few values (at most {grid.MAX_SEGMENT_VALUES:,}), such as a "
                "region or a channel"
            ))  # fmt: skip
        specs.append((cols, by))
    first = (win.first_day if win else None) or (span[0].date() if span[0] else None)
    last = (win.last_day if win else None) or (span[1].date() if span[1] else None)
    period_args = (first, last, scope.period) if scope.period and first and last else None
    # Each view's table is dropped once the job has computed it (so a job runs once).
    views: list[Callable[[], grid.Groups] | None] = []
    if period_args:
        views.append(fetch(["period"]))
    for _, by in specs:
        views += [fetch(by), fetch([*by, "period"]) if period_args else None]

    def job(stop: threading.Event) -> Sliced:
        periods = None
        if period_args is not None:
            layout = views.pop(0)
            assert layout is not None
            periods = slices.series(layout(), (), *period_args, opt)
            del layout
        if not scope.segments:
            return Sliced(periods, None, None)
        segments: list[Segment] = []
        theil: list[Callable[[int], TheilSplit]] = []
        for cols, _ in specs:
            if stop.is_set():
                raise Cancelled
            groups_of, per_period_of = views.pop(0), views.pop(0)
            assert groups_of is not None
            groups = groups_of()
            per_period = per_period_of() if per_period_of else None
            del groups_of, per_period_of
            segments += slices.segments(groups, cols, opt, per_period, period_args)
            theil.append(slices.theil_of(groups, cols))
            del groups, per_period
        return Sliced(periods, segments, theil)

    return job


def _refuse(error: Exception) -> Job:
    def job(stop: threading.Event) -> Sliced:
        raise error

    return job


def attach(
    result: Analysis,
    sliced: Sliced,
    n_entities: int,
    scope: _Scope,
    win: Window | None,
    seg_cols: list[str],
) -> Analysis:
    """``result`` with the scope, the series and the segments of ``sliced``."""
    return dataclasses.replace(
        result,
        scope=Scope(
            period=scope.period,
            first_day=win.first_day if win else None,
            last_day=win.last_day if win else None,
            last=scope.last_text if scope.last else None,
            tz=scope.tz,
            segments=[[resolve_in(seg_cols, c) for c in spec] for spec in scope.segments],
        ),
        periods=sliced.periods,
        segments=sliced.segments,
        theil_decomposition=(
            None if sliced.theil is None else [split(n_entities) for split in sliced.theil]
        ),
    )


def over_time_and_segments(
    result: Analysis,
    cells: Any,
    tot: Totals,
    prepared: Prepared,
    scope: _Scope,
    win: Window | None,
    seg_cols: list[str],
    top: int,
    pareto: float,
    bands: str,
    load: Callable[[list[str]], grid.Groups] | None = None,
    count: Callable[[list[str]], int] | None = None,
) -> Analysis:
    """Both halves at once: the series and the segments from the engine's cells (or from
    ``load(by) -> grid.Groups`` and ``count(by) -> int`` when the cells live elsewhere)."""
    fetch = engine_fetch(cells, prepared) if load is None else _ready(load)
    count = count or (lambda by: grid.count_groups(cells, by))
    job = plan(
        (tot.date_min, tot.date_max), prepared, scope, win, seg_cols, top, pareto, bands,
        fetch, count,
    )  # fmt: skip
    return attach(result, job(threading.Event()), int(tot.units.size), scope, win, seg_cols)


class Cancelled(Exception):
    """The caller of :func:`start` stopped waiting (its own step failed): the job gives up."""


class Pending:
    """A job of :func:`plan` running on a thread of its own (see :func:`start`)."""

    def __init__(self, job: Job) -> None:
        self._stop = threading.Event()
        self._out: list[Sliced] = []
        self._failed: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._work, args=(job,), name="topshare-breakdown", daemon=True
        )
        self._thread.start()

    def _work(self, job: Job) -> None:
        try:
            self._out.append(job(self._stop))
        except BaseException as e:  # handed to the caller, raised on its thread
            self._failed.append(e)

    def result(self) -> Sliced:
        """Wait for the job; its result, or its error raised here."""
        self._thread.join()
        if self._failed:
            raise self._failed[0]
        return self._out[0]

    def cancel(self) -> None:
        """Ask the job to stop at its next view (the caller does not wait for it)."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()


def start(job: Job) -> Pending:
    """Run ``job`` on a thread of its own. The job spends most of its time in numpy and Arrow,
    which release the GIL, as does DuckDB: the caller's engine queries run meanwhile."""
    return Pending(job)


def _ready(load: Callable[[list[str]], grid.Groups]) -> Fetch:
    def fetch(by: list[str]) -> Callable[[], grid.Groups]:
        groups = load(by)
        return lambda: groups

    return fetch


def resolve_in(resolved: list[str], name: str) -> str:
    """The resolved spelling of a segment column given in any case."""
    return name if name in resolved else next(c for c in resolved if c.lower() == name.lower())

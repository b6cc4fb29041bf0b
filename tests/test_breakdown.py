"""The job of the series and segments, run off the engine's thread by analyze() (that its answers
equal the explorer's, computed one half after the other, is tested in test_explore.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import topshare
from helpers import Writer
from topshare import breakdown, slices
from topshare.breakdown import Sliced

SALES = "customer,amount,date,region\n" + "".join(
    f"c{i % 9},{i % 13 + 1}.25,2024-{1 + i % 4:02d}-{1 + i % 27:02d},r{i % 3}\n" for i in range(80)
)


def test_start_hands_back_the_result_computed_on_another_thread() -> None:
    seen: list[str] = []

    def job(stop: threading.Event) -> Sliced:
        seen.append(threading.current_thread().name)
        return Sliced([], None, None)

    assert breakdown.start(job).result() == Sliced([], None, None)
    assert seen == ["topshare-breakdown"]


def test_start_raises_the_jobs_error_on_the_callers_thread() -> None:
    def job(stop: threading.Event) -> Sliced:
        raise ValueError("broken job")

    with pytest.raises(ValueError, match="broken job"):
        breakdown.start(job).result()


def test_the_real_job_stops_at_its_next_view_once_cancelled(
    write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """analyze()'s own job, run again with its stop event set: it gives up before a segment."""
    jobs: list[breakdown.Job] = []
    real_start = breakdown.start

    def keep(job: breakdown.Job) -> breakdown.Pending:
        jobs.append(job)
        return real_start(job)

    monkeypatch.setattr(breakdown, "start", keep)
    r = topshare.analyze(write("s.csv", SALES), segments=["region"])
    assert r.segments is not None
    assert [s.segment["region"] for s in r.segments] == ["r0", "r1", "r2"]
    (job,) = jobs
    stop = threading.Event()
    stop.set()
    with pytest.raises(breakdown.Cancelled):
        job(stop)


def test_a_failure_after_the_scan_cancels_the_job(
    write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--strict fails on the main thread while the job runs: the job is told to stop."""
    pending: list[breakdown.Pending] = []
    real_start = breakdown.start

    def keep(job: breakdown.Job) -> breakdown.Pending:
        pending.append(real_start(job))
        return pending[-1]

    monkeypatch.setattr(breakdown, "start", keep)
    path = write("bad.csv", SALES + "c1,not a number,2024-01-02,r0\n")
    with pytest.raises(topshare.RejectedRowsError):
        topshare.analyze(path, period="month", segments=["region"], strict=True)
    (p,) = pending
    assert p.cancelled


def test_an_error_inside_the_job_is_one_line_naming_the_source(
    write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error of the arithmetic (here a MemoryError, as on a very large series) reaches the
    caller as the one-line error of the engine's steps, not as a bare exception."""

    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(slices, "series", out_of_memory)
    path = write("s.csv", SALES)
    with pytest.raises(topshare.InputError, match=r"s\.csv: MemoryError"):
        topshare.analyze(path, period="month")


def test_strict_is_reported_before_a_segment_with_too_many_values(write: Writer) -> None:
    """The order of the errors is the one before the job had a thread: rejected rows under
    --strict first, then the segment that is not one."""
    from topshare.grid import MAX_SEGMENT_VALUES

    rows = "".join(f"c{i},1.00,s{i}\n" for i in range(MAX_SEGMENT_VALUES + 1))
    path = write("many.csv", "customer,amount,store\n" + rows + "c0,oops,s0\n")
    with pytest.raises(topshare.RejectedRowsError, match="oops"):
        topshare.analyze(path, segments=["store"], strict=True)
    with pytest.raises(topshare.UsageError, match=r"--segment store: 10,001 distinct values"):
        topshare.analyze(path, segments=["store"])

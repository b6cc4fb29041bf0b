"""The job of the series and segments, run off the engine's thread by analyze() (that its answers
equal the explorer's, computed one half after the other, is tested in test_explore.py)."""

from __future__ import annotations

import threading

import pytest

from topshare import breakdown
from topshare.breakdown import Sliced


def test_start_hands_back_the_result_computed_on_another_thread() -> None:
    seen: list[str] = []

    def job() -> Sliced:
        seen.append(threading.current_thread().name)
        return Sliced([], None, None)

    assert breakdown.start(job)() == Sliced([], None, None)
    assert seen == ["topshare-breakdown"]


def test_start_raises_the_jobs_error_on_the_callers_thread() -> None:
    def job() -> Sliced:
        raise ValueError("broken job")

    wait = breakdown.start(job)
    with pytest.raises(ValueError, match="broken job"):
        wait()

"""Test helpers: run the real ``topshare`` command; the type of the ``write`` fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str | Path, stdin: bytes | None = None, cwd: Path | None = None) -> Run:
    """Run ``python -m topshare`` as a user would, in a subprocess."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "topshare", *map(str, args)],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


#: ``write(name, text)`` -> path of a new file in the test's own folder.
Writer = Callable[[str, str | bytes], Path]

#!/usr/bin/env python3
"""Project tasks, with nothing but Python 3.11+ and pip on the machine.

    python3 dev.py demo      # set up .venv, generate the demo store, print its report
    python3 dev.py test      # set up .venv, then lint, type-check and run the whole test suite
    python3 dev.py bench     # set up .venv with the benchmark extras and run benchmarks/run.py

Set-up is idempotent: the virtual environment is (re)installed only when pyproject.toml changes.
Extra arguments after the task are passed on (to topshare demo, pytest, or the benchmark).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT)
    if code:
        sys.exit(code)


def setup(extras: str) -> None:
    """Create .venv and install the project with ``extras`` when anything changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit("topshare needs Python 3.11 or newer")
    stamp = VENV / f".installed-{extras}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"+ creating virtual environment {VENV.name}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    stamp.write_text(digest)


def main(argv: list[str]) -> None:
    task, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if task == "demo":
        setup("dev")
        run(BIN / "topshare", "demo", *rest)
    elif task == "test":
        setup("dev")
        run(PY, "-m", "ruff", "check", ".")
        run(PY, "-m", "ruff", "format", "--check", ".")
        run(PY, "-m", "mypy")
        run(PY, "-m", "pytest", *rest)
    elif task == "bench":
        setup("dev,bench")
        run(PY, "benchmarks/run.py", *rest)
    else:
        print(__doc__)
        sys.exit(0 if task in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])

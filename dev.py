#!/usr/bin/env python3
"""Project tasks, with nothing but Python 3.11+ and pip on the machine.

    python3 dev.py demo      # set up .venv, generate the demo store, print its report
    python3 dev.py test      # set up .venv, then lint, type-check and run the whole test suite
    python3 dev.py bench     # set up .venv with the benchmark extras and run benchmarks/run.py

Set-up is idempotent: the virtual environment is (re)installed only when pyproject.toml changes.
Extra arguments after the task are passed on (to topshare demo, pytest, or the benchmark).
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable
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
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]" if extras else ".")
    stamp.write_text(digest)


#: Debian packages the real-part tests drive, and how to tell each is there: Chromium (browser
#: tests), a PostgreSQL server (started on loopback by the tests), Java 17 (Spark, local mode).
SYSTEM_PACKAGES: dict[str, tuple[str, Callable[[], bool]]] = {
    "chromium": ("the browser tests", lambda: Path("/usr/bin/chromium").exists()),
    "postgresql": (
        "the PostgreSQL engine tests",
        lambda: bool(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("pg_ctl")),
    ),
    "openjdk-17-jre-headless": (
        "the Spark tests",
        lambda: bool(shutil.which("java") or os.environ.get("JAVA_HOME")),
    ),
}


def ensure_system_packages() -> None:
    """Install the missing ones with apt-get (as root), in one update and one install. Without
    root, say which tests will fail (they fail under CI rather than skip)."""
    missing = [name for name, (_, present) in SYSTEM_PACKAGES.items() if not present()]
    if not missing or os.name != "posix":
        return
    if os.geteuid() == 0:
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        run("apt-get", "update")
        run("apt-get", "install", "-y", "--no-install-recommends", *missing)
        return
    for name in missing:
        print(
            f"dev.py: {name} is missing and this is not root, so it cannot be installed here: "
            f"{SYSTEM_PACKAGES[name][0]} cannot run (they fail under CI). Install it with "
            f"`sudo apt-get install -y --no-install-recommends {name}`.",
            file=sys.stderr,
            flush=True,
        )


def main(argv: list[str]) -> None:
    task, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if task == "demo":
        setup("")  # the demo needs topshare only, not the test tools, Spark or the browser
        run(BIN / "topshare", "demo", *rest)
    elif task == "test":
        setup("dev")
        run(PY, "-m", "ruff", "check", ".")
        run(PY, "-m", "ruff", "format", "--check", ".")
        run(PY, "-m", "mypy")
        ensure_system_packages()
        run(PY, "-m", "pytest", *rest)
    elif task == "bench":
        setup("dev,bench")
        run(PY, "benchmarks/run.py", *rest)
    else:
        print(__doc__)
        sys.exit(0 if task in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])

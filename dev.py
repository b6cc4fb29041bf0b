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
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]" if extras else ".")
    stamp.write_text(digest)


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """The browser tests drive Debian's chromium: install it (as root) when it is missing."""
    if CHROMIUM.exists():
        return
    if os.name == "posix" and os.geteuid() == 0:
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        run("apt-get", "update")
        run("apt-get", "install", "-y", "--no-install-recommends", "chromium")
        return
    print(
        f"dev.py: {CHROMIUM} is missing and this is not root, so it cannot be installed here: "
        "the browser tests will fail. Install it with "
        "`sudo apt-get install -y --no-install-recommends chromium`.",
        file=sys.stderr,
        flush=True,
    )


def ensure_postgres() -> None:
    """The engine tests start a real PostgreSQL server (Debian's postgresql package): install it
    (as root) when initdb/pg_ctl are missing."""
    import glob
    import shutil

    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") or shutil.which("pg_ctl")
    if found or os.name != "posix":
        return
    if os.geteuid() == 0:
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        run("apt-get", "update")
        run("apt-get", "install", "-y", "--no-install-recommends", "postgresql")
        return
    print(
        "dev.py: PostgreSQL (initdb, pg_ctl) is missing and this is not root: the PostgreSQL "
        "engine tests will be skipped (they fail under CI). Install it with "
        "`sudo apt-get install -y --no-install-recommends postgresql`.",
        file=sys.stderr,
        flush=True,
    )


def ensure_java() -> None:
    """The Spark tests run Spark in local mode, which needs Java 17: install Debian's
    openjdk-17-jre-headless (as root) when no `java` is found."""
    import shutil

    if shutil.which("java") or os.environ.get("JAVA_HOME") or os.name != "posix":
        return
    if os.geteuid() == 0:
        os.environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
        run("apt-get", "update")
        run("apt-get", "install", "-y", "--no-install-recommends", "openjdk-17-jre-headless")
        return
    print(
        "dev.py: Java is missing and this is not root: the Spark tests will be skipped (they "
        "fail under CI). Install it with "
        "`sudo apt-get install -y --no-install-recommends openjdk-17-jre-headless`.",
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
        ensure_chromium()
        ensure_postgres()
        ensure_java()
        run(PY, "-m", "pytest", *rest)
    elif task == "bench":
        setup("dev,bench")
        run(PY, "benchmarks/run.py", *rest)
    else:
        print(__doc__)
        sys.exit(0 if task in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])

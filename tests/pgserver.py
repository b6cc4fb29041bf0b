"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, on loopback.

``initdb`` in a temporary directory (as the ``postgres`` OS user when running as root), then
``pg_ctl start`` on 127.0.0.1 with a free port; stopped and removed at the end. Connections
from 127.0.0.1 are trusted, except for the role ``analyst`` (password ``s3cret pw``), which
must authenticate: the credential tests use it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ANALYST = "analyst"
ANALYST_PASSWORD = "s3cret pw"  # a space: the URL must percent-encode it


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def url(self, user: str = "postgres", password: str | None = None, db: str = "postgres") -> str:
        from urllib.parse import quote

        auth = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{db}"


def find_binary(name: str) -> str | None:
    """``name`` from Debian's versioned directory (newest first), else from the PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version, reverse=True)
    return found[0] if found else shutil.which(name)


def _version(path: str) -> float:
    try:
        return float(path.split("/")[4])
    except (IndexError, ValueError):
        return 0.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres() -> Iterator[Server]:
    """Start a throw-away server; raises RuntimeError with the reason when it cannot."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("initdb/pg_ctl not found (install Debian's postgresql package)")
    root = os.geteuid() == 0
    tmp = tempfile.mkdtemp(prefix="topshare-pg-")
    data = os.path.join(tmp, "data")
    user = "postgres" if root else None
    if root:
        shutil.chown(tmp, user="postgres")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def call(*cmd: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, user=user, env=env, check=False)
        if proc.returncode:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed: {proc.stderr.strip()[-500:]}")

    port = _free_port()
    try:
        call(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
             "--no-sync")  # fmt: skip
        with open(os.path.join(data, "pg_hba.conf"), "w", encoding="utf-8") as hba:
            hba.write(
                "local all all trust\n"
                f"host all {ANALYST} 127.0.0.1/32 scram-sha-256\n"
                "host all all 127.0.0.1/32 trust\n"
            )
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        call(pg_ctl, "-D", data, "-o", opts, "-l", os.path.join(tmp, "log"), "-w", "-t", "60",
             "start")  # fmt: skip
        server = Server("127.0.0.1", port)
        _create_analyst(server)
        yield server
    finally:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"],
                           capture_output=True, user=user, env=env, check=False)  # fmt: skip
        shutil.rmtree(tmp, ignore_errors=True)


def _create_analyst(server: Server) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as con:
        con.execute(f"CREATE ROLE {ANALYST} LOGIN PASSWORD '{ANALYST_PASSWORD}'")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ANALYST}")
        con.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ANALYST}"
        )

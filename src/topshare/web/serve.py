"""Serving helpers for the CLI: the bind rule, one in-process request (``--get``), uvicorn."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any
from urllib.parse import urlsplit

from topshare.errors import UsageError
from topshare.web.security import is_loopback


def check_bind(host: str, token: str | None) -> None:
    """Loopback needs nothing; any other address needs a token (it is reachable by others)."""
    if not is_loopback(host) and not token:
        raise UsageError(
            f"--host {host} is reachable from other machines: give a --token (or set "
            "TOPSHARE_TOKEN), or bind to 127.0.0.1"
        )
    if token is not None and len(token) < 16:
        raise UsageError("the token must be at least 16 characters long")


def get_once(app: Any, target: str, token: str | None = None) -> tuple[int, bytes]:
    """Answer one GET request in-process (no socket): (status, body)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        raise UsageError(f"--get takes a path such as /api/summary?top=20, got {target!r}")
    headers = [(b"host", b"127.0.0.1")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    status = 500
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    asyncio.run(app(scope, receive, send))
    return status, bytes(body)


def warm_up(app: Any, token: str | None, has_date: bool) -> threading.Thread:
    """Answer the page's first questions in the background (N = 10, by month), so that the
    first visit finds them ready; a request meanwhile simply waits its turn."""
    query = "top=10&period=month" if has_date else "top=10"

    def run() -> None:
        for path in ("/api/summary", "/api/charts"):
            get_once(app, f"{path}?{query}", token)

    thread = threading.Thread(target=run, name="topshare-warm-up", daemon=True)
    thread.start()
    return thread


def settle() -> None:
    """Before serving: the explorer's arrays, kept groups and first views, and every module
    loaded so far live as long as the server; out of the cyclic collector's sight, a full
    collection no longer walks them (one took 0.4-1 s in the middle of a request at 1 M rows).
    Called by the server's own process, not by ``create_app`` (a notebook's heap is not ours
    to freeze)."""
    gc.freeze()


def run_server(app: Any, host: str, port: int) -> None:
    """Serve until interrupted (uvicorn, one process; the explorer is shared in memory)."""
    import uvicorn

    settle()

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                server_header=False, proxy_headers=False)  # fmt: skip

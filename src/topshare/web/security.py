"""The guard in front of every request: read-only methods, the token, the allowed Host names,
the security headers on every response, and a generic JSON body for any unexpected error.

It is a plain ASGI middleware (outermost), so that even a 404, a 405 or a 500 carries the
headers and never a stack trace.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = dict[str, Any]
ASGIApp = Any

COOKIE = "topshare_session"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")

#: Scripts only from the server itself: no inline script, no eval (plotly.js 3+ needs neither
#: for the SVG charts drawn here). Styles allow 'unsafe-inline' because plotly.js injects its
#: own <style> rules and style attributes; without it the charts lay out wrongly (measured in
#: Chromium: the plots overlap the page). Inline styles cannot run code.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

log = logging.getLogger("topshare.web")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def session_value(token: str) -> str:
    """What the cookie holds: derived from the token (the token itself never sits in it)."""
    return hmac.new(token.encode(), b"topshare-session-v1", hashlib.sha256).hexdigest()


class Guard:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _json(send, 405, "read-only: only GET and HEAD are allowed",
                        [(b"allow", b"GET, HEAD")])  # fmt: skip
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.loopback_only and not _host_ok(headers.get("host", "")):
            # Without a token the server is for this machine only: a page elsewhere that makes a
            # browser send requests here under another name (DNS rebinding) gets nothing.
            await _json(send, 421, "this server answers only to localhost / 127.0.0.1")
            return
        if self.token is not None:
            done = await self._authenticate(scope, headers, send)
            if done:
                return
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        started = False

        async def send_secured(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": _secure(list(message.get("headers", [])))}
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_secured)
        except Exception:
            log.exception("error while answering %s", scope.get("path"))
            if not started:
                await _json(send, 500, "internal error")

    async def _authenticate(self, scope: Scope, headers: dict[str, str], send: Any) -> bool:
        """True when the request was answered here (refused, or redirected after a login)."""
        assert self.token is not None
        assert self.session is not None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given and scope["path"] == "/" and _same(given[0], self.token):
            # The one-time login: the cookie, and the same page without the token in its URL
            # (so that it stays out of the history, bookmarks and shared links).
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            cookie = f"{COOKIE}={self.session}; HttpOnly; SameSite=Strict; Path=/"
            await _send(send, 303, b"", [
                (b"location", ("/" + (f"?{rest}" if rest else "")).encode()),
                (b"set-cookie", cookie.encode()),
                (b"cache-control", b"no-store"),
            ])  # fmt: skip
            return True
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and _same(auth[7:].strip(), self.token):
            return False
        cookies = _cookies(headers.get("cookie", ""))
        if COOKIE in cookies and _same(cookies[COOKIE], self.session):
            return False
        await _json(
            send, 401,
            "a token is required: send 'Authorization: Bearer TOKEN', or open /?token=TOKEN once",
            [(b"www-authenticate", b'Bearer realm="topshare"')],
        )  # fmt: skip
        return True


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison (on bytes: any text is accepted without error)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _host_ok(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return is_loopback(name)


def _cookies(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            out[name] = value
    return out


def _secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in headers}
    return headers + [(k, v) for k, v in HEADERS if k not in names]


async def _json(
    send: Any, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    await _send(send, status, body, [(b"content-type", b"application/json"), *(extra or [])])


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    all_headers = _secure([*headers, (b"content-length", str(len(body)).encode())])
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})

"""A real headless Chromium for the browser tests (the HTML report, the dashboard).

Debian's ``chromium`` (installed by ``python3 dev.py test`` when run as root) driven by the
Python ``playwright`` package through ``executable_path``: Playwright's own browser download is
never used. A missing browser is a test failure with a message that says how to install it.

    from browser import chromium, watch

    with chromium() as browser:
        page = browser.new_page()
        seen = watch(page, allow=lambda url: url.startswith("file://"))
        page.goto(url)
        assert seen.problems() == []

Tests get the same browser from the ``chromium_browser`` fixture in tests/conftest.py (one per
test session).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where browser tests leave screenshots (gitignored).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

MISSING = (
    f"{CHROMIUM} is missing: the browser tests need Debian's chromium. Run `python3 dev.py test` "
    "as root (it installs it), or `apt-get install -y --no-install-recommends chromium`."
)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit. Fails the test (never skips) when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            MISSING + (" (CI: a missing browser is a failure)" if os.environ.get("CI") else "")
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did that a test should fail on."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"blocked request: {u}" for u in self.blocked]
            + [f"failed request: {u}" for u in self.failed]
        )


def watch(page: Page, *, allow: Callable[[str], bool]) -> Watch:
    """Record console errors and uncaught exceptions on ``page``, and abort (and record) every
    request whose URL ``allow`` refuses: nothing leaves the machine unless a test allows it."""
    seen = Watch()

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            seen.console_errors.append(msg.text)

    def on_route(route: Route) -> None:
        url = route.request.url
        if allow(url):
            route.continue_()
        else:
            seen.blocked.append(url)
            route.abort()

    def on_failed(request: Request) -> None:
        if allow(request.url):
            seen.failed.append(f"{request.url} ({request.failure})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
    page.on("requestfailed", on_failed)
    page.route("**/*", on_route)
    return seen


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/NAME.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from browser import chromium
from engines import db, postgres_server  # noqa: F401 - fixtures of the engine suite
from helpers import Writer
from sparksession import spark_session  # noqa: F401 - one SparkSession for the tests


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    """One headless Chromium per test module (see tests/browser.py); fails if missing. Not per
    session: Playwright's sync API keeps an event loop running in the main thread while it is
    open, and tests of other modules call asyncio.run."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """``write(name, text)`` -> path of a new file in the test's folder."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write

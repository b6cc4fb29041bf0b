"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import Writer


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

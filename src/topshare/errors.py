"""Errors that topshare reports to people: one clear line, never a traceback.

Every error raised on purpose by topshare is a :class:`TopshareError`. The CLI turns it into a
single line on stderr and exit code 2; the Python API lets it propagate.
"""

from __future__ import annotations


class TopshareError(Exception):
    """Base class: the message is written for the user and names what and where."""

    exit_code = 2


class InputError(TopshareError):
    """A source cannot be read: missing file, empty file, binary, bad encoding, broken gzip."""


class ColumnError(TopshareError):
    """A column role cannot be mapped: missing column, unusable type, ambiguous detection."""


class RejectedRowsError(TopshareError):
    """``strict`` was asked for and some rows were rejected."""


class UsageError(TopshareError):
    """An option has a value that cannot work (N < 1, a share outside 0..1, ...)."""


def first_line(exc: BaseException) -> str:
    """The line of an engine's or a library's error that says what went wrong (its name when it
    has no text; for a JVM error through py4j, the Java exception's own line): what a one-line
    message quotes of it."""
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if text and text[0].startswith("An error occurred while calling"):
        text = text[1:] or text
    line = text[0] if text else type(exc).__name__
    if line.startswith("Out of Memory Error"):  # DuckDB: its limit, not the machine's, as a rule
        line += "; raise DuckDB's limit with TOPSHARE_MEMORY_LIMIT (e.g. 8GB)"
    return line

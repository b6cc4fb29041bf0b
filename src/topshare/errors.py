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

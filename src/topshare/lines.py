"""Physical line numbers of CSV records, for the examples of rejected rows.

The engine numbers the records it reads (1, 2, 3, ...), but a record is not a line: the reader
skips blank lines, a quoted field may hold line breaks, and lines it could not split are left
out. To tell a user "sales.csv:1234", the file is scanned here once, as bytes, with numpy
(quote parity decides which line breaks end a record), up to the last record asked for. It runs
only when rows were rejected, and never loops over rows in Python.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from typing import IO

import numpy as np

_FIRST_CHUNK = 1 << 18  # examples are usually near the start: read a little first, then more
_CHUNK = 1 << 24
_NL, _CR = 10, 13


def record_lines(
    path: str,
    records: Iterable[int],
    *,
    header: bool,
    quote: str = '"',
    skipped_lines: Iterable[int] = (),
    chunk_size: int | None = None,
) -> dict[int, int]:
    """Map data-record numbers (1-based, as the reader counts them) to the physical line (1-based)
    where each record starts. ``skipped_lines`` are lines the reader rejected as malformed: they
    are records in the file but not in the reader's count."""
    wanted = set(records)
    if not wanted:
        return {}
    last = max(wanted)
    skip = set(skipped_lines)
    qbyte = ord(quote) if quote else -1
    found: dict[int, int] = {}
    seen = 0  # records counted the way the reader counts them (header and skipped excluded)
    header_left = header
    line = 1  # physical line at the start of the current chunk
    in_quote = 0
    carry_len = 0  # bytes of the record that began in an earlier chunk
    carry_line = 1
    carry_last = -1  # its last byte so far (to spot a lone '\r')
    size = chunk_size or _FIRST_CHUNK
    with _open(path) as fh:
        while True:
            chunk = fh.read(size)
            size = chunk_size or min(size * 4, _CHUNK)
            if not chunk:
                break
            arr = np.frombuffer(chunk, dtype=np.uint8)
            is_nl = arr == _NL
            qcum = np.cumsum(arr == qbyte, dtype=np.int64) if qbyte >= 0 else None
            if qcum is None:
                seps = np.flatnonzero(is_nl)
            else:
                seps = np.flatnonzero(is_nl & (((qcum + in_quote) & 1) == 0))
            nl_cum = np.cumsum(is_nl, dtype=np.int64)
            starts = np.concatenate(([0], seps[:-1] + 1)) if seps.size else np.empty(0, np.int64)
            lengths = seps - starts
            ends_cr = np.zeros(seps.size, dtype=bool)
            has_body = lengths > 0
            ends_cr[has_body] = arr[seps[has_body] - 1] == _CR
            eff = lengths - ends_cr
            start_lines = np.where(starts > 0, line + nl_cum[np.maximum(starts - 1, 0)], line)
            if seps.size:  # the first record may have begun in an earlier chunk
                cr0 = bool(ends_cr[0]) if lengths[0] > 0 else carry_len > 0 and carry_last == _CR
                eff[0] = carry_len + int(lengths[0]) - int(cr0)
                start_lines[0] = carry_line if carry_len else line
            for i in np.flatnonzero(eff > 0):
                start = int(start_lines[i])
                if header_left:
                    header_left = False
                    continue
                if start in skip:
                    continue
                seen += 1
                if seen in wanted:
                    found[seen] = start
                    if seen >= last:
                        return found
            tail_from = int(seps[-1]) + 1 if seps.size else 0
            tail = len(chunk) - tail_from
            if seps.size:
                carry_len, carry_line = tail, int(line + nl_cum[tail_from - 1])
            else:
                carry_line = carry_line if carry_len else line
                carry_len += tail
            if tail:
                carry_last = int(arr[-1])
            if qcum is not None:
                in_quote = int((qcum[-1] + in_quote) & 1)
            line += int(nl_cum[-1])
    last_record = carry_len > 0 and not (carry_len == 1 and carry_last == _CR)
    if last_record and not header_left and carry_line not in skip:
        seen += 1
        if seen in wanted:
            found[seen] = carry_line
    return found


def _open(path: str) -> IO[bytes] | gzip.GzipFile:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")

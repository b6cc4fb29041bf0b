"""Open files as one Ibis table: CSV/TSV, Parquet, JSON/NDJSON, gzip, globs, several files, stdin.

A :class:`Source` knows its files, their format and dialect, the user's columns and their types,
and how to number rows (file and line) for the examples of rejected rows. Reading is done by the
engine (DuckDB's readers); nothing here loops over rows in Python. Text formats are read with
every column as text, so that keys keep their leading zeros and case and amounts are validated
by topshare rather than guessed by a reader.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ibis
import ibis.expr.datatypes as dt

from topshare.errors import InputError, UsageError, first_line

FILE_COL = "__topshare_file"
ROW_COL = "__topshare_row"
#: Optional columns a source may add: a line that could not be parsed (a rejection of its own),
#: and the raw text of the line (for the examples of such lines).
MALFORMED_COL = "__topshare_malformed"
LINE_COL = "__topshare_line"
FORMATS = ("csv", "tsv", "parquet", "json")
ENCODINGS = ("utf-8", "utf-16", "latin-1")
_EXT = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
}


@dataclass
class Source:
    """Files opened for analysis. Close it (or use ``with``) to remove stdin spool files."""

    con: Any
    paths: list[str]
    files: list[str]
    format: str
    columns: dict[str, Any]
    header: bool = True
    delimiter: str | None = None
    quote: str = '"'
    escape: str = '"'
    encoding: str = "utf-8"
    content_types: dict[str, str] = field(default_factory=dict)
    display: dict[str, str] = field(default_factory=dict)
    _reader_sql: str = ""
    _tmpdir: str | None = None
    _rejects: int = 0
    _schema: Any = None  # the reader's schema, read once (no DESCRIBE per query)
    #: What a malformed line is, in this kind of source.
    malformed_text: str = "the line does not split into the file's columns"
    #: Whether the files can be scanned here for the physical line of a rejected row (not for
    #: files named by URL and read by Spark: their examples carry no line).
    lines_known: bool = True

    @property
    def table(self) -> Any:
        """The rows as an Ibis table: the user's columns plus the file each row came from."""
        sql = f"SELECT * FROM {self._reader(self.files, rejects=True)}"
        return self.con.sql(sql, schema=self._schema)

    def numbered(self, file: str) -> Any:
        """Rows of one file with their record number (1-based, in file order)."""
        reader = self._reader([file], rejects=False)
        if self.format == "parquet":
            sql = f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW_COL} FROM {reader}"
        else:
            # A streaming ROW_NUMBER() over the scan keeps the reader's order (file order).
            sql = f"SELECT *, ROW_NUMBER() OVER () AS {ROW_COL} FROM {reader}"
        return self.con.sql(sql)

    def name(self, file: str) -> str:
        """How a file is named in messages: as the user wrote it, '-' for stdin."""
        return self.display.get(file, file)

    def where(self) -> str:
        """How the whole source is named in messages: its first file, and how many more."""
        first = self.name(self.files[0])
        more = len(self.files) - 1
        return first if more == 0 else f"{first} (and {more} more)"

    def malformed(self) -> list[tuple[str, int, str, str]]:
        """Lines the CSV reader could not split into the expected columns, from the last scan:
        (file, line, error type, line text)."""
        if self.format not in ("csv", "tsv") or not self._rejects:
            return []
        raw = self.con.con
        try:
            # One bad line can give several reader errors (one per extra column): one row each.
            rows = raw.execute(
                f"SELECT s.file_path, e.line, min(e.error_type), min(e.csv_line) "
                f"FROM __ts_rej_err_{self._rejects} e "
                f"JOIN __ts_rej_scan_{self._rejects} s USING (scan_id, file_id) "
                "GROUP BY s.file_path, e.line ORDER BY s.file_path, e.line"
            ).fetchall()
        except Exception:  # no rejected line: the tables were never created
            return []
        return [(str(f), int(line), str(kind), str(text or "")) for f, line, kind, text in rows]

    def check_roles(self, roles: Any, opts: dict[str, Any]) -> None:
        """Refuse, with one clear line, options this kind of source cannot honour."""

    def close(self) -> None:
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reader(self, files: list[str], rejects: bool) -> str:
        """The reader call for ``files``, with a column naming each row's file: the reader's
        own for several files, a constant for one (cheaper than the reader's per-row column)."""
        listing = "[" + ", ".join(_quote(f) for f in files) + "]"
        opts = self._reader_sql
        if len(files) > 1:
            opts += f", filename={_quote(FILE_COL)}"
        if self.format in ("csv", "tsv"):
            if rejects:
                self._rejects += 1
                n = self._rejects
                opts += (
                    f", store_rejects=true, rejects_table='__ts_rej_err_{n}', "
                    f"rejects_scan='__ts_rej_scan_{n}'"
                )
            else:
                opts += ", ignore_errors=true"
            call = f"read_csv({listing}{opts})"
        elif self.format == "parquet":
            extra = ", file_row_number=true" if not rejects else ""
            call = f"read_parquet({listing}{opts}{extra})"
        else:
            call = f"read_json({listing}{opts})"
        if len(files) > 1:
            return call
        return f"(SELECT *, {_quote(files[0])} AS {FILE_COL} FROM {call})"


def open_source(
    con: Any,
    inputs: str | os.PathLike[str] | list[str | os.PathLike[str]],
    *,
    format: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    configure: bool = True,
) -> Source:
    """Open one or more paths or globs ('-' for stdin) as a :class:`Source`. With
    ``configure=False`` only the files are found and checked (no dialect sniffed, no schema
    read): for sources that read the files their own way (access logs)."""
    items = [str(i) for i in (inputs if isinstance(inputs, list) else [inputs])]
    if not items:
        raise UsageError("no input given: name a file, a glob, or '-' for stdin")
    if format is not None and format not in FORMATS and (format, configure) != ("log", False):
        raise UsageError(f"unknown input format {format!r}: expected one of {', '.join(FORMATS)}")
    if encoding is not None and encoding.lower() not in ENCODINGS:
        raise UsageError(f"unknown encoding {encoding!r}: expected one of {', '.join(ENCODINGS)}")
    tmpdir: str | None = None
    files: list[str] = []
    display: dict[str, str] = {}
    for item in items:
        if item == "-":
            tmpdir = tmpdir or tempfile.mkdtemp(prefix="topshare-stdin-")
            spooled = _spool_stdin(tmpdir, format)
            files.append(spooled)
            display[spooled] = "-"
            continue
        matches = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
        if not matches:
            raise InputError(f"{item}: no file matches this pattern")
        for m in matches:
            if os.path.isdir(m):
                raise InputError(f"{m}: is a directory; give the files in it, e.g. '{m}/*.csv'")
            if not os.path.exists(m):
                hint = _url_hint(m)
                raise InputError(f"{m}: no such file{hint}")
            files.append(m)
    try:
        fmt = format or _detect_format(files[0], display)
        for f in files:
            _check_file(f, display.get(f, f), fmt)
        src = Source(con=con, paths=items, files=files, format=fmt, columns={}, display=display)
        src.encoding = (encoding or "utf-8").lower()
        src._tmpdir = tmpdir
        if configure:
            _configure(src, delimiter=delimiter, header=header)
        return src
    except BaseException:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _spool_stdin(tmpdir: str, format: str | None) -> str:
    """Copy stdin to a file: the reader needs to sniff it and read it more than once."""
    stream: IO[bytes] = sys.stdin.buffer
    head = stream.read(65536)
    if not head:
        raise InputError("-: standard input is empty")
    gz = head[:2] == b"\x1f\x8b"
    sample = head
    if gz:
        try:
            sample = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 65536)
        except zlib.error:
            raise InputError("-: standard input is not valid gzip data") from None
    fmt = format or (
        "parquet"
        if sample[:4] == b"PAR1"
        else "json"
        if sample.lstrip()[:1] in (b"{", b"[")
        else "csv"
    )
    suffix = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "json": ".json", "log": ".log"}[
        fmt
    ]
    path = os.path.join(tmpdir, "stdin" + suffix + (".gz" if gz else ""))
    with open(path, "wb") as out:
        out.write(head)
        shutil.copyfileobj(stream, out, 1 << 20)
    return path


def _strip_gz(path: str) -> tuple[str, bool]:
    return (path[:-3], True) if path.lower().endswith(".gz") else (path, False)


def _detect_format(path: str, display: dict[str, str]) -> str:
    base, _ = _strip_gz(path)
    fmt = _EXT.get(Path(base).suffix.lower())
    if fmt:
        return fmt
    head = _head(path, display.get(path, path))
    if head[:4] == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _head(path: str, name: str, size: int = 8192, raw_bytes: bool = False) -> bytes:
    """The first bytes of a file, decompressed when gzipped (unless ``raw_bytes``); broken gzip
    is a clear error."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(size)
        if raw[:2] != b"\x1f\x8b" or raw_bytes:
            return raw
        with gzip.open(path, "rb") as gz:
            return gz.read(size)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{name}: cannot be decompressed as gzip ({exc})") from None


def _check_file(path: str, name: str, fmt: str) -> None:
    if not os.access(path, os.R_OK):
        raise InputError(f"{name}: cannot be read (permission denied)")
    if os.path.getsize(path) == 0:
        raise InputError(f"{name}: file is empty")
    head = _head(path, name)
    if fmt == "parquet":
        if head[:4] != b"PAR1":
            raise InputError(f"{name}: not a Parquet file (expected the 'PAR1' magic bytes)")
        return
    if not head.strip():
        raise InputError(f"{name}: file is empty")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: looks like a binary file, not {fmt.upper()} text")


def _configure(src: Source, *, delimiter: str | None, header: bool | None) -> None:
    """Sniff the dialect (CSV), build the reader options and read the schema."""
    raw = src.con.con
    first = src.name(src.files[0])
    # A gzipped file whose name does not say so (a rotated 'orders.csv.1'): the readers go by
    # the name, so say it. Only when every file is one (one reader call reads them all).
    gz = all(not f.lower().endswith(".gz") and _head(f, src.name(f), 2, raw_bytes=True) == b"\x1f\x8b"
             for f in src.files)  # fmt: skip
    compression = ", compression='gzip'" if gz and src.format != "parquet" else ""
    if src.format in ("csv", "tsv"):
        delim = delimiter or ("\t" if src.format == "tsv" else None)
        sniff_opts = (f", delim={_quote(delim)}" if delim else "") + compression
        try:
            row = raw.execute(
                f"SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv({_quote(src.files[0])}"
                f"{sniff_opts}, encoding={_quote(src.encoding)}, sample_size=20480, ignore_errors=true)"
            ).fetchone()
        except Exception as exc:
            if "invalid unicode" in str(exc).lower():
                raise InputError(
                    f"{first}: not valid {src.encoding} text ({first_line(exc)}); "
                    "give the encoding with --encoding latin-1 or utf-16"
                ) from None
            raise InputError(f"{first}: not readable as CSV ({first_line(exc)})") from None
        assert row is not None
        values: list[Any] = ["" if v == "(empty)" else v for v in row]
        sniffed_delim, quote, escape, has_header, columns = values
        src.delimiter = delim or sniffed_delim
        src.quote, src.escape = quote or "", escape or ""
        src.header = bool(has_header) if header is None else header
        if header is None and src.header and all(_looks_like_data(c["name"]) for c in columns[1:]):
            src.header = False  # "acme,2024-01-01,10.5" is a row, not a header
        src.content_types = {
            (c["name"] if src.header else f"column{i}"): c["type"] for i, c in enumerate(columns)
        }
        opts = (
            f", delim={_quote(src.delimiter or ',')}, quote={_quote(quote or '')}, escape={_quote(escape or '')}"
            f", header={str(src.header).lower()}, all_varchar=true, encoding={_quote(src.encoding)}"
            ", null_padding=false"
        ) + compression
        if len(src.files) > 1:
            _same_header(src)
        src._reader_sql = opts
    else:  # Parquet and JSON files are combined by column name
        by_name = ", union_by_name=true" if len(src.files) > 1 else ""
        src._reader_sql = (
            (", format='auto'" if src.format == "json" else "") + by_name + compression
        )
    try:
        schema = src.con.sql(
            f"SELECT * FROM {src._reader(src.files, rejects=False)} LIMIT 0"
        ).schema()
    except Exception as exc:
        raise InputError(
            f"{first}: cannot be read as {src.format.upper()} ({first_line(exc)})"
        ) from None
    src._schema = schema
    src.columns = {name: typ for name, typ in schema.items() if name != FILE_COL}
    if src.format == "json":
        _unwrap_json(src, schema)
    if not src.columns:
        raise InputError(f"{first}: no columns found")


def _same_header(src: Source) -> None:
    """Several CSV files are read by position (DuckDB cannot keep the rejected lines of a
    union by name), so their header lines must be the same."""
    if not src.header:
        return
    first = _head(src.files[0], src.name(src.files[0])).splitlines()[:1]
    for f in src.files[1:]:
        line = _head(f, src.name(f)).splitlines()[:1]
        if line != first:
            got = line[0].decode(errors="replace") if line else ""
            want = first[0].decode(errors="replace") if first else ""
            raise InputError(
                f"{src.name(f)}: its header {got!r} differs from {src.name(src.files[0])}'s "
                f"{want!r}; several CSV files must have the same columns in the same order"
            )


def _unwrap_json(src: Source, schema: Any) -> None:
    """JSON fields of mixed type come back as JSON text; read them as plain text instead."""
    mixed = [n for n, t in schema.items() if str(t) == "json"]
    if not mixed:
        return
    repl = ", ".join(f'"{n}"->>\'$\' AS "{n}"' for n in mixed)
    original = src._reader  # the reader stays; the projection below replaces the columns

    def reader(files: list[str], rejects: bool) -> str:
        return f"(SELECT * REPLACE ({repl}) FROM {original(files, rejects)})"

    src._reader = reader  # type: ignore[method-assign]
    src._schema = ibis.schema({n: (dt.string if n in mixed else t) for n, t in schema.items()})
    for n in mixed:
        src.columns[n] = dt.string


_DATA_LIKE = re.compile(r"^\s*[-+]?(\d+([.,]\d+)?|\d{4}-\d{2}-\d{2}.*)\s*$")


def _looks_like_data(name: str) -> bool:
    """A numeric or ISO-date "column name" means the sniffer took a data row for a header."""
    return bool(_DATA_LIKE.match(name))


def validate_delimiter(value: str | None) -> str | None:
    """'\\t' and 'tab' as a tab; one character otherwise."""
    if value is None:
        return None
    if value in ("\\t", "tab", "TAB"):
        return "\t"
    if len(value) != 1:
        raise UsageError(f"--delimiter must be one character (or 'tab'), got {value!r}")
    return value


def _url_hint(item: str) -> str:
    """A hint for a file-system URL given to the local reader (hdfs://, s3a://, file://...)."""
    scheme, sep, _ = item.partition("://")
    if sep and scheme.isalnum() and scheme.lower() not in ("postgresql", "postgres"):
        return f"; {scheme}:// URLs are read with --engine spark (see docs/spark.md)"
    return ""


def paths_of(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """One path, glob or '-', or several, as a list of strings (what every reader takes)."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return [os.fspath(p) for p in items]

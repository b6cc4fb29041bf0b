"""Files named by URL (``hdfs://``, ``s3a://``, ``gs://``, ``abfs://``, ``file://``, …) for the
Spark engine: found, checked and sniffed through Spark itself, never opened locally.

Any scheme Hadoop has a FileSystem for goes through the same code: the files of a path or a
Hadoop glob (``*``, ``?``, ``[ab]``, ``{a,b}``) are listed by Spark's ``binaryFile`` source
(path and length only: the content column is pruned, no byte is read), and the first lines of
a text file come from ``spark.read.text(path).limit(n)`` (decompressed by Spark by the name, as
the scan will be). Those lines are written to a small local sample that DuckDB's sniffer reads
exactly as it reads a local CSV (delimiter, quote, escape, header, column names and types), so
the dialect is found the same way as for a local file. This works on a classic session and on
Spark Connect alike (no JVM gateway is needed).

What a URL cannot give: the physical line of a rejected row (that needs a byte scan of the file
on this machine), so the examples name the file and show the row's content without a line.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import tempfile
import warnings
from typing import Any

from topshare.errors import InputError, UsageError, first_line
from topshare.sources import _EXT, FORMATS, Source, open_source

#: Lines of the first file sniffed for its CSV dialect (DuckDB samples 20,480 rows locally).
SAMPLE_LINES = 5000
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB = re.compile(r"[*?\[{]")


def is_url(item: str) -> bool:
    """A location with a scheme (``hdfs://…``, ``file:///…``): read through Spark/Hadoop."""
    return bool(_URL.match(item))


def _collect(frame: Any) -> list[Any]:
    with warnings.catch_warnings():
        # pyspark leaves the socket it reads the rows from to the collector
        warnings.simplefilter("ignore", ResourceWarning)
        rows = list(frame.collect())
        gc.collect()
    return rows


def list_files(spark: Any, items: list[str]) -> tuple[list[str], dict[str, str]]:
    """The files of each URL or Hadoop glob (sorted per item), and how to name them: a URL as
    the user wrote it, a glob's matches as Hadoop qualifies them."""
    files: list[str] = []
    display: dict[str, str] = {}
    for item in items:
        glob = bool(_GLOB.search(item.split("://", 1)[1]))
        try:
            rows = _collect(spark.read.format("binaryFile").load(item).select("path", "length"))
        except Exception as exc:
            text = first_line(exc)
            if "PATH_NOT_FOUND" in text or "does not exist" in text:
                rows = []
            elif "No FileSystem for scheme" in text or "ClassNotFound" in text:
                scheme = item.split("://", 1)[0]
                raise UsageError(
                    f"{item}: Spark has no file system for {scheme}:// (add its Hadoop "
                    f"connector to the session, e.g. hadoop-aws for s3a://): {text}"
                ) from None
            else:
                raise InputError(f"{item}: Spark cannot list it ({text})") from None
        if not rows:
            raise InputError(
                f"{item}: " + ("no file matches this pattern" if glob else "no such file")
            )
        found = sorted((str(r["path"]), int(r["length"])) for r in rows)
        if not glob:
            tail = item.rstrip("/").rsplit("/", 1)[-1]
            if len(found) > 1 or not found[0][0].rstrip("/").endswith("/" + tail):
                raise InputError(
                    f"{item}: is a directory; give the files in it, e.g. '{item.rstrip('/')}/*.csv'"
                )
        for path, size in found:
            name = item if not glob else path
            if size == 0:
                raise InputError(f"{name}: file is empty")
            files.append(path)
            display[path] = name
    return files, display


def head_lines(spark: Any, path: str, name: str, n: int) -> list[str]:
    """The first ``n`` lines of a file, read (and decompressed by name) by Spark."""
    try:
        return [str(r[0]) for r in _collect(spark.read.text(path).limit(n))]
    except Exception as exc:
        raise InputError(f"{name}: cannot be read by Spark ({first_line(exc)})") from None


def open_remote(
    con: Any,
    spark: Any,
    items: list[str],
    *,
    format: str | None,
    delimiter: str | None,
    header: bool | None,
    encoding: str | None,
) -> tuple[Source, dict[str, bool]]:
    """URLs opened for the Spark engine: a :class:`Source` with the remote files, their names,
    the format and (CSV) the dialect and columns sniffed on a local sample of the first lines;
    and, per JSON file, whether it is one JSON array (read as one multi-line document)."""
    if format is not None and format not in FORMATS:
        raise UsageError(f"unknown input format {format!r}: expected one of {', '.join(FORMATS)}")
    enc = (encoding or "utf-8").lower()
    if enc.replace("-", "") != "utf8":  # Spark's text reader (the sniffed sample) reads UTF-8
        raise UsageError(
            f"--encoding {encoding} needs a local path with --engine spark (files named by URL "
            "are read as UTF-8)"
        )
    files, display = list_files(spark, items)
    first = files[0]
    fmt = format or _EXT.get(os.path.splitext(_strip_gz(first))[1].lower())
    heads: dict[str, list[str]] = {}
    wanted = {first: SAMPLE_LINES if fmt != "json" else 1}
    if fmt != "parquet":
        heads[first] = head_lines(spark, first, display[first], wanted[first])
    if fmt is None:
        lead = heads[first][0].lstrip() if heads[first] else ""
        fmt = (
            "parquet" if lead.startswith("PAR1") else "json" if lead[:1] in "{[" and lead else "csv"
        )
    arrays: dict[str, bool] = {}
    if fmt == "parquet":
        return Source(con=con, paths=items, files=files, format=fmt, columns={}, display=display,
                      encoding=enc), arrays  # fmt: skip
    for f in files:
        if f not in heads:
            heads[f] = head_lines(spark, f, display[f], 1)
        lines = heads[f]
        _check_text(lines, wanted.get(f, 1), display[f], f, fmt)
        if fmt == "json":
            arrays[f] = lines[0].lstrip()[:1] == "["
    if fmt == "json":
        return Source(con=con, paths=items, files=files, format=fmt, columns={}, display=display,
                      encoding=enc), arrays  # fmt: skip
    src = _sniff(con, heads[first], display[first], fmt, delimiter, header)
    src.paths, src.files, src.display, src.encoding = items, files, display, enc
    if src.header:
        want = heads[first][0]
        for f in files[1:]:
            if heads[f][:1] != [want]:
                got = heads[f][0] if heads[f] else ""
                raise InputError(
                    f"{display[f]}: its header {got!r} differs from {display[first]}'s {want!r}; "
                    "several CSV files must have the same columns in the same order"
                )
    return src, arrays


def _strip_gz(path: str) -> str:
    return path[:-3] if path.lower().endswith(".gz") else path


def _check_text(lines: list[str], wanted: int, name: str, path: str, fmt: str) -> None:
    """The checks a local text file gets: not empty (fewer lines than ``wanted`` were read, all
    blank), not binary, gzip only by its name."""
    lead = lines[0] if lines else ""
    if lead.startswith("\x1f\ufffd") and not path.lower().endswith(".gz"):
        raise UsageError(
            f"{name}: gzip data without a .gz name; Spark decompresses by the file name: "
            "rename it to end with .gz"
        )
    if len(lines) < wanted and not any(line.strip() for line in lines):
        raise InputError(f"{name}: file is empty")
    if "\x00" in lead:
        raise InputError(f"{name}: looks like a binary file, not {fmt.upper()} text")


def _sniff(
    con: Any, lines: list[str], name: str, fmt: str, delimiter: str | None, header: bool | None
) -> Source:
    """DuckDB's sniffer on a local copy of the first lines: the dialect and the columns. The
    sample's spool directory goes with the returned source (removed when it is closed)."""
    tmpdir = tempfile.mkdtemp(prefix="topshare-sample-")
    sample = os.path.join(tmpdir, "sample." + fmt)
    try:
        with open(sample, "w", encoding="utf-8", newline="") as out:
            out.write("\n".join(lines) + "\n")
        try:
            src = open_source(con, [sample], format=fmt, delimiter=delimiter, header=header)
        except (InputError, UsageError) as exc:
            raise type(exc)(str(exc).replace(sample, name)) from None
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    src._tmpdir = tmpdir
    return src

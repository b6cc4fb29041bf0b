"""Web server access logs as a source: every line parsed inside the engine, one table of requests.

The files are read by DuckDB as one text column (one row per physical line, blank lines
included, so record numbers are line numbers). One pass of one regular expression (or, for JSON
lines, one JSON parse) extracts every field of every line into a temporary table in the engine;
lines that do not match are kept there as *malformed* and become counted rejections with their
file:line. The dimensions (path, referrer domain, subnet, browser...) are SQL expressions over
that table; what needs a Python package (the crawler list, the user-agent parser, a GeoIP
database) runs over the distinct user agents or addresses only, and joins back as a small table.
Nothing loops over lines in Python.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis.expr.datatypes as dt

from topshare import logformat
from topshare.errors import InputError, UsageError, first_line
from topshare.logformat import LogFormat
from topshare.loglookups import join_agents, join_geo, join_ipv6
from topshare.logsql import (
    LOOKED_UP,
    NONE_WHEN_ABSENT,
    SOURCES,
    bytes_sql,
    dimension_sql,
    json_path,
    time_sql,
)
from topshare.sources import (
    FILE_COL,
    LINE_COL,
    MALFORMED_COL,
    ROW_COL,
    Source,
    _quote,
    open_source,
)

#: ``--by`` names -> column names of the requests table.
DIMENSIONS: dict[str, str] = {
    "path": "path", "url": "url", "method": "method", "status": "status",
    "status-class": "status_class", "protocol": "protocol", "referrer": "referrer",
    "referrer-domain": "referrer_domain", "ip": "ip", "subnet": "subnet",
    "user-agent": "user_agent", "browser": "browser", "os": "os", "device": "device",
    "vhost": "vhost", "country": "country",
}  # fmt: skip
MEASURES = ("hits", "bytes")
BOTS = ("include", "exclude", "only")
_DELIM = "\x1f\x1e\x1d\x1c"  # never in a log line: each physical line is one value
_KIND_OK, _KIND_MALFORMED, _KIND_BLANK, _KIND_DIRECTIVE = 0, 1, 2, 3
_ids = itertools.count(1)

# JSON lines: common key names per field (first found wins); --field overrides.
_JSON_KEYS: dict[str, tuple[str, ...]] = {
    "ip": ("remote_addr", "client_ip", "clientip", "remote_ip", "ip", "c-ip", "client"),
    "time": ("time", "timestamp", "@timestamp", "time_iso8601", "time_local", "ts", "date"),
    "request": ("request",),
    "method": ("request_method", "method", "verb"),
    "target": ("request_uri", "uri", "url", "path", "request_path"),
    "status": ("status", "status_code", "response", "code"),
    "bytes": ("body_bytes_sent", "bytes_sent", "bytes", "size", "response_size"),
    "referrer": ("http_referer", "referer", "referrer"),
    "user_agent": ("http_user_agent", "user_agent", "agent", "useragent"),
    "vhost": ("host", "http_host", "server_name", "vhost"),
}


@dataclass(frozen=True)
class LogOptions:
    """How to read the log and what to count: ``by`` a dimension, ``measure`` hits or bytes."""

    by: str = "path"
    measure: str = "hits"
    log_format: str | None = None
    keep_query: bool = False
    groups: tuple[tuple[str, str], ...] = ()  # (regex, replacement), first match wins
    bots: str = "include"
    geoip: str | None = None
    fields: tuple[tuple[str, str], ...] = ()  # JSON: (field, key) overrides
    segments: tuple[str, ...] = ()  # further dimensions used as segments
    #: Parse every dimension the format has (the dashboard switches between them): they are
    #: added to ``segments`` once the format is known.
    every_dimension: bool = False

    def dims(self) -> list[str]:
        return [DIMENSIONS[d] for d in dict.fromkeys((self.by, *self.segments))]


def check_options(opts: LogOptions) -> LogOptions:
    """Validate the options; segment dimensions may be given with '-' or '_'."""
    if opts.by not in DIMENSIONS:
        raise UsageError(f"--by {opts.by!r}: expected one of {', '.join(DIMENSIONS)}")
    if opts.measure not in MEASURES:
        raise UsageError(f"--measure {opts.measure!r}: expected hits or bytes")
    if opts.bots not in BOTS:
        raise UsageError(f"bots must be one of {', '.join(BOTS)}, got {opts.bots!r}")
    segs = []
    for s in opts.segments:
        name = s.replace("_", "-")
        if name not in DIMENSIONS:
            raise UsageError(f"--segment {s!r}: expected one of {', '.join(DIMENSIONS)}")
        segs.append(name)
    for regex, _ in opts.groups:
        try:
            re.compile(regex)
        except re.error as exc:
            raise UsageError(f"--group {regex!r}: not a valid regular expression ({exc})") from None
        _check_engine_regex(regex)
    if "country" in (opts.by, *segs) and not opts.geoip:
        raise UsageError("--by country needs a MaxMind-format database: give it with --geoip FILE")
    if opts.geoip and not os.path.isfile(opts.geoip):
        raise InputError(f"{opts.geoip}: no such GeoIP database file")
    return LogOptions(**{**opts.__dict__, "segments": tuple(segs)})


def _check_engine_regex(regex: str) -> None:
    """The engine's regular expressions (RE2) lack some of Python's (look-around, backrefs)."""
    import duckdb

    try:
        duckdb.connect().execute("SELECT regexp_matches('', ?)", [regex]).fetchall()
    except duckdb.Error as exc:
        detail = first_line(exc).removeprefix("Invalid Input Error: ")
        raise UsageError(
            f"--group {regex!r}: not a regular expression the engine can run ({detail}; "
            "look-ahead, look-behind and back-references are not supported)"
        ) from None


def parse_group(text: str) -> tuple[str, str]:
    """'REGEX=>NAME' (NAME may use \\1 for the regex's groups)."""
    if "=>" not in text:
        raise UsageError(
            f"--group {text!r}: expected REGEX=>NAME, e.g. '^/product/\\d+=>/product/:id'"
        )
    regex, name = text.split("=>", 1)
    if not regex:
        raise UsageError(f"--group {text!r}: the regular expression is empty")
    return regex, name


def parse_field(text: str) -> tuple[str, str]:
    """'FIELD=KEY' for JSON logs, e.g. 'ip=client.address'."""
    name, sep, key = text.partition("=")
    if not sep or not key or name not in _JSON_KEYS:
        raise UsageError(
            f"--field {text!r}: expected FIELD=KEY with FIELD one of {', '.join(_JSON_KEYS)}"
        )
    return name, key


@dataclass
class Traffic:
    """What the log source knows besides the requests: the format, the skipped lines, bots."""

    format: str
    format_spec: str
    lines: int = 0
    blank_lines: int = 0
    directive_lines: int = 0
    bot_hits: int = 0
    bot_bytes: int = 0
    all_hits: int = 0
    all_bytes: int = 0


class LogSource(Source):
    """A :class:`~topshare.sources.Source` whose rows are the requests of access logs."""

    log: LogFormat
    opts: LogOptions
    tmp: str = ""
    info: Traffic
    _json_keys: dict[str, str]
    _maps: list[str]

    @property
    def table(self) -> Any:
        return self.con.sql(self._view(f"SELECT * FROM {self.tmp}"), schema=self._schema)

    def numbered(self, file: str) -> Any:
        """The requests of one file with their line number and, for a malformed line, its text
        (both kept in the parsed table: no second reading of the file)."""
        parsed = f"SELECT * FROM {self.tmp} WHERE {FILE_COL} = {_quote(file)}"
        return self.con.sql(self._view(parsed, keep=(ROW_COL, LINE_COL)))

    def malformed(self) -> list[tuple[str, int, str, str]]:
        return []  # malformed lines are rejections the engine counts (see MALFORMED_COL)

    def _lines(self, file: str) -> str:
        """One file as one text column, a row per physical line (blank ones too), numbered in
        file order."""
        opts = (
            f"columns={{'line': 'VARCHAR'}}, delim={_quote(_DELIM)}, quote='', escape='', "
            "header=false, auto_detect=false, strict_mode=false"
        )
        if _is_gzip(file):  # by content: rotated logs are often 'access.log.2' yet gzipped
            opts += ", compression='gzip'"
        return (
            f"(SELECT line, ROW_NUMBER() OVER () AS {ROW_COL}, {_quote(file)} AS {FILE_COL} "
            f"FROM read_csv({_quote(file)}, {opts}))"
        )

    def _parse(self, base: str) -> str:
        """Lines -> one row per line: its number, its kind (ok, malformed, blank, directive),
        the raw text of every field of the format (NULL unless the line is ok) and the text of
        the line when it is malformed."""
        fields = self._fields()
        kept = f", {ROW_COL}"
        if self.log.kind == "json":
            paths = ", ".join(_quote(json_path(self._json_keys[f])) for f in fields)
            extract = f"CASE WHEN json_valid(line) THEN json_extract_string(line, [{paths}]) END"
            ok = "f IS NOT NULL"
            cols = [f"f[{i + 1}] AS r_{name}" for i, name in enumerate(fields)]
        else:
            # Only the fields the analysis needs are captured; the time is always one of them
            # and never empty in a line that matches, so it tells matched lines apart.
            regex, names = self.log.capturing({*fields, "time"})
            listed = ", ".join(_quote(n) for n in names)
            extract = f"regexp_extract(line, {_quote(regex)}, [{listed}])"
            ok = "f.time <> ''"
            cols = [f"f.{name} AS r_{name}" for name in fields]
            if self.log.kind == "w3c":  # W3C logs write the spaces of a user agent as '+'
                cols = [
                    f"replace(f.{n}, '+', ' ') AS r_{n}" if n == "user_agent" else c
                    for n, c in zip(fields, cols, strict=True)
                ]
        directive = "starts_with(line, '#')" if self.log.kind == "w3c" else "false"
        kind = (
            f"CASE WHEN line IS NULL OR trim(line) = '' THEN {_KIND_BLANK} "
            f"WHEN {directive} THEN {_KIND_DIRECTIVE} "
            f"WHEN {ok} THEN {_KIND_OK} ELSE {_KIND_MALFORMED} END"
        )
        line_col = f", CASE WHEN kind IN ({_KIND_MALFORMED}, {_KIND_DIRECTIVE}) THEN line END AS {LINE_COL}"
        select = ", ".join(
            f"CASE WHEN kind = {_KIND_OK} THEN {c.split(' AS ')[0]} END AS {c.split(' AS ')[1]}"
            for c in cols
        )
        return (
            f"SELECT {FILE_COL}, kind{kept}{line_col}{', ' + select if select else ''} FROM ("
            f"SELECT *, {kind} AS kind FROM (SELECT {FILE_COL}, line{kept}, {extract} AS f "
            f"FROM ({base})))"
        )

    def _fields(self) -> list[str]:
        """The raw fields the analysis needs (only those are kept)."""
        need = {"time", "bytes", "ip", "user_agent"}
        for d in self.opts.dims():
            need |= SOURCES.get(d, {d})
        have = set(self._json_keys) if self.log.kind == "json" else set(self.log.fields)
        if self.log.kind == "w3c":
            have.add("date")
        return sorted(f for f in need | {"date", "request", "target", "path", "query"} if f in have)

    def _materialize(self, parsed: str) -> str:
        """The parsed lines with what every query needs computed once: the time text, the
        bytes, and every dimension that needs no lookup table (path, referrer domain...)."""
        have = set(self._fields())
        exprs = dimension_sql(self.opts, have, self.log)
        ok = f"p.kind = {_KIND_OK}"
        cols = [
            f"p.{FILE_COL}",
            "p.kind",
            f"p.{ROW_COL}",
            f"p.{LINE_COL}",
            f"{time_sql(have, self.log)} AS time",
            f"CASE WHEN {ok} THEN {bytes_sql(have)} END AS bytes",
            f"{'p.r_ip' if 'ip' in have else 'NULL'} AS r_ip",
            f"{'p.r_user_agent' if 'user_agent' in have else 'NULL'} AS r_user_agent",
        ]
        for d in self.opts.dims():
            if d in LOOKED_UP:
                if d == "subnet":  # IPv4 here; IPv6 from a lookup table in the view
                    cols.append(f"{exprs[d]} AS d_{d}")
                continue
            expr = exprs[d]
            if d in NONE_WHEN_ABSENT:  # a request line without a target ('-'): a hit still
                expr = f"CASE WHEN {ok} THEN coalesce({expr}, '(none)') END"
            cols.append(f"{expr} AS d_{d}")
        return f"SELECT {', '.join(cols)} FROM ({parsed}) p"

    def _view(self, parsed: str, keep: tuple[str, ...] = ()) -> str:
        """Requests with their dimensions from the materialized lines (blank and directive
        lines left out; malformed ones kept and flagged)."""
        maps = "".join(self._maps)
        looked_up = {
            "subnet": "coalesce(p.d_subnet, ip6.subnet, p.r_ip)",
            "country": "coalesce(geo.country, '(unknown)')",
            "browser": "ua.browser",
            "os": "ua.os",
            "device": "ua.device",
        }
        dims = [
            f"{looked_up[d] if d in LOOKED_UP else f'p.d_{d}'} AS {d}" for d in self.opts.dims()
        ]
        cols = [
            f"p.{FILE_COL}",
            f"(p.kind = {_KIND_MALFORMED}) AS {MALFORMED_COL}",
            "p.time",
            "p.bytes",
            *dims,
            *[f"p.{k}" for k in keep],
        ]
        where = f"p.kind IN ({_KIND_OK}, {_KIND_MALFORMED})"
        if self.opts.bots != "include":
            cond = (
                "coalesce(ua.bot, false)"
                if self.opts.bots == "only"
                else "NOT coalesce(ua.bot, false)"
            )
            where += f" AND (p.kind = {_KIND_MALFORMED} OR {cond})"
        return f"SELECT {', '.join(cols)} FROM ({parsed}) p{maps} WHERE {where}"


def open_log(con: Any, inputs: list[str], opts: LogOptions) -> LogSource:
    """Open access logs: find the files (via the file source's checks), detect the format,
    parse every line once into a temporary table, classify the user agents."""
    # Globs, stdin, gzip and the file checks as for any file; the lines are read below.
    plain = open_source(con, list[str | os.PathLike[str]](inputs), format="log", configure=False)
    src = LogSource(con=con, paths=plain.paths, files=plain.files, format="log", columns={},
                    display=plain.display)  # fmt: skip
    src._tmpdir, plain._tmpdir = plain._tmpdir, None
    src.opts = opts
    src.malformed_text = "the line does not match the log format"
    first = src.name(src.files[0])
    sample = _sample(src.files[0], first)
    src.log = logformat.from_spec(opts.log_format) if opts.log_format else None  # type: ignore[assignment]
    if src.log is None:
        src.log = logformat.detect(sample, first)
    if src.log.kind == "w3c":
        src.log = _w3c(src, sample)
    if opts.fields and src.log.kind != "json":
        raise UsageError(f"{first}: --field maps JSON keys; this log is {src.log.name}, not JSON")
    src._json_keys = _json_keys(sample, opts, first) if src.log.kind == "json" else {}
    if src.log.kind == "json" and _json_time_is_apache(sample, src._json_keys):
        src.log = dataclasses.replace(src.log, time_format=logformat.APACHE_TIME)
    if opts.every_dimension:
        opts = src.opts = dataclasses.replace(opts, segments=available_dimensions(src))
    _require(src, first)
    src.info = Traffic(src.log.name, src.log.spec)
    src._maps = []
    src.tmp = f"__ts_log_{next(_ids)}"
    raw = con.con
    for i, file in enumerate(src.files):  # one file at a time: line numbers are per file
        rows = src._materialize(src._parse(f"SELECT * FROM {src._lines(file)}"))
        sql = f"INSERT INTO {src.tmp} {rows}" if i else f"CREATE TEMP TABLE {src.tmp} AS {rows}"
        try:
            raw.execute(sql)
        except Exception as exc:
            raise InputError(_read_error(src.name(file), exc)) from None
    if src.log.kind == "w3c":
        _same_fields(src)
    _count_lines(src)
    join_agents(src)
    if "subnet" in opts.dims():
        join_ipv6(src)
    if "country" in opts.dims():
        join_geo(src)
    columns = {"time": dt.string, "bytes": dt.int64, **dict.fromkeys(opts.dims(), dt.string)}
    src.columns = columns
    src._schema = _schema(columns)
    _bot_totals(src)
    return src


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _read_error(where: str, exc: Exception) -> str:
    """The reader's error as one line naming the file and line."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    at = f"{where}:{line.group(1)}" if line else where
    if "unicode" in text.lower() or "utf-8" in text.lower() or "encoding" in text.lower():
        return f"{at}: not valid UTF-8 text (access logs are read as UTF-8)"
    if "maximum line size" in text.lower():
        return f"{at}: a line is longer than the reader's limit (2 MB)"
    return f"{at}: cannot be read as an access log ({first_line(exc)})"


def _same_fields(src: LogSource) -> None:
    """A W3C file whose #Fields: directive changes part-way (an IIS restart with another
    configuration) cannot be read with one format: a clear error rather than misread fields."""
    rows = src.con.con.execute(
        f"SELECT {FILE_COL}, min({ROW_COL}), count(DISTINCT {LINE_COL}) FROM {src.tmp} "
        f"WHERE kind = {_KIND_DIRECTIVE} AND starts_with({LINE_COL}, '#Fields:') "
        f"GROUP BY 1 HAVING count(DISTINCT {LINE_COL}) > 1"
    ).fetchall()
    if rows:
        file = str(rows[0][0])
        line = src.con.con.execute(
            f"SELECT min({ROW_COL}) FROM {src.tmp} WHERE {FILE_COL} = ? AND kind = "
            f"{_KIND_DIRECTIVE} AND starts_with({LINE_COL}, '#Fields:') AND {LINE_COL} <> ?",
            [file, src.log.spec],
        ).fetchone()
        where = f"{src.name(file)}:{line[0] if line else '?'}"
        raise InputError(
            f"{where}: the #Fields: directive changes within the file; split it where the "
            "fields change and analyse the parts with the same fields together"
        )


def _schema(columns: dict[str, Any]) -> Any:
    import ibis

    return ibis.schema({FILE_COL: dt.string, MALFORMED_COL: dt.boolean, **columns})


def _sample(path: str, name: str, lines: int = 50) -> list[str]:
    gz = _is_gzip(path)
    out: list[str] = []
    with (gzip.open if gz else open)(path, "rt", encoding="utf-8", errors="replace") as text:
        for line in text:
            out.append(line.rstrip("\r\n"))
            if len(out) >= lines:
                break
    return out


def _w3c(src: LogSource, sample: list[str]) -> LogFormat:
    first = src.name(src.files[0])
    found = next((s for s in sample if s.startswith("#Fields:")), None)
    if found is None:
        raise UsageError(f"{first}: a W3C log needs a #Fields: directive before its first line")
    for f in src.files[1:]:
        other = next((s for s in _sample(f, src.name(f)) if s.startswith("#Fields:")), None)
        if other is not None and other != found:
            raise InputError(f"{src.name(f)}: its #Fields: directive differs from {first}'s")
    return logformat.w3c_format(found, first)


def _json_keys(sample: list[str], opts: LogOptions, where: str) -> dict[str, str]:
    first = next((s for s in sample if s.strip()), "")
    try:
        obj = json.loads(first)
    except ValueError:
        raise InputError(f"{where}:1: not a JSON object ({first[:80]!r})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{where}:1: not a JSON object ({first[:80]!r})")
    keys: dict[str, str] = {}
    for name, names in _JSON_KEYS.items():
        hit = next((k for k in names if k in obj), None)
        if hit is not None:
            keys[name] = hit
    keys.update(dict(opts.fields))
    return keys


def _json_time_is_apache(sample: list[str], keys: dict[str, str]) -> bool:
    """True when the first line's time is written as Apache/nginx $time_local does
    ('10/Oct/2024:13:55:36 -0700'), not ISO 8601 or epoch seconds."""
    if "time" not in keys:
        return False
    value: Any = json.loads(next((s for s in sample if s.strip()), "{}"))
    for part in keys["time"].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return isinstance(value, str) and re.fullmatch(logformat.TIME_LOCAL, value) is not None


def available_dimensions(src: LogSource) -> tuple[str, ...]:
    """The ``--by`` names this log's format has the fields for (country only with a GeoIP
    database), in the order of :data:`DIMENSIONS`."""
    have = set(src._json_keys) if src.log.kind == "json" else set(src.log.fields)
    return tuple(
        name
        for name, col in DIMENSIONS.items()
        if SOURCES.get(col, {col}) & have and (col != "country" or src.opts.geoip)
    )


def _require(src: LogSource, where: str) -> None:
    """The format must give what the chosen dimensions and measure need."""
    have = set(src._json_keys) if src.log.kind == "json" else set(src.log.fields)
    for d in src.opts.dims():
        if not (SOURCES.get(d, {d}) & have):
            raise UsageError(
                f"{where}: the log format ({src.log.name}) has no field for --by/--segment "
                f"{d.replace('_', '-')}"
                + ("; map one with --field" if src.log.kind == "json" else "")
            )
    if src.opts.measure == "bytes" and "bytes" not in have:
        raise UsageError(f"{where}: the log format ({src.log.name}) has no bytes field")
    if src.opts.bots != "include" and "user_agent" not in have:
        flag = "--exclude-bots" if src.opts.bots == "exclude" else "--only-bots"
        raise UsageError(
            f"{where}: {flag} needs a user agent and the log format ({src.log.name}) has none"
        )
    if "time" not in have:
        hint = " (map it with --field time=KEY)" if src.log.kind == "json" else ""
        raise UsageError(f"{where}: the log format ({src.log.name}) has no time field{hint}")


def _count_lines(src: LogSource) -> None:
    rows = src.con.con.execute(f"SELECT kind, count(*) FROM {src.tmp} GROUP BY kind").fetchall()
    by = {int(k): int(n) for k, n in rows}
    src.info.lines = sum(by.values())
    src.info.blank_lines = by.get(_KIND_BLANK, 0)
    src.info.directive_lines = by.get(_KIND_DIRECTIVE, 0)


def _bot_totals(src: LogSource) -> None:
    """Hits and bytes of every request, and of the bots among them (before any bot filter;
    no bots when the format has no user agent)."""
    maps = next((m for m in src._maps if " ua ON " in m), "")
    bot = "ua.bot" if maps else "false"
    row = src.con.con.execute(
        f"SELECT count(*), sum(p.bytes), count(*) FILTER (WHERE {bot}), "
        f"sum(p.bytes) FILTER (WHERE {bot}) FROM {src.tmp} p{maps} "
        f"WHERE p.kind = {_KIND_OK}"
    ).fetchone()
    assert row is not None
    src.info.all_hits, src.info.all_bytes = int(row[0] or 0), int(row[1] or 0)
    src.info.bot_hits, src.info.bot_bytes = int(row[2] or 0), int(row[3] or 0)


def has_visitors(src: LogSource) -> bool:
    """Visitors need both the IP and the user agent."""
    return "ip" in src._fields() and "user_agent" in src._fields()


def visitors(
    src: LogSource,
    dim: str,
    keys: list[str] | None,
    first: date | None = None,
    last: date | None = None,
    where: Sequence[tuple[str, str | None]] = (),
) -> dict[str, int]:
    """Distinct (IP, user agent, day) per key, for a few keys (``None``: every key; not
    additive: shown, never summed or shared), over the requests of the days ``first`` to
    ``last`` (both included; None: open) whose dimensions have the values of ``where``
    ((dimension, value) pairs of this source's own dimensions; None: no value). The day is the
    request's date in the session's time zone."""
    if keys is not None and not keys:
        return {}
    fmt = src.log.time_format
    parsed = f"try_strptime(time, {_quote(fmt)})" if fmt else "TRY_CAST(time AS TIMESTAMPTZ)"
    day = f"CAST(CAST({parsed} AS TIMESTAMP) AS DATE)"
    view = src._view(f"SELECT * FROM {src.tmp}", keep=("r_ip", "r_user_agent"))
    sql = (
        f"SELECT {dim}, count(DISTINCT (r_ip, r_user_agent, {day})) FROM ({view}) "
        f"WHERE NOT {MALFORMED_COL}"
        + (f" AND {dim} IN ({', '.join(_quote(k) for k in keys)})" if keys is not None else "")
        + (f" AND {day} >= DATE '{first.isoformat()}'" if first is not None else "")
        + (f" AND {day} <= DATE '{last.isoformat()}'" if last is not None else "")
        + "".join(_equals(col, value) for col, value in where)
        + " GROUP BY 1"
    )
    return {str(k): int(n) for k, n in src.con.con.execute(sql).fetchall() if k is not None}


def _equals(col: str, value: str | None) -> str:
    """`` AND col = 'value'`` for one of the source's dimensions (a known name, never a
    request's text), ``IS NULL`` for no value."""
    if not col.isidentifier():
        raise UsageError(f"not a dimension: {col!r}")
    return f" AND {col} IS NULL" if value is None else f" AND {col} = {_quote(value)}"

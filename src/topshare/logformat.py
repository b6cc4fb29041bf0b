"""Access-log formats: presets, Apache ``LogFormat`` and nginx ``log_format`` strings compiled into
one regular expression, detection from the first lines, W3C extended (IIS) ``#Fields:`` headers.

A :class:`LogFormat` says how one line splits into named fields (``ip``, ``time``, ``request``,
``status``, ``bytes``, ``referrer``, ``user_agent``, ``vhost``...). The regular expression runs
inside the engine (one pass over every line, see :mod:`topshare.logs`); Python only looks at a
few sample lines here, to pick the format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from topshare.errors import UsageError

#: The fields topshare knows; a format may have any subset (others are captured and ignored).
KNOWN_FIELDS = (
    "ip", "ident", "user", "time", "request", "method", "target", "path", "query", "protocol",
    "status", "bytes", "referrer", "user_agent", "vhost", "port", "duration",
)  # fmt: skip

APACHE_TIME = "%d/%b/%Y:%H:%M:%S %z"  # 10/Oct/2024:13:55:36 -0700


@dataclass(frozen=True)
class LogFormat:
    """How a line splits into fields. ``kind`` is ``regex`` (one regular expression over the
    line), ``json`` (one JSON object per line) or ``w3c`` (space-separated, from ``#Fields:``).
    ``time_format`` is the strptime format of the ``time`` field (None: ISO 8601)."""

    name: str
    kind: str
    fields: tuple[str, ...]
    regex: str = ""
    time_format: str | None = APACHE_TIME
    spec: str = ""  # the format string the user gave, or the preset's
    #: The regex in pieces: (regex text, field name or None for a literal), in order.
    pieces: tuple[tuple[str, str | None], ...] = ()

    def matcher(self) -> re.Pattern[str]:
        return re.compile(self.regex)

    def capturing(self, wanted: set[str]) -> tuple[str, list[str]]:
        """The regex with capture groups for the ``wanted`` fields only (the others matched
        but not captured: fewer groups, a faster pass), and the names of its groups."""
        out, names = [], []
        for text, name in self.pieces:
            if name is not None and name in wanted and name not in names:
                out.append(text)
                names.append(name)
            elif name is not None:
                out.append("(?:" + text[1:])
            else:
                out.append(text)
        return "".join(out), names


# -- Apache LogFormat ---------------------------------------------------------------------------

_APACHE_PRESETS = {
    "common": '%h %l %u %t "%r" %>s %b',
    "combined": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
    "vhost_combined": '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
    "vhost_common": '%v %h %l %u %t "%r" %>s %b',
}
#: Apache directive letter -> field name (None: captured, not used).
_APACHE_FIELDS: dict[str, str | None] = {
    "h": "ip", "a": "ip", "A": None, "l": "ident", "u": "user", "t": "time", "r": "request",
    "m": "method", "U": "path", "q": "query", "H": "protocol", "s": "status", "b": "bytes",
    "B": "bytes", "O": "bytes", "I": None, "S": None, "D": "duration", "T": None, "v": "vhost",
    "V": "vhost", "p": "port", "P": None, "k": None, "L": None, "X": None, "R": None, "f": None,
}  # fmt: skip
_APACHE_HEADERS = {"referer": "referrer", "user-agent": "user_agent", "host": "vhost"}
_APACHE_DIRECTIVE = re.compile(r"%([<>]?)(?:!?[0-9,]+)?(?:\{([^}]*)\})?([a-zA-Z%])")

# -- nginx log_format ---------------------------------------------------------------------------

_NGINX_FIELDS: dict[str, str | None] = {
    "remote_addr": "ip", "binary_remote_addr": None, "http_x_forwarded_for": None,
    "remote_user": "user", "time_local": "time", "time_iso8601": "time", "request": "request",
    "request_method": "method", "request_uri": "target", "uri": "path", "document_uri": "path",
    "args": "query", "query_string": "query", "server_protocol": "protocol", "status": "status",
    "body_bytes_sent": "bytes", "bytes_sent": "bytes", "http_referer": "referrer",
    "http_user_agent": "user_agent", "host": "vhost", "server_name": "vhost",
    "http_host": "vhost", "server_port": "port", "request_time": "duration",
}  # fmt: skip
_NGINX_VAR = re.compile(r"\$(\{[a-zA-Z_0-9]+\}|[a-zA-Z_0-9]+)")

# Field regexes where the field's own shape is known (the rest depend on what follows them).
_TIME_LOCAL = r"(\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})"
TIME_LOCAL = _TIME_LOCAL  # the Apache/nginx $time_local shape (JSON logs may carry it too)
_ISO_TIME = r"(\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)"
_STATUS = r"(\d{3}|-)"
_BYTES = r"(\d+|-)"
_QUOTED = r'((?:[^"\\]|\\.)*)'  # inside quotes: anything but a quote, escaped quotes allowed


def _field_regex(name: str | None, following: str, time_fmt: str | None) -> str:
    if name == "time":
        return _TIME_LOCAL if time_fmt else _ISO_TIME
    if following == '"':
        return _QUOTED
    if name == "status":
        return _STATUS
    if name == "bytes":
        return _BYTES
    if following == "":
        return r"(.*)"
    if following == " ":
        return r"([^ ]*)"
    return "([^" + re.escape(following[0]) + "]*)"


def _compile(
    parts: list[tuple[str, str | None]], name: str, spec: str, iso_time: bool
) -> LogFormat:
    """``parts``: literal text (kind 'lit') and fields ('field', name) in order."""
    pieces: list[tuple[str, str | None]] = [("^", None)]
    fields: list[str] = []
    time_fmt = None if iso_time else APACHE_TIME
    for i, (kind, value) in enumerate(parts):
        if kind == "lit":
            pieces.append((_escape(value or ""), None))
            continue
        nxt = next((v for k, v in parts[i + 1 :] if k == "lit" and v), "")
        field = value or f"_unused{i}"
        pieces.append((_field_regex(value, nxt[:1], time_fmt), field))
        fields.append(field)
    pieces.append(("$", None))
    regex = "".join(text for text, _ in pieces)
    return LogFormat(name, "regex", tuple(fields), regex, time_fmt, spec, tuple(pieces))


def _escape(text: str) -> str:
    """Literal text for both Python's re and RE2 (only metacharacters are escaped)."""
    return "".join("\\" + c if c in "\\.^$|?*+()[]{}" else c for c in text)


def compile_apache(spec: str, name: str = "apache") -> LogFormat:
    """An Apache ``LogFormat`` string, e.g. ``%h %l %u %t "%r" %>s %b``."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _APACHE_DIRECTIVE.finditer(spec):
        if m.start() > pos:
            parts.append(("lit", spec[pos : m.start()]))
        pos = m.end()
        arg, letter = m.group(2), m.group(3)
        if letter == "%":
            parts.append(("lit", "%"))
            continue
        if letter == "t" and arg:
            raise UsageError(f"--log-format: %{{{arg}}}t (a custom time format) is not supported")
        if letter in ("i", "o", "e", "n", "C", "x"):
            field = _APACHE_HEADERS.get((arg or "").lower()) if letter == "i" else None
        elif letter in _APACHE_FIELDS:
            field = _APACHE_FIELDS[letter]
        else:
            raise UsageError(f"--log-format: unknown Apache directive %{letter} in {spec!r}")
        if letter == "t":  # %t writes its own brackets
            parts += [("lit", "["), ("field", "time"), ("lit", "]")]
        else:
            parts.append(("field", field))
    if pos < len(spec):
        parts.append(("lit", spec[pos:]))
    return _checked(_compile(parts, name, spec, iso_time=False), spec)


def compile_nginx(spec: str, name: str = "nginx") -> LogFormat:
    """An nginx ``log_format`` string, e.g. ``$remote_addr - $remote_user [$time_local] ...``."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    iso = "$time_iso8601" in spec or "${time_iso8601}" in spec
    for m in _NGINX_VAR.finditer(spec):
        if m.start() > pos:
            parts.append(("lit", spec[pos : m.start()]))
        pos = m.end()
        var = m.group(1).strip("{}")
        field = _NGINX_FIELDS.get(var)
        if var.startswith("http_") and field is None:
            field = None  # another request header: captured, not used
        parts.append(("field", field))
    if pos < len(spec):
        parts.append(("lit", spec[pos:]))
    return _checked(_compile(parts, name, spec, iso_time=iso), spec)


def _checked(fmt: LogFormat, spec: str) -> LogFormat:
    used = [f for f in fmt.fields if not f.startswith("_unused")]
    if len(used) != len(set(used)):
        dup = sorted({f for f in used if used.count(f) > 1})
        raise UsageError(f"--log-format {spec!r} gives the field(s) {', '.join(dup)} twice")
    if not used:
        raise UsageError(f"--log-format {spec!r} has no field topshare knows")
    return fmt


PRESETS: dict[str, LogFormat] = {
    name: compile_apache(spec, name) for name, spec in _APACHE_PRESETS.items()
}
#: Tried in this order when detecting (most specific first).
DETECT_ORDER = ("vhost_combined", "combined", "vhost_common", "common")


def from_spec(spec: str) -> LogFormat | None:
    """The format named or written by ``--log-format``: a preset name, ``json``, ``w3c``, an
    Apache string (with ``%``) or an nginx string (with ``$``). None: detect from the file."""
    key = spec.strip().lower().replace("-", "_")
    if key in ("", "auto"):
        return None
    if key in PRESETS:
        return PRESETS[key]
    if key in ("json", "ndjson", "jsonl"):
        return LogFormat("json", "json", (), time_format=None, spec=spec)
    if key in ("w3c", "iis"):
        return LogFormat("w3c", "w3c", (), time_format=None, spec=spec)
    if "$" in spec:
        return compile_nginx(spec)
    if "%" in spec:
        return compile_apache(spec)
    names = ", ".join([*PRESETS, "json", "w3c"])
    raise UsageError(
        f"--log-format {spec!r}: expected a format name ({names}), an Apache LogFormat string "
        "(%h %l %u %t ...) or an nginx log_format string ($remote_addr ...)"
    )


def detect(sample: list[str], where: str) -> LogFormat:
    """The format of a file from its first non-blank lines: W3C when a ``#Fields:`` directive
    comes first, JSON when lines are objects, else the preset that matches the most lines."""
    lines = [s for s in sample if s.strip()]
    if not lines:
        raise UsageError(f"{where}: no log lines to detect the format from")
    fields_line = next((s for s in lines if s.startswith("#Fields:")), None)
    if fields_line is not None or lines[0].startswith("#Software:"):
        return LogFormat("w3c", "w3c", (), time_format=None, spec="w3c")
    data = [s for s in lines if not s.startswith("#")][:200]
    if data and all(s.lstrip().startswith("{") for s in data[:5]):
        return LogFormat("json", "json", (), time_format=None, spec="json")
    best, best_hits = None, 0
    for name in DETECT_ORDER:
        pattern = PRESETS[name].matcher()
        hits = sum(1 for s in data if pattern.match(s))
        if hits > best_hits:
            best, best_hits = PRESETS[name], hits
    if best is None or best_hits * 2 < len(data):
        first = data[0][:120] if data else lines[0][:120]
        raise UsageError(
            f"{where}: cannot tell the log format (first line {first!r}); give it with "
            "--log-format, e.g. --log-format combined or an Apache/nginx format string"
        )
    return best


# -- W3C extended (IIS) -------------------------------------------------------------------------

_W3C_FIELDS = {
    "date": "date", "time": "time", "c-ip": "ip", "cs-username": "user", "cs-method": "method",
    "cs-uri-stem": "path", "cs-uri-query": "query", "sc-status": "status", "sc-bytes": "bytes",
    "cs(referer)": "referrer", "cs(user-agent)": "user_agent", "cs-host": "vhost",
    "s-port": "port", "time-taken": "duration", "cs-version": "protocol", "s-sitename": None,
}  # fmt: skip


def w3c_format(fields_line: str, where: str) -> LogFormat:
    """The format of a W3C extended log from its ``#Fields:`` directive."""
    names = fields_line.split(":", 1)[1].split()
    if not names:
        raise UsageError(f"{where}: the #Fields: directive lists no fields")
    fields: list[str] = []
    for i, n in enumerate(names):
        field = _W3C_FIELDS.get(n.lower())
        fields.append(field if field and field not in fields else f"_unused{i}")
    if "time" not in fields:
        raise UsageError(f"{where}: the #Fields: directive has no time field")
    # W3C writes '-' for an empty field, so every field has at least one character.
    pieces: list[tuple[str, str | None]] = [("^", None)]
    for i, f in enumerate(fields):
        pieces += [*([(" ", None)] if i else []), (r"(\S+)", f)]
    pieces.append(("$", None))
    regex = "".join(text for text, _ in pieces)
    return LogFormat("w3c", "w3c", tuple(fields), regex, None, fields_line, tuple(pieces))

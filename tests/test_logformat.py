"""Access-log formats (unit): the preset regexes, Apache ``LogFormat`` and nginx ``log_format``
compilation, detection from sample lines, W3C ``#Fields:`` headers, and the errors.

The expected fields of each line are written by hand here; the regular expressions are run with
Python's ``re`` (the same text DuckDB runs; tests/test_traffic.py runs them in the engine).
"""

from __future__ import annotations

import re

import pytest

from topshare.errors import UsageError
from topshare.logformat import (
    APACHE_TIME,
    DETECT_ORDER,
    PRESETS,
    LogFormat,
    compile_apache,
    compile_nginx,
    detect,
    from_spec,
    w3c_format,
)

COMBINED = (
    '203.0.113.9 - frank [10/Oct/2024:13:55:36 -0700] "GET /apache_pb.gif?x=1 HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)
COMMON = '203.0.113.9 - frank [10/Oct/2024:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
VHOST = (
    'www.example.com:443 203.0.113.9 - - [10/Oct/2024:13:55:36 +0100] "GET / HTTP/1.1" 304 - '
    '"-" "curl/8.0"'
)


def fields(fmt: LogFormat, line: str) -> dict[str, str] | None:
    """The known fields of one line (None: the line does not match)."""
    m = re.match(fmt.regex, line)
    if m is None:
        return None
    return {
        name: value
        for name, value in zip(fmt.fields, m.groups(), strict=True)
        if not name.startswith("_unused")
    }


# -- presets ------------------------------------------------------------------------------------


def test_combined_preset_splits_every_field() -> None:
    assert fields(PRESETS["combined"], COMBINED) == {
        "ip": "203.0.113.9",
        "ident": "-",
        "user": "frank",
        "time": "10/Oct/2024:13:55:36 -0700",
        "request": "GET /apache_pb.gif?x=1 HTTP/1.0",
        "status": "200",
        "bytes": "2326",
        "referrer": "http://www.example.com/start.html",
        "user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }
    assert PRESETS["combined"].time_format == APACHE_TIME


def test_common_preset() -> None:
    got = fields(PRESETS["common"], COMMON)
    assert got is not None
    assert (got["ip"], got["status"], got["bytes"]) == ("203.0.113.9", "200", "2326")
    assert "user_agent" not in PRESETS["common"].fields
    assert fields(PRESETS["common"], COMBINED) is None  # anchored: no trailing fields


def test_vhost_combined_preset() -> None:
    got = fields(PRESETS["vhost_combined"], VHOST)
    assert got is not None
    assert got["vhost"] == "www.example.com"
    assert got["port"] == "443"
    assert got["ip"] == "203.0.113.9"
    assert got["bytes"] == "-"
    assert got["user_agent"] == "curl/8.0"


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("-", "-"),  # 408: nothing was received
        ("GET /a b HTTP/1.1", "GET /a b HTTP/1.1"),  # a space in the target
        ("GET /", "GET /"),  # HTTP/0.9
        (r"GET /q\"x HTTP/1.1", r"GET /q\"x HTTP/1.1"),  # an escaped quote
        ("GET /100%25/%zz HTTP/1.1", "GET /100%25/%zz HTTP/1.1"),
    ],
)
def test_odd_but_legal_request_lines_match(request_line: str, expected: str) -> None:
    line = (
        f'198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "{request_line}" 408 - "-" '
        r'"Mozilla \"quoted\" agent"'
    )
    got = fields(PRESETS["combined"], line)
    assert got is not None
    assert got["request"] == expected
    assert got["user_agent"] == r"Mozilla \"quoted\" agent"
    assert got["referrer"] == "-"


def test_ipv6_address_matches() -> None:
    line = COMBINED.replace("203.0.113.9", "2001:db8::1")
    got = fields(PRESETS["combined"], line)
    assert got is not None
    assert got["ip"] == "2001:db8::1"


@pytest.mark.parametrize(
    "line",
    [
        COMBINED[: len(COMBINED) // 2],  # truncated
        COMBINED.replace("[10/Oct/2024:13:55:36 -0700]", "[10/Oct/2024:13:55:36]"),  # no offset
        COMBINED.replace(" 200 ", " OK "),  # status not numeric
        COMBINED.replace(" 2326 ", " 2.3k "),  # bytes not numeric
        "garbage",
    ],
)
def test_malformed_lines_do_not_match(line: str) -> None:
    assert fields(PRESETS["combined"], line) is None


# -- Apache LogFormat ---------------------------------------------------------------------------


def test_apache_custom_format_with_duration() -> None:
    fmt = compile_apache('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D')
    assert fmt.kind == "regex"
    assert "duration" in fmt.fields
    got = fields(fmt, COMBINED + " 1234")
    assert got is not None
    assert got["duration"] == "1234"
    assert got["user_agent"] == "Mozilla/4.08 [en] (Win98; I ;Nav)"


def test_apache_headers_and_unknown_headers() -> None:
    fmt = compile_apache('%a "%{X-Forwarded-For}i" %{Host}i %t "%r" %s %B')
    got = fields(fmt, '10.0.0.1 "1.2.3.4, 5.6.7.8" shop.example [01/Jan/2024:00:00:00 +0000] '
                      '"GET / HTTP/1.1" 200 5')  # fmt: skip
    assert got == {
        "ip": "10.0.0.1",
        "vhost": "shop.example",
        "time": "01/Jan/2024:00:00:00 +0000",
        "request": "GET / HTTP/1.1",
        "status": "200",
        "bytes": "5",
    }


def test_apache_modifiers_and_literal_percent() -> None:
    fmt = compile_apache("%h %!200,304{Referer}i %>s %b 100%%")
    assert fmt.fields == ("ip", "referrer", "status", "bytes")
    assert fields(fmt, "1.2.3.4 - 200 7 100%") == {
        "ip": "1.2.3.4",
        "referrer": "-",
        "status": "200",
        "bytes": "7",
    }
    assert fields(fmt, "1.2.3.4 - 200 7 100") is None


def test_apache_literal_punctuation_runs_in_the_engine_regex_dialect() -> None:
    import duckdb

    fmt = compile_apache('%h|%t|"%r"|%>s|%b #&~ %T')
    line = '1.1.1.1|[10/Oct/2024:10:00:00 +0000]|"GET /a HTTP/1.1"|200|5 #&~ 0'
    assert fields(fmt, line) is not None
    con = duckdb.connect()
    row = con.execute("SELECT regexp_full_match(?, ?)", [line, fmt.regex]).fetchall()
    assert row == [(True,)]


def test_apache_unknown_directive_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown Apache directive %Z"):
        compile_apache('%h %Z "%r"')


def test_apache_custom_time_format_is_refused() -> None:
    with pytest.raises(UsageError, match="custom time format"):
        compile_apache('%h [%{%d/%b/%Y %T}t] "%r" %>s %b')


def test_apache_duplicate_field_is_refused() -> None:
    with pytest.raises(UsageError, match="ip"):
        compile_apache('%h %a %t "%r"')


def test_apache_format_without_known_field_is_refused() -> None:
    with pytest.raises(UsageError, match="no field topshare knows"):
        compile_apache("%P %k")


# -- nginx log_format ---------------------------------------------------------------------------

NGINX = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time $host'
)


def test_nginx_format_with_request_time_and_host() -> None:
    fmt = compile_nginx(NGINX)
    line = (
        '192.0.2.7 - - [10/Oct/2024:13:55:36 +0000] "POST /api?x=1 HTTP/2.0" 201 17 "-" '
        '"Mozilla/5.0 (X11)" 0.004 api.example.com'
    )
    assert fields(fmt, line) == {
        "ip": "192.0.2.7",
        "user": "-",
        "time": "10/Oct/2024:13:55:36 +0000",
        "request": "POST /api?x=1 HTTP/2.0",
        "status": "201",
        "bytes": "17",
        "referrer": "-",
        "user_agent": "Mozilla/5.0 (X11)",
        "duration": "0.004",
        "vhost": "api.example.com",
    }
    assert fmt.time_format == APACHE_TIME


def test_nginx_braced_variables_and_iso_time() -> None:
    fmt = compile_nginx("${remote_addr}|$time_iso8601|$request_method|$uri|$args|$status")
    assert fmt.time_format is None
    got = fields(fmt, "::1|2024-10-10T13:55:36+02:00|GET|/a|x=1|200")
    assert got == {
        "ip": "::1",
        "time": "2024-10-10T13:55:36+02:00",
        "method": "GET",
        "path": "/a",
        "query": "x=1",
        "status": "200",
    }


def test_nginx_unknown_variables_are_captured_not_used() -> None:
    fmt = compile_nginx('$remote_addr [$time_local] "$request" $status "$http_x_custom" $pid')
    got = fields(fmt, '1.2.3.4 [10/Oct/2024:13:55:36 +0000] "GET / HTTP/1.1" 200 "a b" 77')
    assert got is not None
    assert set(got) == {"ip", "time", "request", "status"}


def test_nginx_format_without_known_field_is_refused() -> None:
    with pytest.raises(UsageError, match="no field topshare knows"):
        compile_nginx("$pid $connection")


# -- from_spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["combined", "COMMON", "vhost-combined", "vhost_combined"])
def test_from_spec_preset_names(name: str) -> None:
    fmt = from_spec(name)
    assert fmt is PRESETS[name.lower().replace("-", "_")]


def test_from_spec_kinds() -> None:
    assert from_spec("auto") is None
    assert from_spec("") is None
    json_fmt = from_spec("ndjson")
    assert json_fmt is not None
    assert json_fmt.kind == "json"
    w3c = from_spec("iis")
    assert w3c is not None
    assert w3c.kind == "w3c"
    nginx = from_spec(NGINX)
    assert nginx is not None
    assert "vhost" in nginx.fields
    apache = from_spec('%h %t "%r" %>s %b')
    assert apache is not None
    assert apache.fields == ("ip", "time", "request", "status", "bytes")


def test_from_spec_unknown_name_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="expected a format name") as err:
        from_spec("squid")
    assert "combined" in str(err.value)
    assert "w3c" in str(err.value)


# -- detection ----------------------------------------------------------------------------------


def test_detect_presets() -> None:
    assert detect([COMBINED] * 3, "f").name == "combined"
    assert detect([COMMON, "", COMMON], "f").name == "common"
    assert detect([VHOST], "f").name == "vhost_combined"
    assert DETECT_ORDER[0] == "vhost_combined"


def test_detect_tolerates_a_minority_of_malformed_lines() -> None:
    assert detect([COMBINED, "garbage", COMBINED], "f").name == "combined"


def test_detect_json_and_w3c() -> None:
    assert detect(['{"remote_addr": "1.2.3.4"}', '{"remote_addr": "5"}'], "f").kind == "json"
    assert detect(["#Software: IIS", "#Fields: date time c-ip"], "f").kind == "w3c"
    assert detect(["#Fields: date time c-ip", "2024-01-01 00:00:00 ::1"], "f").kind == "w3c"


def test_detect_fails_clearly() -> None:
    with pytest.raises(UsageError, match=r"^f: cannot tell the log format .*--log-format"):
        detect(["hello world", "not a log", COMBINED], "f")
    with pytest.raises(UsageError, match="no log lines"):
        detect(["", "  "], "f")


# -- W3C ----------------------------------------------------------------------------------------

IIS_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken"
)


def test_w3c_fields_header() -> None:
    fmt = w3c_format(IIS_FIELDS, "u_ex.log")
    line = (
        "2024-10-10 23:59:59 10.0.0.1 GET /index.html - 443 - 203.0.113.5 "
        "Mozilla/5.0+(Windows+NT+10.0) https://www.bing.com/ 200 0 0 1500 15"
    )
    assert fields(fmt, line) == {
        "date": "2024-10-10",
        "time": "23:59:59",
        "method": "GET",
        "path": "/index.html",
        "query": "-",
        "port": "443",
        "user": "-",
        "ip": "203.0.113.5",
        "user_agent": "Mozilla/5.0+(Windows+NT+10.0)",
        "referrer": "https://www.bing.com/",
        "status": "200",
        "bytes": "1500",
        "duration": "15",
    }
    assert fmt.time_format is None


def test_w3c_header_errors() -> None:
    with pytest.raises(UsageError, match="lists no fields"):
        w3c_format("#Fields:", "u_ex.log")
    with pytest.raises(UsageError, match="no time field"):
        w3c_format("#Fields: date c-ip cs-uri-stem", "u_ex.log")

"""SQL text for access logs: how each dimension, the time and the bytes are computed from the
raw fields of a parsed line (``p.r_<field>``). Plain SQL of the engine (DuckDB), built here so
that :mod:`topshare.logs` stays about reading and bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING

from topshare.logformat import LogFormat
from topshare.sources import _quote

if TYPE_CHECKING:
    from topshare.logs import LogOptions

#: Dimensions that need a lookup table built from distinct values (joined in the view).
LOOKED_UP = ("subnet", "country", "browser", "os", "device")
#: Dimensions of the request line that a legal line may lack ('-', HTTP/0.9): '(none)'.
NONE_WHEN_ABSENT = ("path", "url", "method", "protocol")


#: Raw fields each dimension is computed from.
SOURCES: dict[str, set[str]] = {
    "path": {"request", "target", "path", "query"},
    "url": {"request", "target", "path", "query"},
    "method": {"request", "method"},
    "protocol": {"request", "protocol"},
    "status": {"status"},
    "status_class": {"status"},
    "referrer": {"referrer"},
    "referrer_domain": {"referrer"},
    "ip": {"ip"},
    "subnet": {"ip"},
    "country": {"ip"},
    "user_agent": {"user_agent"},
    "browser": {"user_agent"},
    "os": {"user_agent"},
    "device": {"user_agent"},
    "vhost": {"vhost"},
}


def json_path(key: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in key.split("."))


def target_sql(have: set[str]) -> str:
    """The request target (path and query) from whichever fields the format has."""
    if "target" in have:
        return "p.r_target"
    if "request" in have:
        # "GET /a?b HTTP/1.1": between the method and the protocol (spaces inside kept);
        # a request line without a space ('-', garbage) has no target.
        return (
            "CASE WHEN position(' ' IN p.r_request) = 0 THEN NULL ELSE "
            "regexp_replace(substr(p.r_request, position(' ' IN p.r_request) + 1), "
            "' +HTTP/[0-9.]+$', '') END"
        )
    if "path" in have:
        query = "p.r_query" if "query" in have else "NULL"
        return f"CASE WHEN coalesce({query}, '') IN ('', '-') THEN p.r_path ELSE p.r_path || '?' || {query} END"
    return "NULL"


def grouped(expr: str, groups: tuple[tuple[str, str], ...]) -> str:
    if not groups:
        return expr
    cases = " ".join(
        f"WHEN regexp_matches(x, {_quote(rx)}) THEN regexp_replace(x, {_quote(rx)}, {_quote(name)})"
        for rx, name in groups
    )
    return f"(SELECT CASE {cases} ELSE x END FROM (SELECT {expr} AS x))"


def dimension_sql(opts: LogOptions, have: set[str], log: LogFormat) -> dict[str, str]:
    target = target_sql(have)
    path = target if opts.keep_query else f"split_part({target}, '?', 1)"
    req = "p.r_request" if "request" in have else None
    status = "p.r_status" if "status" in have else "NULL"
    ref = "p.r_referrer" if "referrer" in have else "NULL"
    return {
        "path": grouped(path, opts.groups),
        "url": grouped(target, opts.groups),
        "method": "p.r_method"
        if "method" in have
        else (f"split_part({req}, ' ', 1)" if req else "NULL"),
        "protocol": (
            "p.r_protocol"
            if "protocol" in have
            else (f"nullif(regexp_extract({req}, ' (HTTP/[0-9.]+)$', 1), '')" if req else "NULL")
        ),
        "status": status,
        "status_class": f"CASE WHEN regexp_full_match({status}, '[1-5][0-9][0-9]') THEN left({status}, 1) || 'xx' ELSE {status} END",
        "referrer": ref,
        "referrer_domain": (
            f"CASE WHEN coalesce({ref}, '') IN ('', '-') THEN '(direct)' ELSE "
            f"coalesce(nullif(lower(regexp_extract({ref}, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)', 1)), ''), {ref}) END"
        ),
        "ip": "p.r_ip" if "ip" in have else "NULL",
        "subnet": (
            "CASE WHEN regexp_full_match(p.r_ip, '[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+') "
            "THEN regexp_replace(p.r_ip, '\\.[0-9]+$', '.0/24') END"
            if "ip" in have
            else "NULL"
        ),
        "country": "coalesce(geo.country, '(unknown)')" if "ip" in have else "NULL",
        "user_agent": "p.r_user_agent" if "user_agent" in have else "NULL",
        "browser": "ua.browser",
        "os": "ua.os",
        "device": "ua.device",
        "vhost": "p.r_vhost" if "vhost" in have else "NULL",
    }


def time_sql(have: set[str], log: LogFormat) -> str:
    if log.kind == "w3c" and "date" in have:
        return "p.r_date || ' ' || p.r_time || '+00'"  # W3C times are UTC
    if "time" not in have:
        return "NULL"
    if log.kind == "json":  # epoch seconds become ISO text; anything else is left as written
        return (
            "CASE WHEN TRY_CAST(p.r_time AS DOUBLE) IS NOT NULL THEN "
            "strftime(make_timestamp(CAST(TRY_CAST(p.r_time AS DOUBLE) * 1000000 AS BIGINT)), "
            "'%Y-%m-%dT%H:%M:%S.%f') || '+00' ELSE p.r_time END"
        )
    return "p.r_time"


def bytes_sql(have: set[str]) -> str:
    if "bytes" not in have:
        return "CAST(0 AS BIGINT)"
    return "CASE WHEN p.r_bytes IN ('-', '') THEN CAST(0 AS BIGINT) ELSE TRY_CAST(p.r_bytes AS BIGINT) END"

"""Lookups for access logs that need a Python package, run over *distinct* values only (never
over lines) and handed back to the engine as small tables joined to the requests: bots and
browser/OS/device families per user agent, IPv6 /48 subnets, GeoIP countries."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from topshare.errors import InputError
from topshare.useragents import classify

if TYPE_CHECKING:
    from topshare.logs import LogSource

_UA_DIMS = ("browser", "os", "device")


def join_agents(src: LogSource) -> None:
    """The distinct user agents, classified once in Python, as a table joined to the lines."""
    raw = src.con.con
    if "user_agent" not in src._fields():
        return
    agents = [r[0] for r in raw.execute(f"SELECT DISTINCT r_user_agent FROM {src.tmp}").fetchall()]
    families = any(d in _UA_DIMS for d in src.opts.dims())
    found = classify(agents, families=families)
    name = f"{src.tmp}_ua"
    _lookup_table(
        src,
        name,
        {
            "ua": (pa.string(), [a.ua for a in found]),
            "bot": (pa.bool_(), [a.bot for a in found]),
            "browser": (pa.string(), [a.browser for a in found]),
            "os": (pa.string(), [a.os for a in found]),
            "device": (pa.string(), [a.device for a in found]),
        },
    )
    src._maps.append(f" LEFT JOIN {name} ua ON p.r_user_agent = ua.ua")


def _lookup_table(src: LogSource, name: str, columns: dict[str, tuple[Any, list[Any]]]) -> None:
    """A small table of distinct values and what they map to, handed to the engine as Arrow
    (one statement, however many rows)."""
    table = pa.table({k: pa.array(v, type=t) for k, (t, v) in columns.items()})
    raw = src.con.con
    view = f"{name}_arrow"
    raw.register(view, table)
    try:
        raw.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {view}")
    finally:
        raw.unregister(view)


def join_ipv6(src: LogSource) -> None:
    """IPv6 subnets (/48) from the distinct IPv6 addresses."""
    raw = src.con.con
    ips = [
        r[0]
        for r in raw.execute(
            f"SELECT DISTINCT r_ip FROM {src.tmp} WHERE contains(r_ip, ':')"
        ).fetchall()
    ]
    name = f"{src.tmp}_ip6"
    rows: list[tuple[str, str]] = []
    for ip in ips:
        try:
            mapped = ipaddress.IPv6Address(ip).ipv4_mapped  # ::ffff:a.b.c.d is an IPv4 client
            net = ipaddress.ip_network(f"{mapped or ip}/{24 if mapped else 48}", strict=False)
        except ValueError:
            continue
        rows.append((ip, str(net)))
    _lookup_table(
        src,
        name,
        {"ip": (pa.string(), [r[0] for r in rows]), "subnet": (pa.string(), [r[1] for r in rows])},
    )
    src._maps.append(f" LEFT JOIN {name} ip6 ON p.r_ip = ip6.ip")


def join_geo(src: LogSource) -> None:
    """Countries (ISO codes) of the distinct addresses from a MaxMind-format database."""
    import maxminddb

    raw = src.con.con
    assert src.opts.geoip is not None
    try:
        reader = maxminddb.open_database(src.opts.geoip)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise InputError(f"{src.opts.geoip}: not a MaxMind-format database ({exc})") from None
    ips = [
        r[0]
        for r in raw.execute(
            f"SELECT DISTINCT r_ip FROM {src.tmp} WHERE r_ip IS NOT NULL"
        ).fetchall()
    ]
    rows = []
    with reader:
        for ip in ips:
            try:
                rec = reader.get(ip)
            except ValueError:
                continue
            code = _country(rec)
            if code:
                rows.append((ip, code))
    name = f"{src.tmp}_geo"
    _lookup_table(
        src,
        name,
        {"ip": (pa.string(), [r[0] for r in rows]), "country": (pa.string(), [r[1] for r in rows])},
    )
    src._maps.append(f" LEFT JOIN {name} geo ON p.r_ip = geo.ip")


def _country(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return None
    for key in ("country", "registered_country"):
        c = rec.get(key)
        if isinstance(c, dict) and isinstance(c.get("iso_code"), str):
            return str(c["iso_code"])
    code = rec.get("country_code") or rec.get("iso_code")
    return str(code) if isinstance(code, str) else None

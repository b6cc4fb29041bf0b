"""``topshare traffic``: web traffic concentration from access logs (registered on the main app).

A thin layer like the other commands: parse the options, call :func:`topshare.traffic.traffic`,
render with the shared output options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from topshare.analyze import DEFAULT_CR
from topshare.cli import (
    CR,
    Bands,
    Debug,
    Fmt,
    From,
    Last,
    Output,
    ParetoOpt,
    PeriodOpt,
    Strict,
    To,
    Top,
    Tz,
    _emit,
    _guard,
    _parse_cr,
    app,
)
from topshare.logs import DIMENSIONS

LogInputs = Annotated[
    list[str],
    typer.Argument(help="Access logs: files or globs (.gz too), or - for stdin."),
]
By = Annotated[
    str,
    typer.Option("--by", "-b", help=f"Dimension: {', '.join(DIMENSIONS)}.", metavar="DIM"),
]
Measure = Annotated[
    str, typer.Option("--measure", "-m", help="hits (requests) or bytes (response size).")
]
LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="common, combined, vhost_combined, json, w3c, or an Apache LogFormat / nginx "
        "log_format string (default: detected).",
    ),
]
KeepQuery = Annotated[
    bool, typer.Option("--keep-query", help="Keep query strings in paths (stripped by default).")
]
Group = Annotated[
    list[str] | None,
    typer.Option(
        "--group", "-g", help="Path rewrite 'REGEX=>NAME' (repeatable, first match wins)."
    ),
]
ExcludeBots = Annotated[
    bool, typer.Option("--exclude-bots", help="Leave out requests from known crawlers.")
]
OnlyBots = Annotated[bool, typer.Option("--only-bots", help="Analyse only known crawlers.")]
GeoIP = Annotated[
    Path | None,
    typer.Option("--geoip", help="MaxMind-format database (.mmdb) for --by country."),
]
Field = Annotated[
    list[str] | None,
    typer.Option("--field", help="JSON logs: FIELD=KEY, e.g. ip=client_ip (repeatable)."),
]
LogSegment = Annotated[
    list[str] | None,
    typer.Option("--segment", "-s", help="Another dimension to break down by (repeatable)."),
]


def traffic_options(
    by: str,
    measure: str,
    log_format: str | None,
    keep_query: bool,
    group: list[str] | None,
    exclude_bots: bool,
    only_bots: bool,
    geoip: Path | None,
    field: list[str] | None,
) -> dict[str, Any]:
    """The keyword arguments of :func:`topshare.traffic.traffic` that say how to read a log."""
    return {
        "by": by,
        "measure": measure,
        "log_format": log_format,
        "keep_query": keep_query,
        "group": group or [],
        "exclude_bots": exclude_bots,
        "only_bots": only_bots,
        "geoip": geoip,
        "fields": field or [],
    }


@app.command()
def traffic(
    inputs: LogInputs,
    by: By = "path",
    measure: Measure = "hits",
    top: Top = 10,
    log_format: LogFormatOpt = None,
    keep_query: KeepQuery = False,
    group: Group = None,
    exclude_bots: ExcludeBots = False,
    only_bots: OnlyBots = False,
    geoip: GeoIP = None,
    field: Field = None,
    cr: CR = ",".join(map(str, DEFAULT_CR)),
    pareto: ParetoOpt = 0.8,
    hhi_bands: Bands = "2023",
    period: PeriodOpt = None,
    date_from: From = None,
    date_to: To = None,
    last: Last = None,
    tz: Tz = None,
    segment: LogSegment = None,
    fmt: Fmt = "table",
    output: Output = None,
    strict: Strict = False,
    debug: Debug = False,
) -> None:
    """Traffic concentration from access logs: the share of hits (or bytes) of the top N pages,
    referrers, IPs, user agents, countries..., with every index of `revenue`.

    The format (common, combined, vhost_combined, JSON lines, W3C/IIS) is detected unless given.
    Lines that do not match it are counted and shown with their file:line. Visitors (distinct
    IP + user agent per day) are shown per row but, not being additive, never used for shares.

    Example: `topshare traffic /var/log/nginx/access.log* --by path`

    Example: `topshare traffic access.log.gz --by ip --measure bytes --exclude-bots`

    Example: `topshare traffic access.log --by path --group '^/product/\\d+=>/product/:id'`
    """

    def body() -> None:
        from topshare.traffic import traffic as run

        result = run(
            inputs,
            top=top,
            cr=_parse_cr(cr),
            pareto=pareto,
            hhi_bands=hhi_bands,
            strict=strict,
            period=period,
            segments=segment or [],
            date_from=date_from,
            date_to=date_to,
            last=last,
            tz=tz,
            **traffic_options(
                by, measure, log_format, keep_query, group, exclude_bots, only_bots, geoip, field
            ),
        )
        _emit(result, fmt, output)

    _guard(debug, body)

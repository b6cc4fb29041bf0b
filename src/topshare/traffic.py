"""``traffic()``: web traffic concentration from access logs, through the same core as revenue.

A log is just another source: its requests become rows whose entity is the chosen dimension
(path, referrer domain, IP...), whose value is 1 (hits) or the response size (bytes), dated by
the request time. Everything :func:`topshare.analyze` does (periods, churn, segments, windows,
every index, rejections with file:line) then applies unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from topshare.logs import (
    DIMENSIONS,
    LogOptions,
    LogSource,
    check_options,
    has_visitors,
    parse_group,
    visitors,
)
from topshare.metrics import share
from topshare.result import Analysis, EntityCount, Labels, Traffic
from topshare.sources import paths_of

PathArg = str | os.PathLike[str]

_SINGULAR = {
    "ip": "IP", "url": "URL", "os": "OS", "user-agent": "user agent",
    "referrer-domain": "referrer domain", "status-class": "status class", "vhost": "virtual host",
}  # fmt: skip
_PLURAL = {
    "path": "paths", "url": "URLs", "method": "methods", "status": "statuses",
    "status-class": "status classes", "protocol": "protocols", "referrer": "referrers",
    "referrer-domain": "referrer domains", "ip": "IPs", "subnet": "subnets",
    "user-agent": "user agents", "browser": "browsers", "os": "operating systems",
    "device": "devices", "vhost": "virtual hosts", "country": "countries",
}  # fmt: skip


@dataclass(frozen=True)
class LogInput:
    """Access logs to open (paths, globs or '-') with how to read them: what ``analyze()``
    takes as its source for a traffic analysis."""

    paths: list[str]
    options: LogOptions

    def finish(
        self, src: LogSource, result: Analysis, counts: Mapping[str, int] | None = None
    ) -> Analysis:
        """Add what only the log knows: format, skipped lines, bots, visitors of the top rows
        in the result's date window (``counts``: the visitors of those keys in that window,
        when already known)."""
        info = src.info
        dim = DIMENSIONS[self.options.by]
        keys = [r.entity for r in result.top]
        known = has_visitors(src)
        if not known:
            seen: Mapping[str, int] = {}
        elif counts is None:
            seen = visitors(src, dim, keys, *window_days(result))
        else:
            seen = counts
        agents = "user_agent" in src._fields()  # no user agent: bots unknown, share n/a
        summary = Traffic(
            format=info.format,
            format_spec=info.format_spec,
            dimension=self.options.by,
            measure=self.options.measure,
            lines=info.lines,
            blank_lines=info.blank_lines,
            directive_lines=info.directive_lines,
            bots=self.options.bots,
            all_hits=info.all_hits,
            all_bytes=info.all_bytes,
            bot_hits=info.bot_hits,
            bot_bytes=info.bot_bytes,
            bot_share_hits=share(info.bot_hits, info.all_hits) if agents else None,
            bot_share_bytes=share(info.bot_bytes, info.all_bytes) if agents else None,
            visitors=[EntityCount(k, seen.get(k, 0)) for k in keys] if known else [],
            **(
                {}
                if known
                else {"note": "visitors not available: the log has no IP or no user agent"}
            ),
        )
        return dataclasses.replace(result, traffic=summary)


def segment_columns(segments: Sequence[str]) -> list[list[str]]:
    """The parsed table's columns of ``--segment`` dimension names ('status-class', 'os,device';
    checked by :func:`log_options`)."""
    return [[DIMENSIONS[s.replace("_", "-")] for s in spec.split(",")] for spec in segments]


def log_options(
    *,
    by: str = "path",
    measure: str = "hits",
    log_format: str | None = None,
    keep_query: bool = False,
    group: Sequence[str | tuple[str, str]] = (),
    exclude_bots: bool = False,
    only_bots: bool = False,
    geoip: str | os.PathLike[str] | None = None,
    fields: Sequence[str | tuple[str, str]] = (),
    segments: Sequence[str] = (),
    every_dimension: bool = False,
) -> LogOptions:
    """The checked :class:`~topshare.logs.LogOptions` of :func:`traffic`'s keyword arguments."""
    from topshare.errors import UsageError
    from topshare.logs import parse_field

    if exclude_bots and only_bots:
        raise UsageError("give either --exclude-bots or --only-bots, not both")
    rules = tuple(g if isinstance(g, tuple) else parse_group(g) for g in group)
    mapped = tuple(f if isinstance(f, tuple) else parse_field(f) for f in fields)
    seg_names = [s for spec in segments for s in spec.split(",")] if segments else []
    return check_options(
        LogOptions(
            by=by,
            measure=measure,
            log_format=log_format,
            keep_query=keep_query,
            groups=rules,
            bots="exclude" if exclude_bots else "only" if only_bots else "include",
            geoip=os.fspath(geoip) if geoip is not None else None,
            fields=mapped,
            segments=tuple(seg_names),
            every_dimension=every_dimension,
        )
    )


def labels_for(by: str, measure: str) -> Labels:
    """How a traffic analysis names its entities and values (``--by`` and ``--measure``)."""
    return Labels(entity=_SINGULAR.get(by, by), entities=_PLURAL[by], value=measure)


def traffic(
    source: PathArg | Sequence[PathArg],
    *,
    by: str = "path",
    measure: str = "hits",
    log_format: str | None = None,
    keep_query: bool = False,
    group: Sequence[str | tuple[str, str]] = (),
    exclude_bots: bool = False,
    only_bots: bool = False,
    geoip: str | os.PathLike[str] | None = None,
    fields: Sequence[str | tuple[str, str]] = (),
    top: int = 10,
    cr: Sequence[int] = (1, 4, 10, 20),
    pareto: float = 0.8,
    hhi_bands: str = "2023",
    strict: bool = False,
    period: str | None = None,
    segments: Sequence[str] = (),
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    last: str | None = None,
    tz: str | None = None,
    threads: int | None = None,
) -> Analysis:
    """What share of the traffic the top ``top`` paths (IPs, referrers...) take, from access logs.

    ``by`` is one of :data:`topshare.logs.DIMENSIONS` (path, url, method, status, status-class,
    protocol, referrer, referrer-domain, ip, subnet, user-agent, browser, os, device, vhost,
    country); ``measure`` is ``hits`` (requests) or ``bytes`` (response size, '-' = 0). The log
    format is detected (common, combined, vhost_combined, JSON lines, W3C extended) unless
    ``log_format`` names it or gives an Apache ``LogFormat`` / nginx ``log_format`` string.
    ``group`` rules ``'REGEX=>NAME'`` rewrite paths (first match wins); query strings are
    stripped unless ``keep_query``. ``segments`` are further dimensions. Periods, windows,
    ``strict`` and the indices work as in :func:`topshare.analyze`.

    >>> r = traffic("access.log", by="ip", measure="bytes")  # doctest: +SKIP
    >>> r.top_n_share, r.traffic.bot_share_hits  # doctest: +SKIP
    """
    from topshare.analyze import analyze

    opts = log_options(
        by=by, measure=measure, log_format=log_format, keep_query=keep_query, group=group,
        exclude_bots=exclude_bots, only_bots=only_bots, geoip=geoip, fields=fields,
        segments=segments,
    )  # fmt: skip
    paths = paths_of(source)
    dim = DIMENSIONS[opts.by]
    seg_cols = segment_columns(segments)
    labels = labels_for(opts.by, opts.measure)
    kwargs: dict[str, Any] = {"count": True} if opts.measure == "hits" else {"amount": "bytes"}
    return analyze(
        LogInput(paths, opts),
        entity=dim,
        date="time",
        top=top,
        cr=cr,
        pareto=pareto,
        hhi_bands=hhi_bands,
        strict=strict,
        labels=labels,
        threads=threads,
        period=period,
        segments=[",".join(spec) for spec in seg_cols],
        date_from=date_from,
        date_to=date_to,
        last=last,
        tz=tz,
        **kwargs,
    )


def window_days(result: Analysis) -> tuple[date | None, date | None]:
    """The first and last day of the result's date window (--from/--to/--last; None: open)."""
    scope = result.scope
    return (scope.first_day, scope.last_day) if scope is not None else (None, None)

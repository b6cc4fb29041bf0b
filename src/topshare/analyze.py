"""``analyze()``: sources -> engine -> metrics -> one typed :class:`~topshare.result.Analysis`.

This is the whole core pipeline in one readable function; the CLI and (later) the web app call it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from topshare import __version__, breakdown, grid, slices
from topshare.backend import connect
from topshare.columns import Roles, map_roles, resolve
from topshare.databases import DatabaseInput, as_database, open_database
from topshare.engine import (
    Totals,
    collect,
    latest_date,
    per_entity,
    prepare,
    scan,
    valid_stats,
)
from topshare.errors import InputError, RejectedRowsError, UsageError
from topshare.logs import LogSource, open_log
from topshare.metrics import (
    HHI_BANDS,
    compute_indices,
    share,
    tie_at_boundary,
    top_sums,
)
from topshare.money import WIDE, exact_sum, normalize, to_decimal
from topshare.periods import (
    Window,
    check_period,
    check_tz,
    parse_day,
    parse_last,
    trailing,
    window,
)
from topshare.rejections import (
    build_rejections,
    engine_totals,
    refuse_wrong_encoding,
    run,
    strict_message,
)
from topshare.result import (
    Analysis,
    Columns,
    Concentration,
    DateRange,
    EntityValue,
    Entropy,
    Labels,
    Money,
    Negative,
    Others,
    Pareto,
    Population,
    Rejection,
    Rows,
    SourceInfo,
)
from topshare.sources import FILE_COL, Source, open_source, paths_of, validate_delimiter
from topshare.traffic import LogInput

DEFAULT_CR = (1, 4, 10, 20)
PathArg = str | os.PathLike[str]


def analyze(
    source: PathArg | Sequence[PathArg] | LogInput | DatabaseInput,
    *,
    table: str | None = None,
    query: str | None = None,
    customer: str | None = None,
    amount: str | None = None,
    date: str | bool | None = None,
    entity: str | None = None,
    value: str | None = None,
    count: bool = False,
    top: int = 10,
    cr: Sequence[int] = DEFAULT_CR,
    pareto: float = 0.8,
    hhi_bands: str = "2023",
    strict: bool = False,
    format: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    date_format: str | None = None,
    decimal_comma: bool = False,
    labels: Labels | None = None,
    threads: int | None = None,
    period: str | None = None,
    segments: Sequence[str | Sequence[str]] = (),
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    last: str | None = None,
    tz: str | None = None,
    engine: str = "duckdb",
    spark: Any = None,
    spark_master: str | None = None,
) -> Analysis:
    """Revenue from the top ``top`` customers and every concentration index, from files.

    ``source`` is a path, a glob, ``"-"`` for stdin, or a list of them. Column roles come from
    ``customer``/``entity``, ``amount``/``value`` and ``date``, else are detected from common
    names; ``date=False`` uses no date column; ``count=True`` counts rows instead of summing an
    amount.

    Over time and by segment: ``period`` ("day", "week", "month", "quarter", "year") adds the
    series with the churn of the top N between periods; ``date_from``/``date_to`` (inclusive
    days) or ``last`` ("30d", "12w", "12m", "4q", "2y": whole periods ending with the last
    date) limit the rows analysed; ``tz`` is the zone timestamps with an offset are converted
    to before they are bucketed and filtered (default UTC). ``segments`` is a list of columns
    (or of lists of columns, for their combinations): every metric per segment value.

    A database is analysed where it lives: ``source`` is a PostgreSQL URL, a SQLite or DuckDB
    file (or ``sqlite:///path``, ``duckdb:///path``) with ``table`` (a name) or ``query`` (one
    SELECT statement); see docs/databases.md.

    >>> r = analyze("sales.csv", customer="customer_id", amount="amount")  # doctest: +SKIP
    >>> r.top_n_share, r.hhi, r.gini  # doctest: +SKIP
    ``engine="spark"`` reads the files with Apache Spark and runs the one scan there:
    ``spark`` is an existing SparkSession, else one is started once per process on
    ``spark_master`` (default ``local[*]``; ``sc://host:port`` is a Spark Connect endpoint).
    On Spark, paths may be URLs of any Hadoop file system (``hdfs://``, ``s3a://``, ...); see
    docs/spark.md.

    >>> r = analyze("postgresql://analyst@db/sales", table="orders")  # doctest: +SKIP
    >>> r = analyze("orders.parquet", engine="spark")  # doctest: +SKIP
    """
    if not isinstance(source, LogInput):
        source = as_database(source, table, query) or source
    ent_col = _one_of("customer", customer, "entity", entity)
    val_col = _one_of("amount", amount, "value", value)
    ks = _check_options(top, cr, pareto, hhi_bands)
    labels = labels or Labels(value="orders" if count else "revenue")
    scope = _Scope(
        period=check_period(period),
        first=parse_day(date_from, "--from"),
        last_day=parse_day(date_to, "--to"),
        last=parse_last(last),
        last_text=last,
        tz=check_tz(tz),
        segments=_check_segments(segments),
    )
    if scope.last and (scope.first or scope.last_day):
        raise UsageError("give either --last or --from/--to, not both")
    if scope.first or scope.last_day:
        window(scope.first, scope.last_day)  # checks the order of the bounds
    session = _spark_session(engine, source, spark, spark_master)
    con = connect(threads=threads, tz=scope.tz)
    try:
        return _analyze(
            con, source, ent_col, val_col, date, count, top, ks, pareto, hhi_bands, strict,
            format, delimiter, header, encoding, date_format, decimal_comma, labels, scope,
            session,
        )  # fmt: skip
    finally:
        con.disconnect()


def _spark_session(engine: str, source: object, spark: Any, master: str | None) -> Any:
    """The SparkSession for ``engine="spark"`` (None for DuckDB); Spark reads files only."""
    if engine not in ("duckdb", "spark"):
        raise UsageError(f"unknown engine {engine!r}: expected duckdb or spark")
    if engine == "duckdb":
        if spark is not None or master is not None:
            raise UsageError("a Spark session or master needs engine='spark' (--engine spark)")
        return None
    if isinstance(source, (LogInput, DatabaseInput)):
        raise UsageError(
            "--engine spark reads files (CSV, TSV, Parquet, JSON), not logs or databases"
        )
    from topshare.spark import session

    return session(master, spark)


@dataclass(frozen=True)
class _Scope:
    period: str | None
    first: date | None
    last_day: date | None
    last: tuple[int, str] | None
    last_text: str | None
    tz: str
    segments: list[list[str]]

    @property
    def needs_date(self) -> str | None:
        if self.period:
            return "--period"
        if self.last:
            return "--last"
        if self.first or self.last_day:
            return "--from/--to"
        return None


def _check_segments(segments: Sequence[str | Sequence[str]]) -> list[list[str]]:
    if isinstance(segments, str):
        segments = [segments]
    out: list[list[str]] = []
    for spec in segments:
        cols = [c.strip() for c in (spec.split(",") if isinstance(spec, str) else spec)]
        if not cols or any(not c for c in cols):
            raise UsageError(f"a segment is a column name (or names joined by ','), got {spec!r}")
        if len(cols) != len(set(cols)):
            raise UsageError(f"segment {spec!r} names a column twice")
        out.append(cols)
    if len({c for spec in out for c in spec}) > grid.MAX_SEGMENT_COLUMNS:
        raise UsageError(f"at most {grid.MAX_SEGMENT_COLUMNS} different segment columns")
    return out


def _analyze(
    con: Any,
    source: PathArg | Sequence[PathArg] | LogInput | DatabaseInput,
    ent_col: str | None,
    val_col: str | None,
    date: str | bool | None,
    count: bool,
    top: int,
    ks: list[int],
    pareto: float,
    hhi_bands: str,
    strict: bool,
    format: str | None,
    delimiter: str | None,
    header: bool | None,
    encoding: str | None,
    date_format: str | None,
    decimal_comma: bool,
    labels: Labels,
    scope: _Scope,
    spark: Any = None,
) -> Analysis:
    log = source if isinstance(source, LogInput) else None
    opened: Source
    if isinstance(source, LogInput):
        logs = open_log(con, source.paths, source.options)
        date_format = date_format or logs.log.time_format
        opened = logs
    elif isinstance(source, DatabaseInput):
        opened = open_database(con, source, tz=scope.tz)
    else:
        paths = paths_of(source)
        if spark is not None:
            from topshare.spark import open_spark

            opened = open_spark(
                con, [str(p) for p in paths], spark, tz=scope.tz, format=format,
                delimiter=validate_delimiter(delimiter), header=header, encoding=encoding,
            )  # fmt: skip
        else:
            opened = open_source(
                con,
                list(paths),
                format=format,
                delimiter=validate_delimiter(delimiter),
                header=header,
                encoding=encoding,
            )
    with opened as src:
        first = src.name(src.files[0])
        roles = map_roles(
            src.columns,
            src.where(),
            entity=ent_col,
            value=val_col,
            date=date,
            count=count,
            content_types=src.content_types if not src.header else None,
            entity_label=labels.entity,
            value_label="amount",
        )
        where = src.where()
        if scope.needs_date and roles.date is None:
            raise UsageError(
                f"{where}: {scope.needs_date} needs a date column and none was found; "
                "name it with --date COLUMN"
            )
        seg_cols = list(dict.fromkeys(
            resolve(c, list(src.columns), where, "segment") for spec in scope.segments for c in spec
        ))  # fmt: skip
        opts = {"date_format": date_format, "decimal_comma": decimal_comma}
        src.check_roles(roles, opts)
        win = _window(src, roles, scope, opts)
        prepared = prepare(
            src.table, roles, file_col=FILE_COL, segments=tuple(seg_cols), window=win,
            period=scope.period, **opts,  # type: ignore[arg-type]
        )  # fmt: skip
        cells = run(src, lambda: scan(con, prepared))
        malformed = src.malformed()
        refuse_wrong_encoding(src, malformed)
        counted = run(src, lambda: valid_stats(cells, prepared.has_date))
        sliced = breakdown.Sliced(None, None, None)
        pending = None
        if counted.rows and (scope.period or scope.segments):
            job = run(src, lambda: breakdown.plan(
                (counted.date_min, counted.date_max), prepared, scope, win, seg_cols, top,
                pareto, hhi_bands, breakdown.engine_fetch(cells, prepared),
                lambda by: grid.count_groups(cells, by),
            ))  # fmt: skip
            pending = breakdown.start(job)  # while the engine does the rest
        try:
            table = run(src, lambda: per_entity(con, cells, prepared, dates=False))
            tot = run(src, lambda: collect(table, prepared, max(top + 1, max(ks)), counted))
            money_in_units, rows_total = engine_totals(table, prepared.scale)
            rejections = build_rejections(src, roles, tot, malformed, labels, opts)
            rows_read = rows_total + len(malformed)
            if strict and rejections:
                raise RejectedRowsError(strict_message(rejections))
            if tot.rows_valid == 0:
                parts = [f"{r.rows:,} {r.reason}" for r in rejections]
                if tot.out_of_range and win:
                    parts.append(
                        f"{tot.out_of_range.rows:,} outside {win.first_day or '…'} to "
                        f"{win.last_day or '…'}"
                    )
                detail = "; ".join(parts) or "no data rows"
                raise InputError(f"{first}: no rows left to analyse ({detail})")
            result = _build(
                tot, ks, top, pareto, hhi_bands, roles, src, rejections, rows_read,
                money_in_units, labels,
            )  # fmt: skip
            if pending is not None:  # its errors become one line too (a MemoryError, say)
                sliced = run(src, pending.result)
        except BaseException:
            if pending is not None:
                pending.cancel()  # its work would be thrown away: it stops at its next view
            raise
        full = breakdown.attach(result, sliced, int(tot.units.size), scope, win, seg_cols)
        if log is not None:
            assert isinstance(src, LogSource)
            full = log.finish(src, full)
        return full


def _window(src: Source, roles: Roles, scope: _Scope, opts: dict[str, Any]) -> Window | None:
    """The rows kept by --from/--to, or by --last (which needs the last date: a scan of its own)."""
    if scope.first or scope.last_day:
        return window(scope.first, scope.last_day)
    if scope.last is None:
        return None
    plain = prepare(src.table, roles, file_col=FILE_COL, **opts)
    latest = run(src, lambda: latest_date(plain))
    return trailing(scope.last, latest) if latest is not None else None


def _one_of(a_name: str, a: str | None, b_name: str, b: str | None) -> str | None:
    if a is not None and b is not None and a != b:
        raise UsageError(f"give either {a_name}= or {b_name}=, not both")
    return a if a is not None else b


def _check_options(top: int, cr: Sequence[int], pareto: float, bands: str) -> list[int]:
    if int(top) != top or top < 1:
        raise UsageError(f"top N must be a whole number >= 1, got {top!r}")
    ks = sorted({int(k) for k in cr})
    if not ks or ks[0] < 1:
        raise UsageError(f"CR k values must be whole numbers >= 1, got {list(cr)!r}")
    if not 0 < float(pareto) <= 1:
        raise UsageError(f"the Pareto threshold must be in (0, 1], got {pareto!r}")
    if bands not in HHI_BANDS:
        raise UsageError(f"HHI bands must be one of {', '.join(HHI_BANDS)}, got {bands!r}")
    return ks


def _build(
    tot: Totals,
    ks: list[int],
    top: int,
    pareto: float,
    bands: str,
    roles: Roles,
    src: Source,
    rejections: list[Rejection],
    rows_read: int,
    money_in_units: int,
    labels: Labels,
    asc: Any = None,
    idx: Any = None,
) -> Analysis:
    """The overall numbers; ``asc`` (the totals sorted) and ``idx`` (their indices) may be
    given by a caller that keeps them (:mod:`topshare.resident`)."""
    scale = tot.scale

    def dec(u: int) -> Decimal:
        return normalize(to_decimal(u, scale), scale=scale)

    units = tot.units
    n = int(units.size)
    total = exact_sum(units)
    asc = np.sort(units) if asc is None else asc
    desc = asc[::-1]
    sums = top_sums(desc, sorted({*ks, top}))
    if [u for _, u in tot.top] != [int(u) for u in desc[: len(tot.top)]]:
        raise AssertionError("engine ranking and per-entity totals disagree")
    rows = slices.top_rows(tot.top, total, min(top, n), slices.Options(top, pareto, bands, scale))
    top_sum = sums[top]
    idx = compute_indices(asc, pareto, bands, ascending=True) if idx is None else idx
    neg_units = units[units < 0]
    rejected_units = sum(
        int(r.amount.scaleb(scale, WIDE)) for r in rejections if r.amount is not None
    )
    outside = tot.out_of_range
    outside_units = (outside.units or 0) if outside else 0
    analysed_plus_rejected = total + rejected_units + outside_units
    warnings = []
    if total <= 0:
        warnings.append("the total is not positive: shares are undefined (null)")
    tie = tie_at_boundary(desc, top)
    if tie:
        warnings.append(
            f"rank {top} and {top + 1} have the same total: the top-{top} set depends on the "
            f"tie-break (key order)"
        )
    if neg_units.size:
        warnings.append(
            f"{labels.count(int(neg_units.size))} with a negative net total, left out of "
            "the indices"
        )
    majors = [
        EntityValue(k, dec(u), share(u, total)) for k, u in tot.top if slices.is_major(u, total)
    ]
    date_range = DateRange(tot.date_min, tot.date_max) if tot.date_min and tot.date_max else None
    return Analysis(
        total=dec(total),
        n_entities=n,
        top_n=top,
        top_n_sum=dec(top_sum),
        top_n_share=share(top_sum, total),
        tie_at_boundary=tie,
        top=rows,
        others=Others(max(n - top, 0), dec(total - top_sum), share(total - top_sum, total)),
        cr=[Concentration(k, dec(sums[k]), share(sums[k], total)) for k in ks],
        hhi=idx.hhi,
        hhi_points=idx.hhi_points,
        hhi_normalized=idx.hhi_normalized,
        hhi_band=idx.hhi_band,
        hhi_bands=bands,
        effective_number=idx.effective_number,
        gini=idx.gini,
        gini_corrected=idx.gini_corrected,
        theil=idx.theil,
        entropy=Entropy(idx.entropy, idx.entropy_normalized, idx.entropy_exp),
        pareto=Pareto(float(pareto), idx.pareto_k, idx.pareto_fraction),
        lorenz=idx.lorenz,
        index_population=Population(idx.n, dec(idx.population_units)),
        negative=Negative(
            int(neg_units.size),
            dec(exact_sum(neg_units)),
            [EntityValue(k, dec(u), share(u, total)) for k, u in tot.negatives],
        ),
        major=majors,
        rows=Rows(
            read=rows_read,
            analysed=tot.rows_valid,
            rejected=sum(r.rows for r in rejections),
            rejected_by_reason=rejections,
            out_of_range=outside.rows if outside else 0,
        ),
        money=Money(
            in_=dec(money_in_units),
            analysed=dec(total),
            rejected=dec(rejected_units),
            unreadable_rows=sum(r.unreadable for r in rejections),
            reconciled=money_in_units == analysed_plus_rejected,
            out_of_range=dec(outside_units),
        ),
        columns=Columns(
            entity=roles.entity,
            value=roles.value,
            date=roles.date,
            measure="count" if roles.value is None else "amount",
            detected=dict(roles.how),
        ),
        source=SourceInfo(
            paths=list(src.paths),
            format=src.format,
            files=len(src.files),
            delimiter=src.delimiter,
            header=src.header if src.format in ("csv", "tsv") else None,
        ),
        date_range=date_range,
        labels=labels,
        warnings=warnings,
        scale=scale,
        version=__version__,
    )

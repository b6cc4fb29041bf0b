"""The ``topshare`` command: a thin layer that parses options, calls the core, renders.

Every error the core raises on purpose becomes one line on stderr and exit code 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from topshare import __version__
from topshare.analyze import DEFAULT_CR, analyze
from topshare.errors import TopshareError, UsageError
from topshare.render import FORMATS, render

app = typer.Typer(
    name="topshare",
    help="How much of your business rides on a few: revenue from top customers and "
    "concentration indices (CR_k, HHI, Gini, Theil, Pareto), exactly, from files.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Shared options (one definition, every command offers the same).
Fmt = Annotated[
    str,
    typer.Option("--format", "-f", help=f"Output format: {', '.join(FORMATS)}.", metavar="FORMAT"),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to FILE (atomically) instead of stdout."),
]
Top = Annotated[int, typer.Option("--top", "-n", help="N: how many top customers.", min=1)]
CR = Annotated[
    str, typer.Option("--cr", help="Concentration ratios CR_k to report, comma separated.")
]
ParetoOpt = Annotated[
    float, typer.Option("--pareto", help="Pareto threshold p: smallest k holding p of the total.")
]
Bands = Annotated[str, typer.Option("--hhi-bands", help="HHI bands: 2023 (default) or 2010.")]
Strict = Annotated[bool, typer.Option("--strict", help="Fail (exit 2) if any row is rejected.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"topshare {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """topshare: revenue from top customers, traffic from top pages, and how concentrated."""


def _parse_cr(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--cr expects whole numbers separated by commas, got {text!r}") from None
    if not ks:
        raise UsageError("--cr needs at least one k")
    return ks


def write_output(text: str, path: Path | None) -> None:
    """stdout, or FILE written atomically (a temporary file in the same folder, then renamed)."""
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = path.expanduser()
    folder = target.parent if str(target.parent) else Path()
    if not folder.is_dir():
        raise UsageError(f"{target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        # mkstemp makes the file private (0600); an output file gets the usual mode instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _guard(debug: bool, fn: Callable[[], Any]) -> Any:
    """Run a command body: known errors are one line and exit 2, no traceback unless --debug."""
    try:
        return fn()
    except TopshareError as exc:
        if debug:
            raise
        typer.echo(f"topshare: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("topshare: interrupted", err=True)
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"topshare: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; run with --debug for the traceback)",
            err=True,
        )
        raise typer.Exit(2) from None


def _emit(result: Any, fmt: str, output: Path | None) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if fmt == "html" and output is None and sys.stdout.isatty():
        raise UsageError(
            "--format html writes a whole web page (a few MB): add -o report.html, "
            "or redirect the output to a file"
        )
    color = output is None and fmt == "table" and sys.stdout.isatty()
    width = None if output is not None else (typer.get_terminal_size()[0] if color else 100)
    write_output(render(result, fmt, width=width, color=color), output)


# Source and scope options, shared by `revenue` and `check`.
Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Files or globs (CSV/TSV, Parquet, JSON/NDJSON, .gz), or - for stdin; or a database "
        "(postgresql:// URL, SQLite or DuckDB file) with --table or --query."
    ),
]
TableOpt = Annotated[
    str | None,
    typer.Option("--table", help="Database source: the table (or schema.table) to analyse."),
]
QueryOpt = Annotated[
    str | None,
    typer.Option("--query", help="Database source: one read-only SELECT whose rows are analysed."),
]
Customer = Annotated[
    str | None, typer.Option("--customer", "--entity", "-c", help="Customer (entity) column.")
]
Amount = Annotated[
    str | None, typer.Option("--amount", "--value", "-a", help="Amount (value) column.")
]
DateCol = Annotated[str | None, typer.Option("--date", "-d", help="Date column.")]
NoDate = Annotated[bool, typer.Option("--no-date", help="Use no date column (none is detected).")]
Count = Annotated[
    bool, typer.Option("--count", help="Count rows (orders) instead of summing an amount.")
]
InputFormat = Annotated[
    str | None,
    typer.Option("--input-format", help="csv, tsv, parquet or json (default: from the name)."),
]
Delimiter = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")
]
Header = Annotated[
    bool | None,
    typer.Option("--header/--no-header", help="Whether the CSV has a header (default: detected)."),
]
Encoding = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding: utf-8, utf-16 or latin-1.")
]
DateFormat = Annotated[
    str | None,
    typer.Option("--date-format", help="strptime format of the dates, e.g. '%d/%m/%Y'."),
]
DecimalComma = Annotated[
    bool, typer.Option("--decimal-comma", help="Amounts use a decimal comma: 1.234,50.")
]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period", "-p", help="Series per day, week (ISO, from Monday), month, quarter or year."
    ),
]
From = Annotated[
    str | None, typer.Option("--from", help="First day analysed, YYYY-MM-DD (inclusive).")
]
To = Annotated[str | None, typer.Option("--to", help="Last day analysed, YYYY-MM-DD (inclusive).")]
Last = Annotated[
    str | None,
    typer.Option(
        "--last",
        help="Trailing window of whole periods ending with the last date: 30d, 12w, 12m, 4q, 2y.",
    ),
]
Tz = Annotated[
    str | None,
    typer.Option(
        "--tz", help="Time zone timestamps with an offset are converted to (default UTC)."
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="Engine that reads and scans the files: duckdb or spark."),
]
SparkMaster = Annotated[
    str | None,
    typer.Option(
        "--spark-master",
        help="Spark master URL for --engine spark (default local[*]); sc://host:port for a "
        "Spark Connect endpoint.",
    ),
]
SegmentOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--segment",
        "-s",
        help="Segment column (repeatable); 'a,b' for the combinations of two columns.",
    ),
]


def _analyze_options(
    customer: str | None,
    amount: str | None,
    date: str | None,
    no_date: bool,
    count: bool,
    input_format: str | None,
    delimiter: str | None,
    header: bool | None,
    encoding: str | None,
    date_format: str | None,
    decimal_comma: bool,
    period: str | None,
    date_from: str | None,
    date_to: str | None,
    last: str | None,
    tz: str | None,
    segment: list[str] | None,
) -> dict[str, Any]:
    """The keyword arguments of :func:`topshare.analyze` that every analysing command shares."""
    return {
        "customer": customer,
        "amount": amount,
        "date": False if no_date else date,
        "count": count,
        "format": input_format,
        "delimiter": delimiter,
        "header": header,
        "encoding": encoding,
        "date_format": date_format,
        "decimal_comma": decimal_comma,
        "period": period,
        "date_from": date_from,
        "date_to": date_to,
        "last": last,
        "tz": tz,
        "segments": segment or [],
    }


@app.command()
def revenue(
    inputs: Inputs,
    customer: Customer = None,
    amount: Amount = None,
    date: DateCol = None,
    no_date: NoDate = False,
    count: Count = False,
    top: Top = 10,
    cr: CR = ",".join(map(str, DEFAULT_CR)),
    pareto: ParetoOpt = 0.8,
    hhi_bands: Bands = "2023",
    period: PeriodOpt = None,
    date_from: From = None,
    date_to: To = None,
    last: Last = None,
    tz: Tz = None,
    segment: SegmentOpt = None,
    table: TableOpt = None,
    query: QueryOpt = None,
    fmt: Fmt = "table",
    output: Output = None,
    strict: Strict = False,
    input_format: InputFormat = None,
    delimiter: Delimiter = None,
    header: Header = None,
    encoding: Encoding = None,
    date_format: DateFormat = None,
    decimal_comma: DecimalComma = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMaster = None,
    debug: Debug = False,
) -> None:
    """Revenue from the top N customers, its share of the total, and concentration indices.

    Columns are detected from common names unless given; the mapping used is always shown.
    Rows that cannot be used are counted by reason with examples, and the money reconciles.
    With `--period` the same metrics per period, and who entered and left the top N; with
    `--segment` the same metrics per segment value.

    Example: `topshare revenue sales.csv --top 20 --format json -o top.json`

    Example: `topshare revenue sales.csv --period quarter --last 4q --segment region`

    Example: `topshare revenue sales.csv --period quarter --format html -o report.html`

    Example: `topshare revenue postgresql://analyst@db/sales --table orders --period month`

    Example: `topshare revenue 'orders/*.parquet' --engine spark --spark-master spark://host:7077`
    """

    def body() -> None:
        result = analyze(
            inputs,
            table=table,
            query=query,
            top=top,
            cr=_parse_cr(cr),
            pareto=pareto,
            hhi_bands=hhi_bands,
            strict=strict,
            engine=engine,
            spark_master=spark_master,
            **_analyze_options(
                customer, amount, date, no_date, count, input_format, delimiter, header,
                encoding, date_format, decimal_comma, period, date_from, date_to, last, tz,
                segment,
            ),
        )  # fmt: skip
        _emit(result, fmt, output)

    _guard(debug, body)


@app.command()
def check(
    inputs: Inputs,
    max_top_share: Annotated[
        float | None, typer.Option("--max-top-share", help="Breach when the top-N share is above.")
    ] = None,
    max_top1_share: Annotated[
        float | None,
        typer.Option("--max-top1-share", help="Breach when the largest entity's share is above."),
    ] = None,
    max_hhi: Annotated[
        float | None, typer.Option("--max-hhi", help="Breach when HHI (points) is above.")
    ] = None,
    major: Annotated[
        float | None,
        typer.Option("--major", help="Breach when any one entity's share is at or above."),
    ] = None,
    max_gini: Annotated[
        float | None, typer.Option("--max-gini", help="Breach when the Gini is above.")
    ] = None,
    min_effective_number: Annotated[
        float | None,
        typer.Option("--min-effective-number", help="Breach when 1/HHI is below."),
    ] = None,
    scope: Annotated[
        str,
        typer.Option(
            "--scope", help="Where the flag thresholds apply: overall, latest, segments, periods."
        ),
    ] = "overall",
    rules: Annotated[
        Path | None, typer.Option("--rules", help="TOML file of [[rule]] tables.")
    ] = None,
    notify: Annotated[
        str | None, typer.Option("--notify", help="POST the JSON result to this webhook URL.")
    ] = None,
    notify_on: Annotated[
        str, typer.Option("--notify-on", help="When to notify: breach (default) or always.")
    ] = "breach",
    notify_timeout: Annotated[
        float, typer.Option("--notify-timeout", help="Webhook timeout in seconds.", min=0.1)
    ] = 10.0,
    traffic: Annotated[
        bool, typer.Option("--traffic", help="The inputs are access logs (as `topshare traffic`).")
    ] = False,
    by: Annotated[str, typer.Option("--by", help="With --traffic: the dimension.")] = "path",
    measure: Annotated[
        str, typer.Option("--measure", help="With --traffic: hits or bytes.")
    ] = "hits",
    log_format: Annotated[
        str | None, typer.Option("--log-format", help="With --traffic: the log format.")
    ] = None,
    exclude_bots: Annotated[
        bool, typer.Option("--exclude-bots", help="With --traffic: leave out known crawlers.")
    ] = False,
    customer: Customer = None,
    amount: Amount = None,
    date: DateCol = None,
    no_date: NoDate = False,
    count: Count = False,
    top: Top = 10,
    hhi_bands: Bands = "2023",
    period: PeriodOpt = None,
    date_from: From = None,
    date_to: To = None,
    last: Last = None,
    tz: Tz = None,
    segment: SegmentOpt = None,
    table: TableOpt = None,
    query: QueryOpt = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: table or json.", metavar="FORMAT")
    ] = "table",
    output: Output = None,
    strict: Strict = False,
    input_format: InputFormat = None,
    delimiter: Delimiter = None,
    header: Header = None,
    encoding: Encoding = None,
    date_format: DateFormat = None,
    decimal_comma: DecimalComma = False,
    engine: EngineOpt = "duckdb",
    spark_master: SparkMaster = None,
    debug: Debug = False,
) -> None:
    """Alert on concentration: exit 0 when every rule passes, 1 when one is breached, 2 on error.

    Thresholds come from flags (applied at `--scope`) and/or a TOML rules file; shares are
    fractions (0.2 = 20 %), HHI is in points.

    Example: `topshare check sales.csv --max-top1-share 0.2 --max-hhi 1800 --major 0.10`

    Example: `topshare check sales.csv --rules rules.toml --period month --notify http://127.0.0.1:9000/hook`

    Example: `topshare check access.log --traffic --by ip --major 0.05`
    """

    def body() -> int:
        from topshare.alerts import SCOPES, Rule, check_url, run_check
        from topshare.alerts import notify as send
        from topshare.render.check import render_check

        if fmt not in ("table", "json"):
            raise UsageError(f"unknown --format {fmt!r} for check: expected table or json")
        if notify_on not in ("breach", "always"):
            raise UsageError(f"--notify-on must be breach or always, got {notify_on!r}")
        if scope not in SCOPES:
            raise UsageError(f"--scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        if notify is not None:
            check_url(notify)
        flags = {
            "top_n_share": max_top_share,
            "top1_share": max_top1_share,
            "hhi": max_hhi,
            "major": major,
            "gini": max_gini,
            "effective_number": min_effective_number,
        }
        given = [Rule(metric, value, scope) for metric, value in flags.items() if value is not None]
        reading = _analyze_options(
            customer, amount, date, no_date, count, input_format, delimiter, header,
            encoding, date_format, decimal_comma, period, date_from, date_to, last, tz, segment,
        )  # fmt: skip
        if traffic and (table or query):
            raise UsageError("--traffic reads access logs: --table and --query do not apply")
        if traffic and (engine != "duckdb" or spark_master):
            raise UsageError("--traffic runs on DuckDB: --engine spark reads CSV/Parquet/JSON")
        if traffic:
            reading = _traffic_check_options(reading, by, measure, log_format, exclude_bots)
        else:
            reading.update(table=table, query=query, engine=engine, spark_master=spark_master)
        result = run_check(
            inputs, given, rules_file=rules, top=top, hhi_bands=hhi_bands, strict=strict,
            **reading,
        )  # fmt: skip
        text = result.to_json() + "\n" if fmt == "json" else render_check(result)
        write_output(text, output)
        if notify and (notify_on == "always" or result.status == "breach"):
            send(notify, result, timeout=notify_timeout)
        return result.exit_code

    code = _guard(debug, body)
    raise typer.Exit(code)


def _traffic_check_options(
    reading: dict[str, Any], by: str, measure: str, log_format: str | None, exclude_bots: bool
) -> dict[str, Any]:
    """``topshare check --traffic``: the options of :func:`topshare.traffic.traffic` instead of
    the file-reading ones (which do not apply to a log)."""
    file_only = ("customer", "amount", "count", "format", "delimiter", "header", "encoding",
                 "date_format", "decimal_comma")  # fmt: skip
    given = [k for k in file_only if reading.get(k) not in (None, False)]
    if given or reading.get("date") not in (None, False):
        raise UsageError(
            "--traffic reads access logs: the column and file-reading options do not apply"
        )
    keep = ("period", "date_from", "date_to", "last", "tz", "segments")
    return {
        "traffic": True,
        **{k: reading[k] for k in keep},
        "by": by,
        "measure": measure,
        "log_format": log_format,
        "exclude_bots": exclude_bots,
    }


@app.command()
def demo(
    rows: Annotated[
        int, typer.Option("--rows", help="How many orders to generate.", min=1000)
    ] = 1_000_000,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed (same seed, same data).")
    ] = 20240101,
    data: Annotated[
        Path | None, typer.Option("--data", help="Where to keep the generated CSV (.csv.gz).")
    ] = None,
    top: Top = 10,
    fmt: Fmt = "table",
    output: Output = None,
    debug: Debug = False,
) -> None:
    """Generate a realistic demo store (1 M orders over 3 years) and show its report.

    The data is generated once, deterministically, and kept in a cache folder
    ($TOPSHARE_DEMO_DIR, else ~/.cache/topshare); it includes refunds and a few messy rows.
    The HTML report (`--format html`) also shows the quarters and the regions.

    Example: `topshare demo --top 10`

    Example: `topshare demo --format html -o demo.html`
    """

    def body() -> None:
        from topshare.demo import ensure

        info = ensure(rows=rows, seed=seed, path=data)
        typer.echo(f"Demo data: {info.path} ({info.rows:,} orders, seed {info.seed})", err=True)
        # The HTML report shows the series and the segments too: quarters and regions.
        series: dict[str, Any] = (
            {"period": "quarter", "segments": ["region"]} if fmt == "html" else {}
        )
        result = analyze(
            str(info.path),
            customer="customer_id",
            amount="amount",
            date="order_date",
            top=top,
            **series,
        )
        _emit(result, fmt, output)

    _guard(debug, body)


from topshare import cli_serve as _cli_serve  # noqa: E402  (registers `serve` on the app)
from topshare import cli_traffic as _cli_traffic  # noqa: E402  (registers `traffic`)


def main() -> None:
    """Console-script entry point."""
    _ = _cli_serve, _cli_traffic
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

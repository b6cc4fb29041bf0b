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
    color = output is None and fmt == "table" and sys.stdout.isatty()
    width = None if output is not None else (typer.get_terminal_size()[0] if color else 100)
    write_output(render(result, fmt, width=width, color=color), output)


@app.command()
def revenue(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Files or globs (CSV/TSV, Parquet, JSON/NDJSON, .gz), or - for stdin."),
    ],
    customer: Annotated[
        str | None,
        typer.Option("--customer", "--entity", "-c", help="Customer (entity) column."),
    ] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", "--value", "-a", help="Amount (value) column.")
    ] = None,
    date: Annotated[str | None, typer.Option("--date", "-d", help="Date column.")] = None,
    no_date: Annotated[
        bool, typer.Option("--no-date", help="Use no date column (none is detected).")
    ] = False,
    count: Annotated[
        bool, typer.Option("--count", help="Count rows (orders) instead of summing an amount.")
    ] = False,
    top: Top = 10,
    cr: CR = ",".join(map(str, DEFAULT_CR)),
    pareto: ParetoOpt = 0.8,
    hhi_bands: Bands = "2023",
    fmt: Fmt = "table",
    output: Output = None,
    strict: Strict = False,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="csv, tsv, parquet or json (default: from the name)."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")
    ] = None,
    header: Annotated[
        bool | None,
        typer.Option(
            "--header/--no-header", help="Whether the CSV has a header (default: detected)."
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Text encoding: utf-8, utf-16 or latin-1.")
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option("--date-format", help="strptime format of the dates, e.g. '%d/%m/%Y'."),
    ] = None,
    decimal_comma: Annotated[
        bool, typer.Option("--decimal-comma", help="Amounts use a decimal comma: 1.234,50.")
    ] = False,
    debug: Debug = False,
) -> None:
    """Revenue from the top N customers, its share of the total, and concentration indices.

    Columns are detected from common names unless given; the mapping used is always shown.
    Rows that cannot be used are counted by reason with examples, and the money reconciles.

    Example: `topshare revenue sales.csv --top 20 --format json -o top.json`
    """

    def body() -> None:
        result = analyze(
            inputs,
            customer=customer,
            amount=amount,
            date=False if no_date else date,
            count=count,
            top=top,
            cr=_parse_cr(cr),
            pareto=pareto,
            hhi_bands=hhi_bands,
            strict=strict,
            format=input_format,
            delimiter=delimiter,
            header=header,
            encoding=encoding,
            date_format=date_format,
            decimal_comma=decimal_comma,
        )
        _emit(result, fmt, output)

    _guard(debug, body)


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

    Example: `topshare demo --top 10`
    """

    def body() -> None:
        from topshare.demo import ensure

        info = ensure(rows=rows, seed=seed, path=data)
        typer.echo(f"Demo data: {info.path} ({info.rows:,} orders, seed {info.seed})", err=True)
        result = analyze(
            str(info.path), customer="customer_id", amount="amount", date="order_date", top=top
        )
        _emit(result, fmt, output)

    _guard(debug, body)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

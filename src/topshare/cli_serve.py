"""``topshare serve``: the local web dashboard and JSON API (registered on the main Typer app).

Kept apart from cli.py (which holds the analysing commands); the web layer is an optional extra
(``pip install 'topshare[web]'``) and is imported only when the command runs.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from topshare.cli import (
    Amount,
    Count,
    Customer,
    DateCol,
    DateFormat,
    Debug,
    DecimalComma,
    Delimiter,
    Encoding,
    Header,
    InputFormat,
    Inputs,
    NoDate,
    SegmentOpt,
    Strict,
    Tz,
    _guard,
    app,
)
from topshare.cli_traffic import (
    By,
    ExcludeBots,
    Field,
    GeoIP,
    Group,
    KeepQuery,
    LogFormatOpt,
    Measure,
    OnlyBots,
    traffic_options,
)
from topshare.errors import UsageError

Traffic = Annotated[
    bool,
    typer.Option(
        "--traffic",
        help="The inputs are access logs: explore hits or bytes by path, IP, referrer... (the "
        "options of `topshare traffic`; the page switches dimension and measure).",
    ),
]


@app.command()
def serve(
    inputs: Inputs,
    customer: Customer = None,
    amount: Amount = None,
    date: DateCol = None,
    no_date: NoDate = False,
    count: Count = False,
    segment: SegmentOpt = None,
    tz: Tz = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; not loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)
    ] = 8000,
    given_token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="TOPSHARE_TOKEN",
            help="Require this token (16+ characters): 'Authorization: Bearer TOKEN', or open "
            "/?token=TOKEN once (sets a cookie). Default: $TOPSHARE_TOKEN.",
            show_envvar=False,
        ),
    ] = None,
    get: Annotated[
        str | None,
        typer.Option(
            "--get", help="Answer this one request (a path with its query), print the body, exit."
        ),
    ] = None,
    strict: Strict = False,
    input_format: InputFormat = None,
    delimiter: Delimiter = None,
    header: Header = None,
    encoding: Encoding = None,
    date_format: DateFormat = None,
    decimal_comma: DecimalComma = False,
    traffic: Traffic = False,
    by: By = "path",
    measure: Measure = "hits",
    log_format: LogFormatOpt = None,
    keep_query: KeepQuery = False,
    group: Group = None,
    exclude_bots: ExcludeBots = False,
    only_bots: OnlyBots = False,
    geoip: GeoIP = None,
    field: Field = None,
    debug: Debug = False,
) -> None:
    """Explore concentration in the browser: a local dashboard and a read-only JSON API.

    The source is scanned once at start into an aggregated cache; every change of N, period,
    date range or segment filter is then answered from it. Binds 127.0.0.1 unless `--host` says
    otherwise, and any other address needs `--token`. With `--traffic` the inputs are access
    logs (the options of `topshare traffic`): parsed once, and the page switches the dimension
    and the measure. See docs/web.md.

    Example: `topshare serve sales.csv --customer customer_id --amount amount --date order_date`

    Example: `topshare serve sales.csv --get '/api/summary?top=20&period=quarter'`

    Example: `topshare serve access.log --traffic --port 8080`
    """

    def body() -> int:
        try:
            from topshare.web import create_app
            from topshare.web.serve import check_bind, get_once, run_server, warm_up
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise UsageError(
                f"topshare serve needs the web extra ({exc.name} is missing): "
                "pip install 'topshare[web]'"
            ) from None
        from topshare.explore import open_explorer

        token = given_token or None  # an empty TOPSHARE_TOKEN is no token
        if get is None:
            check_bind(host, token)
        log = traffic_options(
            by, measure, log_format, keep_query, group, exclude_bots, only_bots, geoip, field
        )
        sales = {
            "customer": customer, "amount": amount, "date": date, "no_date": no_date,
            "count": count, "input_format": input_format, "delimiter": delimiter,
            "header": header is not None, "encoding": encoding, "date_format": date_format,
            "decimal_comma": decimal_comma,
        }  # fmt: skip
        explorer: Any
        if traffic:
            _refuse(sales, "not with --traffic (options of a sales source)")
            from topshare.explore_logs import open_traffic_explorer

            explorer = _open(open_traffic_explorer, inputs, segments=segment or [], tz=tz,
                             strict=strict, **log)  # fmt: skip
        else:
            defaults = traffic_options("path", "hits", None, False, None, False, False, None, None)
            _refuse(
                {k: v for k, v in log.items() if v != defaults[k]},
                "only with --traffic (options of an access log)",
            )
            explorer = _open(
                open_explorer, inputs, customer=customer, amount=amount,
                date=False if no_date else date, count=count, segments=segment or [], tz=tz,
                strict=strict, format=input_format, delimiter=delimiter, header=header,
                encoding=encoding, date_format=date_format, decimal_comma=decimal_comma,
            )  # fmt: skip
        try:
            web = create_app(explorer, token=token, loopback_only=token is None)
            if get is not None:
                status, text = get_once(web, get, token)
                sys.stdout.write(text.decode("utf-8", "replace") + "\n")
                sys.stdout.flush()
                return 0 if 200 <= status < 300 else 1
            where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
            hint = " (open it once with ?token=YOUR_TOKEN)" if token else ""
            typer.echo(f"topshare: serving {where}{hint}; Ctrl-C stops", err=True)
            warm_up(web, token, explorer.has_date)
            run_server(web, host, port)
            return 0
        finally:
            explorer.close()

    raise typer.Exit(_guard(debug, body))


def _refuse(given: dict[str, Any], why: str) -> None:
    """One line naming the options given (not at their defaults) that do not apply."""
    flags = {"fields": "field", "header": "header/--no-header"}
    names = [
        "--" + flags.get(name, name).replace("_", "-")
        for name, value in given.items()
        if value not in (None, False, [], ())
    ]
    if names:
        raise UsageError(f"{', '.join(names)}: {why}")


def _open(open_explorer: Any, inputs: list[str], **kw: Any) -> Any:
    """Open the explorer with a progress bar on stderr (a terminal): the stage's name, and
    during the one scan the share of it done (pulsing while the engine has no estimate)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    started = time.perf_counter()
    if console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("topshare: {task.description}"), BarColumn(),
                   TaskProgressColumn(), TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("opening the source", total=None)

            def told(stage: str, done: float | None) -> None:
                if done is None:  # a new stage: no estimate yet
                    bar.update(task, description=stage, total=None, completed=0)
                else:
                    bar.update(task, description=stage, total=1.0, completed=done)

            explorer = open_explorer(inputs, progress=told, **kw)
    else:
        explorer = open_explorer(inputs, **kw)
    rows = explorer.rows_read
    typer.echo(
        f"topshare: {rows:,} rows loaded into the cache in {time.perf_counter() - started:.1f} s",
        err=True,
    )
    return explorer

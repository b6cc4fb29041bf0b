"""Database sources through the command and the API: credentials (never echoed), read-only
queries, the options a backend cannot honour, and the errors a user can cause."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis.expr.datatypes as dt
import psycopg
import pyarrow as pa
import pytest

import topshare
from engines import Loader
from helpers import run_cli
from pgserver import ANALYST, ANALYST_PASSWORD, Server
from topshare import textrules
from topshare.backend import connect
from topshare.databases import DatabaseInput, mask, open_database
from topshare.engine import AMOUNT_PATTERNS, _parse_amount, _parse_date, _too_precise

D = Decimal
ROWS = "customer,amount,date\nA,300.00,2024-01-05\nB,100.00,2024-01-10\nA,50.50,2024-02-01\n"
# A 350.50, B 100.00 -> T 450.50; top 1 = A


@pytest.fixture
def pg(postgres_server: Server, tmp_path: Path) -> tuple[Server, str]:
    """The rows of ROWS in a PostgreSQL table; (server, table)."""
    loaded = Loader("postgres", tmp_path, postgres_server).load(ROWS)
    return postgres_server, loaded.table


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("topshare: error: ")
    return lines[0]


# --- credentials ---------------------------------------------------------------------------------


def test_password_in_the_url_works_and_is_never_echoed(pg: tuple[Server, str]) -> None:
    server, table = pg
    url = server.url(ANALYST, ANALYST_PASSWORD)
    assert "%20" in url  # the space of the password, percent-encoded
    r = run_cli("revenue", url, "--table", table, "-n", "1", "--format", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert (got["total"], got["top"][0]["entity"]) == ("450.50", "A")
    assert got["source"]["paths"] == [
        f"postgresql://{ANALYST}:***@{server.host}:{server.port}/postgres"
    ]
    for secret in (ANALYST_PASSWORD, "s3cret", "s3cret%20pw"):
        assert secret not in r.out + r.err
    table_out = run_cli("revenue", url, "--table", table)
    assert table_out.code == 0, table_out.err
    assert "s3cret" not in table_out.out + table_out.err


def test_wrong_password_is_one_line_without_the_password(pg: tuple[Server, str]) -> None:
    server, table = pg
    r = run_cli("revenue", server.url(ANALYST, "not-the-s3cret"), "--table", table)
    assert r.code == 2
    line = one_line_error(r.err)
    assert "password authentication failed" in line
    assert "not-the-s3cret" not in r.err
    assert f"{ANALYST}:***@" in line


def test_password_from_the_environment(
    pg: tuple[Server, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, table = pg
    monkeypatch.setenv("PGPASSWORD", ANALYST_PASSWORD)
    r = topshare.analyze(server.url(ANALYST), table=table)
    assert r.total == D("450.50")


def test_password_from_a_pgpass_file(
    pg: tuple[Server, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, table = pg
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{server.host}:{server.port}:*:{ANALYST}:{ANALYST_PASSWORD}\n")
    passfile.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    r = topshare.analyze(server.url(ANALYST), table=table)
    assert r.total == D("450.50")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("duckdb:////tmp/w.duckdb", "duckdb:////tmp/w.duckdb"),
    ],
)
def test_mask(url: str, shown: str) -> None:
    assert mask(url) == shown


# --- read-only queries ---------------------------------------------------------------------------


def test_query_is_analysed(pg: tuple[Server, str]) -> None:
    server, table = pg
    q = f"SELECT customer AS account, amount AS net FROM {table} WHERE amount > 60;"
    r = topshare.analyze(server.url(), query=q, customer="account", amount="net")
    # A 300.00, B 100.00 (A's 50.50 is filtered out by the query)
    assert (r.total, r.n_entities) == (D("400.00"), 2)
    assert r.source.paths == [server.url()]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT customer, amount, nextval('s') AS n FROM {t}", "read-only transaction"),
        ("WITH d AS (DELETE FROM {t} RETURNING *) SELECT * FROM d", "data-modifying"),
        ("DELETE FROM {t}", "syntax error"),
        ("SELECT * FROM {t}; DROP TABLE {t}", "syntax error"),
    ],
)
def test_a_query_cannot_write(pg: tuple[Server, str], query: str, message: str) -> None:
    server, table = pg
    with psycopg.connect(server.url(), autocommit=True) as con:
        con.execute("CREATE SEQUENCE IF NOT EXISTS s")
    r = run_cli("revenue", server.url(), "--query", query.format(t=table))
    assert r.code == 2
    assert message in one_line_error(r.err)
    with psycopg.connect(server.url(), autocommit=True) as con:
        row = con.execute(f"SELECT count(*), (SELECT last_value FROM s) FROM {table}").fetchone()
    assert row == (3, 1)  # the rows are all there; nextval never ran


def test_text_amounts_in_a_query_are_parsed(pg: tuple[Server, str]) -> None:
    server, table = pg
    q = f"SELECT customer, amount::text AS amount, date::text AS date FROM {table}"
    r = topshare.analyze(server.url(), query=q)
    assert (r.total, r.rows.rejected) == (D("450.50"), 0)  # as the typed table


def test_constant_bad_text_does_not_fail_the_query(pg: tuple[Server, str]) -> None:
    # constant texts: the planner folds the guard first and drops the cast of 'abc' and of
    # February 30th (a strict CAST would fail the whole query at planning time)
    server, _ = pg
    q = (
        "SELECT 'A' AS customer, '12.50' AS amount, '2024-01-05' AS date "
        "UNION ALL SELECT 'B', 'abc', '2024-01-06' UNION ALL SELECT 'C', '3', '2024-02-30'"
    )
    r = topshare.analyze(server.url(), query=q)
    assert r.total == D("12.50")
    by = {x.reason: (x.rows, x.amount) for x in r.rows.rejected_by_reason}
    assert by == {"bad_value": (1, None), "bad_date": (1, D(3))}
    with pytest.raises(topshare.InputError, match=r"no rows left to analyse \(1 bad_value\)"):
        topshare.analyze(server.url(), query="SELECT 'A' AS customer, 'x1' AS amount")


# --- files and the command ----------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite", "duckdb"])
def test_database_files_through_the_command(tmp_path: Path, engine: str) -> None:
    loaded = Loader(engine, tmp_path, None).load(ROWS)
    for location in (loaded.location, f"{engine}:///{loaded.location}"):
        r = run_cli("revenue", location, "--table", loaded.table, "-n", "1", "-f", "json")
        assert r.code == 0, r.err
        got = json.loads(r.out)
        assert (got["total"], got["top_n_sum"], got["source"]["format"]) == (
            "450.50",
            "350.50",
            engine,
        )
        # the result is what the API gives
        assert got == topshare.analyze(location, table=loaded.table, top=1).to_dict()
    check = run_cli("check", loaded.location, "--table", loaded.table, "--major", "0.5")
    assert check.code == 1, check.err  # A has 350.50 / 450.50 = 78 %: a breach


def test_check_on_postgres(pg: tuple[Server, str]) -> None:
    server, table = pg
    ok = run_cli("check", server.url(), "--table", table, "--max-top1-share", "0.8")
    assert ok.code == 0, ok.err
    breach = run_cli("check", server.url(), "--table", table, "--max-top1-share", "0.7")
    assert breach.code == 1, breach.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date-format", "%d/%m/%Y"], "--date-format is not available on SQLite"),
        ([], "needs --table NAME or --query SQL"),
        (["--table", "orders", "--query", "SELECT 1"], "got both"),
        (["--table", "nope"], "--table 'nope': no such table (tables: sales_"),
        (["--table", "x; DROP TABLE y"], "expected a table name"),
    ],
)
def test_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    loaded = Loader("sqlite", tmp_path, None).load(ROWS)
    given = not args or args[0] in ("--table", "--query")
    extra = args if given else ["--table", loaded.table, *args]
    r = run_cli("revenue", loaded.location, *extra)
    assert r.code == 2
    assert message in one_line_error(r.err)


def test_missing_database_file(tmp_path: Path) -> None:
    r = run_cli("revenue", f"sqlite:///{tmp_path}/nope.sqlite", "--table", "t")
    assert r.code == 2
    assert "no such database file" in one_line_error(r.err)


def test_a_sum_past_sqlite_integers_is_one_clear_line(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "big.sqlite"
    with sqlite3.connect(path) as con:  # 2 x 9e12 at 6 places: 1.8e19 units > 2**63
        con.execute("CREATE TABLE s (customer TEXT, amount TEXT)")
        con.executemany("INSERT INTO s VALUES (?, ?)", [("a", "9000000000000")] * 2)
    r = run_cli("revenue", path, "--table", "s")
    assert r.code == 2
    line = one_line_error(r.err)
    assert "integer overflow" in line
    assert "64-bit" in line


# --- the DuckDB text rules on PostgreSQL and SQLite ---------------------------------------------

#: Texts where the rules are easy to get wrong: spaces (RE2's \s has no \v; DuckDB's casts trim
#: it), underscores, exponents, rounding half away from zero, overflow, a newline inside parens
#: (RE2's '.' is not a newline), a trailing newline (Python's '$' would match before it).
AMOUNTS = [
    "(12.0000001)", "$1.0000001", "($3.5000000)", "1,234.0000001",
    "12", " 12 ", "\t12\n", "\v12\f", "\r12\r", "+12", "-12", "- 12", "12.", ".5", "-.5",
    "1e3", "1E-2", "1.5e2", "1e+2", "1e-40", "12.345e1", "e5", "1e", ".", "-", "",
    "1_000", "1__000", "_1", "1_0.5", "1.5_0", "1._5", "1_.5", "00012", "1 2", "12abc",
    "+-1", "--1", "1.2.3", "0x10", "inf", "nan", "\u00a012", "\u0661\u0662",
    "12.3456785", "-12.3456785", "1.0000005", "0.0000004", "0.0000005", "-0.0000005",
    "1." + "0" * 60, "0." + "0" * 50 + "1",
    "9" * 32, "1" + "0" * 32, "9" * 32 + ".9999994", "9" * 32 + ".9999995",
    "1,234.50", "$1,234.50", "(12.00)", "-$5", "$ 5", "€12", "£1,000,000.25", "¥100",
    "1,50", "12,34,567", "(12.00", "12.00)", "(\n12)", "( 12 )", "$(5)", "(-5)", "1,234.5678901",
    "$1.1234567", "12\n", "(12)\n", "1.1234567", "1.1234560", "1.12345670001", "12.5 €",
]  # fmt: skip
#: the same for --decimal-comma
COMMA_AMOUNTS = [
    "1.234,50", "12,5", "12,5 €", "(3,00)", "1 234,50", "€1.234", "1.5", "12,", ",5",
    "1.234.567,891", "1,2,3", "12,3456785", "1,1234567", "x", "",
    "12,0000001 €", "(1,0000001)", "(2,5000000 €)",
]  # fmt: skip
DATES = [
    "2024-01-05", "2024-1-5", "2024/01/05", "2024 01 05", " 2024-01-05", "\t2024-1-5",
    "2024-1-5 ", "2024-1-5\v", "2024-01-05 ", "2024-01-05  ", "2024-02-29", "2023-02-29",
    "2000-02-29", "1900-02-29", "2024-02-30", "2024-04-31", "2024-12-31", "2024-13-01",
    "2024-00-10", "2024-01-00", "2024-01/05", "2024.01.05", "20240105", "2024-01", "abc", "",
    "2024-01-05 10:00:00", "2024-01-05T10:00:00", "2024-01-05 10:00", "2024-01-05 1:2:3",
    "2024-01-05  10:00:00", "2024-01-05T 10:00:00", "2024-01-05 T10:00:00", "2024-01-05 10",
    "2024-01-05 10:00:00.123456", "2024-01-05 10:00:00.1234567", "2024-01-05 10:00:00Z",
    "2024-01-05 10:00:00+02:00", "2024-01-05 10:00:00+02", "2024-01-05 10:00:00+0200",
    "2024-01-05 10:00:00-05:30", "2024-01-05T10:00:00.5Z", "2024-01-05 10:00:00 +02:00",
    "2024-01-05 10:00:00+2", "2024-01-05 10:00:00 ", "2024-01-05 10:00:00\t",
    "2024-01-05 10:00:00z", "2024-01-05t10:00:00", "2024-01-05 25:00:00", "2024-01-05 10:60:00",
    "2024-01-05 23:59:60", "2024-12-31T23:30:00-01:00", "2024-01-0510:00:00",
]  # fmt: skip


def _duckdb_values(texts: list[str], expr: Callable[[Any], Any]) -> list[Any]:
    """``expr`` over the texts on DuckDB: the file path's expressions, the reference."""
    con = connect(tz="Europe/Paris")
    con.con.register("texts", pa.table({"i": list(range(len(texts))), "t": texts}))
    t = con.table("texts")
    rows = t.select(t.i, v=expr(t.t)).order_by("i").to_pyarrow().to_pylist()
    return [r["v"] for r in rows]


def _postgres_values(
    server: Server, tmp: Path, texts: list[str], expr: Callable[[Any], Any]
) -> list[Any]:
    """``expr`` over the texts in a PostgreSQL table, run there (the guarded casts)."""
    loaded = Loader("postgres", tmp, server).load(
        "i,t\n" + "".join(f"{i},x\n" for i in range(len(texts))), types={"i": "INTEGER"}
    )
    with psycopg.connect(server.url(), autocommit=True) as con, con.cursor() as cur:
        cur.executemany(
            f"UPDATE {loaded.table} SET t = %s WHERE i = %s",
            [(text, i) for i, text in enumerate(texts)],
        )
    con_duck = connect()
    src = open_database(con_duck, DatabaseInput(server.url(), table=loaded.table), "Europe/Paris")
    try:
        t = src.base
        rows = t.select(t.i, v=expr(t.t)).order_by("i").to_pyarrow().to_pylist()
    finally:
        src.close()
    return [r["v"] for r in rows]


@pytest.mark.parametrize("comma", [False, True])
def test_amount_rules_agree_with_duckdb(
    postgres_server: Server, tmp_path: Path, comma: bool
) -> None:
    texts = COMMA_AMOUNTS if comma else AMOUNTS
    dec = dt.Decimal(38, 6)

    def parsed(t: Any) -> Any:
        return _parse_amount(t, dec, comma)

    def flagged(t: Any) -> Any:
        return _too_precise(t, _parse_amount(t, dec, comma), 6, comma)

    duck = _duckdb_values(texts, parsed)
    pg = _postgres_values(postgres_server, tmp_path, texts, parsed)
    py = [textrules.parse_amount(t, 6, comma, AMOUNT_PATTERNS) for t in texts]
    for text, want, got_pg, got_py in zip(texts, duck, pg, py, strict=True):
        assert (got_pg, got_py) == (want, want), repr(text)
    assert sum(v is not None for v in duck) > 8  # the corpus has numbers and garbage
    assert sum(v is None for v in duck) >= 4
    cases = list(zip(texts, py, strict=True))
    duck_flags = _duckdb_values([t for t, _ in cases], flagged)
    pg_flags = _postgres_values(postgres_server, tmp_path, [t for t, _ in cases], flagged)
    py_flags = [textrules.too_precise(t, v, 6, comma) for t, v in cases]
    for (text, _), want, got_pg, got_py in zip(cases, duck_flags, pg_flags, py_flags, strict=True):
        assert (bool(got_pg), got_py) == (bool(want), bool(want)), repr(text)
    assert any(duck_flags)


def test_date_rules_agree_with_duckdb(postgres_server: Server, tmp_path: Path) -> None:
    duck = _duckdb_values(DATES, lambda t: _parse_date(t, None))
    pg = _postgres_values(
        postgres_server, tmp_path, DATES, lambda t: _parse_date(t, None, "postgres")
    )
    py = [textrules.timestamp(t, "Europe/Paris") for t in DATES]
    for text, want, got_pg, got_py in zip(DATES, duck, pg, py, strict=True):
        got = None if got_py is None else datetime.fromisoformat(got_py)
        assert (got_pg, got) == (want, want), repr(text)
    assert sum(v is not None for v in duck) > 10
    assert sum(v is None for v in duck) > 10
    # offsets are converted to the zone: 10:00 at +02:00 is 09:00 in Paris in winter
    assert pg[DATES.index("2024-01-05 10:00:00+02:00")] == datetime(2024, 1, 5, 9, 0)


@pytest.mark.parametrize("engine", ["sqlite", "postgres", "duckdb"])
def test_text_date_offsets_go_to_tz(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # in Paris: 23:30 at −01:00 on 31 January is 01:30 on 1 February; a time without an offset
    # is a Paris wall clock; 01:30 UTC on 31 March 2024 is 03:30 summer time (the clocks moved)
    server = request.getfixturevalue("postgres_server") if engine == "postgres" else None
    text = (
        "customer,amount,date\n"
        "A,10,2024-01-31T23:30:00-01:00\nB,5,2024-01-31 23:30:00\nC,2,2024-03-31 01:30:00Z\n"
    )
    loaded = Loader(engine, tmp_path, server).load(text, types={"date": "TEXT"})
    r = loaded.analyze(period="month", tz="Europe/Paris")
    assert r.periods is not None
    assert [(p.label, p.total) for p in r.periods] == [
        ("2024-01", D(5)),
        ("2024-02", D(10)),
        ("2024-03", D(2)),
    ]
    assert r.date_range is not None
    assert r.date_range.last == datetime(2024, 3, 31, 3, 30)
    cli = run_cli(
        "revenue", loaded.location, "--table", loaded.table, "--tz", "Europe/Paris",
        "--decimal-comma", "-f", "json",
    )  # fmt: skip
    assert cli.code == 0, cli.err
    assert json.loads(cli.out)["total"] == "17.00"

"""Database sources through the command and the API: credentials (never echoed), read-only
queries, the options a backend cannot honour, and the errors a user can cause."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

import topshare
from engines import Loader
from helpers import run_cli
from pgserver import ANALYST, ANALYST_PASSWORD, Server
from topshare.databases import mask

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


def test_text_amount_on_postgres_is_refused_clearly(pg: tuple[Server, str]) -> None:
    server, table = pg
    q = f"SELECT customer, amount::text AS amount FROM {table}"
    with pytest.raises(topshare.UsageError, match="is text; a PostgreSQL source needs a numeric"):
        topshare.analyze(server.url(), query=q)


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
        (["--decimal-comma"], "--decimal-comma is not available on SQLite"),
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

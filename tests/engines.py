"""One test suite over every engine: fixtures that load a test's rows into each database.

``db`` is parametrized over :data:`ENGINES`; ``db.load(csv_text)`` creates a table with the same
rows (typed columns: text keys, NUMERIC amounts, DATE dates; an empty field is NULL) in a DuckDB
file, in PostgreSQL (a real server started once per session, see tests/pgserver.py) or in a
SQLite file, and returns a :class:`Loaded` whose ``analyze(**kw)`` runs ``topshare.analyze`` on
it. The same assertions then run on every engine. A test marks an engine's known gap with
``xfail_on(request, "sqlite", reason)`` (strict: a gap that closes is noticed).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import topshare
from pgserver import Server, postgres
from topshare.result import Analysis

ENGINES = ("duckdb", "postgres", "sqlite", "spark")
#: Column types by name; any other column is text.
DEFAULT_TYPES = {
    "amount": "NUMERIC(18, 2)",
    "date": "DATE",
    "created_at": "TIMESTAMP",
}
_tables = itertools.count(1)


@dataclass(frozen=True)
class Loaded:
    engine: str
    location: str
    table: str
    spark: Any = None  # Spark: the session, and ``location`` is a Parquet file

    def analyze(self, **kw: Any) -> Analysis:
        if self.engine == "spark":
            return topshare.analyze(self.location, engine="spark", spark=self.spark, **kw)
        return topshare.analyze(self.location, table=self.table, **kw)


class Loader:
    def __init__(self, engine: str, tmp: Path, server: Server | None, spark: Any = None) -> None:
        self.engine = engine
        self.tmp = tmp
        self.server = server
        self.spark = spark

    def load(
        self,
        text: str,
        types: dict[str, str] | None = None,
        key: str | None = None,
    ) -> Loaded:
        """A table with the rows of ``text`` (CSV with a header). ``key`` adds an integer
        primary key column of that name, numbering the rows 1, 2, ... in order."""
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        rows = [r for r in reader if r]
        kinds = {c: ({**DEFAULT_TYPES, **(types or {})}).get(c, "TEXT") for c in header}
        if key:
            header = [key, *header]
            kinds = {key: "INTEGER PRIMARY KEY", **kinds}
            rows = [[str(i), *r] for i, r in enumerate(rows, start=1)]
        values = [[_value(v, kinds[c], self.engine) for c, v in zip(header, r, strict=True)]
                  for r in rows]  # fmt: skip
        name = f"sales_{next(_tables)}"
        if self.engine == "spark":
            parquet = str(self.tmp / f"{name}.parquet")
            _write_parquet(parquet, header, [kinds[c] for c in header], values)
            return Loaded("spark", parquet, parquet, self.spark)
        cols = ", ".join(f'"{c}" {_sql_type(kinds[c], self.engine)}' for c in header)
        create = f"CREATE TABLE {name} ({cols})"
        marks = ", ".join(["%s" if self.engine == "postgres" else "?"] * len(header))
        insert = f"INSERT INTO {name} VALUES ({marks})"
        if self.engine == "postgres":
            import psycopg

            assert self.server is not None
            with psycopg.connect(self.server.url(), autocommit=True) as con:
                con.execute(create)
                with con.cursor() as cur:
                    cur.executemany(insert, values)
            return Loaded("postgres", self.server.url(), name)
        if self.engine == "sqlite":
            import sqlite3

            path = self.tmp / "shop.sqlite"
            sq = sqlite3.connect(path)
            sq.execute(create)
            sq.executemany(insert, values)
            sq.commit()
            sq.close()
            return Loaded("sqlite", str(path), name)
        import duckdb

        path = self.tmp / "warehouse.duckdb"
        dd = duckdb.connect(str(path))
        dd.execute(create)
        if values:
            dd.executemany(insert, values)
        dd.close()
        return Loaded("duckdb", str(path), name)


def _write_parquet(path: str, names: list[str], kinds: list[str], rows: list[list[Any]]) -> None:
    """The typed rows as a Parquet file (what Spark reads): NUMERIC(p, s) as decimals."""
    import re

    import pyarrow as pa
    import pyarrow.parquet as pq

    def arrow_type(kind: str) -> Any:
        m = re.match(r"(NUMERIC|DECIMAL)\((\d+), (\d+)\)", kind)
        if m:
            return pa.decimal128(int(m.group(2)), int(m.group(3)))
        if kind.startswith("DOUBLE"):
            return pa.float64()
        if kind.startswith("INTEGER"):
            return pa.int64()
        if kind == "DATE":
            return pa.date32()
        if kind == "TIMESTAMPTZ":
            return pa.timestamp("us", tz="UTC")
        if kind.startswith("TIMESTAMP"):
            return pa.timestamp("us")
        return pa.string()

    columns = [pa.array([r[i] for r in rows], arrow_type(k)) for i, k in enumerate(kinds)]
    pq.write_table(pa.table(columns, names=names), path)


def _sql_type(kind: str, engine: str) -> str:
    if engine == "duckdb" and kind.startswith("DOUBLE"):
        return "DOUBLE"
    if engine == "sqlite" and kind == "TIMESTAMPTZ":
        return "TIMESTAMP"
    return kind


def _value(text: str, kind: str, engine: str) -> Any:
    if text == "":
        return None
    if engine == "sqlite":
        return text  # SQLite's column affinity stores numbers as numbers, as an import would
    if kind.startswith(("NUMERIC", "DECIMAL")):
        return Decimal(text)
    if kind.startswith("DOUBLE"):
        return float(text)
    if kind.startswith("INTEGER"):
        return int(text)
    if kind == "DATE":
        return date.fromisoformat(text)
    if kind.startswith("TIMESTAMP"):
        return datetime.fromisoformat(text)
    return text


def xfail_on(request: pytest.FixtureRequest, engine: str, reason: str) -> None:
    """A known gap of one engine: a strict expected failure there."""
    if request.node.callspec.params.get("db") == engine:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """One real PostgreSQL server for the session. Without one the PostgreSQL tests are
    skipped, except under CI (the ``CI`` variable set), where they fail."""
    try:
        with postgres() as server:
            yield server
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL test server did not start: {exc}")
        pytest.skip(f"PostgreSQL test server did not start: {exc}")


@pytest.fixture(
    params=[pytest.param(e, marks=pytest.mark.spark) if e == "spark" else e for e in ENGINES]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Loader:
    engine = str(request.param)
    server = request.getfixturevalue("postgres_server") if engine == "postgres" else None
    spark = request.getfixturevalue("spark_session") if engine == "spark" else None
    return Loader(engine, tmp_path, server, spark)

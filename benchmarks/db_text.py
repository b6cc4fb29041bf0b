"""Text amounts and dates on PostgreSQL and SQLite: typed columns vs text columns.

Builds two tables with the same random rows (customer, amount, date): ``perf_typed``
(NUMERIC(18, 2), DATE) and ``perf_text`` (TEXT, TEXT), in PostgreSQL (the URL given) and in a
SQLite file under benchmarks/data/, then times ``topshare.analyze`` on each, with and without
``--period month``, and checks that the totals agree::

    python benchmarks/db_text.py --postgres postgresql://user@localhost/db --rows 1000000
    python benchmarks/db_text.py --rows 1000000          # SQLite only
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import topshare

DATA = Path(__file__).resolve().parent / "data"


def rows(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [
        (
            f"C{rng.randrange(50_000)}",
            f"{rng.randrange(-10_000, 1_000_000) / 100:.2f}",
            f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        )
        for _ in range(n)
    ]


def load_postgres(url: str, data: list[tuple[str, str, str]]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS perf_text; DROP TABLE IF EXISTS perf_typed")
        con.execute("CREATE TABLE perf_text (customer text, amount text, date text)")
        with con.cursor().copy("COPY perf_text FROM STDIN") as cp:
            for r in data:
                cp.write_row(r)
        con.execute(
            "CREATE TABLE perf_typed AS SELECT customer, amount::numeric(18, 2) AS amount, "
            "date::date AS date FROM perf_text"
        )
        con.execute("ANALYZE perf_text; ANALYZE perf_typed")


def load_sqlite(path: Path, data: list[tuple[str, str, str]]) -> None:
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE perf_text (customer TEXT, amount TEXT, date TEXT)")
    con.execute("CREATE TABLE perf_typed (customer TEXT, amount NUMERIC(18, 2), date DATE)")
    con.executemany("INSERT INTO perf_text VALUES (?, ?, ?)", data)
    con.execute("INSERT INTO perf_typed SELECT * FROM perf_text")
    con.commit()
    con.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--postgres", help="a PostgreSQL URL to create the two tables in")
    args = ap.parse_args(argv)
    data = rows(args.rows, args.seed)
    locations: list[str] = []
    if args.postgres:
        load_postgres(args.postgres, data)
        locations.append(args.postgres)
    DATA.mkdir(exist_ok=True)
    sqlite_path = DATA / f"db_text_{args.rows}.sqlite"
    load_sqlite(sqlite_path, data)
    locations.append(str(sqlite_path))
    for location in locations:
        totals: set[Any] = set()
        for table in ("perf_typed", "perf_text"):
            for kw in ({}, {"period": "month"}):
                t0 = time.perf_counter()
                r = topshare.analyze(location, table=table, **kw)  # type: ignore[arg-type]
                took = time.perf_counter() - t0
                totals.add(r.total)
                kind = "postgres" if location == args.postgres else "sqlite"
                how = "--period month" if kw else ""
                print(f"{kind:8} {table:10} {how:15} {took:6.2f} s  total {r.total}")
        assert len(totals) == 1, totals


if __name__ == "__main__":
    main()

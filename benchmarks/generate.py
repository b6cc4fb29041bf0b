"""Seeded generator of heavy-tailed sales rows for the benchmarks (CSV and Parquet).

Columns: ``order_id,customer_id,order_date,region,amount``. About one customer per 20 rows
(500k customers for 10 M rows). How often a customer orders follows a Pareto law and how much it
spends per order a lognormal one, so a few whales carry a large share and the tail is long.
About 2 % of the rows are refunds (negative amounts) and about 0.01 % are messy: an empty
customer, or the amount ``N/A``.

The CSV holds every value as text. The Parquet file holds typed columns: ``amount`` is
``DECIMAL(18,2)`` and the ``N/A`` amounts are NULL (a typed column cannot hold ``N/A``), so both
files describe the same rows and every correct reader finds the same totals and rejections.

Rows are drawn with numpy and written by DuckDB from Arrow buffers: no Python loop over rows.
Files are named after the generator version, the row count and the seed, and are reused when
they already exist::

    python benchmarks/generate.py --rows 1000000 --seed 42
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

GENERATOR_VERSION = 1
DATA_DIR = Path(__file__).resolve().parent / "data"
ROWS_PER_CUSTOMER = 20
REFUND_RATE = 0.02
MESSY_RATE = 0.0001  # half empty customers, half 'N/A' amounts
PARETO_SHAPE = 1.16  # the "80/20" shape: order frequency per customer
REGIONS = ("North", "South", "East", "West", "Central")
REGION_WEIGHTS = (0.30, 0.25, 0.20, 0.15, 0.10)
FIRST_DAY = "2023-01-01"
DAYS = 730


@dataclass(frozen=True)
class Dataset:
    rows: int
    seed: int
    csv: Path
    parquet: Path


def paths_for(rows: int, seed: int, data_dir: Path = DATA_DIR) -> Dataset:
    """Where the files for ``rows`` and ``seed`` live (they may not exist yet)."""
    stem = f"sales_v{GENERATOR_VERSION}_{rows}rows_seed{seed}"
    return Dataset(rows, seed, data_dir / f"{stem}.csv", data_dir / f"{stem}.parquet")


def customers_for(rows: int) -> int:
    return max(10, rows // ROWS_PER_CUSTOMER)


def draw(rows: int, seed: int) -> pa.Table:
    """The rows as an Arrow table of raw numbers (ids, cents, flags), formatted later in SQL."""
    rng = np.random.default_rng(seed)
    n_cust = customers_for(rows)
    # Customer ids: distinct 7-digit numbers, shown with leading zeros ('C0004213').
    ids = rng.choice(10_000_000, size=n_cust, replace=False).astype(np.int32)
    frequency = rng.pareto(PARETO_SHAPE, n_cust) + 1.0
    basket = rng.lognormal(mean=0.0, sigma=0.75, size=n_cust)  # typical order size per customer
    cum = np.cumsum(frequency)
    who = np.searchsorted(cum, rng.random(rows) * cum[-1], side="right")
    who = np.minimum(who, n_cust - 1)

    order_value = rng.lognormal(mean=np.log(60.0), sigma=1.0, size=rows) * basket[who]
    cents = np.maximum(np.rint(order_value * 100.0), 1).astype(np.int64)
    refund = rng.random(rows) < REFUND_RATE
    cents[refund] = -cents[refund]

    messy = rng.random(rows)
    empty_customer = messy < MESSY_RATE / 2
    bad_amount = (messy >= MESSY_RATE / 2) & (messy < MESSY_RATE)

    region = rng.choice(len(REGIONS), size=rows, p=REGION_WEIGHTS).astype(np.int8)
    day = rng.integers(0, DAYS, size=rows, dtype=np.int32)
    return pa.table(
        {
            "order_id": np.arange(1, rows + 1, dtype=np.int64),
            "cust": ids[who],
            "empty_customer": empty_customer,
            "day": day,
            "region": region,
            "cents": cents,
            "bad_amount": bad_amount,
        }
    )


def _select_sql(typed: bool) -> str:
    regions = "[" + ", ".join(f"'{r}'" for r in REGIONS) + "]"
    amount = "cents::DECIMAL(18, 0) * 0.01"  # exact: DECIMAL(18, 2)
    if typed:
        amount_sql = f"CASE WHEN bad_amount THEN NULL ELSE {amount} END"
    else:
        amount_sql = f"CASE WHEN bad_amount THEN 'N/A' ELSE ({amount})::VARCHAR END"
    return f"""
        SELECT
            order_id,
            CASE WHEN empty_customer THEN NULL ELSE 'C' || lpad(cust::VARCHAR, 7, '0') END
                AS customer_id,
            DATE '{FIRST_DAY}' + day AS order_date,
            {regions}[region + 1] AS region,
            {amount_sql} AS amount
        FROM raw_rows
        ORDER BY order_id
    """


def _write(con: duckdb.DuckDBPyConnection, target: Path, typed: bool, options: str) -> None:
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    con.execute(f"COPY ({_select_sql(typed)}) TO '{tmp.as_posix()}' ({options})")
    tmp.replace(target)  # atomic: a half-written file never looks like a finished one


def ensure(rows: int, seed: int, data_dir: Path = DATA_DIR, quiet: bool = False) -> Dataset:
    """Generate the CSV and Parquet files for ``rows``/``seed`` unless they already exist."""
    ds = paths_for(rows, seed, data_dir)
    if ds.csv.exists() and ds.parquet.exists():
        return ds
    data_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    raw_rows = draw(rows, seed)
    con = duckdb.connect()
    con.register("raw_rows", raw_rows)
    if not ds.csv.exists():
        _write(con, ds.csv, typed=False, options="FORMAT csv, HEADER true")
    if not ds.parquet.exists():
        _write(con, ds.parquet, typed=True, options="FORMAT parquet, COMPRESSION zstd")
    con.close()
    if not quiet:
        mb = (ds.csv.stat().st_size + ds.parquet.stat().st_size) / 1e6
        print(
            f"generated {rows:,} rows (seed {seed}) in {time.perf_counter() - t0:.1f} s, {mb:,.0f} MB"
        )
    return ds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="rows to generate (10 M)")
    p.add_argument("--seed", type=int, default=42, help="random seed (42)")
    args = p.parse_args(argv)
    ds = ensure(args.rows, args.seed)
    print(ds.csv.name)
    print(ds.parquet.name)


if __name__ == "__main__":
    main()

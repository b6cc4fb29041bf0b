"""The scale target: 1 billion rows of Parquet on one machine, topshare against hand-written SQL.

    python benchmarks/billion.py                       # 1,000,000,000 rows in 10 files
    python benchmarks/billion.py --rows 200000000      # a fifth of it
    python benchmarks/billion.py --memory-limit 2GB    # DuckDB capped (it spills the rest)

The data is built from the seeded 10 M-row file of ``generate.py`` (made first when missing):
copy ``c`` of its rows gets order ids shifted by ``c`` x 10 M and customer ``X`` becomes
``X-d`` with ``d = c mod 10``, so that 1 B rows have ten times the customers of 10 M (about
4.9 M) and every copy keeps the messy rows (empty customers, NULL amounts) of the original.
Written by DuckDB into ``--files`` Parquet files under ``benchmarks/data/`` (about 11 GB for
1 B rows) and reused when they exist.

Then the ``kpi`` case of ``contenders.py`` runs once per contender, each in a fresh process
(topshare, then the hand-written DuckDB SQL): the time, the peak memory of the process, the
most disk DuckDB's spill directory held meanwhile (polled every half second), and whether both
found the same customers, totals, top 10, indices and rejected rows. ``--memory-limit`` sets
``TOPSHARE_MEMORY_LIMIT`` for topshare and the same ``memory_limit`` for the SQL. Prints one
table and writes ``benchmarks/results/billion.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from generate import DATA_DIR, ensure

HERE = Path(__file__).resolve().parent
CHILD = HERE / "contenders.py"
RESULTS = HERE / "results" / "billion.json"
BASE_ROWS = 10_000_000
SEED = 42
CUSTOMER_VARIANTS = 10


def build(rows: int, files: int) -> Path:
    """The directory of Parquet files holding ``rows`` rows (made when missing)."""
    if rows % BASE_ROWS or rows // BASE_ROWS % files:
        raise SystemExit(f"--rows must be a multiple of {BASE_ROWS:,} x --files")
    base = ensure(BASE_ROWS, SEED).parquet
    target = DATA_DIR / f"sales_v1_{rows}rows_seed{SEED}_x{CUSTOMER_VARIANTS}_{files}files"
    done = target / "COMPLETE"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    copies = rows // BASE_ROWS
    per_file = copies // files
    con = duckdb.connect()
    quoted = "'" + str(base).replace("'", "''") + "'"
    for k in range(files):
        t0 = time.perf_counter()
        out = "'" + str(target / f"part-{k:03d}.parquet").replace("'", "''") + "'"
        con.execute(f"""
            COPY (
                SELECT
                    order_id + c * {BASE_ROWS} AS order_id,
                    CASE WHEN customer_id IS NULL OR trim(customer_id) = '' THEN customer_id
                         ELSE customer_id || '-' || (c % {CUSTOMER_VARIANTS})::VARCHAR
                    END AS customer_id,
                    order_date, region, amount
                FROM range({k * per_file}, {(k + 1) * per_file}) AS t(c), read_parquet({quoted})
            ) TO {out} (FORMAT parquet)
        """)
        print(f"  file {k + 1}/{files} written ({time.perf_counter() - t0:.0f} s)", flush=True)
    con.close()
    done.write_text("ok\n")
    return target


class SpillWatch:
    """The most bytes a directory tree held while the watch ran (polled every half second)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _size(self) -> int:
        total = 0
        for root, _, names in os.walk(self.path):
            for name in names:
                with contextlib.suppress(OSError):  # removed meanwhile
                    total += os.path.getsize(os.path.join(root, name))
        return total

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.most = max(self.most, self._size())

    def __enter__(self) -> SpillWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(contender: str, pattern: str, spill: Path, memory_limit: str | None) -> dict[str, Any]:
    # Both spill where the watch looks (the SQL's own default directory would be missed).
    env = dict(os.environ, TOPSHARE_SPILL_DIR=str(spill), BENCH_DUCKDB_SPILL_DIR=str(spill))
    if memory_limit:
        env["TOPSHARE_MEMORY_LIMIT"] = memory_limit  # topshare
        env["BENCH_DUCKDB_MEMORY_LIMIT"] = memory_limit  # the hand-written SQL (contenders.py)
    shutil.rmtree(spill, ignore_errors=True)
    cmd = [sys.executable, str(CHILD), contender, "parquet", pattern, "--case", "kpi"]
    t0 = time.perf_counter()
    with SpillWatch(spill) as watch:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    shutil.rmtree(spill, ignore_errors=True)
    lines = proc.stdout.strip().splitlines()
    out: dict[str, Any] = {"contender": contender, "wall_seconds": wall,
                           "spill_peak_mb": watch.most / 2**20}  # fmt: skip
    if proc.returncode != 0 or not lines:
        lines = [x.strip() for x in proc.stderr.splitlines() if x.strip()]
        said = [x for x in lines if re.match(r"^[\w.]+(Error|Exception): ", x)]
        return {**out, "ok": False, "error": (said or lines or ["no output"])[-1][:400]}
    return {**out, "ok": True, **json.loads(lines[-1])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000_000, help="rows (1,000,000,000)")
    p.add_argument("--files", type=int, default=10, help="Parquet files (10)")
    p.add_argument("--memory-limit", help="DuckDB's memory limit for both (default: DuckDB's)")
    args = p.parse_args(argv)
    print(f"building {args.rows:,} rows in {args.files} files (reused when present)", flush=True)
    target = build(args.rows, args.files)
    size = sum(f.stat().st_size for f in target.glob("*.parquet"))
    pattern = str(target / "*.parquet")
    spill = Path(tempfile.gettempdir()) / "topshare-bench-spill"
    runs = []
    for contender in ("topshare", "duckdb_sql"):
        print(f"  running {contender}...", flush=True)
        runs.append(run(contender, pattern, spill, args.memory_limit))
    ref = runs[1]
    print(f"\n{args.rows:,} rows, {args.files} Parquet files, {size / 1e9:.1f} GB, "
          f"memory limit {args.memory_limit or 'DuckDB default (80 % of RAM)'}")  # fmt: skip
    print(f"{'contender':<12} {'seconds':>9} {'M rows/s':>9} {'vs SQL':>7} {'peak RSS MB':>12} "
          f"{'spill MB':>9}")  # fmt: skip
    for r in runs:
        if not r["ok"]:
            print(f"{r['contender']:<12} FAILED: {r['error']}")
            continue
        ratio = r["seconds"] / ref["seconds"] if ref["ok"] else float("nan")
        print(f"{r['contender']:<12} {r['seconds']:>9.1f} {args.rows / r['seconds'] / 1e6:>9.1f} "
              f"{ratio:>6.2f}x {r['peak_rss_mb']:>12.0f} {r['spill_peak_mb']:>9.0f}")  # fmt: skip
    agree = all(r["ok"] for r in runs) and _agree(runs[0], runs[1])
    if all(r["ok"] for r in runs):
        t = runs[0]
        print(("both agree: " if agree else "MISMATCH: ") + f"{t['n_customers']:,} customers, "
              f"top-10 share {t['top_share']:.2%}, {t['rejected']:,} rejected rows")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": args.rows, "files": args.files, "bytes": size,
                                   "memory_limit": args.memory_limit, "runs": runs,
                                   "agree": agree}, indent=2) + "\n")  # fmt: skip
    print(f"results: {RESULTS.relative_to(HERE.parent)}")
    return 0 if agree else 1


def _agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    exact = ("n_customers", "total_cents", "top_sum_cents", "rejected", "top_ids")
    close = ("top_share", "hhi", "gini")
    return all(a[k] == b[k] for k in exact) and all(
        abs(a[k] - b[k]) <= 1e-9 * max(abs(a[k]), abs(b[k]), 1e-300) for k in close
    )


if __name__ == "__main__":
    sys.exit(main())

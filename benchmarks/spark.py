"""topshare on local Spark vs on DuckDB, on the generated sales rows (Parquet and CSV).

Spark's start-up (JVM and session) is timed apart; each engine then runs the same analysis
(revenue per customer, month series) on the same file, and the answers are checked equal::

    python benchmarks/spark.py --rows 10000000 --master 'local[*]'
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import topshare
from generate import ensure
from topshare import spark as ts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--period", default="month")
    args = ap.parse_args(argv)
    ds = ensure(args.rows, args.seed)
    t0 = time.perf_counter()
    session = ts.session(args.master)
    print(f"spark start-up ({args.master}): {time.perf_counter() - t0:.1f} s", flush=True)
    for label, path in (("parquet", ds.parquet), ("csv", ds.csv)):
        times: dict[str, list[float]] = {}
        results: dict[str, object] = {}
        for engine in ("duckdb", "spark", "spark"):  # Spark twice: the second run is warm
            t = time.perf_counter()
            kw = {"spark": session} if engine == "spark" else {}
            r = topshare.analyze(path, engine=engine, period=args.period, **kw)
            times.setdefault(engine, []).append(time.perf_counter() - t)
            results[engine] = r.to_dict()
        same = results["duckdb"] == results["spark"]
        print(
            f"{label} {args.rows:,} rows: duckdb {times['duckdb'][0]:.2f} s, spark "
            f"{times['spark'][0]:.2f} s (first) / {times['spark'][1]:.2f} s (second); "
            f"same answer: {same}",
            flush=True,
        )


if __name__ == "__main__":
    main()

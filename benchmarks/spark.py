"""topshare on local Spark vs on DuckDB, on the generated sales rows (Parquet and CSV).

Spark's start-up (JVM and session) is timed apart; each engine then runs the same analysis
(revenue per customer, month series) on the same file, and the answers are checked equal::

    python benchmarks/spark.py --rows 10000000 --master 'local[*]'
    python benchmarks/spark.py --rows 1000000 --url       # also the file:// URL path

``--url`` also reads each file by its ``file://`` URL (the path of ``hdfs://`` and ``s3a://``:
listed and sniffed through Spark, no local opening) and checks the same totals. ``--master``
may be a Spark Connect endpoint (``sc://host:port``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

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
    ap.add_argument("--url", action="store_true", help="also read the files by file:// URL")
    args = ap.parse_args(argv)
    ds = ensure(args.rows, args.seed)
    t0 = time.perf_counter()
    session = ts.session(args.master)
    print(f"spark start-up ({args.master}): {time.perf_counter() - t0:.1f} s", flush=True)
    for label, path in (("parquet", ds.parquet), ("csv", ds.csv)):
        times: dict[str, list[float]] = {}
        results: dict[str, dict[str, Any]] = {}
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
        if args.url:
            t = time.perf_counter()
            r = topshare.analyze(Path(path).resolve().as_uri(), engine="spark", spark=session,
                                 period=args.period)  # fmt: skip
            by_url = r.to_dict()
            same = all(by_url[k] == results["duckdb"][k] for k in ("total", "top", "money"))
            print(f"{label} by file:// URL on spark: {time.perf_counter() - t:.2f} s; "
                  f"same totals: {same}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""The dashboard on an access log (``topshare serve LOG --traffic``): open time and API latency.

    python benchmarks/serve_traffic.py                    # 1 M lines, 200 requests
    python benchmarks/serve_traffic.py --lines 200000 --requests 100

Generates (or reuses) the seeded combined log of ``benchmarks/logs.py``, opens it as the
command does (the log parsed once with every dimension, then the path x hits explorer; each
stage's time is printed), then, in-process over ASGI (no socket), asks each of four other
dimension x measure pairs once (its first use builds its explorer from the parsed table: that
time is printed), and sends a seeded mix of ``--requests`` calls over five dimension x measure
pairs (summary, top, lorenz, charts, periods, churn; N in 5..50; day, week or month). Prints
p50/p95/p99 and the maximum of those calls, the error count and the peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx

from logs import generate
from topshare.explore_logs import open_traffic_explorer
from topshare.web import create_app

PAIRS = [("path", "hits"), ("ip", "hits"), ("referrer-domain", "bytes"), ("browser", "hits"),
         ("status", "bytes")]  # fmt: skip
VIEWS = ("summary", "top", "lorenz", "charts", "periods", "churn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    log = generate(args.lines, args.seed)
    print(f"log: {log} ({args.lines:,} lines); load average {os.getloadavg()[0]:.1f}")
    started = last = time.perf_counter()

    def stage(name: str, done: float | None) -> None:
        nonlocal last
        if done is not None:  # the scan's progress: only the stages are printed
            return
        now = time.perf_counter()
        print(f"  {now - started:6.1f} s  {name}", flush=True)
        last = now

    explorer = open_traffic_explorer(log, progress=stage)
    print(f"open: {time.perf_counter() - started:.1f} s")
    app = create_app(explorer)

    async def load() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:

            async def get(query: str) -> tuple[float, bool]:
                t = time.perf_counter()
                r = await c.get(query)
                return time.perf_counter() - t, r.status_code == 200

            for dim, measure in PAIRS[1:]:
                took, ok = await get(f"/api/summary?dimension={dim}&measure={measure}")
                print(f"first use of {dim} x {measure}: {took:.2f} s{'' if ok else ' (error)'}")
            rng = random.Random(args.seed)
            times, errors = [], 0
            for _ in range(args.requests):
                dim, measure = rng.choice(PAIRS)
                view = rng.choice(VIEWS)
                period = rng.choice(["day", "week", "month"])
                query = f"/api/{view}?dimension={dim}&measure={measure}&top={rng.choice([5, 10, 20, 50])}"
                if view in ("charts", "periods", "churn") or rng.random() < 0.5:
                    query += f"&period={period}"
                took, ok = await get(query)
                times.append(took)
                errors += not ok
            times.sort()

            def at(q: float) -> str:
                return f"{1000 * times[min(len(times) - 1, int(q * len(times)))]:.0f} ms"

            print(f"{len(times)} calls: p50 {at(0.5)}, p95 {at(0.95)}, p99 {at(0.99)}, "
                  f"max {1000 * times[-1]:.0f} ms, errors {errors}")  # fmt: skip

    try:
        asyncio.run(load())
    finally:
        explorer.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MB; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Load test of the web dashboard's JSON API on loopback.

Generates (or reuses) the benchmark sales data, opens the Explorer on it (the one scan; its time
is reported), serves the app with uvicorn on 127.0.0.1 on a free port in this process, and sends
a bounded, seeded mix of API requests from a few concurrent workers. Prints the latency
percentiles (p50/p95/p99), split into the first time a question is asked (computed from the
cache) and repeats (answered from memory), and the error count. Target: p95 < 100 ms.

    python benchmarks/serve_load.py --rows 1000000
    python benchmarks/serve_load.py --rows 10000000 --requests 500 --workers 4

Nothing leaves the machine: the server binds 127.0.0.1 and the load stops after ``--requests``
requests or ``--max-seconds`` seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import uvicorn

from generate import ensure
from topshare.explore import open_explorer
from topshare.web import create_app
from topshare.web.serve import settle

TOPS = (5, 10, 20, 50)
PERIODS = ("month", "quarter", "week")
WINDOWS = ("", "from=2023-01-01&to=2023-12-31", "from=2024-01-01&to=2024-06-30", "last=6m")
FILTERS = ("", "filter=region=North", "filter=region=South")
ENDPOINTS = (
    ("/api/summary", 5),
    ("/api/top", 5),
    ("/api/lorenz", 1),
    ("/api/periods", 2),
    ("/api/churn", 2),
    ("/api/segments", 1),
    ("/api/charts", 1),
    ("/api/entity", 2),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan(n: int, seed: int, entities: list[str]) -> list[str]:
    """``n`` request paths drawn with a fixed seed: a dashboard session's mix, where a user
    moves between a few settings and views (so questions repeat, as they do in use)."""
    rng = random.Random(seed)
    paths, weights = zip(*ENDPOINTS, strict=True)
    out = []
    for _ in range(n):
        path = rng.choices(paths, weights)[0]
        parts = [f"top={rng.choice(TOPS)}"]
        if path in ("/api/periods", "/api/churn", "/api/charts", "/api/entity"):
            parts.append(f"period={rng.choice(PERIODS)}")
        parts += [p for p in (rng.choice(WINDOWS), rng.choice(FILTERS)) if p]
        if path == "/api/entity":
            parts.append(f"name={rng.choice(entities)}")
        out.append(f"{path}?{'&'.join(parts)}")
    return out


def peak_gb() -> float:
    """The process's peak resident memory so far (VmHWM; 0 where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, ms: list[float]) -> str:
    return (
        f"{name:<28} n={len(ms):>4}  p50 {percentile(ms, 50):8.1f} ms  "
        f"p95 {percentile(ms, 95):8.1f} ms  p99 {percentile(ms, 99):8.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of sales data (10 M)")
    p.add_argument("--seed", type=int, default=42, help="data and request seed (42)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--requests", type=int, default=500, help="requests in all (500)")
    p.add_argument("--workers", type=int, default=4, help="concurrent clients (4)")
    p.add_argument("--max-seconds", type=float, default=600, help="stop the load after (600)")
    args = p.parse_args(argv)

    data = ensure(args.rows, args.seed)
    source = data.parquet if args.format == "parquet" else data.csv
    print(f"data: {source.name} ({args.rows:,} rows)   load average {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    explorer = open_explorer(
        source, customer="customer_id", amount="amount", date="order_date", segments=["region"]
    )
    print(
        f"explorer opened (one scan into the cache) in {time.perf_counter() - started:.2f} s, "
        f"peak memory {peak_gb():.2f} GB"
    )
    entities = [r.entity for r in explorer.analyze(top=50, segments=()).top]
    paths = plan(args.requests, args.seed, entities)

    port = free_port()
    settle()  # as `topshare serve` does before it serves
    server = uvicorn.Server(
        uvicorn.Config(create_app(explorer), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"

    seen: set[str] = set()
    lock = threading.Lock()
    results: list[tuple[str, float, int, bool]] = []
    deadline = time.monotonic() + args.max_seconds

    def worker(chunk: list[str]) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            for path in chunk:
                if time.monotonic() > deadline:
                    return
                with lock:
                    first = path not in seen
                    seen.add(path)
                t0 = time.perf_counter()
                try:
                    status = client.get(path).status_code
                except httpx.HTTPError:
                    status = 0
                ms = 1000 * (time.perf_counter() - t0)
                with lock:
                    results.append((path, ms, status, first))

    load_start, cpu_start = time.perf_counter(), time.process_time()
    chunks = [paths[i :: args.workers] for i in range(args.workers)]
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(worker, chunks))
    wall, cpu = time.perf_counter() - load_start, time.process_time() - cpu_start
    server.should_exit = True
    thread.join(timeout=10)
    explorer.close()

    all_ms = [ms for _, ms, _, _ in results]
    errors = sum(1 for _, _, status, _ in results if not 200 <= status < 300)
    print(
        f"load: {len(results)} requests from {args.workers} workers in {wall:.1f} s "
        f"({len(seen)} distinct), errors {errors}"
    )
    print(f"CPU time of this process (server and clients) during the load: {cpu:.1f} s")
    print(report("all", all_ms))
    print(report("first time asked", [ms for _, ms, _, f in results if f]))
    print(report("asked before", [ms for _, ms, _, f in results if not f]))
    by_endpoint: dict[str, list[float]] = {}
    for path, ms, _, _ in results:
        by_endpoint.setdefault(path.split("?")[0], []).append(ms)
    for name, times in sorted(by_endpoint.items()):
        print(report(name, times))
    p95 = percentile(all_ms, 95)
    verdict = "met" if p95 < 100 else "NOT met"
    print(f"load average {os.getloadavg()[0]:.2f} at the end, peak memory {peak_gb():.2f} GB")
    print(
        f"target p95 < 100 ms: {verdict} (p95 {p95:.1f} ms, mean {statistics.fmean(all_ms):.1f} ms)"
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

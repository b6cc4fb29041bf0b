"""Benchmark topshare against hand-written DuckDB SQL, pandas and polars: one command.

    python benchmarks/run.py                 # 10 M rows, 3 repeats, Parquet and CSV
    python benchmarks/run.py --quick         # 1 M rows
    python benchmarks/run.py --rows 2000000 --repeat 5 --formats csv

Generates (or reuses) the data in ``benchmarks/data/``, runs every contender on every format in
a fresh process, round-robin within each repeat, checks that all contenders give the same
answers, prints a table and writes ``benchmarks/results/latest.json``. See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from generate import Dataset, ensure

HERE = Path(__file__).resolve().parent
CHILD = HERE / "contenders.py"
RESULTS = HERE / "results" / "latest.json"
CONTENDERS = ("topshare", "duckdb_sql", "pandas", "polars")
FORMATS = ("parquet", "csv")
REFERENCE = "duckdb_sql"
EXACT_KEYS = ("n_customers", "top_sum_cents", "total_cents", "rejected", "top_ids")
FLOAT_KEYS = ("top_share", "hhi", "gini")
FLOAT_RTOL = 1e-9
TARGET_VS_SQL = 1.2  # topshare median <= 1.2 x hand-written DuckDB SQL
TARGET_VS_PANDAS = 3.0  # topshare >= 3 x faster than pandas

Run = dict[str, Any]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000, help="rows of sales data (10 M)")
    p.add_argument("--quick", action="store_true", help="1 M rows (overrides --rows)")
    p.add_argument("--repeat", type=int, default=3, help="runs per contender and format (3)")
    p.add_argument("--seed", type=int, default=42, help="data generator seed (42)")
    p.add_argument("--top", type=int, default=10, help="top N customers (10)")
    p.add_argument("--formats", default=",".join(FORMATS), help="comma-separated (parquet,csv)")
    p.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run (3600)")
    p.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = 1_000_000
    args.formats = _pick(args.formats, FORMATS, "format")
    args.contenders = _pick(args.contenders, CONTENDERS, "contender")
    if args.repeat < 1 or args.rows < 100:
        p.error("--repeat must be >= 1 and --rows >= 100")
    return args


def _pick(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise SystemExit(f"unknown {what}(s) {unknown}: choose from {', '.join(allowed)}")
    return chosen


def warm_cache(path: Path) -> None:
    """Read a file once so that no contender pays for the first, cold read from disk."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def run_child(contender: str, fmt: str, path: Path, top: int, timeout: float) -> Run:
    """One run in a fresh interpreter; the child times its own work and reports its peak RSS."""
    cmd = [sys.executable, str(CHILD), contender, fmt, str(path), "--top", str(top)]
    base: Run = {"contender": contender, "format": fmt, "ok": False}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-5:]
        return {**base, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}
    return {**base, **json.loads(lines[-1]), "ok": True}


def schedule(args: argparse.Namespace, data: dict[str, Path]) -> list[Run]:
    """Every contender once per format and repeat, round-robin, starting one further each
    repeat so that no contender always runs first (or right after the same neighbour)."""
    runs: list[Run] = []
    names: list[str] = args.contenders
    for rep in range(args.repeat):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for fmt in args.formats:
            for name in order:
                r = run_child(name, fmt, data[fmt], args.top, args.timeout)
                r["repeat"] = rep + 1
                runs.append(r)
                if r["ok"]:
                    print(
                        f"  [{rep + 1}/{args.repeat}] {fmt:<7} {name:<10} "
                        f"{r['seconds']:8.3f} s  {r['peak_rss_mb']:7.0f} MB",
                        flush=True,
                    )
                else:
                    print(f"  [{rep + 1}/{args.repeat}] {fmt:<7} {name:<10} FAILED: {r['error']}")
    return runs


def _same(key: str, a: Any, b: Any) -> bool:
    if key in FLOAT_KEYS:
        if a is None or b is None:
            return a is b
        return abs(float(a) - float(b)) <= FLOAT_RTOL * max(abs(float(a)), abs(float(b)), 1e-300)
    return bool(a == b)


def check_agreement(runs: list[Run]) -> list[str]:
    """Every successful run must give the reference's answers: the same data is in both
    formats, so answers must agree across formats too. Failed runs are problems as well."""
    problems = [
        f"{r['format']} {r['contender']} run {r['repeat']}: {r['error']}"
        for r in runs
        if not r["ok"]
    ]
    ok = [r for r in runs if r["ok"]]
    if not ok:
        return [*problems, "no run succeeded"]
    ref = next((r for r in ok if r["contender"] == REFERENCE), ok[0])
    for r in ok:
        for key in EXACT_KEYS + FLOAT_KEYS:
            if not _same(key, r[key], ref[key]):
                problems.append(
                    f"{r['format']} {r['contender']} run {r['repeat']}: {key} = {r[key]!r}, "
                    f"but {ref['format']} {ref['contender']} says {ref[key]!r}"
                )
    return problems


def summarize(runs: list[Run], formats: list[str], names: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for fmt in formats:
        medians: dict[str, float] = {}
        for name in names:
            ok = [r for r in runs if r["ok"] and r["format"] == fmt and r["contender"] == name]
            if ok:
                medians[name] = statistics.median(r["seconds"] for r in ok)
        for name in names:
            ok = [r for r in runs if r["ok"] and r["format"] == fmt and r["contender"] == name]
            if not ok:
                rows.append({"format": fmt, "contender": name, "runs": 0})
                continue
            med = medians[name]
            sql, ts = medians.get(REFERENCE), medians.get("topshare")
            rows.append(
                {
                    "format": fmt,
                    "contender": name,
                    "runs": len(ok),
                    "median_s": med,
                    "min_s": min(r["seconds"] for r in ok),
                    "vs_duckdb_sql": med / sql if sql else None,
                    "topshare_speedup": med / ts if ts else None,
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
                    "import_s": statistics.median(r["import_seconds"] for r in ok),
                }
            )
    return rows


def targets(summary: list[dict[str, Any]], formats: list[str]) -> list[dict[str, Any]]:
    """The three goals of README.md, per format; None when a contender is missing."""
    out: list[dict[str, Any]] = []
    for fmt in formats:
        by = {s["contender"]: s for s in summary if s["format"] == fmt and s["runs"]}
        ts, sql, pd_ = by.get("topshare"), by.get(REFERENCE), by.get("pandas")
        vs_sql = ts["median_s"] / sql["median_s"] if ts and sql else None
        vs_pd = pd_["median_s"] / ts["median_s"] if ts and pd_ else None
        mem = (ts["peak_rss_mb"], pd_["peak_rss_mb"]) if ts and pd_ else None
        out += [
            _goal(fmt, f"topshare <= {TARGET_VS_SQL}x duckdb_sql time", vs_sql,
                  vs_sql is not None and vs_sql <= TARGET_VS_SQL, "{:.2f}x"),
            _goal(fmt, f"topshare >= {TARGET_VS_PANDAS:.0f}x faster than pandas", vs_pd,
                  vs_pd is not None and vs_pd >= TARGET_VS_PANDAS, "{:.2f}x"),
            _goal(fmt, "topshare peak RSS < pandas peak RSS", mem,
                  mem is not None and mem[0] < mem[1], "{0[0]:.0f} MB vs {0[1]:.0f} MB"),
        ]  # fmt: skip
    return out


def _goal(fmt: str, goal: str, value: Any, met: bool, shown: str) -> dict[str, Any]:
    text = shown.format(value) if value is not None else "n/a"
    return {"format": fmt, "goal": goal, "value": value, "met": met, "shown": text}


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def print_table(summary: list[dict[str, Any]]) -> None:
    head = (
        f"{'format':<8} {'contender':<11} {'median s':>9} {'min s':>9} {'vs duckdb_sql':>14} "
        f"{'topshare faster by':>19} {'peak RSS MB':>12} {'import s':>9}"
    )
    print(head)
    print("-" * len(head))
    for s in summary:
        if not s["runs"]:
            print(f"{s['format']:<8} {s['contender']:<11} {'(no successful run)':>9}")
            continue
        print(
            f"{s['format']:<8} {s['contender']:<11} {s['median_s']:>9.3f} {s['min_s']:>9.3f} "
            f"{_num(s['vs_duckdb_sql'], '.2f') + 'x':>14} "
            f"{_num(s['topshare_speedup'], '.2f') + 'x':>19} "
            f"{s['peak_rss_mb']:>12.0f} {s['import_s']:>9.2f}"
        )


def environment(args: argparse.Namespace, ds: Dataset) -> dict[str, Any]:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    libs = ("topshare", "duckdb", "ibis-framework", "pandas", "polars", "pyarrow", "numpy")
    return {
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "seed": args.seed,
        "top": args.top,
        "repeat": args.repeat,
        "files": {f: {"name": p.name, "bytes": p.stat().st_size} for f, p in _files(ds).items()},
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {lib: version(lib) for lib in libs},
    }


def _files(ds: Dataset) -> dict[str, Path]:
    return {"parquet": ds.parquet, "csv": ds.csv}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"data: {args.rows:,} rows, seed {args.seed}")
    ds = ensure(args.rows, args.seed)
    data = {fmt: p for fmt, p in _files(ds).items() if fmt in args.formats}
    for path in data.values():
        warm_cache(path)
    cpus = os.cpu_count() or 1
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5 * cpus:
        print(
            f"warning: load average {os.getloadavg()[0]:.1f} on {cpus} CPUs: timings will be noisy"
        )
    print(f"{len(args.contenders)} contenders x {len(data)} formats x {args.repeat} repeats:")
    t0 = time.perf_counter()
    runs = schedule(args, data)
    summary = summarize(runs, args.formats, args.contenders)
    goals = targets(summary, args.formats)
    problems = check_agreement(runs)

    print(f"\n{args.rows:,} rows, median of {args.repeat} runs ({time.perf_counter() - t0:.0f} s)")
    print_table(summary)
    print("\ntargets:")
    for g in goals:
        print(f"  {'MET ' if g['met'] else 'MISS'}  {g['format']:<8} {g['goal']:<40} {g['shown']}")
    if problems:
        bar = "!" * 78
        print(f"\n{bar}\nMISMATCH: the contenders do not agree (or a run failed):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print(bar, file=sys.stderr)
    else:
        ok = next(r for r in runs if r["ok"])
        print(
            f"\nall {len(runs)} runs agree: {ok['n_customers']:,} customers, top-{args.top} sum "
            f"{ok['top_sum_cents'] / 100:,.2f} ({ok['top_share']:.2%}), {ok['rejected']:,} rejected rows"
        )

    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": environment(args, ds),
        "summary": summary,
        "targets": goals,
        "agreement": {"ok": not problems, "problems": problems},
        "runs": runs,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    root = HERE.parent
    shown = args.output.relative_to(root) if args.output.is_relative_to(root) else args.output
    print(f"results: {shown}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

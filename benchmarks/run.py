"""Benchmark topshare against hand-written DuckDB SQL, pandas and polars: one command.

    python benchmarks/run.py                 # 10 M rows, 3 repeats, Parquet and CSV, both cases
    python benchmarks/run.py --quick         # 1 M rows
    python benchmarks/run.py --rows 2000000 --repeat 5 --formats csv
    python benchmarks/run.py --cases monthly # only the monthly series + churn

Two cases: ``kpi`` (the whole file: top-N share, HHI, Gini; four contenders) and ``monthly``
(the same per calendar month, with the churn of the top N between months; topshare against
the hand-written DuckDB SQL). Generates (or reuses) the data in ``benchmarks/data/``, runs every
contender of each case on every format in a fresh process, round-robin within each repeat,
checks that all contenders give the same answers, prints a table per case and writes
``benchmarks/results/latest.json``. See README.md.
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
CASES = ("kpi", "monthly")
#: The contenders that can run each case (pandas and polars only do the whole-file KPI).
CASE_CONTENDERS: dict[str, tuple[str, ...]] = {
    "kpi": CONTENDERS,
    "monthly": ("topshare", "duckdb_sql"),
}
CASE_TITLES = {"kpi": "sales KPI (whole file)", "monthly": "monthly series + churn"}
REFERENCE = "duckdb_sql"
EXACT_KEYS = ("n_customers", "top_sum_cents", "total_cents", "rejected", "top_ids")
FLOAT_KEYS = ("top_share", "hhi", "gini")
FLOAT_RTOL = 1e-9
# The monthly case: per month, these exactly, these to a relative 1e-9, the entered and left
# customers as sets, and the share-change terms (differences of shares, which can be close to
# 0) to 1e-9 relative to max(|a|, |b|, 1), that is to an absolute 1e-9 of a share.
MONTH_EXACT_KEYS = ("month", "total_cents", "n_customers", "top_sum_cents", "top_ids")
MONTH_FLOAT_KEYS = ("top_share", "hhi_points", "gini")
MONTH_SET_KEYS = ("entered", "left")
SHARE_CHANGE_KEYS = ("total", "entered", "left", "stayed")
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
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated (kpi,monthly)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per run (3600)")
    p.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = p.parse_args(argv)
    if args.quick:
        args.rows = 1_000_000
    args.formats = _pick(args.formats, FORMATS, "format")
    args.contenders = _pick(args.contenders, CONTENDERS, "contender")
    args.cases = _pick(args.cases, CASES, "case")
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


def run_child(case: str, contender: str, fmt: str, path: Path, top: int, timeout: float) -> Run:
    """One run in a fresh interpreter; the child times its own work and reports its peak RSS."""
    cmd = [sys.executable, str(CHILD), contender, fmt, str(path), "--top", str(top)]
    cmd += ["--case", case]
    base: Run = {"case": case, "contender": contender, "format": fmt, "ok": False}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**base, "error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-5:]
        return {**base, "error": f"exit code {proc.returncode}: " + " | ".join(tail)}
    return {**base, **json.loads(lines[-1]), "ok": True}


def case_contenders(case: str, chosen: list[str]) -> list[str]:
    """The chosen contenders that can run ``case``, in the order given."""
    return [c for c in chosen if c in CASE_CONTENDERS[case]]


def schedule(
    args: argparse.Namespace, data: dict[str, Path], case: str, names: list[str]
) -> list[Run]:
    """Every contender once per format and repeat, round-robin, starting one further each
    repeat so that no contender always runs first (or right after the same neighbour)."""
    runs: list[Run] = []
    for rep in range(args.repeat):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for fmt in args.formats:
            for name in order:
                r = run_child(case, name, fmt, data[fmt], args.top, args.timeout)
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


def _close(a: Any, b: Any, floor: float) -> bool:
    """Equal within FLOAT_RTOL relative to max(|a|, |b|, floor); None only equals None."""
    if a is None or b is None:
        return a is b
    x, y = float(a), float(b)
    return abs(x - y) <= FLOAT_RTOL * max(abs(x), abs(y), floor)


def check_agreement(runs: list[Run], case: str = "kpi") -> list[str]:
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
        if case == "monthly":
            problems += _monthly_problems(r, ref)
            continue
        for key in EXACT_KEYS + FLOAT_KEYS:
            if not _same(key, r[key], ref[key]):
                problems.append(
                    f"{r['format']} {r['contender']} run {r['repeat']}: {key} = {r[key]!r}, "
                    f"but {ref['format']} {ref['contender']} says {ref[key]!r}"
                )
    return problems


def _monthly_problems(r: Run, ref: Run) -> list[str]:
    """Month by month: totals, counts, top-N sums and ids exactly; shares, HHI points and Gini
    to a relative 1e-9; entered and left as sets; the share-change terms to 1e-9 of a share."""
    who = f"{r['format']} {r['contender']} run {r['repeat']}"
    says = f"{ref['format']} {ref['contender']} says"
    out: list[str] = []
    if r["rejected"] != ref["rejected"]:
        out.append(f"{who}: rejected = {r['rejected']!r}, but {says} {ref['rejected']!r}")
    got, want = r["months"], ref["months"]
    if [m["month"] for m in got] != [m["month"] for m in want]:
        out.append(
            f"{who}: months {[m['month'] for m in got]}, but {says} {[m['month'] for m in want]}"
        )
        return out
    for a, b in zip(got, want, strict=True):
        where = f"{who} {a['month']}"
        diffs = [k for k in MONTH_EXACT_KEYS if a[k] != b[k]]
        diffs += [k for k in MONTH_FLOAT_KEYS if not _close(a[k], b[k], 1e-300)]
        diffs += [
            k
            for k in MONTH_SET_KEYS
            if (a[k] is None) != (b[k] is None) or set(a[k] or ()) != set(b[k] or ())
        ]
        sa, sb = a["share_change"], b["share_change"]
        if (sa is None) != (sb is None):
            diffs.append("share_change")
        elif sa is not None and sb is not None:
            diffs += [
                f"share_change.{k}" for k in SHARE_CHANGE_KEYS if not _close(sa[k], sb[k], 1.0)
            ]
        for k in diffs:
            mine, theirs = _field(a, k), _field(b, k)
            out.append(f"{where}: {k} = {mine!r}, but {says} {theirs!r}")
    return out


def _field(month: dict[str, Any], key: str) -> Any:
    if key.startswith("share_change."):
        sc = month["share_change"]
        return None if sc is None else sc[key.split(".", 1)[1]]
    return month[key]


def summarize(
    runs: list[Run], formats: list[str], names: list[str], case: str = "kpi"
) -> list[dict[str, Any]]:
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
                rows.append({"case": case, "format": fmt, "contender": name, "runs": 0})
                continue
            med = medians[name]
            sql, ts = medians.get(REFERENCE), medians.get("topshare")
            rows.append(
                {
                    "case": case,
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


def targets(
    summary: list[dict[str, Any]], formats: list[str], case: str = "kpi"
) -> list[dict[str, Any]]:
    """The goals of README.md, per format; None when a contender is missing. The monthly case
    has only the first (pandas does not run it)."""
    out: list[dict[str, Any]] = []
    for fmt in formats:
        by = {s["contender"]: s for s in summary if s["format"] == fmt and s["runs"]}
        ts, sql, pd_ = by.get("topshare"), by.get(REFERENCE), by.get("pandas")
        vs_sql = ts["median_s"] / sql["median_s"] if ts and sql else None
        vs_pd = pd_["median_s"] / ts["median_s"] if ts and pd_ else None
        mem = (ts["peak_rss_mb"], pd_["peak_rss_mb"]) if ts and pd_ else None
        out.append(
            _goal(case, fmt, f"topshare <= {TARGET_VS_SQL}x duckdb_sql time", vs_sql,
                  vs_sql is not None and vs_sql <= TARGET_VS_SQL, "{:.2f}x"),
        )  # fmt: skip
        if case != "kpi":
            continue
        out += [
            _goal(case, fmt, f"topshare >= {TARGET_VS_PANDAS:.0f}x faster than pandas", vs_pd,
                  vs_pd is not None and vs_pd >= TARGET_VS_PANDAS, "{:.2f}x"),
            _goal(case, fmt, "topshare peak RSS < pandas peak RSS", mem,
                  mem is not None and mem[0] < mem[1], "{0[0]:.0f} MB vs {0[1]:.0f} MB"),
        ]  # fmt: skip
    return out


def _goal(case: str, fmt: str, goal: str, value: Any, met: bool, shown: str) -> dict[str, Any]:
    text = shown.format(value) if value is not None else "n/a"
    return {"case": case, "format": fmt, "goal": goal, "value": value, "met": met, "shown": text}


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
        "cases": args.cases,
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
    plan = {case: case_contenders(case, args.contenders) for case in args.cases}
    for case, names in plan.items():
        if not names:
            raise SystemExit(
                f"case {case}: none of the contenders {', '.join(args.contenders)} runs it "
                f"(choose from {', '.join(CASE_CONTENDERS[case])})"
            )
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
    all_runs: list[Run] = []
    summary: list[dict[str, Any]] = []
    goals: list[dict[str, Any]] = []
    problems: list[str] = []
    by_case: dict[str, dict[str, Any]] = {}
    for case, names in plan.items():
        print(
            f"\ncase {case} ({CASE_TITLES[case]}): "
            f"{len(names)} contenders x {len(data)} formats x {args.repeat} repeats:"
        )
        t0 = time.perf_counter()
        runs = schedule(args, data, case, names)
        case_summary = summarize(runs, args.formats, names, case)
        case_goals = targets(case_summary, args.formats, case)
        case_problems = check_agreement(runs, case)
        print(
            f"\n{CASE_TITLES[case]}: {args.rows:,} rows, median of {args.repeat} runs "
            f"({time.perf_counter() - t0:.0f} s)"
        )
        print_table(case_summary)
        print("\ntargets:")
        for g in case_goals:
            print(
                f"  {'MET ' if g['met'] else 'MISS'}  {g['format']:<8} {g['goal']:<40} {g['shown']}"
            )
        if case_problems:
            bar = "!" * 78
            print(
                f"\n{bar}\nMISMATCH ({case}): the contenders do not agree (or a run failed):",
                file=sys.stderr,
            )
            for p in case_problems:
                print(f"  - {p}", file=sys.stderr)
            print(bar, file=sys.stderr)
        else:
            print(_agreement_line(case, runs, args.top))
        all_runs += runs
        summary += case_summary
        goals += case_goals
        problems += [f"{case}: {p}" for p in case_problems]
        by_case[case] = {"ok": not case_problems, "problems": case_problems}

    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": environment(args, ds),
        "summary": summary,
        "targets": goals,
        "agreement": {"ok": not problems, "problems": problems, "cases": by_case},
        "runs": all_runs,
    }
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    root = HERE.parent
    shown = args.output.relative_to(root) if args.output.is_relative_to(root) else args.output
    print(f"\nresults: {shown}")
    if problems:
        print(f"FAILED: {len(problems)} disagreement(s) or failed run(s), see MISMATCH above")
    return 1 if problems else 0


def _agreement_line(case: str, runs: list[Run], top: int) -> str:
    ok = next(r for r in runs if r["ok"])
    if case == "kpi":
        return (
            f"\nall {len(runs)} runs agree: {ok['n_customers']:,} customers, top-{top} sum "
            f"{ok['top_sum_cents'] / 100:,.2f} ({ok['top_share']:.2%}), "
            f"{ok['rejected']:,} rejected rows"
        )
    months = ok["months"]
    shares = [m["top_share"] for m in months if m["top_share"] is not None]
    moves = sum(len(m["entered"]) for m in months if m["entered"] is not None)
    span = f"{min(shares):.2%} to {max(shares):.2%}" if shares else "n/a"
    return (
        f"\nall {len(runs)} runs agree: {len(months)} months "
        f"({months[0]['month'][:7]} to {months[-1]['month'][:7]}), month totals to the cent, "
        f"top-{top} share {span}, {moves} entries into the top {top} over "
        f"{max(len(months) - 1, 0)} month changes (same entered/left sets and share-change "
        f"terms), {ok['rejected']:,} rejected rows"
    )


if __name__ == "__main__":
    sys.exit(main())

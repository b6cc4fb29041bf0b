"""Access logs: topshare against GoAccess on the same combined log, in one run. One command:

    python benchmarks/logs.py                  # 5 M lines, 3 repeats
    python benchmarks/logs.py --lines 500000   # quicker

Generates (or reuses) a seeded combined-format log in ``benchmarks/data/`` with heavy-tailed
paths, referrers, IPs and user agents (about 10 % crawlers, 0.01 % malformed lines), installs
GoAccess (Debian package ``goaccess``, as root with apt-get) when it is missing, then runs,
interleaved, each in a fresh process:

- ``topshare``: ``topshare traffic LOG --by path --format json`` (hits per path, every index,
  the bot share, visitors of the top 10, malformed lines with file:line);
- ``goaccess``: ``goaccess LOG --log-format=COMBINED -o report.json`` (every panel);
- ``goaccess-requests``: the same with every panel but REQUESTS ignored (the same question as
  topshare's: hits per page).

It prints the median wall time, the lines per second and the ratio to each GoAccess run, and
checks that topshare and GoAccess count the same valid requests. Target: topshare >= 2x the
lines per second of GoAccess.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
VERSION = 1
PANELS = (
    "VISITORS", "REQUESTS_STATIC", "NOT_FOUND", "HOSTS", "OS", "BROWSERS", "VISIT_TIMES",
    "VIRTUAL_HOSTS", "REFERRERS", "REFERRING_SITES", "KEYPHRASES", "STATUS_CODES",
    "REMOTE_USER", "CACHE_STATUS", "GEO_LOCATION", "ASN", "MIME_TYPE", "TLS_TYPE",
)  # fmt: skip
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_{v}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-S91{v}B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0 Mobile Safari/537.36",
]
BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/8.5.0",
    "python-requests/2.31.0",
]


def zipf_index(rng: np.random.Generator, n: int, size: int, a: float) -> np.ndarray:
    """Heavy-tailed picks in 0..n-1 (Zipf with exponent ``a``, folded into range)."""
    return (rng.zipf(a, size) - 1) % n


def generate(lines: int, seed: int) -> Path:
    """A combined-format log; reused when it exists. Chunks of lines are built with numpy
    picks and joined as text (a generator, not the code under test)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"access_v{VERSION}_{lines}lines_seed{seed}.log"
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    paths = np.array(
        ["/"] + [f"/product/{i}" for i in range(40_000)] + [f"/blog/post-{i}" for i in range(5000)]
    )
    refs = np.array(["-"] * 50 + [f"https://site{i}.example.com/page" for i in range(2000)])
    agents = np.array([a.format(v=v) for a in AGENTS for v in range(100, 140)] + BOTS)
    start = 1_727_740_800  # 2024-10-01T00:00:00Z
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        done = 0
        while done < lines:
            n = min(500_000, lines - done)
            ip_ids = zipf_index(rng, 300_000, n, 1.3)
            ips = [f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}" for i in ip_ids.tolist()]
            p = paths[zipf_index(rng, paths.size, n, 1.2)]
            q = np.where(rng.random(n) < 0.1, "?utm_source=x", "")
            r = refs[zipf_index(rng, refs.size, n, 1.1)]
            bot = rng.random(n) < 0.1
            ua = np.where(
                bot,
                np.array(BOTS)[rng.integers(0, len(BOTS), n)],
                agents[rng.integers(0, agents.size - len(BOTS), n)],
            )
            status = rng.choice(
                ["200", "304", "404", "500", "301"], n, p=[0.85, 0.06, 0.06, 0.01, 0.02]
            )
            size = np.where(status == "304", 0, rng.lognormal(8, 1.2, n).astype(np.int64))
            ts = start + (np.arange(done, done + n) * (7 * 86400 // max(lines, 1)))
            stamps = [time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(int(t))) for t in ts]
            bad = rng.random(n) < 0.0001
            chunk = [
                "garbage \x01 not a log line"
                if bad[i]
                else f'{ips[i]} - - [{stamps[i]}] "GET {p[i]}{q[i]} HTTP/1.1" {status[i]} {size[i]} "{r[i]}" "{ua[i]}"'
                for i in range(n)
            ]
            out.write("\n".join(chunk) + "\n")
            done += n
    os.replace(tmp, path)
    return path


def ensure_goaccess() -> str:
    found = shutil.which("goaccess")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("goaccess is not installed: install the Debian package goaccess (as root)")
    print("+ apt-get install goaccess", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "goaccess"], check=True)
    return shutil.which("goaccess") or sys.exit("goaccess did not install")


def run(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t
    if proc.returncode not in (0,):
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return took, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t = time.perf_counter()
    log = generate(args.lines, args.seed)
    print(f"log: {log.name}, {log.stat().st_size / 1e6:,.0f} MB ({time.perf_counter() - t:.1f} s)")
    goaccess = ensure_goaccess()
    topshare = str(Path(sys.executable).with_name("topshare"))
    out = Path(tempfile.mkdtemp(prefix="topshare-bench-"))
    cmds = {
        "topshare": [topshare, "traffic", str(log), "--by", "path", "--format", "json"],
        "goaccess": [goaccess, str(log), "--log-format=COMBINED", "--no-global-config",
                     "--no-progress", "-o", str(out / "all.json")],
        "goaccess-requests": [goaccess, str(log), "--log-format=COMBINED", "--no-global-config",
                              "--no-progress", *[f"--ignore-panel={p}" for p in PANELS],
                              "-o", str(out / "requests.json")],
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in cmds}
    answer = ""
    names = list(cmds)
    for rep in range(args.repeat):
        for name in names[rep % len(names) :] + names[: rep % len(names)]:
            took, stdout = run(cmds[name])
            times[name].append(took)
            if name == "topshare":
                answer = stdout
            print(f"  [{rep + 1}/{args.repeat}] {name:18} {took:7.2f} s", flush=True)
    result = json.loads(answer)
    valid = int(result["rows"]["analysed"])
    rejected = int(result["rows"]["rejected"])
    ga = json.loads((out / "all.json").read_text())
    ga_valid = int(ga["general"]["valid_requests"])
    shutil.rmtree(out, ignore_errors=True)
    print(f"\n{args.lines:,} lines, median of {args.repeat} runs")
    print(f"{'contender':20} {'median s':>9} {'lines/s':>12} {'topshare faster by':>19}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, m in med.items():
        print(f"{name:20} {m:9.2f} {args.lines / m:12,.0f} {m / med['topshare']:18.2f}x")
    ok = med["goaccess"] / med["topshare"] >= 2 and med["goaccess-requests"] / med["topshare"] >= 2
    print(f"\ntarget topshare >= 2x GoAccess lines/s: {'MET' if ok else 'MISS'}")
    same = valid == ga_valid
    print(
        f"valid requests: topshare {valid:,} (+ {rejected:,} malformed lines), GoAccess "
        f"{ga_valid:,}: {'agree' if same else 'DISAGREE'}; top-10 share of hits "
        f"{100 * (result['top_n_share'] or 0):.2f} %"
    )
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()

"""`topshare check`: alert rules on concentration, run for real; exit codes 0 / 1 / 2.

Every expected value below is worked out by hand from the data in the comment next to it.
The webhook tests talk to a real HTTP server on 127.0.0.1 only (no other network).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

import topshare
from helpers import Run, Writer, run_cli

DOJ = "customer,amount\nA,30\nB,30\nC,20\nD,20\n"
# The DOJ/FTC worked example. Total 100; shares .30 .30 .20 .20.
# HHI = 30² + 30² + 20² + 20² = 900 + 900 + 400 + 400 = 2,600 points; 1/HHI = 1/0.26 = 3.846.
# Gini over ascending shares s = .2 .2 .3 .3, n = 4: 2·Σ i·s_i / n − (n+1)/n
#   = 2·(.2 + .4 + .9 + 1.2)/4 − 5/4 = 1.35 − 1.25 = 0.10.

MAJOR10 = "customer,amount\nA,0.07\nA,0.03\n" + "".join(f"B{i},0.09\n" for i in range(10))
# A = 0.07 + 0.03 = 0.10 (0.07 + 0.03 is 0.09999999999999999 in binary floats);
# ten B's at 0.09 = 0.90; total 1.00 -> A has exactly 10 %, every B 9 %.

TOP1_20 = "customer,amount\nA,0.1\nA,0.2\nB,0.25\nC,0.25\nD,0.25\nE,0.25\nF,0.2\n"
# A = 0.1 + 0.2 = 0.3 (0.30000000000000004 in floats); B..E 4 × 0.25 = 1.0, F 0.2;
# total 1.5 -> top1 = A = 0.3 / 1.5 = exactly 0.2.

MONTHS = """customer,amount,order_date
A,10,2024-01-05
B,10,2024-01-06
C,10,2024-01-07
D,10,2024-01-08
E,10,2024-01-09
A,30,2024-02-03
B,10,2024-02-04
"""
# January: A..E 10 each = 50, top1 10/50 = 0.20, largest share 0.20.
# February: A 30, B 10 = 40 -> A 30/40 = 0.75, B 10/40 = 0.25.
# Overall: A 40, B 20, C 10, D 10, E 10 = 90 -> top1 40/90 = 0.444;
#   HHI = (40² + 20² + 3·10²)/90² = 2,300/8,100 = 2,839.5 points.

REGIONS = """customer,amount,region
A,60,north
B,40,north
C,50,south
D,50,south
E,90,
F,10,
"""
# north: A 60/100 = 0.60; south: C = D = 50/100 = 0.50; no region: E 90/100 = 0.90.


def _error(*args: str | Path) -> str:
    """Run ``check``; it must fail with exit 2 and one line on stderr; return the message."""
    r = run_cli("check", *args)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("topshare: error: ")
    return lines[0].removeprefix("topshare: error: ")


def _json(r: Run) -> dict[str, Any]:
    got = json.loads(r.out)
    assert isinstance(got, dict)
    return got


def _statuses(got: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(o["metric"], o["where"], o["status"]) for o in got["outcomes"]]


# 1. Exit codes through the real command ------------------------------------------------------


def test_all_rules_pass_exit_0(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    # top1 0.30 <= 0.3, HHI 2,600 <= 3,000, no one at or above 31 %.
    r = run_cli("check", path, "--max-top1-share", "0.3", "--max-hhi", "3000", "--major", "0.31")
    assert r.code == 0, r.err
    assert r.err == ""
    assert "PASS" in r.out
    assert "BREACH" not in r.out
    assert r.out.rstrip().splitlines()[-1] == "OK: all 3 checks pass"


def test_a_breach_exit_1(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    # top1 0.30 > 0.25 is breached; HHI 2,600 <= 3,000 passes.
    r = run_cli("check", path, "--max-top1-share", "0.25", "--max-hhi", "3000")
    assert r.code == 1, r.err
    assert r.err == ""
    assert "BREACH (A)" in r.out
    assert r.out.rstrip().splitlines()[-1] == "BREACH: 1 of 2 checks failed (exit 1)"


def test_bad_share_threshold(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    message = _error(path, "--max-top1-share", "1.5")
    assert "a share threshold is a fraction in [0, 1]" in message
    assert "1.5" in message


def test_unknown_scope(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    message = _error(path, "--max-hhi", "2000", "--scope", "nowhere")
    assert message == "--scope must be one of overall, latest, segments, periods, got 'nowhere'"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    assert _error(path, "--max-hhi", "2000") == f"{path}: no such file"


def test_latest_needs_a_period(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    message = _error(path, "--max-top1-share", "0.5", "--scope", "latest")
    assert "needs a period (--period month)" in message


def test_segments_scope_needs_a_segment_column(write: Writer) -> None:
    path = write("r.csv", REGIONS)
    assert "needs --segment COLUMN" in _error(path, "--max-hhi", "5000", "--scope", "segments")


def test_broken_toml(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    rules = write("rules.toml", '[[rule]\nmetric = "hhi"\n')
    assert _error(path, "--rules", rules).startswith(f"{rules}: not valid TOML")


def test_rules_file_unknown_key_names_the_rule(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    rules = write(
        "rules.toml",
        '[[rule]]\nmetric = "hhi"\nthreshold = 2500\n\n[[rule]]\nmetric = "gini"\nthresold = 0.5\n',
    )
    message = _error(path, "--rules", rules)
    assert message.startswith(f"{rules}: rule 2: unknown key(s) thresold")


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[[rule]]\nmetric = "hhi"\n', "rule 1: missing threshold"),
        ('[[rule]]\nmetric = "gini"\nthreshold = 0.5\n[[rule]]\nthreshold = 1\n', "rule 2: missing metric"),
        ('[[rule]]\nmetric = "hhi"\nthreshold = 1\nscope = "moon"\n', "rule 1: unknown rule scope 'moon'"),
        ('[[rule]]\nmetric = "top1_share"\nthreshold = 20\n', "rule 1: rule 'top1_share <= 20': a share"),
        ('[[rule]]\nmetric = "hhi"\nthreshold = "high"\n', "the threshold must be a number"),
        ("", "no rules; add [[rule]] tables"),
        ('[rules]\nmetric = "hhi"\n', "unknown key(s) rules"),
    ],
    ids=["no-threshold", "no-metric", "bad-scope", "share-above-1", "text-threshold", "empty",
         "no-rule-tables"],
)  # fmt: skip
def test_bad_rules_file(write: Writer, toml: str, fragment: str) -> None:
    path = write("doj.csv", DOJ)
    rules = write("rules.toml", toml)
    message = _error(path, "--rules", rules)
    assert message.startswith(f"{rules}: "), message
    assert fragment in message


def test_missing_rules_file(write: Writer, tmp_path: Path) -> None:
    path = write("doj.csv", DOJ)
    rules = tmp_path / "none.toml"
    assert _error(path, "--rules", rules) == f"{rules}: no such rules file"


def test_no_rules_at_all(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    assert _error(path).startswith("no rules to check")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--format", "csv"], "unknown --format 'csv' for check"),
        (["--notify-on", "sometimes"], "--notify-on must be breach or always"),
    ],
)
def test_bad_options(write: Writer, args: list[str], fragment: str) -> None:
    path = write("doj.csv", DOJ)
    assert fragment in _error(path, "--max-hhi", "3000", *args)


def test_notify_url_must_be_http(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-hhi", "3000", "--notify", "ftp://127.0.0.1/hook",
                "--notify-on", "always")  # fmt: skip
    assert r.code == 2, (r.out, r.err)
    (line,) = r.err.strip().splitlines()
    assert (
        line
        == "topshare: error: --notify needs an http:// or https:// URL with a host, got 'ftp://127.0.0.1/hook'"
    )


def test_bad_notify_url_fails_even_when_rules_pass(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    # HHI 2,600 <= 3,000 passes, so nothing would be sent; the typo must still be reported,
    # or a cron job keeps saying "OK" with a broken alert channel until the first breach.
    message = _error(path, "--max-hhi", "3000", "--notify", "ftp://127.0.0.1/hook")
    assert "needs an http:// or https:// URL" in message


# 2. Exactness at the boundary ----------------------------------------------------------------


def test_major_is_inclusive_at_exactly_ten_percent(write: Writer) -> None:
    path = write("m.csv", MAJOR10)
    r = run_cli("check", path, "--major", "0.10", "-f", "json")
    assert r.code == 1, r.err
    (o,) = _json(r)["outcomes"]
    assert o["status"] == "breach"
    assert o["entities"] == ["A"]  # the B's at 9 % are not major
    assert o["value"] == pytest.approx(0.10, abs=1e-15)


def test_major_just_above_ten_percent_passes(write: Writer) -> None:
    path = write("m.csv", MAJOR10)
    r = run_cli("check", path, "--major", "0.1000001", "-f", "json")
    assert r.code == 0, r.err
    (o,) = _json(r)["outcomes"]
    assert (o["status"], o["entities"]) == ("pass", [])


def test_top1_share_exactly_at_threshold_passes(write: Writer) -> None:
    path = write("t.csv", TOP1_20)
    r = run_cli("check", path, "--max-top1-share", "0.2", "-f", "json")
    assert r.code == 0, r.err
    (o,) = _json(r)["outcomes"]
    assert o["status"] == "pass"
    assert o["value"] == pytest.approx(0.2, abs=1e-15)


def test_top1_share_strictly_above_threshold_breaches(write: Writer) -> None:
    path = write("t.csv", TOP1_20)
    # 0.2 > 0.1999999.
    r = run_cli("check", path, "--max-top1-share", "0.1999999", "-f", "json")
    assert r.code == 1, r.err
    (o,) = _json(r)["outcomes"]
    assert (o["status"], o["entities"]) == ("breach", ["A"])


@pytest.mark.parametrize(("threshold", "code"), [("0.6", 0), ("0.5999999", 1)])
def test_top_n_share_boundary(write: Writer, threshold: str, code: int) -> None:
    path = write("t.csv", "customer,amount\nA,0.1\nA,0.2\nB,0.3\nC,0.2\nD,0.2\n")
    # Top 2 = A (0.1 + 0.2) + B 0.3 = 0.6 of a total 1.0 -> exactly 60 %.
    r = run_cli("check", path, "--top", "2", "--max-top-share", threshold)
    assert r.code == code, (r.out, r.err)


def test_undefined_share_is_not_a_breach(write: Writer) -> None:
    path = write("z.csv", "customer,amount\nA,10\nB,-10\n")
    # Net total 10 - 10 = 0: no share is defined -> "n/a", which is not a breach.
    r = run_cli("check", path, "--max-top1-share", "0.5", "--major", "0.1", "-f", "json")
    assert r.code == 0, r.err
    got = _json(r)
    assert got["status"] == "pass"
    assert [(o["metric"], o["value"], o["status"]) for o in got["outcomes"]] == [
        ("top1_share", None, "n/a"),
        ("major", None, "n/a"),
    ]


def test_major_lists_every_entity_at_fault_beyond_top_n(write: Writer) -> None:
    path = write("m.csv", "customer,amount\nA,40\nB,35\nC,25\n")
    # Shares .40 .35 .25: all three are at or above 25 %, whatever --top shows.
    r = run_cli("check", path, "--top", "1", "--major", "0.25", "-f", "json")
    assert r.code == 1, r.err
    (o,) = _json(r)["outcomes"]
    assert o["entities"] == ["A", "B", "C"]


# 3. HHI, Gini and effective number -----------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "threshold", "code", "value"),
    [
        ("--max-hhi", "2600", 0, 2600.0),  # 2,600 is not above 2,600
        ("--max-hhi", "2599", 1, 2600.0),
        ("--max-gini", "0.15", 0, 0.1),
        ("--max-gini", "0.05", 1, 0.1),
        ("--min-effective-number", "3.8", 0, 1 / 0.26),  # 3.846 is not below 3.8
        ("--min-effective-number", "3.9", 1, 1 / 0.26),
    ],
)  # fmt: skip
def test_index_rules_on_doj_example(
    write: Writer, flag: str, threshold: str, code: int, value: float
) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, flag, threshold, "-f", "json")
    assert r.code == code, (r.out, r.err)
    (o,) = _json(r)["outcomes"]
    assert o["value"] == pytest.approx(value, rel=1e-12)
    assert o["threshold"] == float(threshold)
    assert o["status"] == ("pass" if code == 0 else "breach")
    assert o["entities"] == []


@pytest.mark.parametrize(
    ("data", "flag", "threshold"),
    [
        # Five equal customers: HHI = 5 × (1/5)² = 0.2 -> exactly 2,000 points; 1/HHI = 5.
        ("".join(f"C{i},1\n" for i in range(5)), "--max-hhi", "2000"),
        ("".join(f"C{i},1\n" for i in range(5)), "--min-effective-number", "5"),
        # Four equal customers: Gini = 2·(.25·(1+2+3+4))/4 − 5/4 = 0.
        ("".join(f"C{i},1\n" for i in range(4)), "--max-gini", "0"),
        # DOJ example: Gini exactly 0.10 (see DOJ above).
        (DOJ.removeprefix("customer,amount\n"), "--max-gini", "0.1"),
    ],
    ids=["hhi-2000", "effective-5", "gini-0", "gini-0.1"],
)
def test_index_exactly_at_threshold_passes(
    write: Writer, data: str, flag: str, threshold: str
) -> None:
    path = write("s.csv", "customer,amount\n" + data)
    r = run_cli("check", path, flag, threshold, "-f", "json")
    (o,) = _json(r)["outcomes"]
    assert r.code == 0, f"value {o['value']!r} vs threshold {threshold}: {o['status']}"


# 4. Scopes -------------------------------------------------------------------------------------


def test_overall_passes_where_latest_breaches(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    r = run_cli("check", path, "--max-top1-share", "0.5", "--period", "month", "-f", "json")
    assert r.code == 0, r.err  # overall top1 = 40/90 = 0.444
    (o,) = _json(r)["outcomes"]
    assert (o["where"], o["status"]) == ("overall", "pass")
    assert o["value"] == pytest.approx(40 / 90, abs=1e-15)


def test_latest_judges_only_the_last_month(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    r = run_cli(
        "check", path, "--max-top1-share", "0.5", "--scope", "latest", "--period", "month",
        "-f", "json",
    )  # fmt: skip
    assert r.code == 1, r.err
    (o,) = _json(r)["outcomes"]  # one outcome: February only
    assert (o["scope"], o["where"], o["status"], o["entities"]) == (
        "latest", "2024-02", "breach", ["A"],
    )  # fmt: skip
    assert o["value"] == pytest.approx(0.75, abs=1e-15)  # 30/40


def test_periods_scope_one_outcome_per_period(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    r = run_cli(
        "check", path, "--max-top1-share", "0.5", "--scope", "periods", "--period", "month",
        "-f", "json",
    )  # fmt: skip
    assert r.code == 1, r.err
    got = _json(r)
    assert got["breached"] == 1
    assert [(o["where"], o["status"]) for o in got["outcomes"]] == [
        ("2024-01", "pass"),
        ("2024-02", "breach"),
    ]
    assert [o["value"] for o in got["outcomes"]] == pytest.approx([0.2, 0.75], abs=1e-15)


def test_segments_scope_one_outcome_per_region_including_none(write: Writer) -> None:
    path = write("r.csv", REGIONS)
    r = run_cli(
        "check", path, "--max-top1-share", "0.6", "--scope", "segments", "--segment", "region",
        "-f", "json",
    )  # fmt: skip
    assert r.code == 1, r.err
    got = _json(r)
    by_where = {o["where"]: o for o in got["outcomes"]}
    assert len(got["outcomes"]) == 3
    assert {w: (o["status"], o["entities"]) for w, o in by_where.items()} == {
        "region=north": ("pass", []),  # 0.60 is not above 0.6
        "region=south": ("pass", []),  # 0.50
        "region=(none)": ("breach", ["E"]),  # 0.90
    }
    assert by_where["region=(none)"]["value"] == pytest.approx(0.9, abs=1e-15)
    assert got["breached"] == 1


def test_rules_file_mixing_scopes_and_flags(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    rules = write(
        "rules.toml",
        """
[[rule]]
name = "whole book"
metric = "hhi"
threshold = 3000

[[rule]]
name = "last month"
metric = "top1_share"
threshold = 0.5
scope = "latest"

[[rule]]
name = "quarter rule"
metric = "major"
threshold = 0.25
scope = "periods"
""",
    )
    r = run_cli(
        "check", path, "--rules", rules, "--period", "month", "--max-gini", "0.9", "-f", "json",
    )  # fmt: skip
    assert r.code == 1, r.err
    got = _json(r)
    # Flags first, then the file's rules in order.
    # gini overall = 2·(10+20+30+80+200)/90/5 − 6/5 = 0.311 <= 0.9;
    # HHI overall 2,839.5 <= 3,000; February top1 0.75 > 0.5;
    # major >= 25 %: January max 0.20 passes, February A 0.75 and B exactly 0.25 breach.
    assert [(o["rule"], o["scope"], o["where"], o["status"]) for o in got["outcomes"]] == [
        ("gini <= 0.9", "overall", "overall", "pass"),
        ("whole book", "overall", "overall", "pass"),
        ("last month", "latest", "2024-02", "breach"),
        ("quarter rule", "periods", "2024-01", "pass"),
        ("quarter rule", "periods", "2024-02", "breach"),
    ]
    assert got["outcomes"][1]["value"] == pytest.approx(2300 / 8100 * 10_000, rel=1e-12)
    assert got["outcomes"][4]["entities"] == ["A", "B"]
    assert got["breached"] == 2


# 5. JSON output --------------------------------------------------------------------------------

OUTCOME_KEYS = {"rule", "metric", "scope", "where", "value", "threshold", "status", "entities"}


def test_json_shape_and_matches_python_api(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-hhi", "2600", "--major", "0.25", "-f", "json")
    assert r.code == 1, r.err
    got = _json(r)
    assert got["status"] == "breach"
    assert got["breached"] == 1
    assert got["source"] == [str(path)]
    for o in got["outcomes"]:
        assert set(o) == OUTCOME_KEYS
    hhi, major = got["outcomes"]
    assert hhi == {
        "rule": "hhi <= 2600",
        "metric": "hhi",
        "scope": "overall",
        "where": "overall",
        "value": pytest.approx(2600.0, rel=1e-12),
        "threshold": 2600.0,
        "status": "pass",
        "entities": [],
    }
    # A and B hold 30 % each, at or above 25 %; C and D 20 %.
    assert (major["metric"], major["status"], major["entities"]) == ("major", "breach", ["A", "B"])
    assert major["value"] == pytest.approx(0.3, abs=1e-15)
    assert major["threshold"] == 0.25

    api = topshare.check(
        str(path), [topshare.Rule("hhi", 2600.0), topshare.Rule("major", 0.25)]
    ).to_dict()
    for d in (got, api):
        d.pop("generated_at")
    assert got == api


def test_output_file(write: Writer, tmp_path: Path) -> None:
    path = write("doj.csv", DOJ)
    out = tmp_path / "check.json"
    r = run_cli("check", path, "--max-top1-share", "0.25", "-f", "json", "-o", out)
    assert r.code == 1, r.err
    assert r.out == ""
    got = json.loads(out.read_text(encoding="utf-8"))
    assert got["status"] == "breach"
    ((metric, where, status),) = _statuses(got)
    assert (metric, where, status) == ("top1_share", "overall", "breach")
    assert not list(tmp_path.glob(".check.json.*"))


# 6. Webhook on loopback ----------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    content_type: str | None
    body: bytes


@dataclass
class Hook:
    """A webhook server on 127.0.0.1: what it received, and how it answers."""

    url: str
    port: int
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state: list[Hook] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            h = state[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            h.requests.append(
                Received(self.command, self.path, self.headers.get("Content-Type"), body)
            )
            if h.delay:
                h.release.wait(h.delay)
            try:
                self.send_response(h.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:  # the client gave up (timeout test)
                pass

        do_POST = do_GET = do_PUT = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = cast(tuple[str, int], server.server_address)[1]
    state.append(Hook(url=f"http://127.0.0.1:{port}/hook", port=port))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        state[0].release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_webhook_receives_the_json_result_on_breach(write: Writer, hook: Hook) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-top1-share", "0.25", "-f", "json", "--notify", hook.url)
    assert r.code == 1, r.err  # the breach still decides the exit code
    assert r.err == ""
    (req,) = hook.requests
    assert (req.method, req.path) == ("POST", "/hook")
    assert req.content_type == "application/json"
    sent = json.loads(req.body)
    printed = _json(r)
    assert sent["status"] == printed["status"] == "breach"
    assert sent["outcomes"] == printed["outcomes"]
    assert sent == printed


def test_webhook_not_called_when_all_pass(write: Writer, hook: Hook) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-top1-share", "0.3", "--notify", hook.url)
    assert r.code == 0, r.err
    assert hook.requests == []  # --notify-on breach is the default


def test_webhook_always_sends_a_pass(write: Writer, hook: Hook) -> None:
    path = write("doj.csv", DOJ)
    r = run_cli(
        "check", path, "--max-top1-share", "0.3", "--notify", hook.url, "--notify-on", "always"
    )
    assert r.code == 0, r.err
    (req,) = hook.requests
    assert req.method == "POST"
    assert req.content_type == "application/json"
    sent = json.loads(req.body)  # JSON even though the terminal got a table
    assert sent["status"] == "pass"
    assert _statuses(sent) == [("top1_share", "overall", "pass")]


def test_webhook_http_error_is_exit_2(write: Writer, hook: Hook) -> None:
    hook.status = 500
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-top1-share", "0.25", "--notify", hook.url)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    (line,) = r.err.strip().splitlines()
    assert line.startswith(f"topshare: error: --notify {hook.url}:")
    assert "HTTP 500" in line
    assert len(hook.requests) == 1


def test_webhook_closed_port_is_exit_2(write: Writer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free, and closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/hook"
    path = write("doj.csv", DOJ)
    r = run_cli("check", path, "--max-top1-share", "0.25", "--notify", url)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    (line,) = r.err.strip().splitlines()
    assert line.startswith(f"topshare: error: --notify {url}: could not deliver the result")
    assert "refused" in line.lower()


def test_webhook_timeout_is_exit_2_quickly(write: Writer, hook: Hook) -> None:
    hook.delay = 60.0  # the server holds the answer for a minute (released at teardown)
    path = write("doj.csv", DOJ)
    start = time.monotonic()
    r = run_cli(
        "check", path, "--max-top1-share", "0.25", "--notify", hook.url,
        "--notify-timeout", "0.5",
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    (line,) = r.err.strip().splitlines()
    assert line.startswith(f"topshare: error: --notify {hook.url}: could not deliver the result")
    assert "timed out" in line
    assert elapsed < 15, elapsed  # start-up plus 0.5 s, far from the server's 60 s
    assert len(hook.requests) == 1


# 7. Python API -------------------------------------------------------------------------------


def test_python_api_with_rule_objects(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    r = topshare.check(
        str(path),
        [topshare.Rule("top1_share", 0.3), topshare.Rule("major", 0.3, name="big ones")],
    )
    assert isinstance(r, topshare.CheckResult)
    # top1 0.30 is not above 0.3; A and B at 30 % are at the major threshold (inclusive).
    assert (r.status, r.breached, r.exit_code) == ("breach", 1, 1)
    assert [(o.rule, o.status, o.entities) for o in r.outcomes] == [
        ("top1_share <= 0.3", "pass", []),
        ("big ones", "breach", ["A", "B"]),
    ]
    assert json.loads(r.to_json()) == json.loads(json.dumps(r.to_dict()))


def test_python_api_rules_file_and_analyze_options(write: Writer) -> None:
    path = write("m.csv", MONTHS)
    rules = write(
        "rules.toml", '[[rule]]\nmetric = "top1_share"\nthreshold = 0.5\nscope = "latest"\n'
    )
    r = topshare.check(str(path), rules_file=rules, period="month")
    assert (r.status, r.exit_code) == ("breach", 1)
    (o,) = r.outcomes
    assert (o.where, o.entities) == ("2024-02", ["A"])
    ok = topshare.check(str(path), [topshare.Rule("top1_share", 0.5)], period="month")
    assert (ok.status, ok.exit_code, ok.breached) == ("pass", 0, 0)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("nope", 1), "unknown rule metric 'nope'"),
        (("top1_share", 1.5), r"a share threshold is a fraction in \[0, 1\]"),
        (("major", -0.1), r"a share threshold is a fraction in \[0, 1\]"),
        (("hhi", 1000, "everywhere"), "unknown rule scope 'everywhere'"),
        (("hhi", "high"), "the threshold must be a number"),
        (("hhi", True), "the threshold must be a number"),
    ],
)
def test_bad_rule_raises_usage_error(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(topshare.UsageError, match=match):
        topshare.Rule(*args)


def test_python_api_without_rules_raises(write: Writer) -> None:
    path = write("doj.csv", DOJ)
    with pytest.raises(topshare.UsageError, match="no rules to check"):
        topshare.check(str(path), [])

"""``topshare traffic`` as a user runs it: the real command in a subprocess (``run_cli``) for
stdin, --strict and the JSON output, and the same Typer app in-process for the many one-line
errors (a subprocess costs seconds of imports; the code path after argument parsing is the same).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import Run, Writer, run_cli
from test_traffic import GOOGLEBOT, SAMPLE, line
from topshare.cli import app


def cli(*args: str | Path) -> Run:
    """The real ``topshare`` command in this process."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def fails(*args: str | Path) -> str:
    """Exit 2 with one line on stderr, nothing on stdout, no traceback: the message."""
    r = cli("traffic", *args)
    assert r.code == 2, (r.out, r.err)
    assert r.out == ""
    assert "Traceback" not in r.err, r.err
    assert "internal error" not in r.err, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("topshare: error: ")
    return lines[0].removeprefix("topshare: error: ")


@pytest.fixture
def sample(write: Writer) -> Path:
    return write("access.log", "\n".join(SAMPLE) + "\n")


# -- the real command ---------------------------------------------------------------------------


def test_stdin_plain_and_gzip() -> None:
    text = ("\n".join(SAMPLE) + "\n").encode()
    for data in (text, gzip.compress(text)):
        r = run_cli(
            "traffic", "-", "--by", "ip", "--measure", "bytes", "--format", "csv", stdin=data
        )
        assert r.code == 0, r.err
        rows = [row.split(",") for row in r.out.strip().splitlines()[1:]]
        got = {row[1]: int(row[2]) for row in rows if row[0].isdigit()}
        assert got == {
            "203.0.113.1": 2000, "2001:db8:abcd:12::1": 300, "203.0.113.2": 200,
            "198.51.100.7": 50,
        }  # fmt: skip


def test_strict_exits_2_naming_file_and_line(write: Writer) -> None:
    path = write("bad.log", "\n".join([SAMPLE[0], "", SAMPLE[1], SAMPLE[2][:25]]) + "\n")
    r = run_cli("traffic", path, "--strict")
    assert r.code == 2
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1
    assert "Traceback" not in r.err
    assert lines[0].startswith(f"topshare: error: {path}:4: ")
    assert "malformed_line" in lines[0]
    ok = run_cli("traffic", path, "--format", "json")  # without --strict: counted, shown
    assert ok.code == 0, ok.err
    bad = json.loads(ok.out)["rows"]["rejected_by_reason"][0]
    assert (bad["reason"], bad["rows"], bad["examples"][0]["line"]) == ("malformed_line", 1, 4)


def test_json_output_keeps_traffic_period_and_segment_keys(sample: Path) -> None:
    r = run_cli(
        "traffic", sample, "--by", "referrer-domain", "--period", "day", "--segment", "method",
        "--format", "json",
    )  # fmt: skip
    assert r.code == 0, r.err
    d = json.loads(r.out)
    for key in ("traffic", "periods", "segments", "scope", "top", "others", "rows", "money"):
        assert key in d, key
    t = d["traffic"]
    assert (t["format"], t["dimension"], t["measure"], t["bots"]) == (
        "combined", "referrer-domain", "hits", "include",
    )  # fmt: skip
    assert (t["all_hits"], t["bot_hits"], t["blank_lines"]) == (7, 2, 0)
    assert "not additive" in t["note"]
    assert {v["entity"]: v["count"] for v in t["visitors"]}["(direct)"] == 4
    assert {e["entity"]: int(e["value"]) for e in d["top"]} == {
        "(direct)": 4, "www.google.com": 2, "blog.example.org": 1,
    }  # fmt: skip
    days = {p["period"]: int(p["total"]) for p in d["periods"]}
    assert days == {"2024-10-10": 1, "2024-10-11": 6}
    assert sum(days.values()) == int(d["total"])
    assert {s["segment"]["method"]: int(s["total"]) for s in d["segments"]} == {"GET": 6, "POST": 1}


def test_table_output_shows_the_bot_share_and_the_visitors_note(sample: Path) -> None:
    r = cli("traffic", sample, "--by", "ip")
    assert r.code == 0, r.err
    assert "Bots" in r.out
    assert "2 of 7 hits" in r.out
    assert "28.6 %" in r.out
    assert "Visitors" in r.out
    assert "never summed" in r.out


# -- one clear line per error -------------------------------------------------------------------


def test_no_such_file(tmp_path: Path) -> None:
    assert fails(tmp_path / "nope.log") == f"{tmp_path / 'nope.log'}: no such file"


def test_empty_file(write: Writer) -> None:
    path = write("empty.log", "")
    assert fails(path) == f"{path}: file is empty"


def test_binary_file(write: Writer) -> None:
    path = write("bin.log", b"\x00\x01\x02\xff\xfe binary \x00" * 100)
    assert fails(path).startswith(f"{path}: ")
    assert "binary" in fails(path)


def test_undetectable_format(write: Writer) -> None:
    path = write("app.log", "INFO starting\nWARN disk low\nINFO done\n")
    message = fails(path)
    assert message.startswith(f"{path}: cannot tell the log format")
    assert "--log-format" in message


def test_log_format_without_the_field_by_needs(sample: Path) -> None:
    message = fails(sample, "--log-format", "common", "--by", "user-agent")
    assert "no field for --by/--segment user-agent" in message


def test_bytes_on_a_format_without_bytes(write: Writer) -> None:
    path = write("n.log", '1.2.3.4 [10/Oct/2024:10:00:00 +0000] "GET / HTTP/1.1" 200\n')
    message = fails(path, "--log-format", '%h %t "%r" %>s', "--measure", "bytes")
    assert "no bytes field" in message


def test_unknown_directive_and_unknown_format_name(sample: Path) -> None:
    assert "unknown Apache directive %Z" in fails(sample, "--log-format", "%h %Z %t")
    assert "expected a format name" in fails(sample, "--log-format", "squid")


def test_invalid_group_regex(sample: Path) -> None:
    assert fails(sample, "--group", "^/(a=>x").startswith("--group '^/(a': not a valid")
    assert "REGEX=>NAME" in fails(sample, "--group", "no-arrow")


def test_group_regex_the_engine_cannot_run(sample: Path) -> None:
    assert fails(sample, "--group", "^/(?!a)b=>x").startswith("--group")


def test_unknown_dimension_measure_and_segment(sample: Path) -> None:
    assert fails(sample, "--by", "planet").startswith("--by 'planet': expected one of path, url")
    assert fails(sample, "--measure", "visitors") == "--measure 'visitors': expected hits or bytes"
    assert fails(sample, "--segment", "planet").startswith("--segment 'planet': expected one of")


def test_country_without_geoip_and_with_a_bad_database(sample: Path, write: Writer) -> None:
    assert "--geoip" in fails(sample, "--by", "country")
    assert "not a MaxMind-format database" in fails(sample, "--by", "country", "--geoip", sample)


def test_bot_filter_on_a_log_without_user_agent(write: Writer) -> None:
    path = write("c.log", '1.2.3.4 - - [10/Oct/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 5\n')
    message = fails(path, "--exclude-bots")
    assert "user agent" in message or "user-agent" in message
    assert "Binder" not in message


def test_invalid_utf8_line_is_one_malformed_line(write: Writer) -> None:
    good = line("1.1.1.1", "10/Oct/2024:10:00:00 +0000", "GET /a HTTP/1.1", 200, 5)
    bad = line("1.1.1.1", "10/Oct/2024:10:00:00 +0000", "GET /caf\xe9 HTTP/1.1", 200, 5)
    path = write("latin.log", (good + "\n").encode() + bad.encode("latin-1") + b"\n")
    r = cli("traffic", path, "--format", "json")
    assert r.code in (0, 2), r.err
    if r.code == 2:  # refused: the message must say where and why, not "CSV Error"
        message = r.err.strip()
        assert f"{path}:2" in message, message
        assert "utf-8" in message.lower(), message
    else:
        assert json.loads(r.out)["rows"]["rejected"] == 1


def test_googlebot_only(sample: Path) -> None:
    r = cli("traffic", sample, "--only-bots", "--format", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert {e["entity"]: int(e["value"]) for e in d["top"]} == {"/index.html": 1, "/robots.txt": 1}
    assert d["traffic"]["bots"] == "only"
    assert GOOGLEBOT in SAMPLE[4]


def test_html_report_of_a_log_with_one_period(write: Writer, tmp_path: Path) -> None:
    """A log of one day: the report has a trend but no churn (it needs two periods)."""
    # SAMPLE[2] (00:30 at +0100) is on 2024-10-10 in UTC; every other line on 2024-10-11.
    one_day = write("day.log", "\n".join(SAMPLE[:2] + SAMPLE[3:]) + "\n")
    out = tmp_path / "traffic.html"
    r = cli("traffic", one_day, "--by", "path", "--period", "day", "--format", "html", "-o", out)
    assert r.code == 0, r.err
    page = out.read_text(encoding="utf-8")
    assert "Bots (crawler list)" in page
    assert 'data-chart="churn"' not in page


def test_check_on_a_log(sample: Path) -> None:
    """One IP with 2,000 of the 2,550 bytes breaches --major 0.5 (exit 1); 0.9 passes."""
    base = ("check", sample, "--traffic", "--by", "ip", "--measure", "bytes", "--format", "json")
    breach = cli(*base, "--major", "0.5")
    assert breach.code == 1, breach.err
    outcome = json.loads(breach.out)["outcomes"][0]
    assert outcome["status"] == "breach"
    assert outcome["entities"] == ["203.0.113.1"]
    assert cli(*base, "--major", "0.9").code == 0
    wrong = cli("check", sample, "--traffic", "--customer", "x", "--major", "0.5")
    assert wrong.code == 2
    assert "do not apply" in wrong.err


def test_markdown_of_a_log_has_the_bots_and_visitors(sample: Path) -> None:
    r = cli("traffic", sample, "--by", "ip", "--format", "markdown")
    assert r.code == 0, r.err
    assert "- Bots (crawler list): 2 of 7 hits" in r.out
    assert "| 198.51.100.7 | 1 |" in r.out  # one IP + user agent, one day: one visitor

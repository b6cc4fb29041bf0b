"""The ``topshare`` command, run for real in a subprocess; effects checked through the API."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

import topshare
from helpers import Writer, run_cli

SALES = """customer_id,amount,order_date
00042,100.00,2024-01-03
42,60.00,2024-01-04
B,25.50,2024-01-05
B,4.50,2024-01-06
C,10.00,2024-01-07
D,-5.00,2024-01-08
"""
# Net totals by hand: 00042 100.00, 42 60.00, B 30.00, C 10.00, D -5.00 -> total 195.00.
# Top 2 = 100 + 60 = 160.00 -> 160/195 = 82.05 %.


def test_table_headline_first_and_mapping_shown(write: Writer) -> None:
    path = write("sales.csv", SALES)
    r = run_cli("revenue", path, "--top", "2")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "Top 2 customers: 160.00 = 82.1 % of revenue"
    assert "customer = 'customer_id' (detected by name)" in r.out
    assert "amount = 'amount' (detected by name)" in r.out
    assert "Others (3)" in r.out
    assert "Money in 195.00 = analysed 195.00 + rejected 0.00 (reconciled)" in r.out


def test_json_matches_python_api(write: Writer) -> None:
    path = write("sales.csv", SALES)
    r = run_cli("revenue", path, "--top", "2", "--format", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    api = topshare.analyze(str(path), top=2).to_dict()
    assert got == api
    assert got["top_n_sum"] == "160.00"
    assert got["total"] == "195.00"
    assert got["top_n_share"] == pytest.approx(160 / 195, abs=1e-15)
    assert [row["entity"] for row in got["top"]] == ["00042", "42"]
    assert got["negative"]["entities"] == 1
    assert got["negative"]["sum"] == "-5.00"


def test_csv_output_to_file_adds_up_to_total(write: Writer, tmp_path: Path) -> None:
    path = write("sales.csv", SALES)
    out = tmp_path / "top.csv"
    r = run_cli("revenue", path, "-n", "2", "-f", "csv", "-o", out)
    assert r.code == 0, r.err
    assert r.out == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [row["customer"] for row in rows] == ["00042", "42", "Others (3)"]
    assert sum(Decimal(row["value"]) for row in rows) == Decimal("195.00")
    assert not list(tmp_path.glob(".top.csv.*"))  # no temporary file left behind


def test_stdin_gzip_with_flags(write: Writer) -> None:
    data = gzip.compress(b"cust;total\nx;1.25\ny;2.75\nx;3\n")
    r = run_cli("revenue", "-", "--customer", "cust", "--amount", "total", "-f", "csv", stdin=data)
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [(row["customer"], row["value"]) for row in rows] == [("x", "4.25"), ("y", "2.75")]


def test_markdown_output(write: Writer) -> None:
    path = write("sales.csv", SALES)
    r = run_cli("revenue", path, "-n", "1", "-f", "markdown")
    assert r.code == 0, r.err
    assert r.out.startswith("## Top 1 customer: 100.00 = 51.3 % of revenue")
    assert "| 1 | 00042 ★ | 100.00 | 51.3 % | 51.3 % | A |" in r.out


def test_count_mode_and_cr_option(write: Writer) -> None:
    path = write("sales.csv", SALES)
    r = run_cli("revenue", path, "--count", "--cr", "1,2", "-f", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    # Orders per customer: B 2, every other 1 -> 6 orders; CR1 = 2/6, CR2 = 3/6.
    assert got["total"] == "6"
    assert [(c["k"], c["sum"]) for c in got["cr"]] == [(1, "2"), (2, "3")]
    assert got["columns"]["measure"] == "count"


def test_python_dash_m_and_version() -> None:
    r = run_cli("--version")
    assert r.code == 0
    assert r.out.strip() == f"topshare {topshare.__version__}"


@pytest.mark.parametrize("command", ["revenue", "demo"])
def test_every_command_help_has_an_example(command: str) -> None:
    r = run_cli(command, "--help")
    assert r.code == 0
    assert "Example: topshare " + command in r.out


def test_strict_fails_with_file_and_line(write: Writer) -> None:
    path = write("sales.csv", SALES + "E,N/A,2024-01-09\n")
    r = run_cli("revenue", path, "--strict")
    assert r.code == 2
    assert "Traceback" not in r.err
    assert r.err.startswith(f"topshare: error: {path}:8: 'N/A': the amount is not a number")
    assert r.out == ""


def test_rejections_reported_and_money_reconciles(write: Writer) -> None:
    path = write("sales.csv", SALES + "E,N/A,2024-01-09\n,7.00,2024-01-10\nF,3.00,2024-13-01\n")
    r = run_cli("revenue", path, "-f", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["rows"]["read"] == 9
    assert got["rows"]["analysed"] == 6
    assert got["rows"]["rejected"] == 3
    reasons = {x["reason"]: x for x in got["rows"]["rejected_by_reason"]}
    assert set(reasons) == {"bad_value", "missing_entity", "bad_date"}
    assert reasons["bad_value"]["examples"][0]["line"] == 8
    assert reasons["missing_entity"]["examples"][0]["line"] == 9
    assert reasons["bad_date"]["examples"][0] == {
        "file": str(path),
        "line": 10,
        "entity": "F",
        "value": "3.00",
        "date": "2024-13-01",
    }
    # Money in = 195.00 analysed + 7.00 (no customer) + 3.00 (bad date); 'N/A' has no amount.
    assert got["money"] == {
        "in": "205.00",
        "analysed": "195.00",
        "rejected": "10.00",
        "unreadable_rows": 1,
        "reconciled": True,
        "out_of_range": "0.00",
    }


def test_malformed_line_is_a_counted_rejection(write: Writer) -> None:
    good = "".join(f"C{i},1.00\n" for i in range(60))
    cut = good.index("\n", 300) + 1
    path = write("m.csv", "customer,amount\n" + good[:cut] + "B,5,9\n" + good[cut:])
    r = run_cli("revenue", path, "-f", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["rows"]["read"] == 61
    assert got["rows"]["analysed"] == 60
    (rej,) = got["rows"]["rejected_by_reason"]
    assert rej["reason"] == "malformed_line"
    bad_line = 1 + good[:cut].count("\n") + 1
    assert rej["examples"] == [
        {"file": str(path), "line": bad_line, "entity": None, "value": "B,5,9", "date": None}
    ]
    assert got["total"] == "60.00"

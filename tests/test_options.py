"""Reader and parsing options, end to end through the real command and the API."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import topshare
from helpers import Writer, run_cli


def test_date_format_and_bad_dates(write: Writer) -> None:
    path = write("s.csv", "customer,amount,date\na,1,31/01/2024\nb,2,15/02/2024\nc,4,31/02/2024\n")
    r = topshare.analyze(path, date_format="%d/%m/%Y")
    assert r.date_range is not None
    assert (r.date_range.first.date().isoformat(), r.date_range.last.date().isoformat()) == (
        "2024-01-31",
        "2024-02-15",
    )
    (rej,) = r.rows.rejected_by_reason
    assert (rej.reason, rej.rows, rej.amount) == ("bad_date", 1, Decimal("4.00"))
    assert rej.examples[0].line == 4
    # Without the format, day-first dates are not guessed: every row is rejected, which is an error.
    with pytest.raises(topshare.InputError, match=r"no rows left to analyse \(3 bad_date\)"):
        topshare.analyze(path)


def test_no_date_uses_no_date_column(write: Writer) -> None:
    path = write("s.csv", "customer,amount,order_date\na,1,not a date\nb,2,2024-01-01\n")
    detected = topshare.analyze(path)
    assert detected.columns.date == "order_date"
    assert detected.rows.rejected == 1
    r = run_cli("revenue", path, "--no-date", "-f", "json")
    assert r.code == 0, r.err
    got = json.loads(r.out)
    assert got["columns"]["date"] is None
    assert got["rows"]["rejected"] == 0
    assert got["total"] == "3.00"


def test_timestamps_with_offsets_are_utc(write: Writer) -> None:
    path = write(
        "s.csv",
        "customer,amount,created_at\na,1,2024-03-01T23:30:00-02:00\nb,2,2024-03-01 08:00:00\n",
    )
    r = topshare.analyze(path)
    assert r.date_range is not None
    # 23:30 at -02:00 is 01:30 UTC the next day.
    assert r.date_range.last.isoformat() == "2024-03-02T01:30:00"
    assert r.date_range.first.isoformat() == "2024-03-01T08:00:00"


def test_decimal_comma(write: Writer) -> None:
    path = write("s.csv", 'customer;amount\na;"1.234,50"\nb;12,5\nc;(3,00)\n')
    r = topshare.analyze(path, decimal_comma=True)
    assert [(t.entity, t.value) for t in r.top] == [
        ("a", Decimal("1234.50")),
        ("b", Decimal("12.50")),
        ("c", Decimal("-3.00")),
    ]
    # Without it, "12,5" is not a number (never 125), nor "1.234,50", nor "(3,00)".
    with pytest.raises(topshare.InputError, match=r"no rows left to analyse \(3 bad_value\)"):
        topshare.analyze(path)


def test_too_precise_rejected_not_rounded(write: Writer) -> None:
    path = write("s.csv", "customer,amount\na,1.1234567\nb,2.5000000000\nc,3\n")
    r = topshare.analyze(path)
    # b has trailing zeros only: exact at 6 places, kept. a would be rounded: rejected.
    (rej,) = r.rows.rejected_by_reason
    assert (rej.reason, rej.rows, rej.amount, rej.unreadable) == ("too_precise", 1, None, 1)
    assert r.total == Decimal("5.50")
    assert r.money.in_ == Decimal("5.50")


def test_headerless_with_flags(write: Writer) -> None:
    path = write("s.csv", "x,5\ny,7\nx,1\n")
    r = run_cli(
        "revenue", path, "--no-header", "--customer", "column0", "--amount", "column1", "-f", "csv"
    )
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:3] == [
        "1,y,7.00,0.5384615384615384,0.5384615384615384,A,true",
        "2,x,6.00,0.46153846153846156,1.0,A,true",
    ]


def test_input_format_for_an_unusual_name(write: Writer) -> None:
    path = write("export.dat", '{"customer": "a", "amount": 2}\n{"customer": "b", "amount": 1}\n')
    r = topshare.analyze(path, format="json")
    assert r.total == Decimal("3.00")
    assert r.source.format == "json"


def test_duckdbs_memory_limit_and_spill_directory_from_the_environment(
    write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from topshare.backend import connect

    spill = tmp_path / "spill here"
    monkeypatch.setenv("TOPSHARE_MEMORY_LIMIT", " 300MB ")
    monkeypatch.setenv("TOPSHARE_SPILL_DIR", str(spill))
    con = connect()
    try:
        limit, where = con.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
    finally:
        con.disconnect()
    assert limit == "286.1 MiB"  # 300 x 10^6 bytes
    assert where == str(spill)
    r = topshare.analyze(write("s.csv", "customer,amount\na,1.50\nb,2\na,3\n"))
    assert (r.total, r.top[0].entity, r.top[0].value) == (Decimal("6.50"), "a", Decimal("4.50"))


def test_a_memory_limit_that_is_not_a_size_or_too_small_is_one_line(
    write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("s.csv", "customer,amount\na,1\n")
    monkeypatch.setenv("TOPSHARE_MEMORY_LIMIT", "lots")
    r = run_cli("revenue", path)
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        "topshare: error: memory limit 'lots' ($TOPSHARE_MEMORY_LIMIT): not a size; give one "
        "such as 4GB or 500MB"
    ]
    monkeypatch.setenv("TOPSHARE_MEMORY_LIMIT", "1KB")  # DuckDB cannot hold one block
    r = run_cli("revenue", path)
    assert r.code == 2
    (line,) = r.err.strip().splitlines()
    assert "Out of Memory Error" in line
    assert "raise DuckDB's limit with TOPSHARE_MEMORY_LIMIT" in line

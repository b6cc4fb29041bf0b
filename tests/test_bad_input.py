"""Bad input: one clear line naming what and where, exit code 2, never a traceback."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import topshare
from helpers import Writer, run_cli


def _fails(*args: str | Path, stdin: bytes | None = None) -> str:
    r = run_cli("revenue", *args, stdin=stdin)
    assert r.code == 2, (r.out, r.err)
    assert "Traceback" not in r.err
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("topshare: error: ")
    return lines[0].removeprefix("topshare: error: ")


def test_missing_file(tmp_path: Path) -> None:
    assert _fails(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: no such file"


def test_a_file_system_url_without_spark_says_how_to_read_it() -> None:
    assert _fails("s3a://bucket/orders.csv") == (
        "s3a://bucket/orders.csv: no such file; s3a:// URLs are read with --engine spark "
        "(see docs/spark.md)"
    )


def test_glob_without_match(tmp_path: Path) -> None:
    pattern = str(tmp_path / "*.parquet")
    assert _fails(pattern) == f"{pattern}: no file matches this pattern"


def test_directory(tmp_path: Path) -> None:
    assert "is a directory" in _fails(tmp_path)


def test_empty_file(write: Writer) -> None:
    path = write("empty.csv", "")
    assert _fails(path) == f"{path}: file is empty"


def test_header_only(write: Writer) -> None:
    path = write("h.csv", "customer,amount\n")
    assert _fails(path) == f"{path}: no rows left to analyse (no data rows)"


def test_binary_file(write: Writer) -> None:
    path = write("bin.csv", b"\x00\x01\x02binary\x00" * 50)
    assert _fails(path) == f"{path}: looks like a binary file, not CSV text"


def test_wrong_encoding_suggests_the_option(write: Writer) -> None:
    path = write("latin.csv", "customer,amount\nJos\xe9,10\nAnna,5\n".encode("latin-1"))
    message = _fails(path)
    assert message.startswith(f"{path}:2: not valid utf-8 text")
    assert "--encoding latin-1" in message
    ok = topshare.analyze(str(path), encoding="latin-1")
    assert [r.entity for r in ok.top] == ["José", "Anna"]


def test_broken_gzip(write: Writer) -> None:
    data = gzip.compress(b"customer,amount\n" + b"a,1\n" * 1000)
    path = write("cut.csv.gz", data[: len(data) // 2])
    assert _fails(path).startswith(f"{path}: ")
    assert "gzip" in _fails(path)


def test_missing_column_suggests_close_name(write: Writer) -> None:
    path = write("s.csv", "customer_id,amount\na,1\n")
    assert _fails(path, "--customer", "customer_ud") == (
        f"{path}: no column 'customer_ud' for the customer (columns: customer_id, amount); "
        "did you mean 'customer_id'?"
    )


def test_undetectable_customer_column(write: Writer) -> None:
    path = write("s.csv", "sku,amount\na,1\n")
    message = _fails(path)
    assert "cannot tell which column is the customer" in message
    assert "--customer COLUMN" in message


def test_value_column_of_wrong_type(tmp_path: Path) -> None:
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"customer": ["a"], "amount": [True]}), path)
    assert _fails(path) == f"{path}: column 'amount' (amount) has type boolean; expected numbers"


def test_not_parquet(write: Writer) -> None:
    path = write("x.parquet", "customer,amount\na,1\n")
    assert "not a Parquet file" in _fails(path)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--top", "0"), "Invalid value for '--top'"),
        (("--cr", "a,b"), "--cr expects whole numbers separated by commas"),
        (("--pareto", "1.5"), "the Pareto threshold must be in (0, 1]"),
        (("--hhi-bands", "1999"), "HHI bands must be one of 2023, 2010"),
        (("--format", "xml"), "unknown --format 'xml'"),
        (("--encoding", "ebcdic"), "unknown encoding 'ebcdic'"),
    ],
)
def test_bad_options(write: Writer, args: tuple[str, ...], expected: str) -> None:
    path = write("s.csv", "customer,amount\na,1\n")
    r = run_cli("revenue", path, *args)
    assert r.code == 2
    assert expected in r.err
    assert "Traceback" not in r.err


def test_empty_stdin() -> None:
    assert _fails("-", stdin=b"") == "-: standard input is empty"


def test_debug_shows_traceback(tmp_path: Path) -> None:
    r = run_cli("revenue", tmp_path / "nope.csv", "--debug")
    assert r.code != 0
    assert "Traceback" in r.err


def test_the_line_quoted_of_an_engine_error() -> None:
    from topshare.errors import first_line

    assert first_line(ValueError("Conversion Error: bad\nLINE 1: SELECT ...")) == (
        "Conversion Error: bad"
    )
    assert first_line(RuntimeError("")) == "RuntimeError"  # no text: its name, not an IndexError
    jvm = "An error occurred while calling o42.csv.\n\n: java.io.FileNotFoundException: x\n\tat y"
    assert first_line(RuntimeError(jvm)) == ": java.io.FileNotFoundException: x"

"""End to end through ``topshare.analyze`` on small files, with the expected values worked out by
hand: every input format, several files and globs, and the JSON contract."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cases import MONEY, D, csv, run, summary, top_pairs, write

# --- formats and several files ------------------------------------------------------------------

ROWS = [
    ("A", "10.50"),
    ("00042", "3.25"),
    ("B", "-1.00"),
    ("42", "7.00"),
    ("A", "2.00"),
    ("C", "7.00"),
    ("B", "0.50"),
]


def rows_text(rows: list[tuple[str, str]], delimiter: str = ",") -> str:
    body = "".join(f"{c}{delimiter}{a}\n" for c, a in rows)
    return f"customer{delimiter}amount\n{body}"


def baseline(tmp_path: Path) -> dict[str, Any]:
    # A 12.50, 42 7.00, C 7.00, 00042 3.25, B −0.50 → T = 29.25; 42 before C (tie, key order)
    r = run(csv(tmp_path, rows_text(ROWS), "baseline.csv"), top=3)
    assert r.total == D("29.25")
    assert top_pairs(r) == [("A", D("12.50")), ("42", D(7)), ("C", D(7))]
    return summary(r)


@pytest.mark.parametrize(
    ("name", "delimiter", "fmt"),
    [
        ("sales.tsv", "\t", "tsv"),
        ("sales.txt", "\t", "csv"),
        ("sales.csv", ";", "csv"),
        ("sales.csv", "|", "csv"),
    ],
)
def test_delimiters_detected(tmp_path: Path, name: str, delimiter: str, fmt: str) -> None:
    expected = baseline(tmp_path)
    r = run(write(tmp_path / name, rows_text(ROWS, delimiter)), top=3)
    assert r.source.delimiter == delimiter
    assert r.source.format == fmt
    assert summary(r) == expected


def test_gzip_csv(tmp_path: Path) -> None:
    expected = baseline(tmp_path)
    path = tmp_path / "sales.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(rows_text(ROWS))
    r = run(path, top=3)
    assert r.source.format == "csv"
    assert summary(r) == expected


@pytest.mark.parametrize("amount_type", ["decimal", "string", "double"])
def test_parquet(tmp_path: Path, amount_type: str) -> None:
    expected = baseline(tmp_path)
    amounts: Any
    if amount_type == "decimal":
        amounts = pa.array([D(a) for _, a in ROWS], pa.decimal128(12, 2))
    elif amount_type == "string":
        amounts = pa.array([a for _, a in ROWS], pa.string())
    else:
        amounts = pa.array([float(a) for _, a in ROWS], pa.float64())
    table = pa.table({"customer": [c for c, _ in ROWS], "amount": amounts})
    path = tmp_path / "sales.parquet"
    pq.write_table(table, path)
    r = run(path, top=3)
    assert r.source.format == "parquet"
    assert summary(r) == expected


@pytest.mark.parametrize("as_text", [False, True], ids=["numbers", "strings"])
def test_ndjson(tmp_path: Path, as_text: bool) -> None:
    expected = baseline(tmp_path)
    lines = [json.dumps({"customer": c, "amount": a if as_text else float(a)}) for c, a in ROWS]
    r = run(write(tmp_path / "sales.ndjson", "\n".join(lines) + "\n"), top=3)
    assert r.source.format == "json"
    assert summary(r) == expected


def test_two_parquet_files_and_a_glob(tmp_path: Path) -> None:
    expected = baseline(tmp_path)
    table = pa.table(
        {"customer": [c for c, _ in ROWS], "amount": pa.array([D(a) for _, a in ROWS])}
    )
    pq.write_table(table.slice(0, 3), tmp_path / "part1.parquet")
    pq.write_table(table.slice(3), tmp_path / "part2.parquet")
    two = run([tmp_path / "part1.parquet", tmp_path / "part2.parquet"], top=3)
    assert summary(two) == expected
    assert two.source.files == 2
    glob = run(str(tmp_path / "part*.parquet"), top=3)
    assert summary(glob) == expected
    assert glob.source.files == 2


def test_two_csv_files_and_a_glob(tmp_path: Path) -> None:
    expected = baseline(tmp_path)
    one = csv(tmp_path, rows_text(ROWS[:3]), "part1.csv")
    two = csv(tmp_path, rows_text(ROWS[3:]), "part2.csv")
    both = run([one, two], top=3)
    assert summary(both) == expected
    glob = run(str(tmp_path / "part*.csv"), top=3)
    assert summary(glob) == expected


# --- the JSON contract --------------------------------------------------------------------------


def test_json_contract_keys_and_money_strings(tmp_path: Path) -> None:
    path = csv(
        tmp_path,
        "customer,amount\nA,10.50\nB,-2.25\nC,3\n,1.00\nD,x\nA,0.005\n",
    )
    r = run(path, top=2)
    d = r.to_dict()
    for key in (
        "total",
        "n_entities",
        "top_n",
        "top_n_sum",
        "top_n_share",
        "tie_at_boundary",
        "top",
        "others",
        "cr",
        "hhi",
        "hhi_points",
        "hhi_normalized",
        "hhi_band",
        "effective_number",
        "gini",
        "gini_corrected",
        "theil",
        "entropy",
        "pareto",
        "lorenz",
        "negative",
        "rows",
        "columns",
        "money",
        "major",
        "index_population",
    ):
        assert key in d, key
    top_keys = {"rank", "entity", "value", "share", "cumulative_share", "abc", "major"}
    assert all(top_keys <= set(row) for row in d["top"])
    assert set(d["others"]) >= {"entities", "value", "share"}
    assert all(set(c) >= {"k", "sum", "share"} for c in d["cr"])
    assert set(d["pareto"]) >= {"threshold", "k", "fraction"}
    assert set(d["entropy"]) >= {"shannon", "normalized", "exp"}
    assert set(d["negative"]) >= {"entities", "sum", "most_negative"}
    assert set(d["rows"]) >= {"read", "analysed", "rejected", "rejected_by_reason"}
    assert set(d["money"]) >= {"in", "analysed", "rejected", "unreadable_rows", "reconciled"}
    assert set(d["columns"]) >= {"entity", "value", "date"}

    money = [d["total"], d["top_n_sum"], d["others"]["value"], d["negative"]["sum"]]
    money += [t["value"] for t in d["top"]] + [c["sum"] for c in d["cr"]]
    money += [e["value"] for e in d["negative"]["most_negative"]]
    money += [m["value"] for m in d["major"]]
    money += [d["money"][k] for k in ("in", "analysed", "rejected")]
    money += [d["index_population"]["sum"]]
    money += [x["amount"] for x in d["rows"]["rejected_by_reason"] if x["amount"] is not None]
    assert all(isinstance(m, str) and MONEY.match(m) for m in money), money
    # exact: A = 10.50 + 0.005 = 10.505 (kept, not rounded to cents)
    assert d["total"] == "11.255"  # 10.505 − 2.25 + 3
    assert d["top"][0] == {
        "rank": 1,
        "entity": "A",
        "value": "10.505",
        "share": pytest.approx(10.505 / 11.255),
        "cumulative_share": pytest.approx(10.505 / 11.255),
        "abc": "A",
        "major": True,
    }
    assert d["money"]["in"] == "12.255"  # 11.255 + 1.00 (missing customer)
    for rank, (x, y) in enumerate(d["lorenz"]):
        assert isinstance(x, float), rank
        assert isinstance(y, float), rank
    assert json.loads(r.to_json()) == d
    assert isinstance(d["hhi"], float)
    assert d["rows"]["read"] == 6


def test_gzipped_csv_whose_name_does_not_say_so(tmp_path: Path) -> None:
    """A rotated 'orders.csv.1' that is gzipped is read by its content, not its name; the
    examples of rejected rows still give the line."""
    import topshare

    path = tmp_path / "orders.csv.1"
    path.write_bytes(gzip.compress(b"customer,amount\na,1.50\nb,2\nc,N/A\n"))
    r = topshare.analyze(path, format="csv")
    assert r.total == D("3.50")
    assert r.rows.rejected == 1
    assert r.rows.rejected_by_reason[0].examples[0].line == 4

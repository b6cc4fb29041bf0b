"""The Spark engine on every file format the DuckDB path reads, and through the real command.

Each analysis runs on Spark (one local session for the test session) and on DuckDB over the same
files: the results must be the same document, apart from nothing (same paths, same rejections
with the same lines). A few totals are also checked by hand.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from decimal import Decimal
from typing import Any

import pytest

import topshare
from helpers import Writer, run_cli

pytestmark = pytest.mark.spark

D = Decimal
CSV = (
    "customer,amount,date\n"
    "00042,10.50,2024-01-01\n"
    'B,"$1,234.50",2024-02-01T23:30:00+02:00\n'
    ",3,2024-01-03\n"
    "C,abc,2024-01-04\n"
    "D,1.1234567,2024-01-05\n"
    "E,5,2024-01-05,extra\n"
    "F,6\n"
    "42,(2.00),2024-03-31 22:00:00\n"
    "G,1.5,not a date\n"
)


def both(spark: Any, source: Any, **kw: Any) -> dict[str, Any]:
    """The Spark result, after checking it is the DuckDB result (same JSON document)."""
    on_spark = topshare.analyze(source, engine="spark", spark=spark, **kw).to_dict()
    on_duckdb = topshare.analyze(source, **kw).to_dict()
    assert on_spark == on_duckdb
    return on_spark


def test_csv_rejections_and_lines(spark_session: Any, write: Writer) -> None:
    r = both(spark_session, write("sales.csv", CSV))
    # valid: 00042 10.50, B 1234.50, 42 -2.00 -> 1243.00 (hand sum)
    assert D(r["total"]) == D("1243.00")
    by = {
        x["reason"]: (x["rows"], [e["line"] for e in x["examples"]])
        for x in r["rows"]["rejected_by_reason"]
    }
    assert by == {
        "malformed_line": (2, [7, 8]),
        "missing_entity": (1, [4]),
        "bad_value": (1, [5]),
        "too_precise": (1, [6]),
        "bad_date": (1, [10]),
    }
    assert [t["entity"] for t in r["top"]] == ["B", "00042", "42"]


def test_periods_in_the_time_zone(spark_session: Any, write: Writer) -> None:
    path = write("sales.csv", CSV)
    utc = both(spark_session, path, period="day")
    paris = both(spark_session, path, period="day", tz="Europe/Paris")
    # 23:30+02:00 is 21:30 UTC on 02-01, and 22:30 in Paris (UTC+1 in winter): still 02-01
    assert {p["label"] for p in utc["periods"] if D(p["total"])} == {
        "2024-01-01", "2024-02-01", "2024-03-31"
    }  # fmt: skip
    assert paris["periods"][-1]["label"] == "2024-03-31"
    tokyo = both(spark_session, path, period="day", tz="Asia/Tokyo")
    # 21:30 UTC is 06:30 the next day in Tokyo
    assert "2024-02-02" in {p["label"] for p in tokyo["periods"] if D(p["total"])}


def test_tsv_headerless_gzip_and_glob(spark_session: Any, write: Writer) -> None:
    tsv = write("a.tsv", "k1\t1.5\nk2\t2\n")
    assert D(both(spark_session, tsv)["total"]) == D("3.5")
    gz = write("b.csv.gz", gzip.compress(b"customer,amount\n007,1\n7,2\n007,3\n"))
    r = both(spark_session, gz)
    assert [(t["entity"], D(t["value"])) for t in r["top"]] == [("007", D(4)), ("7", D(2))]
    write("part1.csv", "customer,amount\nA,1\nB,x\n")
    write("part2.csv", "customer,amount\nB,2\n,5\n")
    r = both(spark_session, str(tsv.parent / "part*.csv"))
    assert (D(r["total"]), r["source"]["files"], r["rows"]["rejected"]) == (D(3), 2, 2)


def test_json_lines_and_parquet(spark_session: Any, write: Writer) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = '{"customer": "a", "amount": 10}\n{"customer": "b", "amount": 2.5}\n{"customer": null, "amount": 1}\n'
    r = both(spark_session, write("s.jsonl", lines))
    assert (D(r["total"]), r["rows"]["rejected"]) == (D("12.5"), 1)
    path = write("s.parquet", b"")
    amounts = pa.array([D("1.10"), D("2.20"), None, D("-0.30")], pa.decimal128(18, 2))
    table = pa.table({"customer": ["x", "y", "x", "z"], "amount": amounts})
    pq.write_table(table, path)
    r = both(spark_session, path)
    assert (D(r["total"]), r["rows"]["rejected"]) == (D("3.00"), 1)


def test_date_format_and_segments(spark_session: Any, write: Writer) -> None:
    text = "customer,amount,day,region\nA,1,31/01/2024,n\nB,2,1/2/2024,s\nC,4,2024-02-03,n\n"
    r = both(spark_session, write("eu.csv", text), date_format="%d/%m/%Y", period="month",
             segments=["region"])  # fmt: skip
    assert [(p["label"], D(p["total"])) for p in r["periods"]] == [
        ("2024-01", D(1)), ("2024-02", D(2))
    ]  # fmt: skip
    assert r["rows"]["rejected"] == 1  # 2024-02-03 does not match %d/%m/%Y


def test_cli_engine_spark(write: Writer) -> None:
    path = write("sales.csv", "customer,amount\nA,10\nB,30\nA,5\n")
    run = run_cli("revenue", path, "--engine", "spark", "--spark-master", "local[1]",
                  "--format", "json")  # fmt: skip
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert (D(doc["total"]), doc["top"][0]["entity"]) == (D(45), "B")
    run = run_cli("revenue", path, "--engine", "flink")
    assert run.code == 2
    assert run.err.strip().splitlines()[-1].endswith("expected duckdb or spark")


def test_missing_java_and_pyspark_are_one_line(write: Writer, tmp_path: Any) -> None:
    path = write("sales.csv", "customer,amount\nA,10\n")
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    import subprocess

    proc = subprocess.run(  # a PATH without java
        [sys.executable, "-m", "topshare", "revenue", str(path), "--engine", "spark"],
        env={**env, "PATH": str(bin_dir)}, capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "needs Java 17" in proc.stderr
    assert shutil.which("java", path=str(bin_dir)) is None
    # an import of pyspark that fails (sys.modules[name] = None is how Python blocks one)
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.argv = ['topshare', 'revenue', "
        f"{str(path)!r}, '--engine', 'spark']; from topshare.cli import main; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "pip install 'topshare[spark]'" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def _as_local(doc: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A document read from URLs, told as DuckDB tells it for the same local files: the local
    names and the lines DuckDB found (a URL's examples have none)."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    for reason in out["rows"]["rejected_by_reason"]:
        for ex in reason["examples"]:
            assert ex["line"] is None
            ex["file"] = names[ex["file"]]
    out["source"]["paths"] = [names[p] for p in out["source"]["paths"]]
    return out


def _lines_dropped(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(doc))
    for reason in out["rows"]["rejected_by_reason"]:
        for ex in reason["examples"]:
            ex["line"] = None
    return out


@pytest.mark.slow
def test_urls_are_listed_and_sniffed_by_spark(spark_session: Any, write: Writer) -> None:
    """file:// URLs take the code path of hdfs:// or s3a:// (listed, sniffed and read by Spark,
    never opened here): the same answers as DuckDB on the local files, examples without lines."""
    path = write("sales.csv", CSV)
    url = path.as_uri()
    doc = topshare.analyze(url, engine="spark", spark=spark_session).to_dict()
    local = topshare.analyze(path).to_dict()
    assert _as_local(doc, {url: str(path)}) == _lines_dropped(local)
    money = doc["money"]
    # in = analysed + rejected, to the cent: 1243.00 + 3 (no customer) + 1.5 (bad date);
    # 'abc', the too precise 1.1234567 and the two malformed lines have no amount
    assert (D(money["in"]), D(money["analysed"]), D(money["rejected"])) == (
        D("1247.50"), D("1243.00"), D("4.50")
    )  # fmt: skip
    assert money["reconciled"]
    assert money["unreadable_rows"] == 4
    with pytest.raises(topshare.RejectedRowsError, match="line numbers need a local path"):
        topshare.analyze(url, engine="spark", spark=spark_session, strict=True)
    # a glob of gzip files and a JSON array, through Hadoop's glob syntax
    write("p1.csv.gz", gzip.compress(b"customer,amount\n007,1\n7,x\n"))
    write("p2.csv.gz", gzip.compress(b"customer,amount\n007,3\n"))
    glob = f"file://{path.parent}/p{{1,2}}.csv.gz"  # a Hadoop glob (as_uri() would escape it)
    doc = topshare.analyze(glob, engine="spark", spark=spark_session).to_dict()
    assert (D(doc["total"]), doc["source"]["files"], doc["rows"]["rejected"]) == (D(4), 2, 1)
    example = doc["rows"]["rejected_by_reason"][0]["examples"][0]
    assert (example["file"], example["line"], example["value"]) == (
        "file:" + str(path.parent / "p1.csv.gz"), None, "x"
    )  # fmt: skip
    # the dialect sniffed on the lines Spark read: ';', no header, a quoted ';'
    semi = write("semi.txt", 'k1;2.5;"a;b"\nk2;1;y\nk1;0.5;z\n')
    doc = topshare.analyze(semi.as_uri(), engine="spark", spark=spark_session).to_dict()
    assert doc == topshare.analyze(semi).to_dict() | {"source": doc["source"]}
    assert (doc["source"]["delimiter"], doc["source"]["header"]) == (";", False)
    assert [(t["entity"], D(t["value"])) for t in doc["top"]] == [("k1", D(3)), ("k2", D(1))]
    arr = write("a.json", '[{"customer": "a", "amount": 2}, {"customer": "b", "amount": 0.5}]')
    doc = topshare.analyze(arr.as_uri(), engine="spark", spark=spark_session).to_dict()
    assert (D(doc["total"]), doc["n_entities"]) == (D("2.5"), 2)


def test_url_errors_are_one_line(spark_session: Any, write: Writer) -> None:
    path = write("sales.csv", "customer,amount\nA,1\n")
    folder = path.parent.as_uri()
    cases = {
        folder + "/nothing*.csv": "no file matches this pattern",
        folder + "/missing.csv": "no such file",
        folder: "is a directory",
        "s3a://bucket/sales.csv": "no file system for s3a://",
    }
    for url, message in cases.items():
        with pytest.raises(topshare.TopshareError, match=message) as info:
            topshare.analyze(url, engine="spark", spark=spark_session)
        assert "\n" not in str(info.value)
    renamed = write("rotated.csv.1", gzip.compress(b"customer,amount\nA,1\n"))
    with pytest.raises(topshare.TopshareError, match=r"gzip data without a \.gz name"):
        topshare.analyze(renamed.as_uri(), engine="spark", spark=spark_session)
    with pytest.raises(topshare.TopshareError, match="not both"):
        topshare.analyze([path, path.as_uri()], engine="spark", spark=spark_session)
    with pytest.raises(topshare.UsageError, match="--encoding latin-1 needs a local path"):
        topshare.analyze(path.as_uri(), engine="spark", spark=spark_session, encoding="latin-1")


@pytest.mark.slow
def test_spark_connect(spark_session: Any, write: Writer) -> None:
    """`--spark-master sc://…`: the command as a Spark Connect client (no JVM of its own) of a
    server started in the tests' JVM on 127.0.0.1; the same document as DuckDB's."""
    from sparksession import start_connect

    path = write("sales.csv", CSV)
    url, stop = start_connect(spark_session)
    try:
        on_connect = run_cli("revenue", path, "--engine", "spark", "--spark-master", url,
                             "--period", "month", "--format", "json")  # fmt: skip
        remote = run_cli("revenue", path.as_uri(), "--engine", "spark", "--spark-master", url,
                         "--format", "json")  # fmt: skip
    finally:
        stop()
    assert on_connect.code == 0, on_connect.err
    on_duckdb = run_cli("revenue", path, "--period", "month", "--format", "json")
    assert json.loads(on_connect.out) == json.loads(on_duckdb.out)
    assert remote.code == 0, remote.err
    assert D(json.loads(remote.out)["total"]) == D("1243.00")
    # a client needs no Java; an endpoint that is gone is one line at once (not minutes of
    # the client's retries)
    env = {**os.environ, "PATH": str(path.parent)}
    env.pop("JAVA_HOME", None)
    import subprocess

    gone = subprocess.run(
        [sys.executable, "-m", "topshare", "revenue", str(path), "--engine", "spark",
         "--spark-master", url], env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert gone.returncode == 2
    assert gone.stderr.startswith(f"topshare: error: Spark Connect at {url} cannot be reached")
    assert gone.stderr.strip().count("\n") == 0

"""The demo data generator: reproducible bytes, the promised shape, and what topshare makes of it."""

from __future__ import annotations

import csv
import gzip
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

import topshare
from topshare import demo
from topshare.demo import DEMO_COLUMNS, DemoInfo

ROWS = 20_000
MONEY = re.compile(r"-?\d+\.\d{2}")
CUSTOMER_ID = re.compile(r"C\d{6}")


def read_lines(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == DEMO_COLUMNS
        return list(reader)


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoInfo:
    return demo.generate(tmp_path_factory.mktemp("demo") / "orders.csv.gz", ROWS)


@pytest.fixture(scope="module")
def lines(small: DemoInfo) -> list[dict[str, str]]:
    return read_lines(small.path)


@pytest.fixture(scope="module")
def analysis(small: DemoInfo) -> topshare.Analysis:
    return topshare.analyze(small.path, customer="customer_id", amount="amount", date="order_date")


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = demo.generate(tmp_path / "a.csv.gz", ROWS, seed=11)
    b = demo.generate(tmp_path / "b.csv.gz", ROWS, seed=11)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert (a.rows, a.seed, a.messy_rows, a.customers) == (
        b.rows,
        b.seed,
        b.messy_rows,
        b.customers,
    )


def test_another_seed_gives_other_bytes(tmp_path: Path) -> None:
    a = demo.generate(tmp_path / "a.csv.gz", ROWS, seed=11)
    b = demo.generate(tmp_path / "b.csv.gz", ROWS, seed=12)
    assert a.path.read_bytes() != b.path.read_bytes()


def test_file_is_gzip_csv_with_header(small: DemoInfo, lines: list[dict[str, str]]) -> None:
    assert small.path.read_bytes()[:2] == b"\x1f\x8b"
    with gzip.open(small.path, "rt", encoding="utf-8") as fh:
        assert fh.readline() == ",".join(DEMO_COLUMNS) + "\n"
    assert len(lines) == small.rows == ROWS
    assert small.seed == demo.DEFAULT_SEED


def test_amount_is_quantity_times_price_as_exact_text(lines: list[dict[str, str]]) -> None:
    checked = 0
    for row in lines:
        assert MONEY.fullmatch(row["unit_price"]), row
        if row["amount"] in ("", "N/A") or "," in row["amount"]:  # the broken ones
            continue
        assert MONEY.fullmatch(row["amount"]), row
        assert Decimal(row["amount"]) == int(row["quantity"]) * Decimal(row["unit_price"]), row
        checked += 1
    assert checked > 0.99 * len(lines)


def test_refunds_are_negative_lines_of_real_orders(lines: list[dict[str, str]]) -> None:
    by_id = {row["order_id"]: row for row in lines}
    refunds = [row for row in lines if row["amount"].startswith("-")]
    assert 0.02 <= len(refunds) / len(lines) <= 0.03
    for row in refunds:
        assert row["order_id"].endswith("-R")
        assert int(row["quantity"]) < 0
        original = by_id[row["order_id"].removesuffix("-R")]
        assert original["customer_id"] == row["customer_id"] != ""
        assert 0 < -int(row["quantity"]) <= int(original["quantity"])
        assert row["order_date"] >= original["order_date"]


def test_refunds_seen_by_the_engine(small: DemoInfo) -> None:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT count(*) FROM read_csv(?, all_varchar = true) "
            "WHERE TRY_CAST(trim(amount) AS DECIMAL(18, 2)) < 0",
            [str(small.path)],
        ).fetchall()
    finally:
        con.close()
    assert rows[0][0] > 0


def test_customer_ids_are_text_with_leading_zeros(
    small: DemoInfo, lines: list[dict[str, str]]
) -> None:
    ids = {row["customer_id"] for row in lines} - {""}
    assert len(ids) == small.customers
    assert all(CUSTOMER_ID.fullmatch(i) for i in ids)
    assert sum(i.startswith("C0") for i in ids) > len(ids) / 4
    names = {row["customer_name"] for row in lines}
    assert any("," in n for n in names)  # quoted in the file, read back whole


def test_calendar_and_dimensions(lines: list[dict[str, str]]) -> None:
    parsed = [parse_day(r["order_date"]) for r in lines]
    days = [d for d in parsed if d is not None]
    assert 0 < len(lines) - len(days) < 20  # the impossible dates
    assert min(days) >= date(2022, 1, 1)
    assert max(days) <= date(2024, 12, 31)
    by_quarter = Counter((d.month - 1) // 3 for d in days)
    assert by_quarter[3] > 1.2 * by_quarter[0]  # Q4 peak
    by_weekday = Counter(d.weekday() for d in days)
    assert by_weekday[6] < 0.6 * by_weekday[2]  # quiet Sundays
    assert len({r["region"] for r in lines}) == 5
    assert 4 <= len({r["product_line"] for r in lines}) <= 6
    assert len({r["channel"] for r in lines}) == 3


def test_every_kind_of_broken_line_is_there(small: DemoInfo, lines: list[dict[str, str]]) -> None:
    kinds = Counter(
        "customer" if row["customer_id"] == ""
        else "na" if row["amount"] == "N/A"
        else "empty" if row["amount"] == ""
        else "comma" if re.fullmatch(r"-?\d+,\d{2}", row["amount"])
        else "date" if parse_day(row["order_date"]) is None
        else "ok"
        for row in lines
    )  # fmt: skip
    assert set(kinds) == {"customer", "na", "empty", "comma", "date", "ok"}
    assert all(kinds[k] >= 3 for k in kinds)
    assert sum(kinds.values()) - kinds["ok"] == small.messy_rows


def test_topshare_rejects_exactly_the_messy_rows(
    small: DemoInfo, analysis: topshare.Analysis
) -> None:
    assert 20 <= small.messy_rows <= 50
    assert analysis.rows.read == small.rows
    assert analysis.rows.rejected == small.messy_rows
    assert analysis.rows.analysed == small.rows - small.messy_rows
    reasons = {r.reason: r.rows for r in analysis.rows.rejected_by_reason}
    assert set(reasons) == {"missing_entity", "missing_value", "bad_value", "bad_date"}
    assert analysis.money.reconciled
    assert analysis.money.in_ == analysis.money.analysed + analysis.money.rejected


def test_topshare_sees_a_heavy_tail(small: DemoInfo, analysis: topshare.Analysis) -> None:
    assert analysis.n_entities == small.customers
    assert analysis.top_n_share is not None
    assert 0.25 <= analysis.top_n_share <= 0.50
    assert analysis.top1_share is not None
    assert 0.06 <= analysis.top1_share <= 0.18
    assert analysis.gini is not None
    assert analysis.gini > 0.6
    assert analysis.negative.entities == 0
    assert all(CUSTOMER_ID.fullmatch(row.entity) for row in analysis.top)
    assert analysis.total > 0


def test_ensure_generates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cache" / "demo.csv.gz"
    first = demo.ensure(rows=2_000, seed=5, path=target)
    assert first.path == target
    assert target.is_file()
    assert [p.name for p in target.parent.iterdir()] == ["demo.csv.gz"]  # no temporary left

    def fail(*args: object, **kwargs: object) -> DemoInfo:
        raise AssertionError("generated again")

    monkeypatch.setattr(demo, "generate", fail)
    assert demo.ensure(rows=2_000, seed=5, path=target) == first


def test_ensure_leaves_nothing_behind_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> DemoInfo:
        raise OSError("disk full")

    monkeypatch.setattr(demo, "generate", fail)
    with pytest.raises(OSError, match="disk full"):
        demo.ensure(rows=2_000, path=tmp_path / "demo.csv.gz")
    assert list(tmp_path.iterdir()) == []


def test_ensure_reports_what_generate_reports(tmp_path: Path) -> None:
    made = demo.generate(tmp_path / "a.csv.gz", 3_000, seed=9)
    found = demo.ensure(3_000, seed=9, path=tmp_path / "b.csv.gz")
    assert (made.messy_rows, made.customers) == (found.messy_rows, found.customers)
    assert made.path.read_bytes() == found.path.read_bytes()


def test_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPSHARE_DEMO_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.default_path() == tmp_path / "own" / "demo-orders-1000000-s20240101.csv.gz"
    monkeypatch.delenv("TOPSHARE_DEMO_DIR")
    assert (
        demo.default_path(2_000, 7) == tmp_path / "xdg" / "topshare" / "demo-orders-2000-s7.csv.gz"
    )
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.default_path().parent == tmp_path / "home" / ".cache" / "topshare"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert demo.default_path().parent == tmp_path / "home" / ".cache" / "topshare"


def test_ensure_uses_the_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPSHARE_DEMO_DIR", str(tmp_path))
    info = demo.ensure(rows=2_000, seed=3)
    assert info.path == tmp_path / "demo-orders-2000-s3.csv.gz"
    assert info.path.is_file()


@pytest.mark.parametrize("rows", [0, 999, 2.5, True])
def test_bad_sizes_are_refused(tmp_path: Path, rows: float) -> None:
    with pytest.raises(ValueError, match="rows"):
        demo.generate(tmp_path / "x.csv.gz", rows)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        demo.generate(tmp_path / "x.csv.gz", 2_000, seed=-1)


@pytest.mark.slow
def test_default_size_has_the_promised_shape(tmp_path: Path) -> None:
    info = demo.generate(tmp_path / "orders.csv.gz")
    assert info.customers == 20_000
    con = duckdb.connect()
    try:
        con.execute(
            # trim(): DuckDB 2.0 pushes a bare TRY_CAST into the CSV reader, which then fails.
            "CREATE TABLE t AS SELECT customer_id, "
            "TRY_CAST(trim(amount) AS DECIMAL(18, 2)) AS amount, "
            "TRY_CAST(trim(order_date) AS DATE) AS day FROM read_csv(?, all_varchar = true)",
            [str(info.path)],
        )
        n, refunds, first, last = con.execute(
            "SELECT count(*), count(*) FILTER (amount < 0), min(day), max(day) FROM t"
        ).fetchall()[0]
        top1, top10, customers = con.execute(
            "WITH c AS (SELECT customer_id, sum(amount) AS v FROM t "
            "WHERE customer_id IS NOT NULL AND day IS NOT NULL GROUP BY ALL), "
            "r AS (SELECT v, row_number() OVER (ORDER BY v DESC) AS k FROM c) "
            "SELECT sum(v) FILTER (k = 1) / sum(v), sum(v) FILTER (k <= 10) / sum(v), count(*) "
            "FROM r"
        ).fetchall()[0]
    finally:
        con.close()
    assert n == 1_000_000
    assert 0.02 <= refunds / n <= 0.03
    assert (first, last) == (date(2022, 1, 1), date(2024, 12, 31))
    assert customers == 20_000
    assert 0.08 <= top1 <= 0.15
    assert 0.30 <= top10 <= 0.45

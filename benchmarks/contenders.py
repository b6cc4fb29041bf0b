"""The contenders: the same answers computed several ways, one per fresh process.

Case ``kpi`` (four contenders), on every file: per-customer net sums of the valid rows; the
total; the top-N customers (by net total, ties by customer id), their sum and share of the
total; HHI and Gini over the customers whose net total is >= 0; and the number of rejected rows
(empty customer, or an amount that is missing or not a number).

Case ``monthly`` (topshare and the hand-written DuckDB SQL): the same per calendar month of
``order_date`` (per (month, customer) net sums, month total, top N by ROW_NUMBER, its sum and
share, HHI points and Gini), and the churn of the top-N set between consecutive months: the
entered and left customers and the terms of the exact decomposition of the change in top-N
share, ``change = entered - left + stayed``. A row without a valid date is rejected too.

Run by ``run.py`` as a child process::

    python benchmarks/contenders.py CONTENDER FORMAT PATH [--top 10] [--case kpi|monthly]

It prints one JSON line: the wall time of the work (imports excluded and reported apart), the
process's own peak RSS, and the answers, which the runner compares across contenders.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any


@dataclass
class Outcome:
    """The answers, money in exact integer cents, so contenders compare to the cent."""

    n_customers: int
    total_cents: int
    top_sum_cents: int
    top_share: float | None
    hhi: float | None
    gini: float | None
    rejected: int
    top_ids: list[str]


Worker = Callable[[str, str, int], Outcome]


@dataclass
class ShareChange:
    """Top-N share of a month minus the previous month's, and its decomposition
    ``total = entered - left + stayed``; every term None when either month's total is not > 0."""

    total: float | None
    entered: float | None
    left: float | None
    stayed: float | None


@dataclass
class Month:
    """One calendar month of the ``monthly`` case (money in exact integer cents)."""

    month: str  # first day, ISO: 2023-01-01
    total_cents: int
    n_customers: int
    top_sum_cents: int
    top_share: float | None
    hhi_points: float | None
    gini: float | None
    top_ids: list[str]
    entered: list[str] | None  # None for the first month (no previous one to compare with)
    left: list[str] | None
    share_change: ShareChange | None


@dataclass
class MonthlyOutcome:
    rejected: int
    months: list[Month]


MonthlyWorker = Callable[[str, str, int], MonthlyOutcome]


def _cents(value: Decimal) -> int:
    """Exact cents of a Decimal; refuses a value with a fraction of a cent."""
    cents = value.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{value} is not a whole number of cents")
    return int(cents)


def _indices(cents: Any) -> tuple[float | None, float | None]:
    """HHI and Gini (numpy, float64 shares) over the totals >= 0, from integer cents."""
    import numpy as np

    pop = np.sort(cents[cents >= 0])
    n = int(pop.size)
    total = int(pop.sum(dtype=np.int64))
    if n == 0 or total <= 0:
        return None, None
    s = pop.astype(np.float64) / float(total)
    hhi = float(np.sum(s * s))
    i = np.arange(1, n + 1, dtype=np.float64)
    gini = float(2.0 * np.sum(i * s) / n - (n + 1.0) / n)
    return hhi, gini


# --- topshare ----------------------------------------------------------------------------------


def load_topshare() -> Worker:
    import topshare

    def work(path: str, fmt: str, top: int) -> Outcome:
        # date=False: the task has no date check (left on, topshare would also detect
        # order_date and validate every row's date, work the other contenders do not do).
        r = topshare.analyze(path, customer="customer_id", amount="amount", date=False, top=top)
        return Outcome(
            n_customers=r.n_entities,
            total_cents=_cents(r.total),
            top_sum_cents=_cents(r.top_n_sum),
            top_share=r.top_n_share,
            hhi=r.hhi,
            gini=r.gini,
            rejected=r.rows.rejected,
            top_ids=[row.entity for row in r.top],
        )

    return work


def load_topshare_monthly() -> MonthlyWorker:
    import topshare

    def work(path: str, fmt: str, top: int) -> MonthlyOutcome:
        r = topshare.analyze(
            path,
            customer="customer_id",
            amount="amount",
            date="order_date",
            top=top,
            period="month",
        )
        assert r.periods is not None
        months = []
        for p in r.periods:
            sc = p.share_change
            months.append(
                Month(
                    month=p.period.isoformat(),
                    total_cents=_cents(p.total),
                    n_customers=p.n_entities,
                    top_sum_cents=_cents(p.top_n_sum),
                    top_share=p.top_n_share,
                    hhi_points=p.hhi_points,
                    gini=p.gini,
                    top_ids=[row.entity for row in p.top],
                    entered=None if p.entered is None else [m.entity for m in p.entered],
                    left=None if p.left is None else [m.entity for m in p.left],
                    share_change=(
                        None
                        if p.entered is None
                        else ShareChange(
                            sc.total if sc else None,
                            sc.entered if sc else None,
                            sc.left if sc else None,
                            sc.stayed if sc else None,
                        )
                    ),
                )
            )
        return MonthlyOutcome(rejected=r.rows.rejected, months=months)

    return work


# --- hand-written DuckDB SQL --------------------------------------------------------------------

DUCKDB_SQL = """
WITH src AS (
    SELECT customer_id AS c, TRY_CAST({amount} AS DECIMAL(38, 6)) AS v
    FROM {reader}
),
flagged AS (
    SELECT c, v, (c IS NULL OR trim(c) = '' OR v IS NULL) AS bad FROM src
),
grouped AS MATERIALIZED (  -- the one scan: valid rows per customer, rejected rows in one group
    SELECT CASE WHEN bad THEN NULL ELSE c END AS c, bad, sum(v) AS total, count(*) AS n_rows
    FROM flagged
    GROUP BY ALL
),
per AS (SELECT c, total FROM grouped WHERE NOT bad),
top_n AS (SELECT c, total FROM per ORDER BY total DESC, c LIMIT {top}),
pop AS (
    SELECT
        total::DOUBLE / sum(total::DOUBLE) OVER () AS s,
        row_number() OVER (ORDER BY total) AS i,
        count(*) OVER () AS n
    FROM per
    WHERE total >= 0
)
SELECT
    (SELECT count(*) FROM per) AS n_customers,
    (SELECT sum(total) FROM per) AS total,
    (SELECT sum(total) FROM top_n) AS top_sum,
    (SELECT list(c ORDER BY total DESC, c) FROM top_n) AS top_ids,
    (SELECT sum(s * s) FROM pop) AS hhi,
    (SELECT 2.0 * sum(i * s) / max(n) - (max(n) + 1.0) / max(n) FROM pop) AS gini,
    (SELECT coalesce(sum(n_rows), 0) FROM grouped WHERE bad) AS rejected
"""


def _duckdb_connect() -> Any:
    """A DuckDB connection, with the memory limit and spill directory ``billion.py`` gives
    (``BENCH_DUCKDB_MEMORY_LIMIT``, ``BENCH_DUCKDB_SPILL_DIR``; unset: DuckDB's defaults)."""
    import duckdb

    con = duckdb.connect()
    if os.environ.get("BENCH_DUCKDB_SPILL_DIR"):
        con.execute("SET temp_directory = ?", [os.environ["BENCH_DUCKDB_SPILL_DIR"]])
    if os.environ.get("BENCH_DUCKDB_MEMORY_LIMIT"):
        con.execute("SET memory_limit = ?", [os.environ["BENCH_DUCKDB_MEMORY_LIMIT"]])
    return con


def load_duckdb_sql() -> Worker:
    import duckdb  # noqa: F401 - imported before the clock starts

    def work(path: str, fmt: str, top: int) -> Outcome:
        quoted = "'" + path.replace("'", "''") + "'"
        if fmt == "csv":  # every column as text; the amount is parsed (and checked) here
            reader = f"read_csv({quoted}, all_varchar = true, header = true)"
            amount = "trim(amount)"
        else:  # typed columns: the DECIMAL amount is only widened
            reader, amount = f"read_parquet({quoted})", "amount"
        con = _duckdb_connect()
        sql = DUCKDB_SQL.format(reader=reader, amount=amount, top=int(top))
        row = con.execute(sql).fetchone()
        con.close()
        assert row is not None
        n, total, top_sum, top_ids, hhi, gini, rejected = row
        total_c = _cents(total)
        top_c = _cents(top_sum)
        return Outcome(
            n_customers=int(n),
            total_cents=total_c,
            top_sum_cents=top_c,
            top_share=top_c / total_c if total_c > 0 else None,
            hhi=float(hhi) if hhi is not None else None,
            gini=float(gini) if gini is not None else None,
            rejected=int(rejected),
            top_ids=list(top_ids),
        )

    return work


# The monthly case in one query. The rejection rules of DUCKDB_SQL, plus a date that is missing
# or not a date (the row cannot be put in a month). Gini needs each customer's ascending rank
# among the customers with net >= 0 of its month: in the descending ROW_NUMBER order every such
# customer comes before every negative one, so that rank is pop_n + 1 - r (one window sort for
# both the top N and Gini; ties have equal values, so their order does not change the sum).
DUCKDB_MONTHLY_SQL = """
WITH src AS (
    SELECT customer_id AS c, TRY_CAST({amount} AS DECIMAL(38, 6)) AS v, {day} AS d
    FROM {reader}
),
flagged AS (
    SELECT c, v, d, (c IS NULL OR trim(c) = '' OR v IS NULL OR d IS NULL) AS bad FROM src
),
cells AS MATERIALIZED (  -- the one scan: valid rows per (month, customer), rejected in one group
    SELECT
        CASE WHEN bad THEN NULL ELSE date_trunc('month', d)::DATE END AS m,
        CASE WHEN bad THEN NULL ELSE c END AS c,
        bad,
        sum(v) AS x,
        count(*) AS n_rows
    FROM flagged
    GROUP BY ALL
),
per AS (SELECT m, c, x FROM cells WHERE NOT bad),
months AS (  -- every month from the first to the last, a month without rows included
    SELECT unnest(generate_series(min(m), max(m), INTERVAL 1 MONTH))::DATE AS m FROM per
),
stats AS (
    SELECT
        m,
        sum(x) AS total,
        count(*) AS n_customers,
        sum(x) FILTER (WHERE x >= 0) AS pop_sum,
        count(*) FILTER (WHERE x >= 0) AS pop_n
    FROM per
    GROUP BY m
),
ranked AS (
    SELECT m, c, x, row_number() OVER (PARTITION BY m ORDER BY x DESC, c) AS r FROM per
),
indices AS (
    SELECT
        k.m,
        10000.0 * sum((k.x::DOUBLE / s.pop_sum::DOUBLE) ** 2) AS hhi_points,
        2.0 * sum((s.pop_n + 1 - k.r) * (k.x::DOUBLE / s.pop_sum::DOUBLE)) / max(s.pop_n)
            - (max(s.pop_n) + 1.0) / max(s.pop_n) AS gini
    FROM ranked AS k
    JOIN stats AS s USING (m)
    WHERE k.x >= 0 AND s.pop_sum > 0
    GROUP BY k.m
),
top_n AS (SELECT m, c, x, r FROM ranked WHERE r <= {top}),
tops AS (SELECT m, sum(x) AS top_sum, list(c ORDER BY r) AS top_ids FROM top_n GROUP BY m),
series AS (
    SELECT
        n.m,
        coalesce(s.total, 0) AS total,
        coalesce(s.n_customers, 0) AS n_customers,
        coalesce(t.top_sum, 0) AS top_sum,
        coalesce(t.top_ids, []) AS top_ids
    FROM months AS n
    LEFT JOIN stats AS s USING (m)
    LEFT JOIN tops AS t USING (m)
),
steps AS (
    SELECT *, lag(m) OVER w AS pm, lag(total) OVER w AS ptotal, lag(top_sum) OVER w AS ptop_sum
    FROM series
    WINDOW w AS (ORDER BY m)
),
now_top AS (
    SELECT q.m, t.c, t.x, t.r FROM steps AS q JOIN top_n AS t ON t.m = q.m WHERE q.pm IS NOT NULL
),
before_top AS (SELECT q.m, t.c, t.x, t.r FROM steps AS q JOIN top_n AS t ON t.m = q.pm),
moves AS (
    SELECT
        coalesce(a.m, b.m) AS m,
        coalesce(a.c, b.c) AS c,
        a.x AS x_now,
        a.r AS r_now,
        b.x AS x_before,
        b.r AS r_before
    FROM now_top AS a
    FULL JOIN before_top AS b ON a.m = b.m AND a.c = b.c
),
churn AS (
    SELECT
        m,
        list(c ORDER BY r_now) FILTER (WHERE r_before IS NULL) AS entered,
        list(c ORDER BY r_before) FILTER (WHERE r_now IS NULL) AS left_,
        coalesce(sum(x_now) FILTER (WHERE r_before IS NULL), 0) AS entered_sum,
        coalesce(sum(x_before) FILTER (WHERE r_now IS NULL), 0) AS left_sum,
        coalesce(sum(x_now) FILTER (WHERE r_before IS NOT NULL AND r_now IS NOT NULL), 0)
            AS stayed_now,
        coalesce(sum(x_before) FILTER (WHERE r_before IS NOT NULL AND r_now IS NOT NULL), 0)
            AS stayed_before
    FROM moves
    GROUP BY m
)
SELECT
    q.m,
    q.total,
    q.n_customers,
    q.top_sum,
    q.top_ids,
    CASE WHEN q.total > 0 THEN q.top_sum::DOUBLE / q.total::DOUBLE END AS top_share,
    i.hhi_points,
    i.gini,
    q.pm IS NOT NULL AS has_previous,
    coalesce(h.entered, []) AS entered,
    coalesce(h.left_, []) AS left_,
    CASE WHEN q.total > 0 AND q.ptotal > 0 THEN
        q.top_sum::DOUBLE / q.total::DOUBLE - q.ptop_sum::DOUBLE / q.ptotal::DOUBLE
    END AS change,
    CASE WHEN q.total > 0 AND q.ptotal > 0 THEN
        coalesce(h.entered_sum, 0)::DOUBLE / q.total::DOUBLE
    END AS change_entered,
    CASE WHEN q.total > 0 AND q.ptotal > 0 THEN
        coalesce(h.left_sum, 0)::DOUBLE / q.ptotal::DOUBLE
    END AS change_left,
    CASE WHEN q.total > 0 AND q.ptotal > 0 THEN
        coalesce(h.stayed_now, 0)::DOUBLE / q.total::DOUBLE
            - coalesce(h.stayed_before, 0)::DOUBLE / q.ptotal::DOUBLE
    END AS change_stayed,
    (SELECT coalesce(sum(n_rows), 0) FROM cells WHERE bad) AS rejected
FROM steps AS q
LEFT JOIN indices AS i USING (m)
LEFT JOIN churn AS h USING (m)
ORDER BY q.m
"""


def _duckdb_reader(path: str, fmt: str) -> tuple[str, str, str]:
    """The DuckDB table function for the file, and the amount and day expressions."""
    quoted = "'" + path.replace("'", "''") + "'"
    if fmt == "csv":  # every column as text; the amount and the date are parsed (and checked)
        reader = f"read_csv({quoted}, all_varchar = true, header = true)"
        return reader, "trim(amount)", "TRY_CAST(trim(order_date) AS DATE)"
    return f"read_parquet({quoted})", "amount", "order_date"  # typed: DECIMAL(18, 2), DATE


def load_duckdb_sql_monthly() -> MonthlyWorker:
    import duckdb  # noqa: F401 - imported before the clock starts

    def _float(v: Any) -> float | None:
        return None if v is None else float(v)

    def work(path: str, fmt: str, top: int) -> MonthlyOutcome:
        reader, amount, day = _duckdb_reader(path, fmt)
        con = _duckdb_connect()
        sql = DUCKDB_MONTHLY_SQL.format(reader=reader, amount=amount, day=day, top=int(top))
        rows = con.execute(sql).fetchall()
        con.close()
        months = []
        for m, total, n, top_sum, ids, top_share, hhi, gini, has_prev, ent, left, *rest in rows:
            change, d_entered, d_left, d_stayed, _ = rest
            months.append(
                Month(
                    month=m.isoformat(),
                    total_cents=_cents(total),
                    n_customers=int(n),
                    top_sum_cents=_cents(top_sum),
                    top_share=_float(top_share),
                    hhi_points=_float(hhi),
                    gini=_float(gini),
                    top_ids=list(ids),
                    entered=list(ent) if has_prev else None,
                    left=list(left) if has_prev else None,
                    share_change=(
                        ShareChange(
                            _float(change), _float(d_entered), _float(d_left), _float(d_stayed)
                        )
                        if has_prev
                        else None
                    ),
                )
            )
        rejected = int(rows[0][-1]) if rows else 0
        return MonthlyOutcome(rejected=rejected, months=months)

    return work


# --- pandas ------------------------------------------------------------------------------------


def load_pandas() -> Worker:
    import numpy as np
    import pandas as pd

    def work(path: str, fmt: str, top: int) -> Outcome:
        cols = ["customer_id", "amount"]
        if fmt == "csv":
            df = pd.read_csv(path, usecols=cols, dtype={"customer_id": str, "amount": str})
        else:
            df = pd.read_parquet(path, columns=cols)
        customer = df["customer_id"]
        amount = pd.to_numeric(df["amount"], errors="coerce")
        ok = customer.notna() & (customer.str.strip() != "") & amount.notna()
        rejected = int((~ok).sum())
        per = amount[ok].groupby(customer[ok], sort=False).sum()
        # float64 sums of cent amounts are within a tiny fraction of a cent: round per customer
        cents = pd.Series(np.rint(per.to_numpy() * 100.0).astype(np.int64), index=per.index)
        ranked = sorted(cents.nlargest(top, keep="all").items(), key=lambda kv: (-kv[1], kv[0]))
        best = ranked[:top]  # ties at the boundary broken by customer id, as in the others
        total_c = int(cents.sum())
        top_c = sum(int(v) for _, v in best)
        hhi, gini = _indices(cents.to_numpy())
        return Outcome(
            n_customers=len(per),
            total_cents=total_c,
            top_sum_cents=top_c,
            top_share=top_c / total_c if total_c > 0 else None,
            hhi=hhi,
            gini=gini,
            rejected=rejected,
            top_ids=[str(k) for k, _ in best],
        )

    return work


# --- polars ------------------------------------------------------------------------------------


def load_polars() -> Worker:
    import numpy as np
    import polars as pl

    def work(path: str, fmt: str, top: int) -> Outcome:
        # CSV: every column as text, like the others; Parquet: the file's own types
        lf = pl.scan_csv(path, infer_schema=False) if fmt == "csv" else pl.scan_parquet(path)
        amount = pl.col("amount").str.strip_chars() if fmt == "csv" else pl.col("amount")
        rows = lf.select(
            pl.col("customer_id").alias("c"),
            amount.cast(pl.Float64, strict=False).alias("v"),
        ).with_columns(
            bad=pl.col("c").is_null()
            | (pl.col("c").str.strip_chars() == "")
            | pl.col("v").is_null()
        )
        per_q = (
            rows.filter(~pl.col("bad"))
            .group_by("c")
            .agg(pl.col("v").sum())
            .with_columns(cents=(pl.col("v") * 100.0).round(0).cast(pl.Int64))
        )
        rej_q = rows.select(pl.col("bad").sum().alias("rejected"))
        per, rej = pl.collect_all([per_q, rej_q])
        best = per.sort(["cents", "c"], descending=[True, False]).head(top)
        cents = per["cents"].to_numpy()
        total_c = int(np.sum(cents, dtype=np.int64))
        top_c = int(best["cents"].sum())
        hhi, gini = _indices(cents)
        return Outcome(
            n_customers=per.height,
            total_cents=total_c,
            top_sum_cents=top_c,
            top_share=top_c / total_c if total_c > 0 else None,
            hhi=hhi,
            gini=gini,
            rejected=int(rej["rejected"][0]),
            top_ids=[str(c) for c in best["c"].to_list()],
        )

    return work


CONTENDERS: dict[str, Callable[[], Worker]] = {
    "topshare": load_topshare,
    "duckdb_sql": load_duckdb_sql,
    "pandas": load_pandas,
    "polars": load_polars,
}
MONTHLY_CONTENDERS: dict[str, Callable[[], MonthlyWorker]] = {
    "topshare": load_topshare_monthly,
    "duckdb_sql": load_duckdb_sql_monthly,
}
CASES: dict[str, dict[str, Callable[[], Callable[[str, str, int], Any]]]] = {
    "kpi": dict(CONTENDERS),
    "monthly": dict(MONTHLY_CONTENDERS),
}


def _rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    On Linux, ``VmHWM`` of ``/proc/self/status``: the peak of this program's own memory.
    ``ru_maxrss`` is not used there because it carries over the parent's peak across the
    fork and exec that started this child (after ``run.py`` generated the data, every child
    reported the generator's 1.4 GB); it remains the fallback elsewhere (Linux: KiB, macOS:
    bytes)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 1024.0 / 1024.0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Run one contender once and print one JSON line.")
    p.add_argument("contender", choices=sorted(CONTENDERS))
    p.add_argument("format", choices=["csv", "parquet"])
    p.add_argument("path")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--case", choices=sorted(CASES), default="kpi")
    args = p.parse_args(argv)
    if args.contender not in CASES[args.case]:
        p.error(f"no {args.contender} contender for case {args.case}")

    t0 = time.perf_counter()
    work = CASES[args.case][args.contender]()
    import_s = time.perf_counter() - t0
    rss_import = _rss_mb()
    t1 = time.perf_counter()
    outcome = work(args.path, args.format, args.top)
    seconds = time.perf_counter() - t1
    report = {
        "case": args.case,
        "contender": args.contender,
        "format": args.format,
        "seconds": seconds,
        "import_seconds": import_s,
        "peak_rss_mb": _rss_mb(),
        "rss_after_import_mb": rss_import,
        **asdict(outcome),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

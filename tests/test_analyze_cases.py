"""End to end through ``topshare.analyze`` on small files, with the expected values worked out by
hand in each test (arithmetic in the comments): ranking, ties, zeros, negatives, rejections."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import topshare
from cases import D, close, csv, run, top_pairs

# --- ranking and ties ---------------------------------------------------------------------------


def test_tie_at_boundary_broken_by_key_ascending(tmp_path: Path) -> None:
    # totals A 10, C 5, B 5, D 1 (C is written first); ranking: A, then B before C (key
    # ascending), then D. N = 2: ranks 2 (B, 5) and 3 (C, 5) are equal → tie_at_boundary.
    path = csv(tmp_path, "customer,amount\nC,5\nA,10\nD,1\nB,2\nB,3\n")
    r = run(path, top=2)
    assert [(t.rank, t.entity, t.value) for t in r.top] == [(1, "A", D(10)), (2, "B", D(5))]
    assert r.tie_at_boundary is True
    assert any("tie" in w or "same total" in w for w in r.warnings)
    # Others: C + D = 6 of T = 21 → 2 entities
    assert (r.others.entities, r.others.value) == (2, D(6))
    assert close(r.others.share, 6 / 21)
    assert r.top_n_sum == D(15)
    assert close(r.top_n_share, 15 / 21)
    # N = 1 and N = 3: 10 ≠ 5 and 5 ≠ 1, no tie
    assert run(path, top=1).tie_at_boundary is False
    r3 = run(path, top=3)
    assert r3.tie_at_boundary is False
    assert [t.entity for t in r3.top] == ["A", "B", "C"]


def test_tie_order_is_by_key_text(tmp_path: Path) -> None:
    # all equal: the ranking is the key order, '00042' < '042' < '42' < 'B' < 'a' (text)
    path = csv(tmp_path, "customer,amount\na,1\n42,1\nB,1\n042,1\n00042,1\n")
    r = run(path, top=3)
    assert [t.entity for t in r.top] == ["00042", "042", "42"]
    assert r.tie_at_boundary is True
    # equal shares: HHI = 5·(1/5)² = 0.2, Gini 0, normalized HHI 0
    assert close(r.hhi, 0.2)
    assert close(r.gini, 0.0)
    assert close(r.hhi_normalized, 0.0)


def test_abc_and_major(tmp_path: Path) -> None:
    # 50, 25, 10, 9, 5, 1 of T = 100; cumulative before: 0, .50, .75, .85, .94, .99
    # → A, A, A, B, B, C; major = share ≥ 10 %: 50, 25 and exactly 10 → True; 9 → False
    path = csv(tmp_path, "customer,amount\nU,1\nV,5\nW,9\nX,10\nY,25\nZ,50\n")
    r = run(path)
    assert [t.entity for t in r.top] == ["Z", "Y", "X", "W", "V", "U"]
    assert [t.abc for t in r.top] == ["A", "A", "A", "B", "B", "C"]
    assert [t.major for t in r.top] == [True, True, True, False, False, False]
    assert [m.entity for m in r.major] == ["Z", "Y", "X"]
    cumulative = [0.50, 0.75, 0.85, 0.94, 0.99, 1.0]
    for row, c in zip(r.top, cumulative, strict=True):
        assert close(row.cumulative_share, c)
    # Pareto: 0.8·100 = 80; top sums 50, 75, 85 → k = 3 of 6
    assert r.pareto.k == 3
    assert close(r.pareto.fraction, 0.5)
    # CR_1 = 50, CR_4 = 94, CR_10 = CR_20 = 100 (k > n: all entities)
    assert [(c.k, c.sum) for c in r.cr] == [(1, D(50)), (4, D(94)), (10, D(100)), (20, D(100))]
    # HHI = (2500 + 625 + 100 + 81 + 25 + 1)/10,000 = 3332/10,000 → 3,332 points, highly
    assert close(r.hhi, 0.3332)
    assert r.hhi_band == "highly concentrated"


# --- zeros, negatives, refunds ------------------------------------------------------------------


def test_zero_and_negative_customers(tmp_path: Path) -> None:
    # A 100; B 10 − 10 = 0; C −30; D 50. T = 100 + 0 − 30 + 50 = 120 (net: refunds count).
    # Index population: A, B, D (x ≥ 0, the zero counts), P = 150; C is reported as negative.
    path = csv(tmp_path, "customer,amount\nA,100\nB,10\nC,-30\nB,-10\nD,50\n")
    r = run(path)
    assert r.total == D(120)
    assert r.n_entities == 4
    assert [(t.entity, t.value) for t in r.top] == [
        ("A", D(100)),
        ("D", D(50)),
        ("B", D(0)),
        ("C", D(-30)),
    ]
    assert (r.index_population.entities, r.index_population.sum) == (3, D(150))
    assert (r.negative.entities, r.negative.sum) == (1, D(-30))
    assert [(e.entity, e.value) for e in r.negative.most_negative] == [("C", D(-30))]
    assert close(r.negative.most_negative[0].share, -30 / 120)
    assert any("negative" in w for w in r.warnings)
    # HHI over P: (100² + 0² + 50²)/150² = 12,500/22,500 = 5/9
    assert close(r.hhi, 5 / 9)
    # Gini: ascending 0, 50, 100; Σ i·x = 0 + 100 + 300 = 400; 2·400/(3·150) − 4/3 = 4/9
    assert close(r.gini, 4 / 9)
    # Pareto over P: 0.8·150 = 120; top sums 100, 150 → k = 2 of 3
    assert r.pareto.k == 2
    assert close(r.pareto.fraction, 2 / 3)
    # shares are of T: 100/120, cumulative 100/120, 150/120, 150/120, 120/120
    assert close(r.top[0].share, 100 / 120)
    assert close(r.top[-1].cumulative_share, 1.0)
    assert r.top_n_sum == D(120)


def test_refunds_net_out(tmp_path: Path) -> None:
    # A 100 − 100 = 0; B 50 − 20 = 30; C 10 → T = 40, three entities (A has a zero total: it
    # transacted, so it counts in n and in the index population)
    path = csv(tmp_path, "customer,amount\nA,100.00\nB,50.00\nA,-100.00\nC,10.00\nB,-20.00\n")
    r = run(path)
    assert r.total == D("40.00")
    assert top_pairs(r) == [("B", D(30)), ("C", D(10)), ("A", D(0))]
    assert r.negative.entities == 0
    assert (r.index_population.entities, r.index_population.sum) == (3, D(40))
    # Gini: ascending 0, 10, 30; Σ i·x = 0 + 20 + 90 = 110; 2·110/(3·40) − 4/3 = 11/6 − 8/6 = 1/2
    assert close(r.gini, 0.5)
    assert r.rows.analysed == 5


def test_zero_total_gives_null_shares(tmp_path: Path) -> None:
    # T = 10 − 10 = 0: every share of T is undefined (None/null, never NaN)
    path = csv(tmp_path, "customer,amount\nA,10\nB,-10\n")
    r = run(path)
    assert r.total == D(0)
    assert r.top_n_share is None
    assert all(t.share is None and t.cumulative_share is None for t in r.top)
    assert all(t.abc is None and t.major is False for t in r.top)
    assert r.others.share is None
    assert all(c.share is None for c in r.cr)
    assert r.major == []
    assert any("not positive" in w for w in r.warnings)
    # the index population is A alone (P = 10): its indices are defined
    assert r.index_population.entities == 1
    assert r.hhi == 1.0
    assert "NaN" not in r.to_json()


def test_all_zero_gives_null_indices(tmp_path: Path) -> None:
    path = csv(tmp_path, "customer,amount\nA,0\nB,0.00\n")
    r = run(path)
    assert r.total == D(0)
    assert r.n_entities == 2
    assert r.index_population.entities == 2
    for value in (
        r.hhi,
        r.hhi_points,
        r.hhi_normalized,
        r.hhi_band,
        r.effective_number,
        r.gini,
        r.gini_corrected,
        r.theil,
        r.entropy.shannon,
        r.entropy.normalized,
        r.entropy.exp,
        r.pareto.k,
        r.pareto.fraction,
        r.top_n_share,
    ):
        assert value is None
    assert r.lorenz == []
    text = r.to_json()
    assert "NaN" not in text
    assert "Infinity" not in text


# --- one customer, N > n ------------------------------------------------------------------------


def test_one_customer(tmp_path: Path) -> None:
    path = csv(tmp_path, "customer,amount\nA,10.00\nA,5.50\n")
    r = run(path)
    assert r.total == D("15.50")
    assert r.n_entities == 1
    assert [(t.rank, t.entity, t.value, t.share, t.abc, t.major) for t in r.top] == [
        (1, "A", D("15.50"), 1.0, "A", True)
    ]
    assert r.hhi == 1.0
    assert r.hhi_points == 10_000.0
    assert r.hhi_normalized is None
    assert r.hhi_band == "highly concentrated"
    assert r.effective_number == 1.0
    assert r.gini == 0.0
    assert r.gini_corrected is None
    assert r.theil == 0.0
    assert r.entropy.shannon == 0.0
    assert r.entropy.normalized is None
    assert r.entropy.exp == 1.0
    assert (r.pareto.k, r.pareto.fraction) == (1, 1.0)
    assert [tuple(p) for p in r.lorenz] == [(0.0, 0.0), (1.0, 1.0)]
    assert (r.others.entities, r.others.value) == (0, D(0))
    assert r.tie_at_boundary is False


def test_top_n_larger_than_n(tmp_path: Path) -> None:
    # n = 3 < N = 10: the top lists all three, S_N = T, share 1, Others has 0 entities and 0
    path = csv(tmp_path, "customer,amount\nA,3\nB,2\nC,1\n")
    r = run(path, top=10)
    assert [t.rank for t in r.top] == [1, 2, 3]
    assert r.top_n == 10
    assert r.top_n_sum == r.total == D(6)
    assert r.top_n_share == 1.0
    assert (r.others.entities, r.others.value, r.others.share) == (0, D(0), 0.0)
    assert r.tie_at_boundary is False
    assert [(c.k, c.sum) for c in r.cr] == [(1, D(3)), (4, D(6)), (10, D(6)), (20, D(6))]
    # the top rows and the Others row add up to T
    assert sum((t.value for t in r.top), D(0)) + r.others.value == r.total
    frame = r.top_frame()
    assert len(frame) == 3  # no Others row when it holds no entity


def test_others_row_adds_up(tmp_path: Path) -> None:
    # 12 customers C01..C12 with totals 1..12 (T = 78); top 10 = 12 + 11 + ... + 3 = 75;
    # Others = 1 + 2 = 3 over 2 entities
    body = "".join(f"C{i:02d},{i}\n" for i in range(1, 13))
    r = run(csv(tmp_path, "customer,amount\n" + body))
    assert r.total == D(78)
    assert r.top_n_sum == D(75)
    assert (r.others.entities, r.others.value) == (2, D(3))
    assert close(r.others.share, 3 / 78)
    assert sum((t.value for t in r.top), D(0)) + r.others.value == r.total
    frame = r.top_frame()
    assert len(frame) == 11
    assert frame["value"].sum() == D(78)


# --- keys and rejected rows ---------------------------------------------------------------------


def test_leading_zeros_preserved(tmp_path: Path) -> None:
    # '00042', '42' and '042' are three customers: 00042 = 10 + 1 = 11, 42 = 20, 042 = 5
    path = csv(tmp_path, "customer,amount\n00042,10\n42,20\n042,5\n00042,1\n")
    r = run(path)
    assert r.n_entities == 3
    assert top_pairs(r) == [("42", D(20)), ("00042", D(11)), ("042", D(5))]


def test_empty_customer_rejected(tmp_path: Path) -> None:
    # lines 3, 5, 6 have no customer (empty, quoted empty, spaces): rejected, their amounts
    # (1.25 + 2.50 + 4.00 = 7.75) counted as rejected money. Line 7 has no amount.
    path = csv(
        tmp_path,
        'customer,amount\nA,10.00\n,1.25\nB,5.00\n"",2.50\n   ,4.00\nC,\nC,3.00\n',
    )
    r = run(path)
    assert r.total == D("18.00")  # 10 + 5 + 3
    assert r.n_entities == 3
    assert (r.rows.read, r.rows.analysed, r.rows.rejected) == (7, 3, 4)
    by = {x.reason: x for x in r.rows.rejected_by_reason}
    assert set(by) == {"missing_entity", "missing_value"}
    assert (by["missing_entity"].rows, by["missing_entity"].amount) == (3, D("7.75"))
    assert by["missing_entity"].unreadable == 0
    assert [e.line for e in by["missing_entity"].examples] == [3, 5, 6]
    assert (by["missing_value"].rows, by["missing_value"].amount) == (1, None)
    assert by["missing_value"].unreadable == 1
    assert [(e.line, e.entity) for e in by["missing_value"].examples] == [(7, "C")]
    # money in = analysed + rejected: 25.75 = 18.00 + 7.75
    assert r.money.in_ == D("25.75")
    assert r.money.analysed == D("18.00")
    assert r.money.rejected == D("7.75")
    assert r.money.unreadable_rows == 1
    assert r.money.reconciled is True


def test_money_reconciles_to_the_cent(tmp_path: Path) -> None:
    # valid: A 0.10 + 0.20, B 1234.56, C −0.01 → T = 1234.85
    # rejected with a readable amount: missing customer 0.03; bad date 100.01; empty date 0.07
    # rejected, amount unreadable: 'abc' (bad_value), '1.0000001' (too_precise)
    text = (
        "customer,amount,date\n"
        "A,0.10,2024-01-01\n"  # 2
        "B,1234.56,2024-01-02\n"  # 3
        ",0.03,2024-01-03\n"  # 4 missing_entity
        "A,0.20,2024-01-04\n"  # 5
        "D,abc,2024-01-05\n"  # 6 bad_value
        "E,100.01,31/02/2024\n"  # 7 bad_date
        "F,1.0000001,2024-01-06\n"  # 8 too_precise
        "C,-0.01,2024-01-07\n"  # 9
        "G,0.07,\n"  # 10 missing_date
    )
    r = run(csv(tmp_path, text))
    assert r.total == D("1234.85")
    assert (r.rows.read, r.rows.analysed, r.rows.rejected) == (9, 4, 5)
    by = {x.reason: (x.rows, x.amount, x.unreadable) for x in r.rows.rejected_by_reason}
    assert by == {
        "missing_entity": (1, D("0.03"), 0),
        "bad_value": (1, None, 1),
        "too_precise": (1, None, 1),
        "missing_date": (1, D("0.07"), 0),
        "bad_date": (1, D("100.01"), 0),
    }
    # in order of the checks
    assert [x.reason for x in r.rows.rejected_by_reason] == [
        "missing_entity",
        "bad_value",
        "too_precise",
        "missing_date",
        "bad_date",
    ]
    lines = {x.reason: [e.line for e in x.examples] for x in r.rows.rejected_by_reason}
    assert lines == {
        "missing_entity": [4],
        "bad_value": [6],
        "too_precise": [8],
        "missing_date": [10],
        "bad_date": [7],
    }
    # in = 1234.85 + 0.03 + 0.07 + 100.01 = 1334.96
    assert r.money.in_ == D("1334.96")
    assert r.money.rejected == D("100.11")
    assert r.money.in_ == r.money.analysed + r.money.rejected
    assert r.money.unreadable_rows == 2
    assert r.money.reconciled is True
    # the date range covers the valid rows only
    assert r.date_range is not None
    assert (r.date_range.first.day, r.date_range.last.day) == (1, 7)


def test_too_precise_is_decided_by_the_digits_whatever_the_size(tmp_path: Path) -> None:
    # 21 integer digits and 7 decimals: rounded at 6 places -> too_precise (it used to stop the
    # whole query: the finer cast it was compared with overflowed). Trailing zeros beyond the
    # sixth place and formatted amounts count by their digits too.
    text = (
        "customer,amount\n"
        "A,123456789012345678901.1234567\n"  # too_precise
        "B,1.1234560\n"  # 1.123456 exactly
        'C,"1,234.0000001"\n'  # too_precise (a formatted amount)
        'D,"2,000.5000000"\n'  # 2000.50 exactly
        "E,-0.00000001\n"  # too_precise
        "F,(12.0000001)\n"  # too_precise: before a closing parenthesis
        "G,$1.0000001 \n"  # too_precise
        "H,($3.5000000)\n"  # -3.50 exactly
    )
    r = run(csv(tmp_path, text))
    assert r.total == D("1998.123456")  # 1.123456 + 2000.50 - 3.50
    by = {x.reason: [e.line for e in x.examples] for x in r.rows.rejected_by_reason}
    assert by == {"too_precise": [2, 4, 6, 7, 8]}
    assert r.money.unreadable_rows == 5
    assert r.money.reconciled is True


def test_too_precise_with_a_decimal_comma(tmp_path: Path) -> None:
    text = (
        "customer;amount\n"
        "A;12,0000001 €\n"  # too_precise: before a currency sign
        "B;(1,0000001)\n"  # too_precise: before a closing parenthesis
        "C;(2,5000000 €)\n"  # -2.50 exactly
        "D;1.000,25\n"  # 1000.25
    )
    r = run(csv(tmp_path, text), decimal_comma=True)
    assert r.total == D("997.75")
    by = {x.reason: [e.line for e in x.examples] for x in r.rows.rejected_by_reason}
    assert by == {"too_precise": [2, 3]}


def test_rejection_examples_file_line_and_raw_text(tmp_path: Path) -> None:
    # 7 bad amounts on lines 3, 4, 6, 8, 9, 10, 11 (header = line 1): 5 examples, in file order
    lines = ["customer,amount", "A,1", "B,x1", "C,x2", "D,4", "E,x3", "F,6"]
    lines += ["G,x4", "H,x5", "I,x6", "J,x7", "K,11"]
    path = csv(tmp_path, "\n".join(lines) + "\n")
    r = run(path)
    (rej,) = r.rows.rejected_by_reason
    assert (rej.reason, rej.rows, rej.amount, rej.unreadable) == ("bad_value", 7, None, 7)
    assert [(e.file, e.line, e.entity, e.value) for e in rej.examples] == [
        (str(path), 3, "B", "x1"),
        (str(path), 4, "C", "x2"),
        (str(path), 6, "E", "x3"),
        (str(path), 8, "G", "x4"),
        (str(path), 9, "H", "x5"),
    ]


def test_rejection_lines_in_gzip(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("customer,amount\nA,1\nB,2\nC,oops\n")
    r = run(path)
    (rej,) = r.rows.rejected_by_reason
    assert [(e.file, e.line, e.value) for e in rej.examples] == [(str(path), 4, "oops")]


@pytest.mark.parametrize(
    "text",
    [
        "customer,amount\nA,1\n\nB,5\n\nC,x\nD,7\n",  # blank lines 3 and 5; C is on line 6
        'customer,amount\n"A\n(Ltd)",1\nB,5\nC,x\nD,7\n',  # A spans lines 2-3; C is on line 5
    ],
    ids=["blank-lines", "multi-line-field"],
)
def test_rejection_line_is_the_physical_line(tmp_path: Path, text: str) -> None:
    path = csv(tmp_path, text)
    (rej,) = run(path).rows.rejected_by_reason
    assert [e.line for e in rej.examples] == [text.split("\n").index("C,x") + 1]


def test_strict_raises(tmp_path: Path) -> None:
    path = csv(tmp_path, "customer,amount\nA,1\nB,x\n")
    with pytest.raises(topshare.RejectedRowsError) as info:
        run(path, strict=True)
    message = str(info.value)
    assert f"{path}:3" in message
    assert "\n" not in message
    # no rejection: strict is silent
    ok = csv(tmp_path, "customer,amount\nA,1\nB,2\n", "ok.csv")
    assert run(ok, strict=True).total == D(3)


def test_major_lists_every_customer_with_10_percent(tmp_path: Path) -> None:
    # ten customers of 10 each: every one has exactly 10 % of T = 100
    body = "".join(f"C{i},10\n" for i in range(10))
    r = run(csv(tmp_path, "customer,amount\n" + body), top=1, cr=[1])
    assert len(r.major) == 10


def test_major_flag_is_exact(tmp_path: Path) -> None:
    # A = 99,999,999,999.999999 of T = 1,000,000,000,000: 10·A = T − 0.00001 < T → not major,
    # but A / T = 0.09999999999999999999 rounds to the float 0.1
    path = csv(tmp_path, "customer,amount\nA,99999999999.999999\nB,900000000000.000001\n")
    r = run(path)
    assert r.total == D(10**12)
    assert [m.entity for m in r.major] == ["B"]
    assert [t.major for t in r.top] == [True, False]


# --- count mode ---------------------------------------------------------------------------------


def test_count_mode_counts_rows(tmp_path: Path) -> None:
    # rows per customer: A 3, B 2, C 1 (amount ignored, even when empty or not a number);
    # the row without a customer (line 5) is rejected and counts 1 in the money check
    path = csv(tmp_path, "customer,amount\nA,1\nA,x\nB,\n,3\nA,2\nC,4\nB,9\n")
    r = run(path, count=True)
    assert r.total == D(6)
    assert top_pairs(r) == [("A", D(3)), ("B", D(2)), ("C", D(1))]
    assert r.columns.measure == "count"
    assert r.columns.value is None
    assert (r.rows.read, r.rows.analysed, r.rows.rejected) == (7, 6, 1)
    assert r.money.in_ == r.money.analysed + r.money.rejected
    assert r.money.reconciled is True
    d = r.to_dict()
    assert d["total"] == "6"
    assert [t["value"] for t in d["top"]] == ["3", "2", "1"]
    # HHI = (9 + 4 + 1)/36 = 14/36
    assert close(r.hhi, 14 / 36)


# --- amount formats -----------------------------------------------------------------------------


def test_formatted_amounts(tmp_path: Path) -> None:
    text = 'customer,amount\nA,"$1,234.50"\nB,(12.00)\nC,1234.5\nD,-$3.00\nE, 7.25 \n'
    r = run(csv(tmp_path, text))
    got = dict(top_pairs(r))
    assert got == {
        "A": D("1234.50"),
        "B": D("-12.00"),
        "C": D("1234.50"),
        "D": D("-3.00"),
        "E": D("7.25"),
    }
    assert r.rows.rejected == 0
    # T = 1234.50 − 12.00 + 1234.50 − 3.00 + 7.25 = 2461.25
    assert r.total == D("2461.25")

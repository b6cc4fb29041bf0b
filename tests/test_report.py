"""The HTML report: structure, exact numbers, escaping, no external loads, bounded size, CLI."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import plotly.graph_objects as go
import pytest

import topshare
from helpers import run_cli
from htmldoc import Node, parse
from topshare import charts
from topshare.render.html import MAX_SEGMENT_ROWS, MAX_TOP_ROWS, to_html

# Two quarters, five customers, a refund and one bad amount. By hand, over both quarters:
# A 500.00 + 200.00 - 50.00 = 650.00; B 300.25 + 10.00 = 310.25; C 100.10 + 400.00 = 500.10;
# D 50.05; E 150.50. T = 1,660.90. Top 2 = A + C = 1,150.10; Others (B, D, E) = 510.80.
SALES = """customer,amount,date,region
A,500.00,2024-01-05,EMEA
B,300.25,2024-02-01,EMEA
C,100.10,2024-03-01,APAC
D,50.05,2024-03-15,APAC
A,200.00,2024-04-02,EMEA
B,10.00,2024-05-02,EMEA
C,400.00,2024-05-03,APAC
E,150.50,2024-06-01,APAC
A,-50.00,2024-06-02,EMEA
F,N/A,2024-06-03,EMEA
"""
TOTALS = {
    "A": Decimal("650.00"),
    "B": Decimal("310.25"),
    "C": Decimal("500.10"),
    "D": Decimal("50.05"),
    "E": Decimal("150.50"),
}
EVIL = '<script>alert("x")</script>'
GENERATED = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)


def dec(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def pct_text(num: Decimal, den: Decimal) -> str:
    return f"{float(100 * Fraction(num) / Fraction(den)):.1f} %"


@pytest.fixture
def sales(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_text(SALES, encoding="utf-8")
    return path


def report(path: Path, **kw: object) -> tuple[topshare.Analysis, str, Node]:
    result = topshare.analyze(
        path,
        customer="customer",
        amount="amount",
        date="date",
        top=2,
        **kw,  # type: ignore[arg-type]
    )
    text = to_html(result, generated_at=GENERATED)
    return result, text, parse(text)


def test_sections_and_charts_present(sales: Path) -> None:
    _result, text, doc = report(sales, period="quarter", segments=["region"])
    assert text.startswith("<!DOCTYPE html>")
    for id_ in ("headline", "cards", "top", "pareto", "lorenz", "indices", "trend", "movers",
                "period-table", "segments", "segment-table", "quality", "rejections",
                "reconciliation", "method", "formulas"):  # fmt: skip
        doc.by_id(id_)
    divs = [n.attrs["data-chart"] for n in doc.find_all("div") if "data-chart" in n.attrs]
    assert divs == ["pareto", "lorenz", "trend", "churn", "segments"]
    for key in divs:
        spec = json.loads(doc.by_id(f"fig-{key}").text())
        assert spec["layout"]["meta"] == {"chart": key}
        assert spec["data"]
    method = " ".join(doc.by_id("method").text().split())
    assert f"version {topshare.__version__}" in method
    assert "2024-07-01T06:00:00+00:00" in method
    assert "per quarter" in method
    assert str(sales) in method


def test_without_periods_or_segments_only_the_core_charts(sales: Path) -> None:
    _, _, doc = report(sales)
    divs = [n.attrs["data-chart"] for n in doc.find_all("div") if "data-chart" in n.attrs]
    assert divs == ["pareto", "lorenz"]
    assert not [n for n in doc.iter() if n.attrs.get("id") in ("trend", "segments")]


def test_top_table_and_cards_to_the_cent(sales: Path) -> None:
    _, _, doc = report(sales, period="quarter")
    rows = doc.by_id("top").rows()
    total = sum(TOTALS.values(), Decimal(0))
    assert total == Decimal("1660.90")
    assert [r[:3] for r in rows[:2]] == [["1", "A", "650.00"], ["2", "C", "500.10"]]
    assert rows[0][3] == pct_text(TOTALS["A"], total)
    assert rows[2][1] == "Others (3 customers)"
    assert dec(rows[2][2]) == TOTALS["B"] + TOTALS["D"] + TOTALS["E"]
    assert rows[3][1] == "Total"
    assert dec(rows[3][2]) == total
    assert sum(dec(r[2]) for r in rows[:-1]) == total  # the rows add up to the total

    cards = {
        c.find_all("div")[1].text(): c
        for c in doc.by_id("cards").find_all("div")
        if "card" in c.classes()
    }
    top = cards["Top 2 share"]
    assert top.find_all("div")[2].text() == pct_text(TOTALS["A"] + TOTALS["C"], total)
    assert "1,150.10 of 1,660.90" in top.text()
    shares = [Fraction(v) / Fraction(total) for v in TOTALS.values()]
    hhi_points = 10_000 * sum(s * s for s in shares)
    assert cards["HHI"].find_all("div")[2].text() == f"{float(hhi_points):,.0f}"
    assert "A 39.1 %" in cards["Major (≥ 10 %)"].text()  # 650 / 1660.90 = 39.13 %

    quality = doc.by_id("quality")
    assert doc.by_id("rows-table").rows() == [
        ["Rows read", "10"], ["Rows analysed", "9"], ["Rows rejected", "1"]
    ]  # fmt: skip
    money = {r[0]: r[1] for r in doc.by_id("money-table").rows()}
    assert dec(money["Revenue in"]) == total
    assert dec(money["analysed"]) == total
    assert "reconciled" in quality.text()
    rejected = doc.by_id("rejections").rows()
    assert rejected[0][0].startswith("bad_value")
    assert rejected[0][1] == "1"
    assert "sales.csv:11" in rejected[0][3]
    assert "N/A" in rejected[0][3]

    periods = doc.by_id("period-table").rows()
    assert [p[0] for p in periods] == ["2024-Q1", "2024-Q2"]
    q1 = Decimal("500.00") + Decimal("300.25") + Decimal("100.10") + Decimal("50.05")
    assert dec(periods[0][1]) == q1  # 950.40
    assert dec(periods[0][2]) == Decimal("800.25")  # A + B
    q2 = Decimal("200.00") + Decimal("10.00") + Decimal("400.00") + Decimal("150.50") - 50
    assert dec(periods[1][1]) == q2  # 710.50
    assert dec(periods[1][2]) == Decimal("550.50")  # C 400.00 + E 150.50
    change = Fraction(Decimal("550.50")) / Fraction(q2) - Fraction(Decimal("800.25")) / Fraction(q1)
    assert periods[1][4] == f"{100 * float(change):.2f} pp"
    summary = " ".join(doc.by_id("summary").text().split())
    q2_share = Fraction(Decimal("550.50")) / Fraction(q2)
    assert f"the top-2 share is {float(100 * q2_share):.1f} % in 2024-Q2" in summary
    assert change < 0  # 84.2 % -> 77.5 %
    assert f"{abs(100 * float(change)):.1f} pp down from 2024-Q1" in summary


def test_data_is_escaped_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "evil.csv"
    path.write_text(
        "customer,amount,date,region\n"
        f'"{EVIL.replace(chr(34), chr(34) * 2)}",900.00,2024-01-01,"<b>x</b>"\n'
        '"a&b <img src=x onerror=alert(1)>",100.00,2024-04-01,R\n',
        encoding="utf-8",
    )
    _, text, doc = report(path, period="quarter", segments=["region"])
    body = text.replace(charts.plotly_js(), "")
    assert EVIL not in body
    assert "<img src=x" not in body
    assert "<b>x</b>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body  # in the table
    assert doc.by_id("top").rows()[0][1] == EVIL  # the parsed text is the key, as it was
    scripts = doc.find_all("script")
    assert len(scripts) == 3 + 5  # config, five figures, plotly.js, the drawing code
    for key in ("pareto", "segments"):
        raw = doc.by_id(f"fig-{key}").text()
        assert "<" not in raw
        assert ">" not in raw
        spec = json.loads(raw)
        labels = json.dumps(spec)
        assert "&lt;script&gt;" in labels or "&lt;b&gt;" in labels  # plotly reads markup
        assert "<script>" not in labels
        assert "<b>x" not in labels


def _outside_scripts(node: Node) -> list[Node]:
    return [n for n in node.iter() if n.tag != "script"]


def test_no_external_resources(sales: Path) -> None:
    _, text, doc = report(sales, period="quarter", segments=["region"])
    for node in doc.iter():
        for attr in ("src", "href", "srcset", "poster", "data", "action", "background"):
            assert attr not in node.attrs, f"<{node.tag} {attr}=...> loads something"
        assert node.tag not in ("link", "img", "iframe", "object", "embed", "base")
    style = " ".join(n.text() for n in doc.find_all("style"))
    assert "@import" not in style
    assert "url(" not in style
    assert "@font-face" not in style
    own = text.replace(charts.plotly_js(), "")
    assert "http://" not in own
    assert "https://" not in own
    assert "//" not in re.sub(r"<script>.*?</script>", "", own, flags=re.S).replace("://", "")
    csp = doc.find_all("meta", **{"http-equiv": "Content-Security-Policy"})[0].attrs["content"]
    assert csp is not None
    assert "default-src 'none'" in csp
    assert "connect-src 'none'" in csp
    assert charts.plotly_js() in text  # the chart library is inlined


def test_figures_are_valid_plotly_specs(sales: Path) -> None:
    result, _, _ = report(sales, period="quarter", segments=["region"])
    figs = charts.figures(result)
    assert list(figs) == ["pareto", "lorenz", "trend", "churn", "segments"]
    for key, spec in figs.items():
        json.dumps(spec, allow_nan=False)
        go.Figure(spec)  # plotly's own validator: unknown properties raise
        assert spec["layout"]["meta"] == {"chart": key}
        for axis, value in spec["layout"].items():
            if axis.startswith(("xaxis", "yaxis")) and value.get("visible", True):
                assert value["title"]["text"] or key == "segments", (key, axis)
    pareto = figs["pareto"]
    assert pareto["data"][0]["x"] == [1, 2]  # the top 2, Others is not a bar
    assert pareto["data"][2]["y"] == [0.8, 0.8]  # the threshold line
    lorenz = figs["lorenz"]
    assert lorenz["data"][1]["x"][0] == 0
    assert lorenz["data"][1]["x"][-1] == 1
    assert "Gini" in lorenz["data"][1]["name"]
    churn = figs["churn"]["data"]
    entered, minus_left, stayed, total = (t["y"][0] for t in churn)
    assert entered + minus_left + stayed == pytest.approx(total)  # bars stack to the change
    q1_share = Fraction(80025, 95040)  # (A + B) / Q1 total
    q2_share = Fraction(55050, 71050)  # (C + E) / Q2 total
    assert total == pytest.approx(100 * float(q2_share - q1_share))
    colours = {t["marker"]["color"] for t in churn if isinstance(t["marker"].get("color"), str)}
    assert colours <= set(charts.OKABE_ITO.values())


def test_size_is_bounded(tmp_path: Path) -> None:
    # 600 customers (customer k has k.00 in total), 120 regions, 400 days: every list is capped.
    lines = ["customer,amount,date,region"]
    for k in range(1, 601):
        day = datetime(2023, 1, 1).toordinal() + k % 400
        lines.append(f"K{k:04d},{k}.00,{datetime.fromordinal(day):%Y-%m-%d},R{k % 120:03d}")
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = topshare.analyze(
        path, customer="customer", amount="amount", date="date", top=500, period="day",
        segments=["region"],
    )  # fmt: skip
    text = to_html(result)
    doc = parse(text)
    rows = doc.by_id("top").rows()
    assert len(rows) == MAX_TOP_ROWS + 3  # 100 ranks, ranks 101-500, Others, Total
    rest = rows[MAX_TOP_ROWS]
    # ranks 101..500 are customers 500 down to 101: sum = (101 + 500) * 400 / 2
    assert dec(rest[2]) == Decimal(601 * 200)
    assert dec(rows[-2][2]) == Decimal(sum(range(1, 101)))  # Others: customers 1..100
    assert dec(rows[-1][2]) == Decimal(600 * 601 // 2)
    assert len(doc.by_id("segment-table").rows()) == MAX_SEGMENT_ROWS
    segs = json.loads(doc.by_id("fig-segments").text())
    assert len(segs["data"][0]["y"]) == charts.MAX_SEGMENTS
    own = len(text.encode()) - len(charts.plotly_js().encode())
    assert own < 600_000, own


def test_cli_writes_the_report(sales: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run_cli("revenue", sales, "--period", "quarter", "--format", "html", "-o", out)
    assert done.code == 0, done.err
    doc = parse(out.read_text(encoding="utf-8"))
    assert [r[1] for r in doc.by_id("top").rows()[:2]] == ["A", "C"]
    piped = run_cli("revenue", sales, "--format", "html")  # stdout is a pipe: allowed
    assert piped.code == 0
    assert piped.out.startswith("<!DOCTYPE html>")


def test_cli_refuses_html_on_a_terminal(sales: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "topshare", "revenue", str(sales), "--format", "html"],
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert "-o report.html" in err
    assert "Traceback" not in err

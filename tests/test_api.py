"""The Python API: typed results, pandas frame, notebook view, JSON round trip."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

import topshare
from helpers import Writer

SALES = "customer,amount\nacme,700.10\nbeta,200\ngamma,99.90\nacme,0.00\n"
# Totals: acme 700.10, beta 200.00, gamma 99.90 -> 1000.00.


def test_typed_values(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", SALES), top=2)
    assert isinstance(r, topshare.Analysis)
    assert r.total == Decimal("1000.00")
    assert r.top_n_sum == Decimal("900.10")
    assert r.top_n_share == pytest.approx(0.9001, abs=1e-15)
    assert r.top1_share == pytest.approx(0.7001, abs=1e-15)
    assert [row.value for row in r.top] == [Decimal("700.10"), Decimal("200.00")]
    assert r.others.value == Decimal("99.90")
    assert r.rows.read == 4


def test_top_frame_has_others_and_adds_up(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", SALES), top=2)
    frame = r.top_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "rank", "entity", "value", "share", "cumulative_share", "abc", "major",
    ]  # fmt: skip
    assert list(frame["entity"]) == ["acme", "beta", "Others (1)"]
    assert sum(frame["value"]) == r.total
    assert frame["rank"].isna().tolist() == [False, False, True]
    assert len(r.top_frame(others=False)) == 2


def test_notebook_html(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", "customer,amount\n<b>x</b>,5\ny,5\n"))
    html = r._repr_html_()
    assert "Top 10 customers" not in html  # only two customers: the headline says so
    assert "All 2 customers: 10.00 = 100.0 % of revenue" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # keys are escaped
    assert "<b>x</b>" not in html


def test_json_round_trip_is_plain_data(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", SALES))
    text = r.to_json()
    assert json.loads(text) == r.to_dict()
    assert json.loads(text)["money"]["in"] == "1000.00"


def test_errors_are_exceptions_with_a_message(write: Writer) -> None:
    with pytest.raises(topshare.ColumnError, match="no column 'nope' for the customer"):
        topshare.analyze(write("s.csv", SALES), customer="nope")
    with pytest.raises(topshare.UsageError, match="top N must be a whole number"):
        topshare.analyze(write("s.csv", SALES), top=0)
    with pytest.raises(topshare.UsageError, match="either customer= or entity="):
        topshare.analyze(write("s.csv", SALES), customer="a", entity="b")


def test_custom_labels(write: Writer) -> None:
    labels = topshare.Labels(entity="account", entities="accounts", value="bookings")
    r = topshare.analyze(write("s.csv", SALES), top=1, labels=labels)
    from topshare.render import render

    assert render(r, "table").splitlines()[0] == "Top 1 account: 700.10 = 70.0 % of bookings"


def test_headerless_csv_detected_by_content(write: Writer) -> None:
    r = topshare.analyze(write("s.csv", "acme,2024-01-01,10.5\nbeta,2024-01-02,3\n"))
    assert r.columns.detected == {"entity": "content", "value": "content", "date": "content"}
    assert r.total == Decimal("13.50")

"""topshare.web.plain: the dashboard's key-by-key conversion equals ``Analysis.to_dict()``.

The reference is ``to_dict()`` itself (the ``--format json`` contract), compared as encoded JSON
text (same keys, same order, same values), on analyses with periods, churn, segments with
series, a window, refunds and a segment filter; and again after the parts were converted once
(the conversions kept by identity must not change an answer).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from test_explore import DATA, SEGMENTS, same
from topshare.explore import Explorer, open_explorer
from topshare.web.plain import Plain


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    path = tmp_path_factory.mktemp("plain") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    with open_explorer(path, segments=SEGMENTS) as ex:
        yield ex


def text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


OPTIONS: list[dict[str, Any]] = [
    {"top": 2},
    {"top": 2, "period": "month"},
    {"top": 1, "period": "week", "date_from": "2024-02-01", "date_to": "2024-04-30"},
    {"top": 3, "period": "month", "where": {"region": "north"}, "segments": ["channel"]},
    {"top": 2, "period": "quarter", "last": "2m", "cr": [1, 2], "pareto": 0.5},
]


@pytest.mark.parametrize("opts", OPTIONS)
def test_every_key_equals_to_dict(explorer: Explorer, opts: dict[str, Any]) -> None:
    plain = Plain()
    result = explorer.analyze(**opts)
    want = result.to_dict()
    assert result.periods is not None or "period" not in opts
    for _ in range(2):  # the second time from the kept conversions
        got = {k: plain.key(result, k) for k in want}
        assert text(got) == text(want)
    if result.periods:
        periods = [plain.fields(p, result.scale, None, ("entered",)) for p in result.periods]
        assert text(periods) == text(
            [{k: v for k, v in p.items() if k != "entered"} for p in want["periods"]]
        )
        picked = [plain.fields(p, result.scale, ("label", "stayed")) for p in result.periods]
        assert picked == [{"label": p["label"], "stayed": p["stayed"]} for p in want["periods"]]


def test_a_part_is_converted_once_then_shared(explorer: Explorer) -> None:
    plain = Plain()
    result = explorer.analyze(top=2, period="month")
    assert result.periods is not None
    first = plain.value(result.periods[1].top, result.scale)
    assert plain.value(result.periods[1].top, result.scale) is first
    assert plain.value(list(result.periods[1].top), result.scale) is not first  # another list
    assert plain.value(list(result.periods[1].top), result.scale) == first


def test_the_kept_parts_are_bounded(explorer: Explorer) -> None:
    plain = Plain(keep=3)
    result = explorer.analyze(top=2, period="week")
    want = result.to_dict()["periods"]
    assert result.periods is not None
    assert len(result.periods) > 3
    for _ in range(2):
        assert text(plain.key(result, "periods")) == text(want)
    assert len(plain._kept) == 3


@pytest.mark.parametrize(
    "query",
    ["top=2&period=month", "top=1&period=week&from=2024-02-01&to=2024-04-30&filter=region=north"],
)
def test_charts_equal_the_charts_of_the_full_analysis(explorer: Explorer, query: str) -> None:
    """/api/charts draws from the series analysis and the segments analysis (never a segment's
    own series): the same figures as topshare.charts.figures() of the full analysis."""
    from test_web import request
    from topshare.charts import figures
    from topshare.web import create_app

    app = create_app(explorer)
    got = request(app, f"/api/charts?{query}")
    assert got.status_code == 200
    params = dict(p.split("=", 1) for p in query.split("&") if not p.startswith("filter"))
    where = {"region": "north"} if "filter" in query else None
    full = explorer.analyze(top=int(params["top"]), period=params["period"],
                            date_from=params.get("from"), date_to=params.get("to"),
                            where=where)  # fmt: skip
    assert full.segments is not None
    assert any(s.periods for s in full.segments)  # the full analysis has segment series
    want = json.loads(json.dumps(figures(full)))
    assert list(got.json()["charts"]) == ["pareto", "lorenz", "trend", "churn", "segments"]
    same(got.json()["charts"], want)
    again = request(app, f"/api/charts?{query}")
    assert again.content == got.content  # the kept body

"""``topshare serve --traffic``: the dashboard's JSON API on an access log (httpx over ASGI), with
``dimension=`` and ``measure=``; ``--get`` and the option rules through the real command.

Expected numbers come from hand counts over the requests the log is written from (``REQUESTS``)
and from ``topshare.traffic()`` / ``topshare traffic --format json`` for the same options.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from helpers import run_cli
from test_explore import same
from test_traffic import CHROME, FIREFOX, GOOGLEBOT, line
from test_traffic_cli import cli
from test_web import request
from topshare.explore import open_explorer
from topshare.explore_logs import MAX_EXPLORERS, TrafficExplorer, open_traffic_explorer
from topshare.traffic import traffic
from topshare.web import create_app

# (ip, day, path, status, bytes, referrer, agent): the requests of the log, in order.
REQUESTS: list[tuple[str, str, str, int, int | str, str, str]] = [
    ("10.0.0.1", "01/Oct/2024:10:00:00 +0000", "/a", 200, 100, "https://www.google.com/", FIREFOX),
    ("10.0.0.1", "01/Oct/2024:11:00:00 +0000", "/a", 200, 100, "-", FIREFOX),
    ("10.0.0.2", "02/Oct/2024:09:00:00 +0000", "/b?x=1", 404, 50, "-", CHROME),
    ("10.0.0.3", "02/Oct/2024:09:30:00 +0000", "/a", 200, 300, "-", GOOGLEBOT),
    ("10.0.0.2", "03/Nov/2024:08:00:00 +0000", "/c", 200, 1000, "https://blog.example.org/p",
     CHROME),
    ("10.0.0.1", "03/Nov/2024:18:00:00 +0000", "/b", 500, "-", "-", FIREFOX),
]  # fmt: skip
GARBAGE = "this is not a log line"
MALFORMED_AT = 5  # the garbage line's number in the file


def log_text() -> str:
    lines = [
        line(ip, when, f"GET {path} HTTP/1.1", status, size, ref, agent)
        for ip, when, path, status, size, ref, agent in REQUESTS
    ]
    lines.insert(MALFORMED_AT - 1, GARBAGE)
    return "\n".join(lines) + "\n"


def _expected(dimension: str, measure: str, bots: bool = True) -> dict[str, int]:
    """Hits or bytes per key, counted in plain Python from REQUESTS."""
    out: Counter[str] = Counter()
    for ip, _, path, status, size, _, agent in REQUESTS:
        if not bots and agent == GOOGLEBOT:
            continue
        key = {"path": path.split("?")[0], "ip": ip, "status": str(status),
               "status-class": f"{str(status)[0]}xx"}[dimension]  # fmt: skip
        out[key] += 1 if measure == "hits" else (0 if size == "-" else int(size))
    return dict(out)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weblog") / "access.log"
    path.write_text(log_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def traffic_explorer(log: Path) -> Iterator[TrafficExplorer]:
    with open_traffic_explorer(log, segments=["status-class"]) as ex:
        yield ex


@pytest.fixture(scope="module")
def app(traffic_explorer: TrafficExplorer) -> Any:
    return create_app(traffic_explorer)


def get(app: Any, url: str) -> Any:
    r = request(app, url)
    assert r.status_code == 200, r.text
    return r.json()


def values(top: dict[str, Any]) -> dict[str, int]:
    assert top["others"]["entities"] == 0
    return {row["entity"]: int(row["value"]) for row in top["top"]}


# ---- the numbers: hand counts and traffic() ------------------------------------------------------
@pytest.mark.parametrize("dimension", ["path", "ip", "status"])
@pytest.mark.parametrize("measure", ["hits", "bytes"])
def test_top_equals_the_hand_counts(app: Any, dimension: str, measure: str) -> None:
    top = get(app, f"/api/top?top=50&dimension={dimension}&measure={measure}")
    want = _expected(dimension, measure)
    assert values(top) == want
    assert int(top["total"]) == sum(want.values())
    assert top["labels"]["value"] == measure


def test_the_defaults_are_path_and_hits(app: Any) -> None:
    assert values(get(app, "/api/top?top=50")) == {"/a": 3, "/b": 2, "/c": 1}
    summary = get(app, "/api/summary?top=1")
    assert summary["top_n_share"] == 0.5  # /a: 3 of 6 hits
    assert summary["columns"]["entity"] == "path"


@pytest.mark.parametrize(
    ("dimension", "measure", "period"),
    [("path", "hits", None), ("ip", "bytes", "month"), ("referrer-domain", "hits", "day"),
     ("browser", "bytes", None), ("status-class", "hits", "month")],
)  # fmt: skip
def test_answers_equal_traffic(
    app: Any, log: Path, dimension: str, measure: str, period: str | None
) -> None:
    q = f"top=2&dimension={dimension}&measure={measure}" + (f"&period={period}" if period else "")
    want = traffic(log, by=dimension, measure=measure, top=2, period=period,
                   segments=["status-class"]).to_dict()  # fmt: skip
    summary = get(app, f"/api/summary?{q}")
    for key in ("total", "n_entities", "top_n_sum", "top_n_share", "cr", "hhi", "gini", "theil",
                "entropy", "pareto", "rows", "money", "columns", "labels", "traffic"):  # fmt: skip
        same(summary[key], want[key], key)
    top = get(app, f"/api/top?{q}")
    same(top["top"], want["top"], "top")
    same(top["others"], want["others"], "others")
    if period:
        periods = get(app, f"/api/periods?{q}")["periods"]
        churn = get(app, f"/api/churn?{q}")["periods"]
        assert [p["label"] for p in periods] == [p["label"] for p in want["periods"]]
        for got, exp in zip(periods, want["periods"], strict=True):
            same(got["top_n_share"], exp["top_n_share"], "periods")
            same(got["total"], exp["total"], "periods")
        for got, exp in zip(churn, want["periods"], strict=True):
            same(got["share_change"], exp["share_change"], "churn")
    segs = get(app, f"/api/segments?{q}")
    same(segs["segments"], want["segments"], "segments")


def test_malformed_lines_and_bots_as_traffic_reports_them(app: Any, log: Path) -> None:
    summary = get(app, "/api/summary?dimension=ip")
    rows = summary["rows"]
    assert rows["read"] == len(REQUESTS) + 1
    assert rows["rejected"] == 1
    (reason,) = rows["rejected_by_reason"]
    assert reason["reason"] == "malformed_line"
    assert [(e["line"], e["value"]) for e in reason["examples"]] == [(MALFORMED_AT, GARBAGE)]
    block = summary["traffic"]
    assert block["bot_hits"] == 1
    assert block["all_hits"] == len(REQUESTS)
    assert block["bot_share_hits"] == pytest.approx(1 / 6)
    assert block["bot_share_bytes"] == pytest.approx(300 / 1550)
    # Visitors of the top rows (distinct IP + user agent per day), never a share.
    top = get(app, "/api/top?top=1&dimension=ip")
    assert top["top"][0]["entity"] == "10.0.0.1"
    assert top["traffic"]["visitors"] == [{"entity": "10.0.0.1", "count": 2}]  # 1 Oct, 3 Nov


def test_visitors_follow_the_filter_and_the_window(app: Any) -> None:
    # 10.0.0.1: Firefox on 1 Oct (two 2xx requests) and on 3 Nov (a 5xx one).
    def top_ip(query: str) -> tuple[list[tuple[str, int]], list[dict[str, Any]]]:
        got = get(app, f"/api/top?top=1&dimension=ip&{query}")
        return values_top(got), got["traffic"]["visitors"]

    def values_top(got: dict[str, Any]) -> list[tuple[str, int]]:
        return [(row["entity"], int(row["value"])) for row in got["top"]]

    assert top_ip("filter=status_class=2xx") == (
        [("10.0.0.1", 2)],
        [{"entity": "10.0.0.1", "count": 1}],
    )
    assert top_ip("filter=status_class=5xx") == (
        [("10.0.0.1", 1)],
        [{"entity": "10.0.0.1", "count": 1}],
    )
    assert top_ip("to=2024-10-31") == ([("10.0.0.1", 2)], [{"entity": "10.0.0.1", "count": 1}])
    assert top_ip("") == ([("10.0.0.1", 3)], [{"entity": "10.0.0.1", "count": 2}])


def test_meta_lists_the_dimensions_of_the_format(app: Any) -> None:
    meta = get(app, "/api/meta")["traffic"]
    names = [d["name"] for d in meta["dimensions"]]
    assert {"path", "ip", "referrer-domain", "browser", "status", "user-agent"} <= set(names)
    assert "vhost" not in names
    assert "country" not in names
    assert meta["measures"] == ["hits", "bytes"]
    assert (meta["dimension"], meta["measure"]) == ("path", "hits")
    assert meta["lines"] == len(REQUESTS) + 1


def test_entity_and_filter_under_a_dimension(app: Any) -> None:
    e = get(app, "/api/entity?name=10.0.0.1&dimension=ip&period=month")
    assert (e["value"], e["rank"]) == ("3", 1)
    assert [(p["label"], p["value"]) for p in e["periods"]] == [("2024-10", "2"), ("2024-11", "1")]
    assert request(app, "/api/entity?name=/a&dimension=ip").status_code == 404
    top = get(app, "/api/top?top=50&dimension=path&filter=status_class=2xx")
    assert values(top) == {"/a": 3, "/c": 1}


# ---- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "says"),
    [("dimension=vhost", "dimensions: path, url"), ("dimension=column_name", "unknown dimension"),
     ("dimension=path;drop", "unknown dimension"), ("measure=visitors", "measure"),
     ("dimension=" + "p" * 40, "dimension")],
)  # fmt: skip
def test_unknown_dimensions_and_measures_are_400(app: Any, query: str, says: str) -> None:
    for view in ("summary", "top", "charts", "entity"):
        r = request(app, f"/api/{view}?{query}" + ("&name=x" if view == "entity" else ""))
        assert r.status_code == 400, (view, r.text)
        assert says in r.json()["error"]["message"]


def test_openapi_documents_the_dimensions(app: Any, traffic_explorer: TrafficExplorer) -> None:
    doc = get(app, "/api/openapi.json")
    params = {p["name"]: p for p in doc["paths"]["/api/top"]["get"]["parameters"]}
    assert params["dimension"]["schema"]["enum"] == traffic_explorer.dimensions
    assert params["measure"]["schema"]["enum"] == ["hits", "bytes"]


def test_a_sales_source_has_no_dimension(tmp_path: Path) -> None:
    sales = tmp_path / "sales.csv"
    sales.write_text("customer_id,amount\nA,10\nB,5\n", encoding="utf-8")
    with open_explorer(sales) as ex:
        app = create_app(ex)
        r = request(app, "/api/summary?dimension=path")
        assert r.status_code == 400
        assert "access logs" in r.json()["error"]["message"]
        doc = get(app, "/api/openapi.json")
        names = {p["name"] for p in doc["paths"]["/api/top"]["get"]["parameters"]}
        assert "dimension" not in names
        assert "measure" not in names
        assert "top" in names


def test_bot_filter_applies_to_every_dimension(log: Path) -> None:
    with open_traffic_explorer(log, exclude_bots=True, by="ip", measure="bytes") as ex:
        app = create_app(ex)
        assert values(get(app, "/api/top?top=50")) == _expected("ip", "bytes", bots=False)
        got = values(get(app, "/api/top?top=50&dimension=path&measure=hits"))
        assert got == _expected("path", "hits", bots=False)
        assert get(app, "/api/meta")["traffic"]["bots"] == "exclude"


# ---- the real command --------------------------------------------------------------------------
def test_get_equals_traffic_json(log: Path) -> None:
    ran = cli("traffic", log, "--by", "ip", "--measure", "bytes", "--top", "2",
              "--period", "month", "--format", "json")  # fmt: skip
    assert ran.code == 0, ran.err
    want = json.loads(ran.out)
    r = run_cli("serve", log, "--traffic", "--get",
                "/api/summary?top=2&dimension=ip&measure=bytes")  # fmt: skip
    assert r.code == 0, r.err
    got = json.loads(r.out)
    for key in ("total", "top_n_sum", "top_n_share", "hhi", "gini", "rows", "money", "traffic"):
        same(got[key], want[key], key)
    r = cli("serve", log, "--traffic", "--by", "ip", "--measure", "bytes",
            "--get", "/api/churn?top=2&period=month")  # fmt: skip
    assert r.code == 0, r.err
    churn = json.loads(r.out)["periods"]
    assert [p["label"] for p in churn] == ["2024-10", "2024-11"]
    same(churn[1]["share_change"], want["periods"][1]["share_change"])


def test_options_that_do_not_apply_are_one_line(log: Path) -> None:
    r = cli("serve", log, "--by", "ip", "--get", "/api/meta")
    assert r.code == 2
    assert "--by: only with --traffic" in r.err
    assert "Traceback" not in r.err
    r = cli("serve", log, "--traffic", "--customer", "x", "--get", "/api/meta")
    assert r.code == 2
    assert "--customer: not with --traffic" in r.err
    r = cli("serve", log, "--traffic", "--by", "vhost", "--get", "/api/meta")
    assert r.code == 2
    assert "vhost" in r.err
    assert "Traceback" not in r.err


# ---- schemathesis on a log's document ----------------------------------------------------------
def test_every_operation_conforms_on_a_log(traffic_explorer: TrafficExplorer) -> None:
    """As tests/test_web_schema.py, on the log's app: ``dimension`` and ``measure`` are enums
    of this log's names, and every answer (any dimension) conforms."""
    schema: Any = schemathesis.openapi.from_asgi(
        "/api/openapi.json", create_app(traffic_explorer, loopback_only=False)
    )
    for result in schema.get_all_operations():
        op = result.ok()

        @given(case=op.as_strategy())
        @settings(max_examples=10, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()


def test_a_dimension_that_fails_is_a_clear_error_each_time(tmp_path: Path) -> None:
    """--strict: the path explorer opens; the referrer one has a request without a referrer
    (a rejection), so asking for it is a 400 that says so, the same every time."""
    path = tmp_path / "access.json"
    path.write_text(
        '{"remote_addr": "1.1.1.1", "time": "2024-10-01T10:00:00Z", "request": "GET /a HTTP/1.1",'
        ' "status": 200, "http_referer": "https://x.example/"}\n'
        '{"remote_addr": "1.1.1.2", "time": "2024-10-01T11:00:00Z", "request": "GET /b HTTP/1.1",'
        ' "status": 200}\n',
        encoding="utf-8",
    )
    with open_traffic_explorer(path, strict=True) as ex:
        app = create_app(ex)
        assert values(get(app, "/api/top")) == {"/a": 1, "/b": 1}
        assert get(app, "/api/meta")["traffic"]["measures"] == ["hits"]  # no size field
        for _ in range(2):
            r = request(app, "/api/summary?dimension=referrer")
            assert r.status_code == 400
            assert "--strict" in r.json()["error"]["message"]
        assert request(app, "/api/summary?measure=bytes").status_code == 400


def test_concurrent_first_uses_build_one_explorer(traffic_explorer: TrafficExplorer) -> None:
    """Requests arriving together for a dimension not built yet share one build."""
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: traffic_explorer.pick("subnet", "bytes"), range(4)))
    assert all(g is got[0] for g in got)
    assert values_of(got[0].analyze(top=50)) == {"10.0.0.0/24": 1550}


def values_of(result: Any) -> dict[str, int]:
    return {r.entity: int(r.value) for r in result.top}


def test_explorers_are_bounded_and_rebuilt_when_asked_again(log: Path) -> None:
    pairs = [(d, m) for d in ("path", "ip", "status", "status-class") for m in ("hits", "bytes")]
    with open_traffic_explorer(log) as ex:
        web = create_app(ex)
        for d, m in pairs:
            assert values(get(web, f"/api/top?top=50&dimension={d}&measure={m}")) == _expected(d, m)
        kept = set(ex._explorers)
        assert len(kept) == MAX_EXPLORERS
        assert ("path", "hits") in kept  # the default stays
        forgotten = next(p for p in pairs if p not in kept)
        d, m = forgotten
        assert values(get(web, f"/api/top?top=50&dimension={d}&measure={m}")) == _expected(d, m)
        assert len(ex._explorers) == MAX_EXPLORERS


def test_a_misspelt_parameter_lists_the_logs_own(app: Any) -> None:
    r = request(app, "/api/top?dimensions=ip")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert message.startswith("unknown query parameter 'dimensions' (this view takes: ")
    assert "dimension, filter" in message
    assert "measure, pareto" in message

"""The dashboard's JSON API in-process (httpx over ASGI), its security rules, a real uvicorn
server on loopback, and ``topshare serve --get`` through the real command.

Expected numbers come from ``topshare.analyze()`` on the same file (the JSON contract) or from
hand values (tests/test_explore.py's data: T = 3950.00, A 1150.00 first).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

import topshare
from helpers import Writer, run_cli
from test_explore import DATA, same
from topshare.errors import UsageError
from topshare.explore import Explorer, open_explorer
from topshare.web import create_app
from topshare.web.security import session_value
from topshare.web.serve import check_bind

TOKEN = "s3cret-token-for-tests-0123456789"
BASE = "http://127.0.0.1"
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def request(app: Any, url: str, method: str = "GET", **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return await client.request(method, url, **kw)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def explorer(source: Path) -> Iterator[Explorer]:
    with open_explorer(source, segments=["region", "channel"]) as ex:
        yield ex


@pytest.fixture(scope="module")
def app(explorer: Explorer) -> Any:
    return create_app(explorer)


def secure(r: httpx.Response) -> None:
    for name, value in HEADERS.items():
        assert r.headers[name] == value, name
    csp = r.headers["content-security-policy"]
    script = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert script.split() == ["script-src", "'self'"]
    assert "frame-ancestors 'none'" in csp


# ---- the JSON twins of the page views -----------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "keys", "full"),
    [
        ("/api/summary", ["total", "top_n_sum", "top_n_share", "cr", "hhi_points", "gini",
                          "pareto", "rows", "money", "scope"], False),
        ("/api/top", ["total", "top", "others", "tie_at_boundary", "scope"], False),
        ("/api/lorenz", ["lorenz", "gini", "pareto", "index_population", "scope"], False),
        ("/api/segments", ["segments", "theil_decomposition", "scope"], True),
    ],
)  # fmt: skip
def test_views_are_subsets_of_the_json_output(
    app: Any, source: Path, path: str, keys: list[str], full: bool
) -> None:
    """The overall views are the analysis without a series (the period changes none of their
    numbers); the segment view is the analysis with the period and the served segments."""
    q = "top=2&period=month&from=2024-01-15&to=2024-05-20"
    r = request(app, f"{path}?{q}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    secure(r)
    want = topshare.analyze(
        source, top=2, period="month" if full else None, date_from="2024-01-15",
        date_to="2024-05-20", segments=["region", "channel"] if full else [],
    ).to_dict()  # fmt: skip
    got = r.json()
    assert got["schema_version"] == want["schema_version"]
    assert got["filter"] == {}
    for key in keys:
        same(got[key], want[key], key)


def test_periods_and_churn(app: Any, source: Path) -> None:
    want = topshare.analyze(source, top=2, period="month").to_dict()["periods"]
    periods = request(app, "/api/periods?top=2&period=month").json()["periods"]
    churn = request(app, "/api/churn?top=2&period=month").json()["periods"]
    assert [p["label"] for p in periods] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    for got, full in zip(periods, want, strict=True):
        assert "entered" not in got
        same(got, {k: v for k, v in full.items() if k in got})
    for got, full in zip(churn, want, strict=True):
        same(got, {k: full[k] for k in got})
    # March: C entered (600 of 1000), A left (350 of 1000 in February).
    assert [m["entity"] for m in churn[2]["entered"]] == ["C"]
    assert [m["entity"] for m in churn[2]["left"]] == ["A"]


def test_top_rows_add_up_to_the_total(app: Any) -> None:
    t = request(app, "/api/top?top=3&filter=region=south").json()
    # south: B 1050, C 900 -> 1950
    assert [(r["entity"], r["value"]) for r in t["top"]] == [("B", "1050.00"), ("C", "900.00")]
    assert t["others"] == {"entities": 0, "value": "0.00", "share": 0.0}
    assert t["total"] == "1950.00"
    assert t["filter"] == {"region": "south"}
    rows = sum((Decimal(r["value"]) for r in t["top"]), Decimal(t["others"]["value"]))
    assert rows == Decimal(t["total"])


def test_empty_segment_value_filter(app: Any) -> None:
    t = request(app, "/api/top?filter=region=").json()
    assert (t["total"], [r["entity"] for r in t["top"]]) == ("800.00", ["E"])


def test_entity_detail(app: Any) -> None:
    r = request(app, "/api/entity", params={"name": "A", "period": "month", "top": 2})
    assert r.status_code == 200
    e = r.json()
    assert (e["entity"], e["value"], e["rank"], e["in_top_n"]) == ("A", "1150.00", 1, True)
    assert [(p["label"], p["value"], p["rank"]) for p in e["periods"]] == [
        ("2024-01", "500.00", 1),
        ("2024-02", "350.00", 2),
        ("2024-03", "100.00", 3),
        ("2024-04", "0.00", None),
        ("2024-05", "200.00", 2),
    ]
    assert e["chart"]["layout"]["meta"] == {"chart": "entity"}
    missing = request(app, "/api/entity?name=nobody")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "no customer 'nobody' in the source"


def test_charts_come_from_the_chart_module(app: Any, source: Path) -> None:
    from topshare.charts import figures

    got = request(app, "/api/charts?top=2&period=month").json()
    want = figures(topshare.analyze(source, top=2, period="month", segments=["region", "channel"]))
    assert list(got["charts"]) == ["pareto", "lorenz", "trend", "churn", "segments"]
    assert (
        json.loads(json.dumps(want["pareto"]))["data"][0]["y"]
        == got["charts"]["pareto"]["data"][0]["y"]
    )
    assert got["config"]["displaylogo"] is False
    one = request(app, "/api/charts?chart=lorenz").json()["charts"]
    assert list(one) == ["lorenz"]
    assert request(app, "/api/charts?chart=trend").status_code == 400  # no period, no trend


def test_meta(app: Any) -> None:
    m = request(app, "/api/meta").json()
    assert m["segments"] == {"region": ["north", "south", None], "channel": ["shop", "web"]}
    assert m["periods"] == ["day", "week", "month", "quarter", "year"]
    assert m["date_range"] == {"first": "2024-01-05T00:00:00", "last": "2024-05-31T00:00:00"}


# ---- validation: 4xx with one clear message ----------------------------------------------------
@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/api/summary?top=0", 400, "top: Input should be greater than or equal to 1"),
        ("/api/summary?top=1001", 400, "top: Input should be less than or equal to 1000"),
        ("/api/summary?top=ten", 400, "top: Input should be a valid integer"),
        ("/api/summary?from=2024-13-01", 400, "from: Input should be a valid date"),
        ("/api/summary?from=2024-05-01&to=2024-01-01", 400, "--to 2024-01-01 is before --from"),
        ("/api/summary?period=decade", 400, "period: Input should be 'day'"),
        ("/api/summary?last=12x", 400, "last: String should match pattern"),
        ("/api/summary?last=2m&from=2024-01-01", 400, "either --last or --from/--to"),
        ("/api/summary?filter=zone=x", 400, "unknown segment column 'zone'"),
        ("/api/summary?filter=region=west", 400, "region has no value 'west'"),
        ("/api/summary?filter=region", 400, "filter must be COLUMN=VALUE"),
        ("/api/summary?from=2030-01-01", 422, "no rows left to analyse"),
        ("/api/periods", 400, "this view needs a period"),
        ("/api/periods?period=day&from=1900-01-01", 400, "more than 3,700 periods"),
        ("/api/entity", 400, "name: Field required"),
        ("/api/nothing", 404, "Not Found"),
        ("/api/summary?file=/etc/passwd", 400, "unknown query parameter 'file'"),
        ("/api/summary?date_from=2024-01-01", 400, "unknown query parameter 'date_from'"),
        ("/api/periods?period=month&chart=trend", 400, "unknown query parameter 'chart'"),
        ("/api/meta?top=5", 400, "(this view takes: none)"),
    ],
)
def test_bad_parameters(app: Any, url: str, status: int, message: str) -> None:
    r = request(app, url)
    assert r.status_code == status, r.text
    secure(r)
    assert r.json()["error"]["status"] == status
    assert message in r.json()["error"]["message"]


def test_unknown_query_parameters_are_named_with_the_views_own(app: Any) -> None:
    """A misspelt parameter is refused, not ignored (``date_from=`` would answer for the whole
    range); each view takes its own parameters and those of every view, and the page any."""
    r = request(app, "/api/summary?date_from=2024-01-01")
    message = r.json()["error"]["message"]
    assert message.endswith(
        "(this view takes: cr, filter, from, hhi_bands, last, pareto, period, to, top)"
    )
    assert "chart" not in message
    assert "name" not in message
    assert request(app, "/api/charts?chart=trend&period=month").status_code == 200
    entity = request(app, "/api/entity?name=A&top=3&from=2024-01-01")
    assert entity.status_code in (200, 404), entity.text  # the parameters were accepted
    assert "unknown query parameter" not in entity.text
    assert request(app, "/?utm_source=mail").status_code == 200


def test_read_only(app: Any) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        r = request(app, "/api/summary", method=method)
        assert r.status_code == 405
        assert r.headers["allow"] == "GET, HEAD"
        secure(r)
    head = request(app, "/api/summary", method="HEAD")
    assert (head.status_code, head.content) == (200, b"")


def test_internal_error_is_a_generic_body(source: Path) -> None:
    ex = open_explorer(source)
    app = create_app(ex)
    ex.close()  # the engine connection is gone: every analysis now fails inside
    r = request(app, "/api/entity?name=A")
    assert r.status_code == 500
    assert r.json() == {"error": {"status": 500, "message": "internal error"}}
    secure(r)


def test_page_and_static_files(app: Any) -> None:
    page = request(app, "/")
    assert page.headers["content-type"].startswith("text/html")
    secure(page)
    assert "<script>" not in page.text
    assert "onclick" not in page.text
    js = request(app, "/static/plotly.min.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.text.startswith("/**\n* plotly.js")
    assert request(app, "/static/app.js").status_code == 200
    assert request(app, "/static/../web/app.py").status_code == 404


# ---- token and host rules -----------------------------------------------------------------------
def test_token_bearer_and_cookie(explorer: Explorer) -> None:
    app = create_app(explorer, token=TOKEN, loopback_only=False)
    refused = request(app, "/api/summary")
    assert refused.status_code == 401
    assert "token is required" in refused.json()["error"]["message"]
    secure(refused)
    wrong = request(app, "/api/summary", headers={"authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert wrong.status_code == 401
    assert (
        request(app, "/api/summary", headers={"authorization": f"Bearer {TOKEN}"}).status_code
        == 200
    )
    # The one-time ?token= on the page: a cookie, and a redirect to the URL without the token.
    login = request(app, f"/?top=5&token={TOKEN}")
    assert login.status_code == 303
    assert login.headers["location"] == "/?top=5"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert TOKEN not in cookie
    name, value = cookie.split(";")[0].split("=", 1)
    assert value == session_value(TOKEN)
    assert request(app, "/api/summary", headers={"cookie": f"{name}={value}"}).status_code == 200
    assert request(app, "/api/summary", headers={"cookie": f"{name}={value}0"}).status_code == 401
    assert request(app, f"/?token={TOKEN}x").status_code == 401
    assert request(app, f"/api/summary?token={TOKEN}").status_code == 401  # only the page logs in


def test_loopback_host_names_only_without_token(app: Any) -> None:
    ok = request(app, "/api/meta", headers={"host": "localhost:8000"})
    assert ok.status_code == 200
    rebound = request(app, "/api/meta", headers={"host": "attacker.example:8000"})
    assert rebound.status_code == 421
    secure(rebound)


@pytest.mark.parametrize(
    ("host", "token", "ok"),
    [
        ("127.0.0.1", None, True),
        ("127.0.0.2", None, True),
        ("::1", None, True),
        ("localhost", None, True),
        ("0.0.0.0", None, False),
        ("192.168.1.10", None, False),
        ("::", None, False),
        ("0.0.0.0", TOKEN, True),
        ("0.0.0.0", "short", False),
    ],
)
def test_bind_rule(host: str, token: str | None, ok: bool) -> None:
    if ok:
        check_bind(host, token)
    else:
        with pytest.raises(UsageError):
            check_bind(host, token)


def test_serve_refuses_open_address_without_token(source: Path) -> None:
    r = run_cli("serve", source, "--host", "0.0.0.0", "--port", "9")
    assert r.code == 2
    assert "give a --token" in r.err
    assert "Traceback" not in r.err


# ---- a real server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    source: Path, *args: str, env: dict[str, str] | None = None, segment: str = "region"
) -> tuple[Any, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "topshare", "serve", str(source), "--segment", segment,
         "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            httpx.get(url + "/static/style.css", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


@pytest.mark.parametrize("with_token", [False, True])
def test_real_server_on_loopback(source: Path, with_token: bool) -> None:
    env = {"TOPSHARE_TOKEN": TOKEN} if with_token else {"TOPSHARE_TOKEN": ""}
    proc, url = start_server(source, env=env)
    try:
        auth = {"authorization": f"Bearer {TOKEN}"} if with_token else {}
        r = httpx.get(url + "/api/summary?top=2", headers=auth, timeout=30)
        assert r.status_code == 200
        assert (r.json()["total"], r.json()["top_n_sum"]) == ("3950.00", "2200.00")
        secure(r)
        assert "server" not in r.headers
        bare = httpx.get(url + "/api/summary?top=2", timeout=30)
        assert bare.status_code == (401 if with_token else 200)
        assert httpx.post(url + "/api/summary", headers=auth, timeout=30).status_code == 405
    finally:
        stop_server(proc)


# ---- --get: one request through the real command ------------------------------------------------
def test_get_prints_the_body(source: Path) -> None:
    r = run_cli(
        "serve", source, "--segment", "region", "--get", "/api/summary?top=2&period=quarter"
    )
    assert r.code == 0, r.err
    want = topshare.analyze(source, top=2).to_dict()
    got = json.loads(r.out)
    for key in ("total", "top_n_sum", "top_n_share", "hhi", "gini", "money", "rows", "scope"):
        same(got[key], want[key], key)
    r = run_cli("serve", source, "--segment", "region", "--get", "/api/churn?top=2&period=quarter")
    assert r.code == 0, r.err
    want = topshare.analyze(source, top=2, period="quarter").to_dict()
    churn = json.loads(r.out)["periods"]
    assert [p["label"] for p in churn] == ["2024-Q1", "2024-Q2"]
    same(churn[1]["share_change"], want["periods"][1]["share_change"])


def test_get_errors_exit_1(source: Path) -> None:
    r = run_cli("serve", source, "--get", "/api/summary?top=0")
    assert r.code == 1
    assert json.loads(r.out)["error"]["status"] == 400
    bad = run_cli("serve", source, "--get", "http://example.org/api/summary")
    assert bad.code == 2
    assert "--get takes a path" in bad.err


def test_get_with_the_token_and_an_open_source_error(write: Writer) -> None:
    r = run_cli("serve", write("s.csv", DATA), "--token", TOKEN, "--get", "/api/top?top=1")
    assert r.code == 0
    assert json.loads(r.out)["top"][0]["entity"] == "A"
    missing = run_cli("serve", "nope.csv", "--get", "/api/summary")
    assert missing.code == 2
    assert "Traceback" not in missing.err

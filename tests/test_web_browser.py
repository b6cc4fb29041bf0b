"""The dashboard in a real headless Chromium, served by a real uvicorn on loopback: the page
loads under its CSP (no violation, no console error, nothing fetched from elsewhere), shows the
API's numbers, and follows a change of N, of the period and a click on an entity."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from browser import screenshot, watch
from test_explore import DATA
from test_web import TOKEN, start_server, stop_server
from test_web_traffic import log_text

CSP_PROBE = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


def money(text: str) -> str:
    """'1234.50' -> '1,234.50' (exact: the decimal string's digits, grouped)."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = body.partition(".")
    return f"{sign}{int(whole):,}" + (f".{frac}" if frac else "")


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("browser") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    proc, url = start_server(path, env={"TOPSHARE_TOKEN": ""})
    try:
        yield url
    finally:
        stop_server(proc)


def api(url: str, path: str, query: str) -> Any:
    r = httpx.get(f"{url}{path}?{query}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_ready(page: Page, query_part: str) -> str:
    # A selector, not wait_for_function: Playwright's polling evaluates strings, which the
    # page's CSP (no 'unsafe-eval') rightly refuses.
    page.wait_for_selector(
        f"body[data-state=ready][data-query*='{query_part}']", state="attached", timeout=30_000
    )
    return str(page.get_attribute("body", "data-query"))


def shown_equals_api(page: Page, url: str, query: str) -> None:
    s = api(url, "/api/summary", query)
    t = api(url, "/api/top", query)
    assert page.text_content("#card-share") == pct(s["top_n_share"])
    assert page.text_content("#card-sum") == f"top {s['top_n']}: {money(s['top_n_sum'])}"
    assert page.text_content("#card-total") == money(s["total"])
    assert page.text_content("#card-hhi") == f"{s['hhi_points']:,.0f}"
    assert page.text_content("#card-gini") == f"{s['gini']:.4f}"
    rows = page.locator("#top-table tbody tr")
    assert rows.count() == len(t["top"])
    for i, want in enumerate(t["top"]):
        cells = rows.nth(i).locator("td").all_text_contents()
        star = " ★" if want["major"] else ""
        assert cells[:5] == [str(want["rank"]), want["entity"] + star, money(want["value"]),
                             pct(want["share"]), pct(want["cumulative_share"])]  # fmt: skip
    others = page.locator("#others-row td").all_text_contents()
    assert others[1:4] == [f"Others ({t['others']['entities']:,})", money(t["others"]["value"]),
                           pct(t["others"]["share"])]  # fmt: skip
    # The rows add up to the total (exact decimals).
    parts = [Decimal(r["value"]) for r in t["top"]] + [Decimal(t["others"]["value"])]
    assert sum(parts) == Decimal(t["total"])


def test_dashboard_in_chromium(chromium_browser: Browser, server: str) -> None:
    page = chromium_browser.new_page()
    seen = watch(page, allow=lambda u: u.startswith(server + "/"))
    page.add_init_script(CSP_PROBE)
    page.goto(server + "/")
    query = wait_ready(page, "period=month")
    assert "top=10" in query
    shown_equals_api(page, server, query)
    for chart in ("pareto", "lorenz", "trend", "churn", "segments"):
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1, chart

    page.fill("#top", "2")
    page.dispatch_event("#top", "change")
    query = wait_ready(page, "top=2&")
    shown_equals_api(page, server, query)
    assert page.locator("#top-table tbody tr").count() == 2

    page.select_option("#period", "quarter")
    query = wait_ready(page, "period=quarter")
    shown_equals_api(page, server, query)
    trend = page.evaluate("document.getElementById('chart-trend').data[0].x")
    assert trend == [p["label"] for p in api(server, "/api/periods", query)["periods"]]

    page.select_option("select[data-column=region]", "south")
    query = wait_ready(page, "filter=region%3Dsouth")
    shown_equals_api(page, server, query)
    assert page.text_content("#card-total") == "1,950.00"  # south: B 1050 + C 900

    page.click("#top-table tbody tr:first-child button.entity")
    page.wait_for_selector("body[data-entity=B]", state="attached", timeout=30_000)
    e = api(server, "/api/entity", query + "&name=B")
    assert page.text_content("#entity-title") == "B"
    facts = page.text_content("#entity-facts") or ""
    assert facts.startswith(
        f"{money(e['value'])} = {pct(e['share'])} of the total, rank {e['rank']}"
    )
    bars = page.evaluate("document.getElementById('chart-entity').data[0].y")
    assert bars == [p["share"] for p in e["periods"]]

    screenshot(page, "dashboard")
    assert page.evaluate("window.__csp") == []
    assert seen.problems() == []
    page.close()


def test_log_dashboard_switches_dimension_in_chromium(
    chromium_browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On an access log (serve --traffic): the dimension and measure controls, and the numbers
    shown after a switch of dimension and of measure equal the API's."""
    path: Path = tmp_path_factory.mktemp("browser-log") / "access.log"
    path.write_text(log_text(), encoding="utf-8")
    proc, url = start_server(path, "--traffic", env={"TOPSHARE_TOKEN": ""}, segment="status-class")
    try:
        page = chromium_browser.new_page()
        seen = watch(page, allow=lambda u: u.startswith(url + "/"))
        page.add_init_script(CSP_PROBE)
        page.goto(url + "/")
        query = wait_ready(page, "dimension=path")
        assert page.is_visible("#dimension")
        shown_equals_api(page, url, query)
        assert page.text_content("#card-total") == "6"  # six requests (one malformed line apart)

        page.select_option("#dimension", "ip")
        query = wait_ready(page, "dimension=ip")
        shown_equals_api(page, url, query)
        assert page.text_content("#entity-head") == "IP"
        top = api(url, "/api/top", query)
        shown = [r.locator("td").nth(6).text_content() for r in
                 page.locator("#top-table tbody tr").all()]  # fmt: skip
        assert shown == [str(v["count"]) for v in top["traffic"]["visitors"]]

        page.select_option("#measure", "bytes")
        query = wait_ready(page, "measure=bytes")
        shown_equals_api(page, url, query)
        assert page.text_content("#card-total") == "1,550"  # 100 + 100 + 50 + 300 + 1000
        screenshot(page, "dashboard-log")
        assert page.evaluate("window.__csp") == []
        assert seen.problems() == []
        page.close()
    finally:
        stop_server(proc)


def test_token_login_in_chromium(
    chromium_browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """With a token: /?token=… once sets the cookie and drops the token from the address; the
    page then works on the cookie alone, and a fresh browser context without it is refused."""
    path: Path = tmp_path_factory.mktemp("login") / "sales.csv"
    path.write_text(DATA, encoding="utf-8")
    proc, url = start_server(path, env={"TOPSHARE_TOKEN": TOKEN})
    try:
        context = chromium_browser.new_context()
        page = context.new_page()
        seen = watch(page, allow=lambda u: u.startswith(url + "/"))
        page.goto(f"{url}/?token={TOKEN}")
        wait_ready(page, "period=month")
        assert page.url == url + "/"
        cookies = context.cookies()
        assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]
        assert TOKEN not in cookies[0]["value"]
        assert page.text_content("#card-total") == "3,950.00"
        assert seen.problems() == []
        context.close()
        other = chromium_browser.new_context()
        refused = other.new_page().goto(url + "/api/summary")
        assert refused is not None
        assert refused.status == 401
        other.close()
    finally:
        stop_server(proc)

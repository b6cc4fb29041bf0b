"""The HTML report in a real headless Chromium, offline: every network request is blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page

import topshare
from browser import screenshot, watch
from topshare.render.html import to_html

# Three quarters, a refund, a rejected row, two regions, and a key that tries to run a script.
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
"<script>window.__pwned = 1</script>",1000.00,2024-07-01,"<img src=x onerror=window.__pwned=2>"
C,120.00,2024-08-01,APAC
F,N/A,2024-08-03,EMEA
"""
RENDERED = (
    "() => { const d = [...document.querySelectorAll('[data-chart]')];"
    " return d.length > 0 && d.every(x => x.dataset.rendered === 'true'); }"
)


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    src = tmp_path / "sales.csv"
    src.write_text(SALES, encoding="utf-8")
    result = topshare.analyze(
        src, customer="customer", amount="amount", date="date", top=3, period="quarter",
        segments=["region"],
    )  # fmt: skip
    out = tmp_path / "report.html"
    out.write_text(to_html(result), encoding="utf-8")
    return out


def open_offline(browser: Browser, path: Path, width: int = 1366) -> tuple[Page, list[str]]:
    """Open ``path`` from disk with every other request aborted; return the page and a function
    of its problems (console errors, page errors, blocked or failed requests, dialogs)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    url = path.resolve().as_uri()
    seen = watch(page, allow=lambda u: u == url)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url, wait_until="load")
    page.wait_for_function(RENDERED, timeout=30_000)
    page.wait_for_timeout(200)  # late errors or requests, if any
    return page, seen.problems() + [f"dialog: {m}" for m in dialogs]


def test_report_renders_offline(chromium_browser: Browser, report_file: Path) -> None:
    page, problems = open_offline(chromium_browser, report_file)
    try:
        assert problems == []
        charts = page.eval_on_selector_all(
            "[data-chart]",
            "ds => ds.map(d => [d.dataset.chart, d.querySelectorAll('svg.main-svg').length,"
            " d.querySelectorAll('g.trace').length,"
            " JSON.parse(document.getElementById('fig-' + d.dataset.chart).textContent)"
            ".data.length])",
        )
        assert [c[0] for c in charts] == ["pareto", "lorenz", "trend", "churn", "segments"]
        for key, svgs, traces, wanted in charts:
            assert svgs >= 1, f"{key}: no Plotly SVG"
            assert traces == wanted, f"{key}: {traces} of {wanted} traces drawn"
        assert page.evaluate("window.__pwned === undefined")  # the data's markup never ran
        assert "<script>window.__pwned = 1</script>" in page.inner_text("#top")
        screenshot(page, "report")
        # The print stylesheet lays the page out for paper without errors.
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF")
        assert len(pdf) > 10_000
    finally:
        page.close()


def test_report_fits_a_small_laptop(chromium_browser: Browser, report_file: Path) -> None:
    page, problems = open_offline(chromium_browser, report_file, width=1024)
    try:
        assert problems == []
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 1,024px"
    finally:
        page.close()


def test_the_watch_catches_a_network_request(chromium_browser: Browser, tmp_path: Path) -> None:
    """The harness itself: a page that loads an image from the web is caught (and blocked)."""
    page_file = tmp_path / "leaky.html"
    page_file.write_text(
        '<!DOCTYPE html><p>x</p><img src="https://example.invalid/pixel.png">'
        "<script>console.error('boom')</script>",
        encoding="utf-8",
    )
    page = chromium_browser.new_page()
    try:
        url = page_file.resolve().as_uri()
        seen = watch(page, allow=lambda u: u == url)
        page.goto(url, wait_until="load")
        assert seen.blocked == ["https://example.invalid/pixel.png"]
        assert "boom" in seen.console_errors
    finally:
        page.close()

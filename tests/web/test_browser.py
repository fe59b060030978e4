"""End-to-end: Debian's Chromium, driven headless by Playwright, against ``scalewall web``.

Skips with the reason when /usr/bin/chromium (scripts/install-browser.sh) or the Python
``playwright`` package is missing. Playwright's own browser download is never used.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is missing: run scripts/install-browser.sh",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is missing: pip install playwright")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    profile = tempfile.mkdtemp(prefix="scalewall-chromium-")
    with sync_api.sync_playwright() as p:
        # A persistent context is how Playwright takes a fresh --user-data-dir.
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def page(browser: Any, server_url: str) -> Iterator[Any]:
    pg = browser.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.errors = errors
    pg.requests = requests
    yield pg
    pg.close()


def _ready(pg: Any) -> None:
    # Selectors, not wait_for_function: the page's CSP forbids the eval that a string
    # predicate needs.
    pg.wait_for_selector("body[data-state=ready]", state="attached", timeout=60_000)


def _text(pg: Any, selector: str, text: str) -> None:
    pg.locator(selector, has_text=text).wait_for(timeout=60_000)


def _chart_drawn(pg: Any, selector: str) -> None:
    """A plotly chart is an <svg class="main-svg"> holding drawn bars (paths)."""
    pg.wait_for_selector(f"{selector} svg.main-svg", timeout=30_000)
    n = pg.locator(f"{selector} svg.main-svg g.point path").count()
    assert n > 0, f"{selector}: no bars drawn"


def _lines_drawn(pg: Any, selector: str, traces: int) -> None:
    """A plotly line chart: ``traces`` scatter traces, each with a drawn line."""
    pg.wait_for_selector(f"{selector} svg.main-svg", timeout=30_000)
    n = pg.locator(f"{selector} svg.main-svg g.scatterlayer path.js-line").count()
    assert n >= traces, f"{selector}: {n} lines drawn, {traces} expected"


def test_plan_form_numbers_charts_and_url(page: Any, server_url: str) -> None:
    page.goto(server_url + "/")
    _ready(page)
    page.select_option("#model", "llama-3.1-8b")
    page.select_option("#hardware", "h100-sxm")
    page.fill("#devices", "256")
    page.fill("#tokens", "2T")
    page.select_option("#region", "france")
    page.click("#go")
    _text(page, "#plan-title", "256")
    _ready(page)
    assert page.locator("#errors").is_hidden()
    days = page.locator(".card[data-key=days] .value").inner_text()
    assert "days" in days and any(ch.isdigit() for ch in days)
    assert "tCO2e" in page.locator(".card[data-key=co2] .value").inner_text()
    assert "MWh" in page.locator(".card[data-key=energy] .value").inner_text()
    for chart in ("#chart-memory", "#chart-step", "#chart-cost", "#chart-data"):
        _chart_drawn(page, chart)
    assert "model=llama-3.1-8b" in page.url and "devices=256" in page.url
    assert "region=france" in page.url
    page.screenshot(path=str(ARTIFACTS / "plan.png"), full_page=True)
    # Nothing but this server was asked for anything.
    assert all(u.startswith(server_url) or u.startswith("data:") or u.startswith("blob:")
               for u in page.requests), page.requests
    assert not page.errors, page.errors


def test_shared_url_restores_the_view(page: Any, server_url: str) -> None:
    page.goto(server_url + "/?view=plan&model=mistral-7b&hardware=a100-sxm4-80gb&devices=64"
              "&tokens=1T&region=us-texas")
    _ready(page)
    assert page.input_value("#model") == "mistral-7b"
    assert page.input_value("#devices") == "64"
    title = page.locator("#plan-title").inner_text()
    assert "mistral-7b" in title and "64" in title


def test_switch_views_compare_and_serve(page: Any, server_url: str) -> None:
    page.goto(server_url + "/?model=llama-3.1-8b&devices=512&tokens=15T")
    _ready(page)
    page.click("#views button[data-view=compare]")
    page.wait_for_selector("#chart-compare svg.main-svg", timeout=60_000)
    _ready(page)
    _chart_drawn(page, "#chart-compare")
    assert page.locator("#compare-table tr").count() >= 3
    assert "view=compare" in page.url
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)

    page.click("#views button[data-view=serve]")
    page.fill("input[name=batch]", "32")
    page.fill("input[name=rps]", "20")
    page.click("#go")
    _text(page, "#serve-title", "llama-3.1-8b")
    _ready(page)
    assert "ms" in page.locator("#serve-cards .card[data-key=ttft] .value").inner_text()
    ttft_sub = page.locator("#serve-cards .card[data-key=ttft] .sub").inner_text()
    assert "at 20 req/s" in ttft_sub and "queue" in ttft_sub, ttft_sub
    cost_sub = page.locator("#serve-cards .card[data-key=cost] .sub").inner_text()
    assert "at 20 req/s" in cost_sub and "at full load" in cost_sub, cost_sub
    assert "validation set" in page.locator("#serve-note").inner_text() or (
        "median |error|" in page.locator("#serve-note").inner_text())
    _chart_drawn(page, "#chart-serve-memory")
    _chart_drawn(page, "#chart-serve-compare")
    _lines_drawn(page, "#chart-serve-hybrid", 2)
    _lines_drawn(page, "#chart-serve-roofline", 1)  # the roof; the GEMMs are markers
    assert page.locator("#chart-serve-roofline svg.main-svg g.scatterlayer path.point").count() >= 8
    hybrid_title = page.locator("#chart-serve-hybrid .gtitle").text_content() or ""
    assert "hybrid of equal size" in hybrid_title and "cheaper per token" in hybrid_title
    assert "view=serve" in page.url and "batch=32" in page.url
    page.screenshot(path=str(ARTIFACTS / "serve.png"), full_page=True)
    plain_tpot = page.locator("#serve-cards .card[data-key=tpot] .value").inner_text()
    page.fill("input[name=s_spec]", "3")
    page.fill("input[name=s_accepted]", "2.5")
    page.fill("input[name=s_draft]", "ngram")
    page.click("#go")
    _text(page, "#serve-cards .card[data-key=tpot] .sub", "speculative: 3 drafted by ngram")
    _ready(page)
    spec_tpot = page.locator("#serve-cards .card[data-key=tpot] .value").inner_text()
    assert float(spec_tpot.split()[0]) < float(plain_tpot.split()[0]), (spec_tpot, plain_tpot)
    assert not page.errors, page.errors


def test_serve_says_when_decode_is_host_bound(page: Any, server_url: str) -> None:
    """A small-active MoE model at batch 4,096 on one B200 waits on the engine's host."""
    page.goto(server_url + "/?view=serve&model=qwen3-30b-a3b&s_hardware=b200&s_devices=1"
              "&batch=4096&prompt=128&output=128&s_precision=fp4")
    _text(page, "#serve-title", "qwen3-30b-a3b")
    _ready(page)
    sub = page.locator("#serve-cards .card[data-key=tpot] .sub").inner_text()
    assert "host-bound" in sub and "outlasts the devices'" in sub, sub
    assert not page.errors, page.errors


def test_bad_input_shows_the_message_by_the_field(page: Any, server_url: str) -> None:
    page.goto(server_url + "/?model=llama-3.1-405b&devices=8&tokens=15T")
    _ready(page)
    box = page.locator("#errors")
    assert box.is_visible()
    assert "InvalidLayout" in box.inner_text() or "fits" in box.inner_text()
    page.fill("#tokens", "lots")
    page.click("#go")
    _ready(page)
    assert page.locator("#tokens.invalid").count() == 1
    assert "tokens must be a number" in page.locator(".field-error").first.inner_text()
    page.select_option("#hardware", "h100-sxm")
    page.fill("#tokens", "1T")
    page.fill("#devices", "2000000")
    page.click("#go")
    _ready(page)
    assert page.locator("#devices.invalid").count() == 1
    page.screenshot(path=str(ARTIFACTS / "error.png"), full_page=False)


def test_upload_config_json(page: Any, server_url: str, tmp_path: Path) -> None:
    import json

    config = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
              "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
              "vocab_size": 128256, "max_position_embeddings": 8192, "tie_word_embeddings": True}
    path = tmp_path / "tiny-llama.json"
    path.write_text(json.dumps(config))
    page.goto(server_url + "/?devices=64&tokens=1T")
    _ready(page)
    page.set_input_files("#upload", str(path))
    _text(page, "#upload-status", "parameters")
    assert "parameters" in page.locator("#upload-status").inner_text()
    page.click("#go")
    _text(page, "#plan-title", "tiny-llama")
    _chart_drawn(page, "#chart-memory")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    page.set_input_files("#upload", str(bad))
    page.wait_for_selector("#errors:not([hidden])")
    assert "not valid JSON" in page.locator("#errors").inner_text()


def test_wall_view_and_scenario_switch(page: Any, server_url: str) -> None:
    page.goto(server_url + "/?view=wall")
    _ready(page)
    if page.locator("#scenario").count() == 0:
        pytest.skip("scalewall.wall is not installed: the wall view is not offered")
    for chart in ("#chart-wall-fan", "#chart-wall-binding"):
        page.wait_for_selector(f"{chart} svg.main-svg")
        assert page.locator(f"{chart} svg.main-svg path.js-line").count() > 0
    first = page.locator("#chart-wall-fan .gtitle").text_content()
    options = page.locator("#scenario option").all_inner_texts()
    other = next(o for o in options if o != page.input_value("#scenario"))
    page.select_option("#scenario", other)
    _text(page, "#chart-wall-fan .gtitle", other)
    _ready(page)
    assert page.locator("#chart-wall-fan .gtitle").text_content() != first
    assert f"scenario={other}" in page.url
    page.screenshot(path=str(ARTIFACTS / "wall.png"), full_page=True)
    assert not page.errors, page.errors

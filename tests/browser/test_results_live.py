"""Headless Chromium: scorer entry and ODF import update the public pages without reload."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import make_settings
from tests.integration.test_results_streams import Live, live_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ODF = Path(__file__).resolve().parents[1] / "data" / "odf"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_server(make_settings(tmp_path)) as srv:
        yield srv


@pytest.fixture
def page(live: Live) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser.new_page(base_url=live.url, locale="fr-FR")
        finally:
            browser.close()


def _post(live: Live, path: str, **kw: Any) -> httpx.Response:
    r = httpx.post(f"{live.url}{path}", headers={**live.scorer, **kw.pop("headers", {})}, **kw)
    assert r.status_code == 200, r.text
    return r


def _mark(page: Any) -> None:
    page.evaluate("window.__noReload = 1")


def _not_reloaded(page: Any) -> bool:
    return bool(page.evaluate("window.__noReload === 1"))


def test_scorer_entry_updates_the_unit_page_live(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    code = f"ATH{('M' + uuid.uuid4().hex[:8].upper()).ljust(19, '-')}FNL-000100--"
    r = httpx.put(
        f"{live.url}/api/v1/results/units/{code}",
        json={
            "name": "Men's 100m Final",
            "name_fr": "100 m hommes, finale",
            "scheduled_at": "2026-11-02T18:30:00Z",
            "medal": True,
        },
        headers=live.scorer,
    )
    assert r.status_code == 200
    start = [
        {"participant": "1001", "name": "Moussa DIALLO", "noc": "SEN", "start_order": 1},
        {"participant": "1002", "name": "Kwame MENSAH", "noc": "GHA", "start_order": 2},
    ]
    _post(
        live,
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "START_LIST", "lines": start},
    )
    page.goto(f"/resultats/epreuves/{code}")
    expect(page.locator("h1")).to_have_text("100 m hommes, finale")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    _mark(page)
    results = [
        {**start[0], "rank": 2, "mark": "10.31"},
        {**start[1], "rank": 1, "mark": "10.22"},
    ]
    _post(
        live,
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "UNOFFICIAL", "lines": results},
    )
    first_row = page.locator("#live-body tr").first
    expect(first_row).to_contain_text("Kwame MENSAH")
    expect(first_row).to_contain_text("10.22")
    expect(page.locator("#unit-result-status")).to_have_text("Non officiel")
    _post(live, f"/api/v1/results/units/{code}/official", json={})
    expect(page.locator("#unit-official")).to_be_visible()
    assert _not_reloaded(page)
    # the medal table follows the official result, live too
    page.goto("/resultats/medailles")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    _mark(page)
    corrected = [{**results[0], "rank": 1}, {**results[1], "rank": 2}]
    _post(
        live,
        f"/api/v1/results/units/{code}/lines",
        json={"result_status": "OFFICIAL", "lines": corrected},
    )
    expect(page.locator("#live-body tr").first).to_contain_text("SEN")
    assert _not_reloaded(page)


def test_odf_import_updates_the_schedule_and_unit_pages_live(live: Live, page: Any) -> None:
    from playwright.sync_api import expect

    def odf(name: str) -> None:
        _post(
            live,
            "/api/v1/results/odf",
            content=(ODF / name).read_bytes(),
            headers={"Content-Type": "application/xml"},
        )

    odf("schedule_v1.xml")
    page.goto("/resultats?day=2026-11-02")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    _mark(page)
    odf("athm100m_official_v3.xml")
    row = page.locator('#live-body tr[data-key="ATHM100M--------------FNL-000100--"]')
    expect(row).to_contain_text("Terminée")
    expect(row).to_contain_text("SEN 10.21")
    assert _not_reloaded(page)
    page.goto("/resultats/epreuves/SWMW100MFR------------FNL-000100--")
    expect(page.locator("body")).to_have_attribute("data-live", "open")
    odf("swmw100mfr_official_v1.xml")
    expect(page.locator("#live-body tr").first).to_contain_text("Lerato Dlamini")

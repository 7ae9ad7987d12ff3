"""Smoke test in a real browser: the programme in French, htmx swaps, switch to English.

Also checks what a spectator's phone would notice: no console error, and no request to any
host but the loopback server (sovereignty: every asset is served by us).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Watch:
    """Console errors and foreign requests of one page (foreign ones are aborted)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.route("**/*", self._route)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(msg.text)

    def _route(self, route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()


def test_programme_in_french_then_english(chromium: Browser, demo_server: str) -> None:
    context = chromium.new_context(
        locale="fr-FR", viewport={"width": 360, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    watch = Watch(page)
    try:
        page.goto(f"{demo_server}/")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        expect(page.locator("h1")).to_contain_text("Programme des Jeux Olympiques")
        tabs = page.locator("#programme nav .tabs a")
        expect(tabs).to_have_count(14)
        expect(tabs.first).to_have_attribute("aria-current", "date")
        expect(page.locator("#programme h3")).to_contain_text("samedi 31 octobre 2026")
        expect(page.locator("svg.map circle")).to_have_count(9)
        expect(page.get_by_role("link", name="Dakar Arena (Palais des sports de Diamniadio)"))
        expect(page.locator(".badge.illus").first).to_be_visible()

        # htmx: a day tab swaps the programme section and pushes the URL.
        tabs.nth(1).click()
        expect(page.locator("#programme h3")).to_contain_text("dimanche 1 novembre 2026")
        expect(page).to_have_url(f"{demo_server}/?day=2026-11-01")
        # htmx: choosing a sport filters without a submit button press.
        page.select_option("select[name=sport]", "aquatics")
        expect(page).to_have_url(f"{demo_server}/?day=2026-11-01&sport=aquatics&venue=")
        titles = page.locator("#programme li.session .what")
        expect(titles.first).to_contain_text("Natation")
        assert all("Natation" in t for t in titles.all_inner_texts())

        # Language switch in the footer, back to the same page, in English.
        page.get_by_role("link", name="EN", exact=True).click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("footer")).to_contain_text("Data hosted in Senegal")
        expect(page.locator("#programme h3")).to_contain_text("Sunday, November 1, 2026")
        expect(page.locator("#programme li.session .what").first).to_contain_text("Swimming")
        page.goto(f"{demo_server}/")
        expect(page.locator("h1")).to_contain_text("Programme of the Youth Olympic Games")
        # The last day's tab is scrolled into view on a phone.
        page.goto(f"{demo_server}/?day=2026-11-13")
        expect(page.locator(".tabs [aria-current]")).to_be_in_viewport(ratio=0.9)

        assert watch.errors == []
        assert watch.foreign == []
    finally:
        context.close()


def test_venue_page_and_api_docs(chromium: Browser, demo_server: str) -> None:
    context = chromium.new_context(locale="fr-FR", viewport={"width": 360, "height": 740})
    page = context.new_page()
    watch = Watch(page)
    try:
        page.goto(f"{demo_server}/sites/saly-lamantin-beach")
        expect(page.locator("h1")).to_contain_text("Saly")
        expect(page.locator("main")).to_contain_text("Volleyball de plage")
        page.goto(f"{demo_server}/api/docs")
        expect(page.locator("h1")).to_have_text("Référence de l'API")
        expect(page.locator("main")).to_contain_text("/api/v1/programme/sessions")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360
        assert watch.errors == []
        assert watch.foreign == []
    finally:
        context.close()

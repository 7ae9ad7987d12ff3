"""The journey page in a real browser: French form, results with legs and the SVG map.

Uses the shared ``teranga demo`` server (tests/browser/conftest.py), as a newcomer would.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route, expect

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def test_spectator_plans_a_journey_to_dakar_arena(demo_server: str, chromium: Browser) -> None:
    page = chromium.new_page(locale="fr-FR")
    errors: list[str] = []
    foreign: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    def on_route(route: Route) -> None:
        if (urlsplit(route.request.url).hostname or "") in LOOPBACK:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.on("console", on_console)
    page.route("**/*", on_route)
    page.goto(f"{demo_server}/transport")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se rendre sur les sites")
    page.get_by_label("Départ").fill("Gare TER Dakar")
    page.get_by_label("Arrivée").select_option("dakar-arena")
    page.get_by_label("Date et heure").fill("2026-11-02T08:00")
    page.get_by_role("button", name="Trouver un trajet").click()
    journeys = page.locator("#journeys article.journey")
    expect(journeys.first).to_be_visible()
    expect(journeys.first).to_contain_text("TER")
    expect(journeys.first.locator("svg polyline").first).to_be_attached()
    assert errors == []
    assert foreign == []
    page.close()

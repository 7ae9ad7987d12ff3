"""Choosing seats on the map in headless Chromium on a 360 px phone, against ``teranga demo``:
programme -> billetterie -> a medal session's tribune map -> two seats (tap and keyboard),
seats taken meanwhile by someone else -> hold -> sandbox payment -> tickets with those seats.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.test_programme_browser import Watch

pytestmark = pytest.mark.browser


def _session_with_map(page: Page, base: str) -> str:
    """The first paid session, reached from the programme, whose tribune has a map."""
    page.goto(f"{base}/")
    page.locator("header nav a[href='/billetterie']").click()
    expect(page.locator("h1")).to_have_text("Billetterie")
    links = page.locator("li.card", has_text="À partir de").locator("a")
    for href in [links.nth(i).get_attribute("href") for i in range(links.count())]:
        page.goto(f"{base}{href}")
        if page.get_by_role("link", name="Choisir sur le plan").count():
            return str(href)
    raise AssertionError("no demo session offers a seat map")


def _by_value(plan: Locator, label: str) -> Locator:
    value = plan.get_by_role("button", name=label, exact=True).get_attribute("value")
    return plan.locator(f"button.st[value='{value}']")


def _take(page: Page, base: str, session: str, seat_label: str) -> None:
    """Someone else holds that seat through the public API."""
    form = page.locator("form#plan")
    seat = form.get_by_role("button", name=seat_label, exact=True).get_attribute("value")
    category = form.locator("input[name=category_id]").get_attribute("value")
    r = page.request.post(
        f"{base}/api/v1/ticketing/sessions/{session.rsplit('/', 1)[-1]}/holds",
        data={"category_id": category, "seat_ids": [seat]},
    )
    assert r.status == 201, r.text()


def test_choose_two_seats_on_the_map_then_pay(chromium: Browser, demo_server: str) -> None:
    context = chromium.new_context(
        locale="fr-FR", viewport={"width": 360, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    watch = Watch(page)
    try:
        session = _session_with_map(page, demo_server)
        expect(page.get_by_role("link", name="Meilleures places disponibles")).to_have_attribute(
            "aria-current", "true"
        )
        page.get_by_role("link", name="Choisir sur le plan").click()
        plan = page.locator("form#plan")
        expect(plan.get_by_role("link", name="Choisir sur le plan")).to_have_attribute(
            "aria-current", "true"
        )
        # Light: the page and everything it loads stay under 100 KB on the wire.
        transferred = page.evaluate(
            "performance.getEntriesByType('navigation')[0].transferSize +"
            " performance.getEntriesByType('resource').reduce((n, e) => n + e.transferSize, 0)"
        )
        assert 0 < transferred < 100_000
        # Accessible seats: a symbol and a text label, not a colour only.
        a1 = plan.get_by_role("button", name="Rang A, siège 1, accessible", exact=True)
        expect(a1).to_contain_text("♿")
        expect(plan.locator(".legend")).to_contain_text("place accessible en fauteuil roulant")
        # 360 px: the map scrolls sideways inside itself, the page does not.
        assert page.evaluate(
            "(() => { const m = document.querySelector('.seatmap');"
            " return m.scrollWidth > m.clientWidth"
            " && document.documentElement.scrollWidth <= 360; })()"
        )

        # By value: a seat's accessible name changes when it is taken.
        c8, c9, c10, c12 = (_by_value(plan, f"Rang C, siège {n}") for n in (8, 9, 10, 12))
        c8.click()
        expect(c8).to_have_attribute("aria-pressed", "true")
        # Keyboard: arrows move along the row, Space toggles.
        c8.focus()
        page.keyboard.press("ArrowRight")
        expect(c9).to_be_focused()
        page.keyboard.press("Space")
        expect(c9).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#plan-sel")).to_have_text(
            "2 sièges choisis : Rang C, siège 8 ; Rang C, siège 9"
        )
        expect(page.locator("#plan-total")).to_have_text(re.compile(r"^10\s000 FCFA$"))
        # Up to the per-order limit (4 in the demo).
        for label in ("Rang D, siège 1", "Rang D, siège 2"):
            plan.get_by_role("button", name=label, exact=True).click()
        c12.click()
        expect(c12).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#plan-msg")).to_have_text(
            "Vous pouvez choisir au plus 4 sièges pour cette commande."
        )
        for label in ("Rang D, siège 1", "Rang D, siège 2"):
            plan.get_by_role("button", name=label, exact=True).click()

        # Someone takes a chosen seat; back on the page, the map asks the API and says so.
        c12.click()
        _take(page, demo_server, session, "Rang C, siège 12")
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        expect(c12).to_be_disabled()
        expect(page.locator("#plan-msg")).to_contain_text(
            "Quelqu'un vient de prendre : Rang C, siège 12."
        )
        expect(plan.get_by_role("button", name="Rang C, siège 12, occupé")).to_have_count(1)
        expect(page.locator("#plan-total")).to_have_text(re.compile(r"^10\s000 FCFA$"))

        # Someone takes a chosen seat right before the hold: refreshed map, French message,
        # the other seats still chosen.
        c10.click()
        _take(page, demo_server, session, "Rang C, siège 10")
        plan.get_by_role("button", name="Réserver ces sièges").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "Un siège que vous aviez choisi vient d'être pris par quelqu'un d'autre."
        )
        expect(page.get_by_role("alert")).to_contain_text("Pris entre-temps : Rang C, siège 10")
        plan = page.locator("form#plan")
        expect(plan.get_by_role("button", name="Rang C, siège 10, occupé")).to_be_disabled()
        expect(plan.get_by_role("button", name="Rang C, siège 8", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(plan.get_by_role("button", name="Rang C, siège 9", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator("#plan-total")).to_have_text(re.compile(r"^10\s000 FCFA$"))

        # Hold exactly those two seats, pay with the sandbox, get the two tickets.
        plan.get_by_role("button", name="Réserver ces sièges").click()
        expect(page.locator("#left")).to_contain_text(re.compile(r"\d+ min \d\d s"))
        places = page.locator("main ul li")
        expect(places).to_have_count(2)
        expect(places.nth(0)).to_contain_text("T · rang C · place 8")
        expect(places.nth(1)).to_contain_text("T · rang C · place 9")
        page.locator("input[name=phone]").fill("77 234 56 78")
        page.locator("form.card button[type=submit]").click()
        page.get_by_role("button", name="Approuver le paiement").click()
        expect(page.locator("h1")).to_have_text("Vos billets")
        tickets = page.locator(".ticket h2")
        expect(tickets).to_have_count(2)
        expect(tickets.nth(0)).to_have_text("Tribune d'honneur — T · rang C · place 8")
        expect(tickets.nth(1)).to_have_text("Tribune d'honneur — T · rang C · place 9")
        expect(page.locator(".ticket svg")).to_have_count(2)

        # The sold seats now show taken on the map for the next buyer.
        page.goto(f"{demo_server}{session}")
        page.get_by_role("link", name="Choisir sur le plan").click()
        expect(page.get_by_role("button", name="Rang C, siège 8, occupé")).to_be_disabled()
        assert watch.foreign == []
        assert watch.errors == []
    finally:
        context.close()

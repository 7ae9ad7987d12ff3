"""Buying a ticket in headless Chromium on a phone-sized screen, against ``teranga demo``:
browse -> hold (countdown) -> phone -> sandbox payment -> ticket with QR, then offline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.test_programme_browser import Watch

pytestmark = pytest.mark.browser


def _phone(chromium: Browser) -> BrowserContext:
    return chromium.new_context(
        locale="fr-FR", viewport={"width": 360, "height": 740}, is_mobile=True
    )


def _hold_and_order(page: Page, demo_server: str, phone: str) -> None:
    """From the ticket office: the first paid session, one place held, the phone given."""
    page.goto(f"{demo_server}/billetterie")
    expect(page.locator("h1")).to_have_text("Billetterie")
    page.locator("li.card", has_text="À partir de").first.locator("a").click()
    expect(page.locator("form.card").first).to_be_visible()
    page.locator("form.card").first.get_by_role("button").click()
    expect(page.locator("#left")).to_contain_text(re.compile(r"\d+ min \d\d s"))
    page.locator("input[name=phone]").fill(phone)
    page.locator("form.card button[type=submit]").click()


def test_buy_with_sandbox_then_ticket_works_offline(chromium: Browser, demo_server: str) -> None:
    context = _phone(chromium)
    page = context.new_page()
    watch = Watch(page)
    try:
        _hold_and_order(page, demo_server, "77 123 45 67")
        page.get_by_role("button", name="Approuver le paiement").click()
        expect(page.locator("h1")).to_have_text("Vos billets")
        expect(page.locator(".ticket svg")).to_have_count(1)
        code = page.locator(".ticket strong").first.inner_text()
        assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", code)
        # Offline: once the service worker has seen the page, it shows without a network.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        context.set_offline(True)
        page.reload()
        expect(page.locator(".ticket svg")).to_have_count(1)
        expect(page.locator(".ticket strong").first).to_have_text(code)
        context.set_offline(False)
        assert watch.foreign == []
        assert [e for e in watch.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []
    finally:
        context.close()


def test_declined_payment_then_pay_again(chromium: Browser, demo_server: str) -> None:
    context = _phone(chromium)
    page = context.new_page()
    watch = Watch(page)
    try:
        _hold_and_order(page, demo_server, "77 765 43 21")
        page.get_by_role("button", name="Refuser").click()
        # Back on the order: the failure said, a form to pay again, no refresh resetting it.
        expect(page.locator("h1")).to_have_text("Votre commande")  # not paid: no tickets yet
        expect(page.locator("p[role=alert]")).to_contain_text("Le paiement a échoué")
        expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
        page.locator("form[action$='/payer'] button[type=submit]").click()
        page.get_by_role("button", name="Approuver le paiement").click()
        expect(page.locator(".ticket svg")).to_have_count(1)
        expect(page.locator("h1")).to_have_text("Vos billets")
        expect(page.locator("form[action$='/payer']")).to_have_count(0)
        assert watch.foreign == []
        assert watch.errors == []
    finally:
        context.close()

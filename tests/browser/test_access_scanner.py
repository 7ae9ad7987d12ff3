"""The gate agent's scanner in headless Chromium: online answers, then the network is cut
and the page keeps deciding (and survives a reload through its service worker); when the
network returns, the scans made offline reach the server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser
PASSWORD = "teranga-demo-2026"


def _login(context: BrowserContext, base: str, email: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def _badges(browser: Browser, base: str) -> list[str]:
    ctx = browser.new_context()
    page = _login(ctx, base, "admin@demo.teranga.sn")
    data = page.request.get(f"{base}/api/v1/access/accreditations").json()
    ctx.close()
    return [b["qr_text"] for b in data if "MEDIA" in b["zones"] or "MIX" in b["zones"]]


def _scan(page: Page, text: str) -> None:
    page.fill("#code", text)
    page.click("#manual button[type=submit]")


def test_scanner_online_then_offline_then_sync(chromium: Browser, demo_server: str) -> None:
    base = demo_server
    badges = _badges(chromium, base)
    assert len(badges) >= 3
    ctx = chromium.new_context(locale="fr-FR")
    errors: list[str] = []
    page = _login(ctx, base, "porte@demo.teranga.sn")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/controle")
    page.get_by_role("link", name="Porte Presse").click()
    expect(page.locator("body")).to_have_attribute("data-scanner-ready", "1", timeout=15000)
    net = page.locator("#net")
    verdict = page.locator("#verdict")
    expect(net).to_have_text("En ligne")

    _scan(page, badges[0])
    expect(verdict).to_have_class("ok")
    expect(verdict).to_contain_text("Entrée autorisée")
    _scan(page, badges[0])
    expect(verdict).to_have_class("ko")
    expect(verdict).to_contain_text("Déjà entré à la porte Porte Presse")

    # The network drops: the page switches to offline by itself and still decides.
    ctx.set_offline(True)
    _scan(page, badges[1])
    expect(verdict).to_have_class("ok")
    expect(net).to_have_text("Hors ligne")
    expect(page.locator("#queue")).to_have_text("1")
    _scan(page, badges[1])
    expect(verdict).to_contain_text("Déjà entré")
    _scan(page, "TB1NOTAREALBADGE")
    expect(verdict).to_contain_text("Billet inconnu ou falsifié")

    # Reload while offline: the service worker serves the page, the bundle is kept locally.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-scanner-ready", "1", timeout=15000)
    _scan(page, badges[2])
    expect(verdict).to_have_class("ok")

    # Network back: the queue drains and the server knows the offline entries.
    ctx.set_offline(False)
    expect(net).to_have_text("En ligne", timeout=20000)
    expect(page.locator("#queue")).to_have_text("0")
    gate_url = page.url
    gate_id = re.sub(r".*/portes/", "", gate_url)
    bundle = page.request.get(f"{base}/api/v1/access/gates/{gate_id}/bundle").json()
    entered = {e["credential_id"] for e in bundle["entries"] if e["direction"] == "in"}
    assert len(entered) == 3
    assert errors == []
    ctx.close()

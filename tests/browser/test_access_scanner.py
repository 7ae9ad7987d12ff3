"""The gate agent's scanner in headless Chromium: online answers, then the network is cut
and the page keeps deciding (and survives a reload through its service worker); when the
network returns, the scans made offline reach the server. Typed short codes are checked
offline too, against the salted digests of the bundle."""

from __future__ import annotations

import json
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


CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
OPEN_SESSION = "Entraînement ouvert au public"  # demo session whose gates are open now


def _sell_ticket(browser: Browser, base: str) -> dict[str, str]:
    """A ticket for today's demo session, sold at the box office by the organiser."""
    ctx = browser.new_context()
    page = _login(ctx, base, "admin@demo.teranga.sn")
    sessions = page.request.get(f"{base}/api/v1/ticketing/sessions").json()
    session = next(s for s in sessions if s["name"].startswith(OPEN_SESSION))
    detail = page.request.get(f"{base}/api/v1/ticketing/sessions/{session['id']}").json()
    # Any page of the signed-in organiser carries the CSRF token the API wants with a cookie.
    gates = page.request.get(f"{base}/api/v1/access/gates").json()
    page.goto(f"{base}/controle/portes/{gates[0]['id']}")
    csrf = json.loads(page.locator("#scanner-config").text_content() or "{}")["csrf"]
    sale = page.request.post(
        f"{base}/api/v1/ticketing/boxoffice/sales",
        data={
            "session_id": session["id"],
            "category_id": detail["categories"][0]["id"],
            "quantity": 1,
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert sale.status == 201, sale.text()
    ticket: dict[str, str] = sale.json()["order"]["tickets"][0]
    ctx.close()
    return ticket


def test_typed_code_offline_then_sync(chromium: Browser, demo_server: str) -> None:
    base = demo_server
    ticket = _sell_ticket(chromium, base)
    code = ticket["code"]  # as printed: ABCD-EFG-HJK
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", code)
    check = code[-1]
    mistyped = code[:-1] + next(c for c in CODE_ALPHABET if c != check)
    ctx = chromium.new_context(locale="fr-FR")
    errors: list[str] = []
    page = _login(ctx, base, "porte@demo.teranga.sn")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/controle")
    page.get_by_role("link", name="Porte A").click()
    expect(page.locator("body")).to_have_attribute("data-scanner-ready", "1", timeout=15000)
    net = page.locator("#net")
    verdict = page.locator("#verdict")
    expect(net).to_have_text("En ligne")

    # Offline, the spectator reads the code out; the agent types it as heard.
    ctx.set_offline(True)
    _scan(page, code.lower().replace("-", " "))
    expect(verdict).to_have_class("ok")
    expect(verdict).to_contain_text("Entrée autorisée")
    expect(net).to_have_text("Hors ligne")
    _scan(page, code)
    expect(verdict).to_have_class("ko")
    expect(verdict).to_contain_text("Déjà entré à la porte Porte A")
    _scan(page, mistyped)  # wrong check character: refused without a lookup
    expect(verdict).to_have_class("ko")
    expect(verdict).to_contain_text("Billet inconnu ou falsifié")
    expect(page.locator("#queue")).to_have_text("3")

    # Network back: the queued scans sync and the server holds one entry for the ticket.
    ctx.set_offline(False)
    expect(net).to_have_text("En ligne", timeout=20000)
    expect(page.locator("#queue")).to_have_text("0")
    gate_id = re.sub(r".*/portes/", "", page.url)
    bundle = page.request.get(f"{base}/api/v1/access/gates/{gate_id}/bundle").json()
    entries = [e for e in bundle["entries"] if e["credential_id"] == ticket["id"]]
    assert [e["direction"] for e in entries] == ["in"]
    assert code.replace("-", "") not in json.dumps(bundle)
    # Online now, the server (which checks codes itself) agrees.
    _scan(page, code)
    expect(verdict).to_contain_text("Déjà entré à la porte Porte A")
    assert errors == []
    ctx.close()

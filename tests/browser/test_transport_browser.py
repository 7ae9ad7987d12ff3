"""The journey page in a real browser: French form, results with legs and the SVG map.

Runs its own server with only the platform tenant and the transport demo network, so the
page is tested even while other domains' demo data changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route, expect

from tests.browser.conftest import _free_port, _wait_healthy

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOAD = (
    "from teranga.config import load_settings; from teranga import schema, demo; "
    "from teranga.transport import demo as transport_demo; s = load_settings(); "
    "schema.upgrade(s.resolved_admin_url); demo.ensure_demo_tenant(s); transport_demo.load(s)"
)


@pytest.fixture(scope="module")
def transport_server() -> Iterator[str]:
    data_dir = Path(tempfile.mkdtemp(prefix="teranga-transport-"))
    port = _free_port()
    env = {
        **os.environ,
        "TERANGA_DATA_DIR": str(data_dir),
        "TERANGA_DATABASE_URL": "",
        "TERANGA_DATABASE_ADMIN_URL": "",
        "TERANGA_BROKER_URL": "memory://",
        "TERANGA_SECRET_KEY": "browser-test-secret-key-0123456789abcdef",
        "TERANGA_PORT": str(port),
        "TERANGA_CONFIG_FILE": str(data_dir / "none.toml"),
    }
    subprocess.run([sys.executable, "-c", LOAD], env=env, check=True, timeout=300)
    log = data_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from teranga.cli.main import main; main()", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, timeout=120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_spectator_plans_a_journey_to_dakar_arena(transport_server: str, chromium: Browser) -> None:
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
    page.goto(f"{transport_server}/transport")
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

"""A real ``teranga demo`` in a subprocess and Debian's chromium driven by Playwright.

Never ``playwright install``: the browser is /usr/bin/chromium (scripts/ensure-chromium.sh
installs it). The server runs on a free loopback port with its own SQLite data directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("TERANGA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"teranga demo exited early:\n{log.read_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/healthz", timeout=1) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"teranga demo not healthy after {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def demo_server() -> Iterator[str]:
    """Base URL of ``teranga demo`` (demo data loaded) on a free loopback port."""
    data_dir = Path(tempfile.mkdtemp(prefix="teranga-browser-"))
    port = _free_port()
    env = {
        **os.environ,
        "TERANGA_DATA_DIR": str(data_dir),
        "TERANGA_DATABASE_URL": "",
        "TERANGA_DATABASE_ADMIN_URL": "",
        "TERANGA_BROKER_URL": "memory://",
        "TERANGA_SECRET_KEY": "browser-tests-secret-key-0123456789abcdef",  # sandbox payments
        "TERANGA_HOST": "127.0.0.1",
        "TERANGA_PORT": str(port),
        "TERANGA_CONFIG_FILE": str(data_dir / "none.toml"),
    }
    log = data_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from teranga.cli.main import main; main()", "demo"],
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


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's chromium, per module: only one sync Playwright may run at a time, and other
    browser test modules start their own."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()

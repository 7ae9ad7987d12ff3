"""The SMS port: masking, the log adapter (no phone, no text in the logs) and the http
adapter against a real gateway on loopback (answers, errors, timeouts)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from teranga.platform.sms import (
    HttpSmsSender,
    LogSmsSender,
    SmsError,
    make_sender,
    mask_phone,
)
from tests.conftest import make_settings

TEXT = "Billet JOJ Dakar 2026 transféré par +221***12 : Finale. Votre billet : http://x/b/SECRET"


class Gateway(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[dict[str, str], Any]] = []
        self.status = 202
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/sms"


class Handler(BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.received.append((headers, json.loads(body)))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_mask_keeps_the_country_and_two_digits() -> None:
    assert mask_phone("+221771234512") == "+221 ••• •• 12"
    assert mask_phone("+221771234512", compact=True) == "+221•••12"
    assert mask_phone("+33612345678", compact=True) == "+33•••78"
    assert "1234" not in mask_phone("+221771234512")


def test_log_adapter_keeps_messages_and_logs_neither_phone_nor_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = LogSmsSender(keep=2)
    with caplog.at_level(logging.DEBUG, logger="teranga.platform.sms"):
        for n in range(3):
            sender.send(f"+22177123451{n}", TEXT)
    assert [m.to for m in sender.sent] == ["+221771234511", "+221771234512"]
    logged = caplog.text
    assert "+221 ••• •• 12" in logged
    assert "771234512" not in logged
    assert "SECRET" not in logged


def test_http_adapter_posts_json_with_the_bearer_token(gateway: Gateway) -> None:
    sender = HttpSmsSender(gateway.url, "tok-123", timeout=2)
    sender.send("+221771234512", TEXT)
    sender.close()
    ((headers, body),) = gateway.received
    assert body == {"to": "+221771234512", "text": TEXT}
    assert headers["authorization"] == "Bearer tok-123"
    assert headers["content-type"] == "application/json"


def test_http_adapter_raises_on_refusal_timeout_and_no_gateway(gateway: Gateway) -> None:
    gateway.status = 503
    sender = HttpSmsSender(gateway.url, "tok", timeout=0.5, connect_timeout=0.5)
    with pytest.raises(SmsError, match="HTTP 503"):
        sender.send("+221771234512", TEXT)
    gateway.status, gateway.delay = 200, 1.5
    with pytest.raises(SmsError, match="timeout"):
        sender.send("+221771234512", TEXT)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = HttpSmsSender(f"http://127.0.0.1:{port}/sms", "tok", timeout=0.5)
    with pytest.raises(SmsError, match="unreachable"):
        closed.send("+221771234512", TEXT)


def test_settings_choose_the_adapter(tmp_path: Path, gateway: Gateway) -> None:
    assert isinstance(make_sender(make_settings(tmp_path)), LogSmsSender)
    s = make_settings(tmp_path, sms={"backend": "http", "url": gateway.url, "token": "t"})
    assert isinstance(make_sender(s), HttpSmsSender)
    with pytest.raises(ValueError, match="TERANGA_SMS__URL"):
        make_sender(make_settings(tmp_path, sms={"backend": "http"}))

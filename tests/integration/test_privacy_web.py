"""The app factory wires request ids and redacted JSON logs through privacy.web.setup."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from teranga.config import Settings
from teranga.platform.logging import MASK
from teranga.web.app import create_app


async def test_app_echoes_request_ids_and_logs_without_pii(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sqlite_settings.model_copy(update={"log_json": True})
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            generated = await client.get("/healthz")
            kept = await client.get("/healthz", headers={"X-Request-ID": "gw-2026-000123"})
            missing = await client.get("/no-such-page")
        assert len(generated.headers["x-request-id"]) == 32
        assert kept.headers["x-request-id"] == "gw-2026-000123"
        assert "x-request-id" in missing.headers  # errors too

        logging.getLogger("teranga.test").info(
            "buyer %s", "+221 77 123 45 67", extra={"email": "awa@example.sn"}
        )
        lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
        line = next(x for x in lines if x["logger"] == "teranga.test")
        assert line["message"] == f"buyer {MASK}"
        assert line["email"] == MASK
    finally:
        root = logging.getLogger()
        for h in list(root.handlers):
            if getattr(h, "_teranga", False):
                root.removeHandler(h)
        app.state.container.dispose()

"""Structured logs carry no personal data and carry the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from teranga.config import Settings
from teranga.platform.logging import (
    MASK,
    RequestIdMiddleware,
    configure_logging,
    redact_text,
    request_id_var,
)

PHONE_SN = "77 123 45 67"
PHONE_INTL = "+33 6 12 34 56 78"
EMAIL = "awa.ndiaye@example.sn"


@pytest.fixture
def json_logs(tmp_path: Path) -> Iterator[None]:
    handler = configure_logging(Settings(data_dir=tmp_path, log_json=True, log_level="DEBUG"))
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)


def _lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_phone_email_and_denied_extras_never_reach_the_output(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("teranga.test")
    token = request_id_var.set("req-0123456789")
    try:
        log.warning(
            "payment by %s (%s) for %s",
            PHONE_SN,
            EMAIL,
            PHONE_INTL,
            extra={
                "phone": "771234567",
                "holder_name": "Awa Ndiaye",
                "password": "hunter2hunter2",
                "authorization": "Bearer abc.def",
                "order_id": "ord-42",
                "note": "call +221771234567 or write to awa@example.sn",
                "payload": {"email": "x@y.sn", "amount_xof": 5000, "msisdn": "221771234567"},
            },
        )
    finally:
        request_id_var.reset(token)
    out = capsys.readouterr().err
    for secret in (
        "77 123 45 67",
        "771234567",
        "+33 6 12",
        "awa.ndiaye",
        "awa@example.sn",
        "x@y.sn",
        "Awa Ndiaye",
        "hunter2",
        "abc.def",
    ):
        assert secret not in out, secret
    (line,) = _lines(out)
    assert line["level"] == "WARNING"
    assert line["logger"] == "teranga.test"
    assert line["request_id"] == "req-0123456789"
    assert line["order_id"] == "ord-42"  # ordinary extras survive
    assert line["payload"] == {"email": MASK, "amount_xof": 5000, "msisdn": MASK}
    assert line["message"] == f"payment by {MASK} ({MASK}) for {MASK}"
    assert "time" in line


def test_tracebacks_are_redacted(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError(f"no account for {EMAIL}")
    except ValueError:
        logging.getLogger("teranga.test").exception("lookup failed")
    (line,) = _lines(capsys.readouterr().err)
    assert EMAIL not in json.dumps(line)
    assert "ValueError" in str(line["exc"])


def test_redact_text_leaves_ids_and_amounts_alone() -> None:
    text = "order 0190c6e2-7712-7345-8a9b-771234567890 amount 15000 XOF at 2026-10-31T12:00"
    assert redact_text(text) == text
    assert redact_text("tel 78-123-45-67.") == f"tel {MASK}."


def _app() -> Starlette:
    def endpoint(request: Request) -> JSONResponse:
        logging.getLogger("teranga.test").info("handled")
        return JSONResponse({"rid": request_id_var.get(), "state": request.state.request_id})

    app = Starlette(routes=[Route("/", endpoint)])
    app.add_middleware(RequestIdMiddleware)
    return app


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://t")


async def test_request_id_middleware_generates_and_echoes(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    async with _client() as client:
        resp = await client.get("/")
    rid = resp.headers["x-request-id"]
    assert len(rid) == 32
    assert resp.json() == {"rid": rid, "state": rid}
    (line,) = [x for x in _lines(capsys.readouterr().err) if x["message"] == "handled"]
    assert line["request_id"] == rid
    assert request_id_var.get() is None  # reset after the request


async def test_request_id_middleware_honours_sane_ids_only() -> None:
    async with _client() as client:
        kept = await client.get("/", headers={"X-Request-ID": "proxy-abc-12345678"})
        replaced = await client.get("/", headers={"X-Request-ID": "bad id\twith spaces"})
        too_long = await client.get("/", headers={"X-Request-ID": "a" * 300})
    assert kept.headers["x-request-id"] == "proxy-abc-12345678"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(too_long.headers["x-request-id"]) == 32


def test_text_format_is_redacted_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    handler = configure_logging(Settings(data_dir=tmp_path, log_json=False))
    try:
        logging.getLogger("teranga.test").warning("sms to %s", PHONE_SN, extra={"email": EMAIL})
    finally:
        logging.getLogger().removeHandler(handler)
    err = capsys.readouterr().err
    assert "sms to [redacted]" in err
    assert PHONE_SN not in err
    assert EMAIL not in err


@settings(max_examples=80, deadline=None)
@given(
    prefix=st.sampled_from(["70", "76", "77", "78", "33"]),
    rest=st.text(alphabet="0123456789", min_size=7, max_size=7),
    intl=st.sampled_from(["", "+221", "00221", "221 "]),
    sep=st.sampled_from(["", " ", ".", "-"]),
    words=st.sampled_from(["appel du", "tel:", "(", "numéro"]),
)
def test_any_written_phone_is_masked(
    prefix: str, rest: str, intl: str, sep: str, words: str
) -> None:
    phone = intl + sep.join([prefix, rest[:3], rest[3:5], rest[5:]])
    out = redact_text(f"{words} {phone}, merci")
    assert rest[3:] not in out.replace(MASK, "")
    assert MASK in out

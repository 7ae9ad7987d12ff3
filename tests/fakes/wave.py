"""A fake Wave checkout API (docs.wave.com/checkout, /webhook) on loopback.

Speaks Wave's wire format: ``/v1/checkout/sessions`` (create, get, search, expire,
refund), Bearer API key, string amounts, ``checkout_status``/``payment_status``, and
webhooks ``{"id", "type", "data"}`` signed ``Wave-Signature: t=<unix>,v1=HMAC(secret,
t + body)``.

Webhooks are not pushed: each one is appended to ``deliveries`` as (headers, body) and the
test decides how to deliver them (once, duplicated, shuffled, or never), which is how
duplicate, out-of-order and lost callbacks are produced. Fault switches:
``create_delay`` (create the session, then answer too late), ``amount_seen`` (the status
API reports another amount), ``ignore_expire`` (the buyer still pays after an expire),
``status_lag`` (GET says ``processing`` for N reads after payment), ``refund_error``
/ ``status_error`` (refunds / status reads answer that HTTP status).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from collections import Counter
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Request

_ids = itertools.count(1)


def wave_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class FakeWave:
    def __init__(
        self,
        *,
        api_key: str = "wave_sn_prod_test",
        secret: str = "wave-whsec",  # noqa: S107 - a fake server's test credential
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.sessions: dict[str, dict[str, Any]] = {}
        self.created_per_reference: Counter[str] = Counter()
        self.refunds: list[str] = []
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.create_delay = 0.0
        self.amount_seen: dict[str, str] = {}
        self.ignore_expire = False
        self.status_lag = 0
        self.refund_error: int | None = None  # answer refunds with this HTTP status
        self.status_error: int | None = None  # answer status reads with this HTTP status
        self._lagging: Counter[str] = Counter()
        self.now = time.time
        self.app = self._build()

    # -- what the buyer / Wave does ---------------------------------------------------
    def session_for(self, client_reference: str) -> dict[str, Any]:
        found = [s for s in self.sessions.values() if s["client_reference"] == client_reference]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} sessions for {client_reference}")
        return found[0]

    def pay(self, session_id: str) -> None:
        s = self.sessions[session_id]
        if s["checkout_status"] == "expired" and not self.ignore_expire:
            raise AssertionError("cannot pay an expired session")
        s.update(checkout_status="complete", payment_status="succeeded")
        s["when_completed"] = _iso(self.now())
        s["transaction_id"] = f"T_{next(_ids)}"
        self._lagging[session_id] = self.status_lag
        self._emit("checkout.session.completed", s)

    def fail(self, session_id: str) -> None:
        s = self.sessions[session_id]
        s["last_payment_error"] = {"code": "insufficient-funds", "message": "Solde insuffisant"}
        self._emit("checkout.session.payment_failed", s)

    def _emit(self, event_type: str, session: dict[str, Any]) -> None:
        self.deliveries.append(self.webhook(event_type, session))

    def webhook(
        self,
        event_type: str,
        session: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: int | None = None,
        event_id: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(
            {"id": event_id or f"EV_{next(_ids)}", "type": event_type, "data": dict(session)}
        ).encode()
        ts = int(self.now()) if timestamp is None else timestamp
        return {"Wave-Signature": wave_signature(secret or self.secret, body, ts)}, body

    # -- the HTTP API -----------------------------------------------------------------
    def _build(self) -> FastAPI:
        app = FastAPI()

        def auth(authorization: str | None) -> None:
            if authorization != f"Bearer {self.api_key}":
                raise HTTPException(401, {"code": "no-matching-api-key"})

        @app.post("/v1/checkout/sessions")
        async def create(
            request: Request, authorization: str | None = Header(default=None)
        ) -> dict[str, Any]:
            auth(authorization)
            body = await request.json()
            if body.get("currency") != "XOF" or not str(body.get("amount", "")).isdigit():
                raise HTTPException(400, {"code": "request-validation-error"})
            sid = f"cos-{next(_ids):06d}"
            created = self.now()
            session = {
                "id": sid,
                "amount": str(body["amount"]),
                "checkout_status": "open",
                "client_reference": body.get("client_reference"),
                "currency": "XOF",
                "error_url": body["error_url"],
                "last_payment_error": None,
                "business_name": "JOJ Dakar 2026",
                "payment_status": "processing",
                "success_url": body["success_url"],
                "wave_launch_url": f"https://pay.wave.com/c/{sid}?a={body['amount']}&c=XOF",
                "when_completed": None,
                "when_created": _iso(created),
                "when_expires": _iso(created + 1800),
                "transaction_id": None,
            }
            self.sessions[sid] = session
            self.created_per_reference[str(body.get("client_reference"))] += 1
            if self.create_delay:
                await asyncio.sleep(self.create_delay)
            return session

        @app.get("/v1/checkout/sessions/search")
        def search(
            client_reference: str, authorization: str | None = Header(default=None)
        ) -> dict[str, Any]:
            auth(authorization)
            found = [s for s in self.sessions.values() if s["client_reference"] == client_reference]
            return {"result": found}

        @app.get("/v1/checkout/sessions/{sid}")
        def get(sid: str, authorization: str | None = Header(default=None)) -> dict[str, Any]:
            auth(authorization)
            if self.status_error is not None:
                raise HTTPException(self.status_error, {"code": "internal-server-error"})
            if sid not in self.sessions:
                raise HTTPException(404, {"code": "checkout-session-not-found"})
            s = dict(self.sessions[sid])
            if self._lagging[sid] > 0:
                self._lagging[sid] -= 1
                s.update(checkout_status="open", payment_status="processing")
            if sid in self.amount_seen:
                s["amount"] = self.amount_seen[sid]
            return s

        @app.post("/v1/checkout/sessions/{sid}/expire")
        def expire(sid: str, authorization: str | None = Header(default=None)) -> None:
            auth(authorization)
            s = self.sessions.get(sid)
            if s is None:
                raise HTTPException(404, {"code": "checkout-session-not-found"})
            if s["checkout_status"] != "open":
                raise HTTPException(409, {"code": "checkout-session-not-open"})
            if not self.ignore_expire:
                s.update(checkout_status="expired", payment_status="cancelled")

        @app.post("/v1/checkout/sessions/{sid}/refund")
        def refund(sid: str, authorization: str | None = Header(default=None)) -> None:
            auth(authorization)
            if self.refund_error is not None:
                raise HTTPException(self.refund_error, {"code": "internal-server-error"})
            s = self.sessions.get(sid)
            if s is None or s["payment_status"] != "succeeded" or sid in self.refunds:
                raise HTTPException(409, {"code": "checkout-refund-failed"})
            self.refunds.append(sid)

        return app


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")

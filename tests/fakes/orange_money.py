"""A fake Orange Money Web Payment API on loopback.

``/oauth/v3/token`` (Basic client credentials), ``/orange-money-webpay/dev/v1/webpayment``
(answers ``pay_token``, ``payment_url``, ``notif_token``; currency ``OUV`` in dev) and
``…/transactionstatus`` (``INITIATED``/``SUCCESS``/``FAILED``/``EXPIRED``).
Notifications ``{"status", "notif_token", "txnid"}`` are appended to ``deliveries``
(with the ``notif_url`` they were meant for) for the test to deliver or lose.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from typing import Any

from fastapi import FastAPI, Header, HTTPException, Request

_ids = itertools.count(1)


class FakeOrangeMoney:
    def __init__(
        self,
        *,
        client_id: str = "om-client",
        client_secret: str = "om-secret",  # noqa: S107 - a fake server's test credential
        merchant_key: str = "mk",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.merchant_key = merchant_key
        self.token = secrets.token_hex(8)
        self.payments: dict[str, dict[str, Any]] = {}  # pay_token -> payment
        self.deliveries: list[tuple[str, bytes]] = []  # (notif_url, body)
        self.app = self._build()

    def by_order(self, order_id: str) -> dict[str, Any]:
        found = [p for p in self.payments.values() if p["order_id"] == order_id]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} payments for {order_id}")
        return found[0]

    def settle(self, pay_token: str, status: str) -> None:
        p = self.payments[pay_token]
        p["status"] = status
        p["txnid"] = f"MP{next(_ids):08d}"
        body = json.dumps(
            {"status": status, "notif_token": p["notif_token"], "txnid": p["txnid"]}
        ).encode()
        self.deliveries.append((p["notif_url"], body))

    def _build(self) -> FastAPI:
        app = FastAPI()

        def bearer(authorization: str | None) -> None:
            if authorization != f"Bearer {self.token}":
                raise HTTPException(401, {"code": 42, "message": "Expired credentials"})

        @app.post("/oauth/v3/token")
        async def token(request: Request, authorization: str | None = Header(default=None)) -> Any:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            form = (await request.body()).decode()
            if authorization != f"Basic {expected}" or "grant_type=client_credentials" not in form:
                raise HTTPException(401, {"error": "invalid_client"})
            return {"token_type": "Bearer", "access_token": self.token, "expires_in": 7776000}

        @app.post("/orange-money-webpay/dev/v1/webpayment", status_code=201)
        async def webpayment(
            request: Request, authorization: str | None = Header(default=None)
        ) -> Any:
            bearer(authorization)
            body = await request.json()
            if body.get("merchant_key") != self.merchant_key or body.get("currency") != "OUV":
                raise HTTPException(400, {"code": 1, "message": "Invalid merchant key or currency"})
            if any(p["order_id"] == body["order_id"] for p in self.payments.values()):
                raise HTTPException(400, {"code": 2, "message": "Duplicate order id"})
            pay_token = "v1" + secrets.token_hex(16)
            notif = secrets.token_hex(16)
            self.payments[pay_token] = {
                "order_id": body["order_id"],
                "amount": int(body["amount"]),
                "status": "INITIATED",
                "notif_token": notif,
                "notif_url": body["notif_url"],
                "txnid": None,
            }
            return {
                "status": 201,
                "message": "OK",
                "pay_token": pay_token,
                "payment_url": f"https://webpayment-qualif.orange-money.com/payment/pay_token/{pay_token}",
                "notif_token": notif,
            }

        @app.post("/orange-money-webpay/dev/v1/transactionstatus", status_code=201)
        async def status(request: Request, authorization: str | None = Header(default=None)) -> Any:
            bearer(authorization)
            body = await request.json()
            p = self.payments.get(body.get("pay_token", ""))
            if (
                p is None
                or p["order_id"] != body.get("order_id")
                or p["amount"] != body.get("amount")
            ):
                raise HTTPException(400, {"code": 3, "message": "Transaction not found"})
            return {"status": p["status"], "order_id": p["order_id"], "txnid": p["txnid"]}

        return app

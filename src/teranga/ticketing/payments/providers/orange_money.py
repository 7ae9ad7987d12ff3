"""Orange Money Web Payment (Orange developer API, "OM WebPay").

Wire format used here:

- ``POST /oauth/v3/token`` (HTTP Basic client_id:client_secret,
  ``grant_type=client_credentials``) gives ``access_token`` and ``expires_in``.
- ``POST /orange-money-webpay/{country}/v1/webpayment`` with ``merchant_key``,
  ``currency`` (``OUV`` in dev), ``order_id``, ``amount``, ``return_url``, ``cancel_url``,
  ``notif_url``, ``lang``, ``reference``; answers ``pay_token``, ``payment_url`` and
  ``notif_token``.
- ``POST …/transactionstatus`` with ``order_id``, ``amount``, ``pay_token``; answers
  ``status`` (INITIATED | PENDING | SUCCESS | FAILED | EXPIRED) and ``txnid``.
- The notification to ``notif_url`` carries ``status``, ``notif_token`` and ``txnid``.
  ``notif_token`` is a per-payment static secret, not a MAC: it only tells us which
  payment to re-query. It is stored hashed.

No refund, expire or search API: refunds go through a manual/payout path, and a create
whose response was lost is simply left to expire (the buyer never got its payment URL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from teranga.platform.errors import Unauthorized
from teranga.ticketing.payments.base import (
    ActionKind,
    CallbackHint,
    Capabilities,
    CreatePayment,
    NextAction,
    PaymentRef,
    ProviderError,
    ProviderInfo,
    ProviderPayment,
    ProviderStatus,
    ProviderUnsupported,
    RefundResult,
)
from teranga.ticketing.payments.domain import ProviderState
from teranga.ticketing.payments.providers.http import as_int_xof, call

STATES = {
    "INITIATED": ProviderState.PENDING,
    "PENDING": ProviderState.PENDING,
    "SUCCESS": ProviderState.SUCCEEDED,
    "FAILED": ProviderState.FAILED,
    "EXPIRED": ProviderState.EXPIRED,
}


class OrangeMoneyProvider:
    def __init__(
        self,
        client: httpx.Client,
        *,
        client_id: str,
        client_secret: str,
        merchant_key: str,
        country: str = "dev",
        currency: str = "OUV",
        lang: str = "fr",
    ) -> None:
        self._client = client
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._merchant_key = merchant_key
        self._path = f"/orange-money-webpay/{country}/v1"
        self._currency = currency
        self._lang = lang
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @property
    def info(self) -> ProviderInfo:
        return ProviderInfo("orange_money", "Orange Money", Capabilities(redirect=True))

    def _bearer(self) -> dict[str, str]:
        with self._lock:
            if self._token is None or self._token[1] <= time.monotonic():
                got = call(
                    self._client,
                    "POST",
                    "/oauth/v3/token",
                    data={"grant_type": "client_credentials"},
                    auth=self._auth,
                )
                token = got.get("access_token") if isinstance(got, dict) else None
                if not isinstance(token, str):
                    raise ProviderError("no OAuth token", code="bad_response")
                ttl = int(got.get("expires_in", 3600)) if isinstance(got, dict) else 3600
                self._token = (token, time.monotonic() + max(60, ttl - 60))
            return {"Authorization": f"Bearer {self._token[0]}"}

    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        body = {
            "merchant_key": self._merchant_key,
            "currency": self._currency,
            "order_id": req.client_reference,
            "amount": req.amount_xof,
            "return_url": req.return_url,
            "cancel_url": req.cancel_url,
            # OM posts only status/notif_token/txnid: the reference in the URL routes the
            # notification to its tenant; the token then has to match that payment.
            "notif_url": f"{req.callback_url}?ref={req.client_reference}",
            "lang": self._lang,
            "reference": "Teranga",
        }
        got = call(
            self._client, "POST", f"{self._path}/webpayment", json=body, headers=self._bearer()
        )
        if not isinstance(got, dict):
            raise ProviderError("no payment", code="bad_response")
        pay_token, url, notif = got.get("pay_token"), got.get("payment_url"), got.get("notif_token")
        if not (isinstance(pay_token, str) and isinstance(url, str) and isinstance(notif, str)):
            raise ProviderError("incomplete payment", code="bad_response")
        return ProviderPayment(
            provider_ref=pay_token,
            status=ProviderState.PENDING,
            action=NextAction(ActionKind.REDIRECT, redirect_url=url),
            callback_token=notif,
        )

    def lookup(self, client_reference: str) -> ProviderPayment | None:
        return None

    def query_status(self, ref: PaymentRef) -> ProviderStatus:
        got = call(
            self._client,
            "POST",
            f"{self._path}/transactionstatus",
            json={
                "order_id": ref.client_reference,
                "amount": ref.amount_xof,
                "pay_token": ref.provider_ref,
            },
            headers=self._bearer(),
        )
        if not isinstance(got, dict):
            raise ProviderError("no status", code="bad_response")
        state = STATES.get(str(got.get("status", "")).upper(), ProviderState.PENDING)
        order_id = got.get("order_id")
        # The status is asked for (order_id, amount, pay_token): the amount is the one we
        # sent unless the answer names another.
        amount = as_int_xof(got["amount"]) if "amount" in got else ref.amount_xof
        # In the dev environment OUV stands in for XOF.
        currency = str(got.get("currency", self._currency))
        return ProviderStatus(
            provider_ref=ref.provider_ref,
            status=state,
            amount_xof=amount,
            currency="XOF" if currency == self._currency else currency,
            client_reference=order_id if isinstance(order_id, str) else None,
        )

    def verify_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime
    ) -> CallbackHint:
        try:
            note: Any = json.loads(body)
        except ValueError as exc:
            raise Unauthorized("bad_callback", "notification body is not JSON") from exc
        token = note.get("notif_token") if isinstance(note, dict) else None
        if not isinstance(token, str) or not token:
            raise Unauthorized("missing_token", "notification without notif_token")
        status = str(note.get("status", "")).upper()
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        return CallbackHint(
            dedupe_key=f"{digest}:{status}:{note.get('txnid', '')}",
            status_hint=STATES.get(status),
            token=token,
            event_type=status,
        )

    def expire(self, ref: PaymentRef) -> None:
        raise ProviderUnsupported("Orange Money WebPay cannot expire a payment")

    def refund(self, ref: PaymentRef, amount_xof: int, *, idempotency_key: str) -> RefundResult:
        raise ProviderUnsupported("Orange Money WebPay has no refund API")

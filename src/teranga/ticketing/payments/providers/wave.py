"""Wave checkout sessions (docs.wave.com/checkout, /webhook).

Wire format used here:

- ``POST /v1/checkout/sessions`` with ``amount`` (string, whole XOF), ``currency: "XOF"``,
  ``success_url``, ``error_url``, ``client_reference`` and optionally
  ``restrict_payer_mobile``; answers a session with ``id``, ``wave_launch_url``,
  ``checkout_status`` (open | complete | expired), ``payment_status``
  (processing | cancelled | succeeded), ``when_expires``.
- ``GET /v1/checkout/sessions/:id`` (authoritative), ``GET /v1/checkout/sessions/search
  ?client_reference=`` (``{"result": [...]}``), ``POST …/:id/expire``, ``POST …/:id/refund``
  (whole session only).
- Webhook body ``{"id", "type", "data": <session>}`` with ``type``
  ``checkout.session.completed`` or ``checkout.session.payment_failed``. Security strategy
  chosen in the Business Portal: "signing secret", ``Wave-Signature: t=<unix>,v1=<hex>``
  with ``v1 = HMAC-SHA256(secret, t + raw_body)`` (no separator: two public integrations
  agree; not confirmed on docs.wave.com), or "shared secret", the secret as a bearer token
  in ``Authorization``.

We also send ``Idempotency-Key: <client_reference>`` on create; where Wave ignores it the
search by ``client_reference`` still keeps one intent per attempt.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import httpx

from teranga.platform.errors import Unauthorized
from teranga.ticketing.payments import signing
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
    RefundResult,
)
from teranga.ticketing.payments.domain import ProviderState
from teranga.ticketing.payments.providers.http import as_int_xof, call

SIGNATURE_HEADER = "wave-signature"
EVENT_STATES = {
    "checkout.session.completed": ProviderState.SUCCEEDED,
    "checkout.session.payment_failed": ProviderState.FAILED,
}


def session_state(session: Mapping[str, Any]) -> ProviderState:
    checkout = session.get("checkout_status")
    payment = session.get("payment_status")
    if checkout == "complete" and payment == "succeeded":
        return ProviderState.SUCCEEDED
    if checkout == "expired":
        return ProviderState.EXPIRED
    return ProviderState.PENDING


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class WaveProvider:
    def __init__(
        self,
        client: httpx.Client,
        *,
        api_key: str,
        webhook_secrets: list[str],
        tolerance_seconds: int = 300,
        webhook_strategy: str = "signing_secret",
    ) -> None:
        if webhook_strategy not in ("signing_secret", "shared_secret"):
            raise ValueError(f"unknown Wave webhook strategy {webhook_strategy!r}")
        self._client = client
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._secrets = webhook_secrets
        self._tolerance = tolerance_seconds
        self._strategy = webhook_strategy

    @property
    def info(self) -> ProviderInfo:
        return ProviderInfo(
            "wave",
            "Wave",
            Capabilities(
                redirect=True,
                refund=True,
                partial_refund=False,
                expire=True,
                signed_webhook=True,
                lookup=True,
            ),
        )

    def _payment(self, session: Mapping[str, Any]) -> ProviderPayment:
        ref = session.get("id")
        url = session.get("wave_launch_url")
        if not isinstance(ref, str) or not ref:
            raise ProviderError("Wave session without id", code="bad_response")
        return ProviderPayment(
            provider_ref=ref,
            status=session_state(session),
            action=NextAction(
                ActionKind.REDIRECT, redirect_url=url if isinstance(url, str) else None
            ),
            expires_at=_parse_time(session.get("when_expires")),
        )

    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        body: dict[str, Any] = {
            "amount": str(req.amount_xof),
            "currency": "XOF",
            "success_url": req.return_url,
            "error_url": req.cancel_url,
            "client_reference": req.client_reference,
        }
        if req.phone:
            body["restrict_payer_mobile"] = req.phone
        session = call(
            self._client,
            "POST",
            "/v1/checkout/sessions",
            json=body,
            headers={**self._headers, "Idempotency-Key": req.client_reference},
        )
        if not isinstance(session, dict):
            raise ProviderError("Wave sent no session", code="bad_response")
        return self._payment(session)

    def lookup(self, client_reference: str) -> ProviderPayment | None:
        found = call(
            self._client,
            "GET",
            "/v1/checkout/sessions/search",
            params={"client_reference": client_reference},
            headers=self._headers,
        )
        sessions = found.get("result", []) if isinstance(found, dict) else []
        mine = [
            s
            for s in sessions
            if isinstance(s, dict) and s.get("client_reference") == client_reference
        ]
        if not mine:
            return None
        # Prefer a paid session, then the newest: at most one should exist anyway.
        mine.sort(
            key=lambda s: (session_state(s) is ProviderState.SUCCEEDED, str(s.get("when_created")))
        )
        return self._payment(mine[-1])

    def query_status(self, ref: PaymentRef) -> ProviderStatus:
        session = call(
            self._client, "GET", f"/v1/checkout/sessions/{ref.provider_ref}", headers=self._headers
        )
        if not isinstance(session, dict):
            raise ProviderError("Wave sent no session", code="bad_response")
        currency = session.get("currency")
        client_reference = session.get("client_reference")
        return ProviderStatus(
            provider_ref=ref.provider_ref,
            status=session_state(session),
            amount_xof=as_int_xof(session.get("amount")),
            currency=currency if isinstance(currency, str) else None,
            client_reference=client_reference if isinstance(client_reference, str) else None,
        )

    def verify_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime
    ) -> CallbackHint:
        lowered = {k.lower(): v for k, v in headers.items()}
        if self._strategy == "shared_secret":
            signing.verify_bearer(lowered.get("authorization"), secrets=self._secrets)
        else:
            signing.verify(
                lowered.get(SIGNATURE_HEADER),
                body,
                secrets=self._secrets,
                now=now,
                tolerance_seconds=self._tolerance,
                separator=b"",
            )
        try:
            event = json.loads(body)
        except ValueError as exc:
            raise Unauthorized("bad_callback", "callback body is not JSON") from exc
        if not isinstance(event, dict):
            raise Unauthorized("bad_callback", "callback body is not an object")
        raw_data = event.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        event_type = str(event.get("type", ""))
        ref = data.get("id") if isinstance(data.get("id"), str) else None
        event_id = event.get("id")
        dedupe = str(event_id) if event_id else f"{ref}:{event_type}"
        reference = data.get("client_reference")
        return CallbackHint(
            dedupe_key=dedupe,
            status_hint=EVENT_STATES.get(event_type),
            provider_ref=ref,
            client_reference=reference if isinstance(reference, str) else None,
            event_type=event_type,
        )

    def expire(self, ref: PaymentRef) -> None:
        call(
            self._client,
            "POST",
            f"/v1/checkout/sessions/{ref.provider_ref}/expire",
            headers=self._headers,
        )

    def refund(self, ref: PaymentRef, amount_xof: int, *, idempotency_key: str) -> RefundResult:
        if amount_xof != ref.amount_xof:
            raise ProviderError("Wave refunds whole sessions only", code="partial_unsupported")
        call(
            self._client,
            "POST",
            f"/v1/checkout/sessions/{ref.provider_ref}/refund",
            headers={**self._headers, "Idempotency-Key": idempotency_key},
        )
        return RefundResult("succeeded", provider_refund_ref=ref.provider_ref)

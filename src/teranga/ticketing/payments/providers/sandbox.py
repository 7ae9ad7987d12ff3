"""The built-in sandbox provider, for the demo, tests and load benchmarks.

It behaves like a hosted-payment provider: ``create_payment`` opens an intent and
redirects the buyer to ``/paiement/sandbox/{ref}`` where they approve or decline; the
decision is then delivered as a signed callback (``Teranga-Sandbox-Signature:
t=<unix>,v1=<hex>``, ``v1 = HMAC-SHA256(secret, t + "." + raw_body)``) and confirmed, like
any provider, by ``query_status``.

Its intents live in the *simulated provider's* own store (a separate SQLite file by
default), not in our schema: the sandbox stands for somebody else's server, and a separate
database keeps its writes out of the caller's transaction (no lock upgrade on SQLite).
It refuses to run in production (see ``teranga.ticketing.payments.wiring``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from teranga.platform.errors import Unauthorized
from teranga.ticketing.payments import signing
from teranga.ticketing.payments.base import (
    ActionKind,
    CallbackHint,
    Capabilities,
    CreatePayment,
    NextAction,
    PaymentRef,
    ProviderInfo,
    ProviderPayment,
    ProviderRejected,
    ProviderStatus,
    RefundResult,
)
from teranga.ticketing.payments.domain import ProviderState

SIGNATURE_HEADER = "teranga-sandbox-signature"

_meta = sa.MetaData()
intents = sa.Table(
    "sandbox_intents",
    _meta,
    sa.Column("ref", sa.String(40), primary_key=True),
    sa.Column("client_reference", sa.String(80), nullable=False, unique=True),
    sa.Column("amount_xof", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("return_url", sa.String(2000), nullable=False),
    sa.Column("cancel_url", sa.String(2000), nullable=False),
    sa.Column("refunded_xof", sa.BigInteger, nullable=False, default=0),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class SandboxIntent:
    ref: str
    client_reference: str
    amount_xof: int
    status: ProviderState
    return_url: str
    cancel_url: str
    refunded_xof: int
    expires_at: dt.datetime | None


def _intent(row: Any) -> SandboxIntent:
    exp = row.expires_at
    return SandboxIntent(
        ref=row.ref,
        client_reference=row.client_reference,
        amount_xof=int(row.amount_xof),
        status=ProviderState(row.status),
        return_url=row.return_url,
        cancel_url=row.cancel_url,
        refunded_xof=int(row.refunded_xof or 0),
        expires_at=dt.datetime.fromtimestamp(exp, dt.UTC) if exp is not None else None,
    )


class SandboxProvider:
    def __init__(
        self,
        engine: Engine,
        *,
        secret: str,
        page_base_url: str,
        clock: Any,
        tolerance_seconds: int = 300,
    ) -> None:
        if not secret:
            raise ValueError("the sandbox provider needs a signing secret")
        self._engine = engine
        self._secret = secret
        self._page_base = page_base_url.rstrip("/")
        self._clock = clock
        self._tolerance = tolerance_seconds
        _meta.create_all(engine)

    @property
    def info(self) -> ProviderInfo:
        return ProviderInfo(
            "sandbox",
            "Sandbox",
            Capabilities(
                redirect=True,
                refund=True,
                partial_refund=True,
                expire=True,
                signed_webhook=True,
                lookup=True,
                sandbox=True,
            ),
        )

    def page_url(self, ref: str) -> str:
        return f"{self._page_base}/paiement/sandbox/{ref}"

    def _payment(self, intent: SandboxIntent) -> ProviderPayment:
        return ProviderPayment(
            provider_ref=intent.ref,
            status=intent.status,
            action=NextAction(ActionKind.REDIRECT, redirect_url=self.page_url(intent.ref)),
            expires_at=intent.expires_at,
        )

    # -- the "provider server" side ------------------------------------------------
    def get(self, ref: str) -> SandboxIntent | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(intents).where(intents.c.ref == ref)).one_or_none()
        return _intent(row) if row is not None else None

    def decide(self, ref: str, *, approve: bool) -> SandboxIntent | None:
        """The buyer's choice on the sandbox page; only an open intent changes."""
        target = ProviderState.SUCCEEDED if approve else ProviderState.FAILED
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(intents)
                .where(intents.c.ref == ref, intents.c.status == ProviderState.PENDING.value)
                .values(status=target.value)
            )
        return self.get(ref)

    def signed_callback(self, intent: SandboxIntent) -> tuple[dict[str, str], bytes]:
        """The callback the sandbox 'sends' for an intent's current status."""
        body = json.dumps(
            {
                "id": f"evt_{intent.ref}_{intent.status.value}",
                "type": f"payment.{intent.status.value}",
                "data": {
                    "ref": intent.ref,
                    "client_reference": intent.client_reference,
                    "status": intent.status.value,
                },
            },
            separators=(",", ":"),
        ).encode()
        ts = int(self._clock.now().timestamp())
        return {
            "Teranga-Sandbox-Signature": signing.header(self._secret, ts, body, separator=b".")
        }, body

    # -- PaymentProvider -------------------------------------------------------------
    def create_payment(self, req: CreatePayment) -> ProviderPayment:
        existing = self.lookup(req.client_reference)
        if existing is not None:  # the reference is the idempotency key
            return existing
        ref = "sbx_" + secrets.token_urlsafe(18)
        now = self._clock.now()
        with self._engine.begin() as conn:
            conn.execute(
                sa.insert(intents).values(
                    ref=ref,
                    client_reference=req.client_reference,
                    amount_xof=req.amount_xof,
                    status=ProviderState.PENDING.value,
                    return_url=req.return_url,
                    cancel_url=req.cancel_url,
                    refunded_xof=0,
                    expires_at=req.expires_at.timestamp() if req.expires_at else None,
                    created_at=now.timestamp(),
                )
            )
        intent = self.get(ref)
        if intent is None:
            raise RuntimeError("sandbox intent vanished")
        return self._payment(intent)

    def lookup(self, client_reference: str) -> ProviderPayment | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(intents).where(intents.c.client_reference == client_reference)
            ).one_or_none()
        return self._payment(_intent(row)) if row is not None else None

    def query_status(self, ref: PaymentRef) -> ProviderStatus:
        intent = self.get(ref.provider_ref)
        if intent is None:
            raise ProviderRejected("unknown sandbox intent", code="http_404")
        return ProviderStatus(
            provider_ref=intent.ref,
            status=intent.status,
            amount_xof=intent.amount_xof,
            currency="XOF",
            client_reference=intent.client_reference,
        )

    def verify_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime
    ) -> CallbackHint:
        lowered = {k.lower(): v for k, v in headers.items()}
        signing.verify(
            lowered.get(SIGNATURE_HEADER),
            body,
            secrets=[self._secret],
            now=now,
            tolerance_seconds=self._tolerance,
            separator=b".",
        )
        try:
            event: Any = json.loads(body)
            data = event["data"]
            return CallbackHint(
                dedupe_key=str(event["id"]),
                status_hint=ProviderState(data["status"]),
                provider_ref=str(data["ref"]),
                client_reference=str(data["client_reference"]),
                event_type=str(event.get("type", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("bad_callback", "malformed sandbox callback") from exc

    def expire(self, ref: PaymentRef) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                sa.update(intents)
                .where(
                    intents.c.ref == ref.provider_ref,
                    intents.c.status == ProviderState.PENDING.value,
                )
                .values(status=ProviderState.EXPIRED.value)
            )

    def refund(self, ref: PaymentRef, amount_xof: int, *, idempotency_key: str) -> RefundResult:
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(intents)
                .where(
                    intents.c.ref == ref.provider_ref,
                    intents.c.status == ProviderState.SUCCEEDED.value,
                    intents.c.refunded_xof + amount_xof <= intents.c.amount_xof,
                )
                .values(refunded_xof=intents.c.refunded_xof + amount_xof)
            ).rowcount
        if done != 1:
            raise ProviderRejected("sandbox refund refused", code="http_409")
        return RefundResult("succeeded", provider_refund_ref=f"rf_{idempotency_key}")

"""The provider interface every mobile-money adapter implements, and the values it exchanges.

Adapters are synchronous (httpx.Client with explicit timeouts) because the services that
call them run in a unit of work on a worker thread.

Contract, for every adapter:

- ``create_payment`` MUST send ``req.client_reference`` as the provider's own reference
  (and as an idempotency key where the provider has one), so a retried create never opens a
  second intent and ``lookup`` can find an intent whose create response was lost. It raises
  ``ProviderTimeout`` when the outcome is unknown (timeout, 5xx) and ``ProviderRejected``
  when the provider definitely created nothing (4xx).
- ``query_status`` is the authoritative server-to-server status; only it may confirm money.
- ``verify_callback`` authenticates a callback and returns a *hint*; it raises
  ``teranga.platform.errors.Unauthorized`` on a missing or bad signature or a stale
  timestamp. Adapters whose provider uses a per-payment static token (Orange Money's
  ``notif_token``) return it in ``CallbackHint.token``; the service then matches it against
  the stored hash, and a token that matches no payment is refused.
- ``expire`` and ``refund`` raise ``ProviderUnsupported`` where the provider has no such API.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from teranga.platform.uow import UnitOfWork
from teranga.ticketing.payments.domain import ProviderState


class ProviderError(Exception):
    """A provider call failed; ``code`` is stable and safe to log (no secrets, no PII)."""

    code = "provider_error"

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        self.code = code or type(self).code
        super().__init__(message or self.code)


class ProviderTimeout(ProviderError):
    """The outcome is unknown: the provider may or may not have acted."""

    code = "provider_timeout"


class ProviderRejected(ProviderError):
    """The provider answered with a definite refusal (4xx): nothing was done."""

    code = "provider_rejected"


class ProviderUnsupported(ProviderError):
    code = "provider_unsupported"


class ActionKind(StrEnum):
    REDIRECT = "redirect"  # open a URL (Wave launch URL, OM payment page, sandbox page)
    USSD_PUSH = "ussd_push"  # approve on the phone (USSD / OTP instructions)
    QR = "qr"  # scan a QR payload with the wallet app


@dataclass(frozen=True)
class NextAction:
    kind: ActionKind
    redirect_url: str | None = None
    instructions: str | None = None
    qr_payload: str | None = None


@dataclass(frozen=True)
class CreatePayment:
    """What we ask a provider to open. ``client_reference`` is unique per order attempt."""

    tenant_id: uuid.UUID
    payment_id: uuid.UUID
    order_id: uuid.UUID
    client_reference: str
    amount_xof: int
    phone: str | None
    return_url: str
    cancel_url: str
    callback_url: str
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class ProviderPayment:
    provider_ref: str
    status: ProviderState
    action: NextAction
    expires_at: dt.datetime | None = None
    # Per-payment callback secret handed out by the provider (Orange Money notif_token).
    # The service stores only its hash.
    callback_token: str | None = None


@dataclass(frozen=True)
class PaymentRef:
    """Everything an adapter may need to address one payment at the provider."""

    provider_ref: str
    client_reference: str
    amount_xof: int


@dataclass(frozen=True)
class ProviderStatus:
    """Authoritative status. ``amount_xof``/``currency`` are what the provider says it took."""

    provider_ref: str
    status: ProviderState
    amount_xof: int | None
    currency: str | None
    client_reference: str | None = None


@dataclass(frozen=True)
class CallbackHint:
    """An authenticated callback, still only a hint.

    ``dedupe_key`` identifies the delivery (provider event id, or reference + status) so
    duplicates are recognised; at least one of ``provider_ref``, ``client_reference`` or
    ``token`` identifies the payment.
    """

    dedupe_key: str
    status_hint: ProviderState | None
    provider_ref: str | None = None
    client_reference: str | None = None
    token: str | None = None
    event_type: str = ""


@dataclass(frozen=True)
class RefundResult:
    status: str  # "succeeded" | "pending"
    provider_refund_ref: str | None = None


@dataclass(frozen=True)
class Capabilities:
    redirect: bool = True
    ussd_push: bool = False
    qr: bool = False
    refund: bool = False
    partial_refund: bool = False
    expire: bool = False
    signed_webhook: bool = False  # per-message MAC, as opposed to a static token
    lookup: bool = False  # can find an intent by client_reference
    sandbox: bool = False


@dataclass(frozen=True)
class ProviderInfo:
    code: str
    label: str
    caps: Capabilities = field(default_factory=Capabilities)


class PaymentProvider(Protocol):
    @property
    def info(self) -> ProviderInfo: ...

    def create_payment(self, req: CreatePayment) -> ProviderPayment: ...

    def lookup(self, client_reference: str) -> ProviderPayment | None:
        """Find an intent by our reference (after a lost create response); None if absent."""
        ...

    def query_status(self, ref: PaymentRef) -> ProviderStatus: ...

    def verify_callback(
        self, headers: Mapping[str, str], body: bytes, *, now: dt.datetime
    ) -> CallbackHint: ...

    def expire(self, ref: PaymentRef) -> None: ...

    def refund(self, ref: PaymentRef, amount_xof: int, *, idempotency_key: str) -> RefundResult: ...


class FulfilmentResultLike(Protocol):
    """What payments needs from ticketing's FulfilmentResult."""

    @property
    def status(self) -> str: ...  # "issued" | "already_issued" | "refund_required"

    @property
    def reason(self) -> str | None: ...


class Fulfilment(Protocol):
    """Ticketing's side of the contract (teranga.ticketing.fulfilment satisfies it)."""

    def on_payment_confirmed(
        self,
        uow: UnitOfWork,
        *,
        order_id: uuid.UUID,
        payment_id: uuid.UUID,
        amount_xof: int,
        provider: str,
        now: dt.datetime | None = None,
    ) -> FulfilmentResultLike: ...

    def on_payment_failed(
        self, uow: UnitOfWork, order_id: uuid.UUID, payment_id: uuid.UUID
    ) -> None: ...

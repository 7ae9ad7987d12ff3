"""Webhook use cases: endpoints (subscriptions), deliveries, ingestion of committed events.

Services take a unit of work and never commit. Writes record an audit entry in the same
transaction. Secrets are returned only by ``create_endpoint`` and ``rotate_secret``.
"""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from teranga.audit import api as audit
from teranga.platform.errors import Conflict, NotFound, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.relay import message_id
from teranga.platform.uow import UnitOfWork
from teranga.privacy import api as privacy
from teranga.webhooks import domain, repo
from teranga.webhooks.domain import DeliveryStatus, EndpointStatus
from teranga.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookIngested

SECRET_PURPOSE = "webhooks.secret"  # noqa: S105 - a sealing purpose label
# After a rotation the old secret still signs (second signature) for this long.
ROTATION_GRACE = dt.timedelta(hours=24)
MAX_ENDPOINTS = 50  # per tenant: each one multiplies outbound traffic

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IP literals resolve to themselves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class UrlPolicy:
    """Where endpoints may point: loopback only outside production (tests, local dev)."""

    allow_loopback: bool
    resolve: Resolver = resolve_host

    @classmethod
    def for_env(cls, env: str) -> UrlPolicy:
        return cls(allow_loopback=env != "prod")

    def check(self, url: str) -> str:
        return domain.check_url(url, allow_loopback=self.allow_loopback, resolve=self.resolve)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def _audit(
    uow: UnitOfWork, action: str, actor: uuid.UUID | None, target: str, **details: Any
) -> None:
    audit.record(
        uow,
        action=action,
        actor_id=actor,
        target_type="webhook_endpoint",
        target_id=target,
        details=details,
    )


def get_endpoint(uow: UnitOfWork, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    ep = repo.endpoint(uow.session, uow.require_tenant(), endpoint_id)
    if ep is None:
        raise NotFound("webhooks.endpoint_not_found", "no such webhook endpoint")
    return ep


def list_endpoints(uow: UnitOfWork) -> Sequence[WebhookEndpoint]:
    return repo.endpoints(uow.session, uow.require_tenant())


def create_endpoint(
    uow: UnitOfWork,
    *,
    url: str,
    event_types: Sequence[str],
    description: str,
    policy: UrlPolicy,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret (shown this once)."""
    tid = uow.require_tenant()
    if len(repo.endpoints(uow.session, tid)) >= MAX_ENDPOINTS:
        raise Conflict("webhooks.too_many_endpoints", f"at most {MAX_ENDPOINTS} endpoints")
    clean_url = policy.check(url)
    types = domain.check_event_types(event_types)
    secret = domain.new_secret()
    at = _now(now)
    ep = WebhookEndpoint(
        id=new_id(),
        tenant_id=tid,
        url=clean_url,
        description=description,
        event_types=types,
        status=EndpointStatus.ACTIVE.value,
        secret_sealed=privacy.seal(uow, secret, purpose=SECRET_PURPOSE),
        created_by=actor_id,
        created_at=at,
        updated_at=at,
    )
    uow.session.add(ep)
    uow.session.flush()
    _audit(uow, "webhooks.endpoint.created", actor_id, str(ep.id), event_types=types)
    return ep, secret


def update_endpoint(
    uow: UnitOfWork,
    *,
    endpoint_id: uuid.UUID,
    changes: Mapping[str, Any],
    policy: UrlPolicy,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> WebhookEndpoint:
    """Apply ``url``, ``event_types``, ``description`` and ``status`` (active|paused)."""
    ep = get_endpoint(uow, endpoint_id)
    if changes.get("url") is not None:
        ep.url = policy.check(str(changes["url"]))
    if changes.get("event_types") is not None:
        ep.event_types = domain.check_event_types(list(changes["event_types"]))
    if changes.get("description") is not None:
        ep.description = str(changes["description"])
    if changes.get("status") is not None:
        status = str(changes["status"])
        if status not in {s.value for s in EndpointStatus}:
            raise ValidationFailed("status", "use 'active' or 'paused'")
        ep.status = status
    ep.updated_at = _now(now)
    uow.session.flush()
    _audit(uow, "webhooks.endpoint.updated", actor_id, str(ep.id), fields=sorted(changes))
    return ep


def delete_endpoint(uow: UnitOfWork, *, endpoint_id: uuid.UUID, actor_id: uuid.UUID | None) -> None:
    ep = get_endpoint(uow, endpoint_id)
    repo.delete_deliveries(uow.session, ep.tenant_id, ep.id)
    uow.session.delete(ep)
    uow.session.flush()
    _audit(uow, "webhooks.endpoint.deleted", actor_id, str(endpoint_id))


def rotate_secret(
    uow: UnitOfWork,
    *,
    endpoint_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> tuple[WebhookEndpoint, str]:
    """New secret (returned once); the old one keeps signing for ROTATION_GRACE."""
    ep = get_endpoint(uow, endpoint_id)
    secret = domain.new_secret()
    at = _now(now)
    ep.previous_secret_sealed = ep.secret_sealed
    ep.previous_secret_until = at + ROTATION_GRACE
    ep.secret_sealed = privacy.seal(uow, secret, purpose=SECRET_PURPOSE)
    ep.updated_at = at
    uow.session.flush()
    _audit(uow, "webhooks.endpoint.secret_rotated", actor_id, str(ep.id))
    return ep, secret


def signing_secrets(uow: UnitOfWork, ep: WebhookEndpoint, now: dt.datetime) -> list[str]:
    """The current secret, plus the previous one during its grace period."""
    secrets = [privacy.unseal(uow, ep.secret_sealed, purpose=SECRET_PURPOSE)]
    if (
        ep.previous_secret_sealed is not None
        and ep.previous_secret_until is not None
        and ep.previous_secret_until > now
    ):
        secrets.append(privacy.unseal(uow, ep.previous_secret_sealed, purpose=SECRET_PURPOSE))
    return secrets


# -- deliveries ---------------------------------------------------------------------------
def list_deliveries(
    uow: UnitOfWork, *, endpoint_id: uuid.UUID, status: str | None = None, limit: int = 50
) -> Sequence[WebhookDelivery]:
    ep = get_endpoint(uow, endpoint_id)
    return repo.deliveries(uow.session, ep.tenant_id, ep.id, status=status, limit=limit)


def get_delivery(uow: UnitOfWork, delivery_id: uuid.UUID) -> WebhookDelivery:
    d = repo.delivery(uow.session, uow.require_tenant(), delivery_id)
    if d is None:
        raise NotFound("webhooks.delivery_not_found", "no such delivery")
    return d


def redeliver(
    uow: UnitOfWork,
    *,
    delivery_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> WebhookDelivery:
    """Queue a delivery again now, with a fresh attempt budget (same webhook-id)."""
    d = get_delivery(uow, delivery_id)
    if d.status == DeliveryStatus.PENDING.value and d.attempts == 0:
        return d  # not tried yet: nothing to do
    d.status = DeliveryStatus.PENDING.value
    d.attempts = 0
    d.next_attempt_at = _now(now)
    uow.session.flush()
    audit.record(
        uow,
        action="webhooks.delivery.redelivered",
        actor_id=actor_id,
        target_type="webhook_delivery",
        target_id=str(d.id),
        details={"endpoint_id": str(d.endpoint_id), "event_type": d.event_type},
    )
    return d


def _queue(
    uow: UnitOfWork,
    ep: WebhookEndpoint,
    *,
    msg_id: str,
    event_type: str,
    body: dict[str, Any],
    now: dt.datetime,
) -> WebhookDelivery:
    d = WebhookDelivery(
        id=new_id(),
        tenant_id=ep.tenant_id,
        endpoint_id=ep.id,
        event_id=msg_id,
        event_type=event_type,
        payload=body,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    uow.session.add(d)
    return d


def send_ping(
    uow: UnitOfWork,
    *,
    endpoint_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    now: dt.datetime | None = None,
) -> WebhookDelivery:
    """Queue a ``ping`` event to the endpoint (a signed test delivery)."""
    ep = get_endpoint(uow, endpoint_id)
    if ep.status != EndpointStatus.ACTIVE.value:
        raise Conflict("webhooks.endpoint_paused", "resume the endpoint before testing it")
    at = _now(now)
    msg_id = domain.event_id(f"ping:{new_id()}", domain.PING)
    body = domain.envelope(domain.PING, at, {"endpoint_id": str(ep.id)})
    d = _queue(uow, ep, msg_id=msg_id, event_type=domain.PING, body=body, now=at)
    uow.session.flush()
    _audit(uow, "webhooks.endpoint.pinged", actor_id, str(ep.id))
    return d


@dataclass(frozen=True)
class OutboxEvent:
    """A committed, relayed outbox row as the dispatcher reads it."""

    outbox_id: int
    topic: str
    payload: dict[str, Any]
    created_at: dt.datetime


def ingest(uow: UnitOfWork, events: Sequence[OutboxEvent], *, now: dt.datetime) -> int:
    """Turn the tenant's events into deliveries for its matching active endpoints and
    record them as ingested, all in this transaction; returns deliveries created.

    An endpoint receives only events raised after it was created. Idempotent: a delivery
    already present for (endpoint, event id) is not created twice.
    """
    tid = uow.require_tenant()
    endpoints = repo.active_endpoints(uow.session, tid)
    created = 0
    for ev in events:
        uow.session.add(WebhookIngested(outbox_id=ev.outbox_id, ingested_at=now))
        source = message_id(ev.outbox_id, ev.created_at)
        for event_type, data in domain.project(ev.topic, ev.payload):
            targets = [
                ep
                for ep in endpoints
                if domain.subscribed(ep.event_types, event_type) and ep.created_at <= ev.created_at
            ]
            if not targets:
                continue
            msg_id = domain.event_id(source, event_type)
            body = domain.envelope(event_type, ev.created_at, data)
            for ep in targets:
                if repo.delivery_exists(uow.session, ep.id, msg_id):
                    continue
                _queue(uow, ep, msg_id=msg_id, event_type=event_type, body=body, now=now)
                created += 1
    uow.session.flush()
    return created


def mark_ingested(uow: UnitOfWork, outbox_ids: Sequence[int], *, now: dt.datetime) -> None:
    """Events of no tenant (platform broadcasts) produce no delivery; remember them."""
    for oid in outbox_ids:
        uow.session.add(WebhookIngested(outbox_id=oid, ingested_at=now))
    uow.session.flush()


# -- sending ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendJob:
    """One claimed attempt: everything the HTTP call needs, read in the tenant's unit of work."""

    delivery_id: uuid.UUID
    tenant_id: uuid.UUID
    url: str
    msg_id: str
    body: bytes
    secrets: tuple[str, ...]
    attempt: int


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None
    response: str | None


def claim_due(
    uow: UnitOfWork,
    *,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    encode: Callable[[dict[str, Any]], bytes],
) -> list[SendJob]:
    tid = uow.require_tenant()
    jobs: list[SendJob] = []
    secrets: dict[uuid.UUID, tuple[str, ...]] = {}
    for d, ep in repo.due(uow.session, tid, now, limit):
        if not repo.claim(uow.session, d.id, d.attempts, now, now + lease):
            continue  # another sender took it
        if ep.id not in secrets:
            secrets[ep.id] = tuple(signing_secrets(uow, ep, now))
        jobs.append(
            SendJob(
                delivery_id=d.id,
                tenant_id=tid,
                url=ep.url,
                msg_id=d.event_id,
                body=encode(d.payload),
                secrets=secrets[ep.id],
                attempt=d.attempts + 1,
            )
        )
    return jobs


def record_outcome(
    uow: UnitOfWork,
    *,
    job: SendJob,
    outcome: Outcome,
    now: dt.datetime,
    max_attempts: int,
    next_delay: float,
) -> WebhookDelivery | None:
    """Store an attempt's result: succeeded, retry later, or failed for good."""
    d = repo.delivery(uow.session, uow.require_tenant(), job.delivery_id)
    if d is None:  # the endpoint was deleted meanwhile
        return None
    d.last_status_code = outcome.status_code
    d.last_error = outcome.error[:200] if outcome.error else None
    d.last_response = outcome.response
    if outcome.ok:
        d.status = DeliveryStatus.SUCCEEDED.value
        d.delivered_at = now
        d.next_attempt_at = None
    elif d.attempts >= max_attempts:
        d.status = DeliveryStatus.FAILED.value
        d.next_attempt_at = None
    else:
        d.status = DeliveryStatus.PENDING.value
        # Counted from the attempt's start, so the schedule does not drift with slow receivers.
        d.next_attempt_at = (d.last_attempt_at or now) + dt.timedelta(seconds=next_delay)
    uow.session.flush()
    return d

"""Webhook queries. Never commits; every tenant query filters on tenant_id explicitly."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from teranga.platform.outbox import OutboxMessage
from teranga.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookIngested

outbox = cast(sa.Table, OutboxMessage.__table__)
ingested = cast(sa.Table, WebhookIngested.__table__)


def endpoint(
    session: Session, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    return session.scalar(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id
        )
    )


def endpoints(session: Session, tenant_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    return session.scalars(
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == tenant_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def active_endpoints(session: Session, tenant_id: uuid.UUID) -> Sequence[WebhookEndpoint]:
    return session.scalars(
        sa.select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.status == "active"
        )
    ).all()


def delivery(
    session: Session, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    return session.scalar(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.id == delivery_id
        )
    )


def deliveries(
    session: Session,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    limit: int,
) -> Sequence[WebhookDelivery]:
    query = sa.select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    return session.scalars(
        query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    ).all()


def delivery_exists(session: Session, endpoint_id: uuid.UUID, event_id: str) -> bool:
    return (
        session.scalar(
            sa.select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.event_id == event_id
            )
        )
        is not None
    )


def due(
    session: Session, tenant_id: uuid.UUID, now: dt.datetime, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Pending deliveries whose time has come, of active endpoints, oldest first."""
    rows = session.execute(
        sa.select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.status == "active",
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def claim(
    session: Session, delivery_id: uuid.UUID, attempts: int, now: dt.datetime, lease_until: Any
) -> bool:
    """Take a delivery for one attempt (compare-and-set on ``attempts``): another process
    that selected the same row loses; a crashed sender's lease expires and it is retried."""
    result = session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.attempts == attempts,
            WebhookDelivery.status == "pending",
        )
        .values(attempts=attempts + 1, last_attempt_at=now, next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def unprocessed_outbox(session: Session, *, since: dt.datetime | None, limit: int) -> Sequence[Any]:
    """Relayed outbox rows not yet ingested, in id order."""
    query = sa.select(
        outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.tenant_id, outbox.c.created_at
    ).where(
        outbox.c.published_at.is_not(None),
        ~sa.exists().where(ingested.c.outbox_id == outbox.c.id),
    )
    if since is not None:
        query = query.where(outbox.c.published_at >= since)
    return session.execute(query.order_by(outbox.c.id).limit(limit)).all()


def prune_ingested(session: Session) -> int:
    """Forget ingested ids below the oldest outbox row: those rows are gone for good."""
    oldest = sa.select(sa.func.min(outbox.c.id)).scalar_subquery()
    # No outbox row at all: every ingested id is below whatever comes next.
    floor = sa.func.coalesce(
        oldest, sa.select(sa.func.max(ingested.c.outbox_id) + 1).scalar_subquery()
    )
    result = session.execute(sa.delete(ingested).where(ingested.c.outbox_id < floor))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_deliveries(session: Session, tenant_id: uuid.UUID, *, before: dt.datetime) -> int:
    """Delete finished deliveries created before ``before`` (the log is kept 30 days)."""
    result = session.execute(
        sa.delete(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.status.in_(("succeeded", "failed")),
            WebhookDelivery.created_at < before,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_deliveries(session: Session, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    session.execute(
        sa.delete(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )


def next_due(session: Session, tenant_id: uuid.UUID) -> dt.datetime | None:
    """When the tenant's next sendable delivery is due (None when none is pending)."""
    value: dt.datetime | None = session.scalar(
        sa.select(sa.func.min(WebhookDelivery.next_attempt_at))
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.tenant_id == tenant_id,
            WebhookDelivery.status == "pending",
            WebhookEndpoint.status == "active",
        )
    )
    return value

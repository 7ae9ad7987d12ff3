"""Append to and verify the per-tenant audit chain.

Appends are serialised per tenant by locking the tenant's head row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite transactions already hold the write lock from BEGIN
IMMEDIATE), so seq is gapless and each entry links to the one before it. ``record`` runs
in the caller's unit of work: the entry commits or rolls back with the change it reports.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from teranga.audit.domain import (
    ACTION_RE,
    GENESIS,
    BadEntry,
    EntryFields,
    check_details,
    entry_hash,
)
from teranga.audit.models import AuditEntry, AuditHead
from teranga.platform.errors import ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork

VERIFY_BATCH = 1000


@dataclass(frozen=True)
class EntryInfo:
    seq: int
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    hash: str


def _select_head(session: Session, tenant_id: uuid.UUID) -> AuditHead | None:
    return session.scalar(
        sa.select(AuditHead)
        .where(AuditHead.tenant_id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _lock_head(session: Session, tenant_id: uuid.UUID) -> AuditHead:
    """Lock (creating on first use) the tenant's head row; concurrent appends queue here."""
    head = _select_head(session, tenant_id)
    if head is not None:
        return head
    values = {"id": new_id(), "tenant_id": tenant_id, "seq": 0, "hash": GENESIS}
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Two first appends may race: one inserts, the other waits on the unique key and skips.
    session.execute(insert(AuditHead).values(values).on_conflict_do_nothing())
    head = _select_head(session, tenant_id)
    if head is None:  # pragma: no cover - the row exists after the insert above
        raise RuntimeError("audit head row missing")
    return head


def record(
    uow: UnitOfWork,
    *,
    action: str,
    actor_id: uuid.UUID | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> int:
    """Append an entry in the unit of work's tenant and transaction; returns its seq.

    ``details`` must hold no personal data in clear (ids, codes, amounts, blind indexes).
    """
    tenant_id = uow.require_tenant()
    if not ACTION_RE.match(action):
        raise ValidationFailed("action", "namespaced code like 'ticketing.order.refunded'")
    details = dict(details or {})
    check_details(details)
    session = uow.session
    head = _lock_head(session, tenant_id)
    fields = EntryFields(
        tenant_id=tenant_id,
        seq=head.seq + 1,
        at=dt.datetime.now(dt.UTC),
        actor_id=actor_id,
        action=action,
        target_type=target_type[:40],
        target_id=target_id[:80],
        details=details,
    )
    digest = entry_hash(head.hash, fields)
    session.add(
        AuditEntry(
            tenant_id=tenant_id,
            seq=fields.seq,
            at=fields.at,
            actor_id=actor_id,
            action=action,
            target_type=fields.target_type,
            target_id=fields.target_id,
            details=details,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    head.seq = fields.seq
    head.hash = digest
    session.flush()
    return fields.seq


def _entries(session: Session, tenant_id: uuid.UUID) -> Iterator[AuditEntry]:
    last = -1
    while True:
        batch = list(
            session.scalars(
                sa.select(AuditEntry)
                .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(VERIFY_BATCH)
            )
        )
        if not batch:
            return
        yield from batch
        last = batch[-1].seq
        session.expunge_all()


def verify(
    uow: UnitOfWork,
    tenant_id: uuid.UUID | None = None,
    *,
    witness: tuple[int, str] | None = None,
) -> BadEntry | None:
    """Recompute the tenant's chain; the first bad entry, or None when intact.

    ``witness`` is a (seq, hash) head copied elsewhere earlier (see ``head``): the entry at
    that seq must still carry that hash, which catches a chain rebuilt end to end by
    someone able to rewrite both the entries and the head row.
    """
    tenant_id = tenant_id or uow.require_tenant()
    session = uow.session
    prev, expected = GENESIS, 1
    for e in _entries(session, tenant_id):
        if witness is not None and e.seq == witness[0] and e.hash != witness[1]:
            return BadEntry(e.seq, "witness_mismatch")
        if e.seq != expected:
            return BadEntry(expected, "missing")
        if e.prev_hash != prev:
            return BadEntry(e.seq, "broken_link")
        fields = EntryFields(
            e.tenant_id,
            e.seq,
            e.at,
            e.actor_id,
            e.action,
            e.target_type,
            e.target_id,
            e.details,
        )
        if entry_hash(prev, fields) != e.hash:
            return BadEntry(e.seq, "hash_mismatch")
        prev, expected = e.hash, expected + 1
    last = expected - 1
    if witness is not None and witness[0] > last:
        return BadEntry(last + 1, "truncated")
    head = session.scalar(sa.select(AuditHead).where(AuditHead.tenant_id == tenant_id))
    if head is not None and (head.seq != last or head.hash != prev):
        if head.seq > last:
            return BadEntry(last + 1, "truncated")
        return BadEntry(head.seq, "head_mismatch")
    return None


def entries(
    uow: UnitOfWork, *, after_seq: int = 0, limit: int = 100, action: str | None = None
) -> list[EntryInfo]:
    tenant_id = uow.require_tenant()
    q = (
        sa.select(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.seq > after_seq)
        .order_by(AuditEntry.seq)
        .limit(max(1, min(limit, 1000)))
    )
    if action:
        q = q.where(AuditEntry.action == action)
    return [
        EntryInfo(e.seq, e.at, e.actor_id, e.action, e.target_type, e.target_id, e.details, e.hash)
        for e in uow.session.scalars(q)
    ]


def head(uow: UnitOfWork, tenant_id: uuid.UUID | None = None) -> tuple[int, str]:
    """The tenant's last seq and hash: copy it to a witness to detect a rewritten head."""
    tenant_id = tenant_id or uow.require_tenant()
    row = uow.session.scalar(sa.select(AuditHead).where(AuditHead.tenant_id == tenant_id))
    return (row.seq, row.hash) if row is not None else (0, GENESIS)

"""Integrate committed audit entries into each tenant's Merkle tree and sign its head.

Trillian-style: ``record`` writes entries unsequenced (no lock, in the caller's
transaction); a pass here, per tenant and in one transaction, takes the pending entries
in recording order (``at``, then id), appends them as leaves with the next gapless seqs,
extends the compact range kept with the last tree head, and stores a new tree head signed
with the tenant's Ed25519 key. One integrator per tenant at a time: a transaction-scoped
PostgreSQL advisory lock (SQLite has one writer anyway). The first pass of a tenant whose
leaves predate any head (migrated from the hash chain) signs those leaves as they are.

``AuditIntegrator`` runs passes in the background: woken after commits that published
events, and every ``poll_interval`` seconds; ``integrate``/``integrate_tenant`` run one
synchronously (tests, the CLI and the verify route call them).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from teranga.audit import merkle, service
from teranga.audit.domain import tree_head_message
from teranga.audit.models import (
    AuditEntry,
    AuditLeaf,
    AuditPending,
    AuditSigningKey,
    AuditTreeHead,
)
from teranga.audit.service import latest_head_row
from teranga.platform.crypto import open_value, seal_value
from teranga.platform.kms import kms_for
from teranga.platform.uow import UnitOfWork
from teranga.platform.worker import BackgroundWorker

if TYPE_CHECKING:
    from teranga.container import Container

log = logging.getLogger(__name__)
KEK_ID = "audit-signing"
INTEGRATOR_KEY = "audit.integrator"
BATCH = 5000


class IntegrityError(RuntimeError):
    """The stored tree does not match its last head: refuse to sign on top of it."""


def _lock_key(tenant_id: uuid.UUID) -> int:
    digest = hashlib.sha256(b"teranga.audit.integrate\x00" + tenant_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _seal_context(tenant_id: uuid.UUID) -> bytes:
    return b"audit.signing_key\x00" + tenant_id.bytes


def _engine(uow: UnitOfWork) -> sa.Engine:
    bind = uow.session.get_bind()
    return bind.engine if isinstance(bind, sa.Connection) else bind


def signing_key(uow: UnitOfWork) -> Ed25519PrivateKey:
    """The tenant's signing key, created on first use (callers hold the integrate lock)."""
    tenant_id = uow.require_tenant()
    kms = kms_for(_engine(uow))
    row = uow.session.get(AuditSigningKey, tenant_id)
    if row is None:
        kms.create_key(KEK_ID)
        dek, wrapped = kms.generate_data_key(KEK_ID)
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        uow.session.add(
            AuditSigningKey(
                tenant_id=tenant_id,
                public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
                kek_id=KEK_ID,
                wrapped_dek=wrapped,
                private_key_sealed=seal_value(dek, 1, seed, _seal_context(tenant_id)),
            )
        )
        uow.session.flush()
        return private
    dek = kms.unwrap(row.kek_id, bytes(row.wrapped_dek))
    seed = open_value(dek, bytes(row.private_key_sealed), _seal_context(tenant_id))
    return Ed25519PrivateKey.from_private_bytes(seed)


def integrate_uow(uow: UnitOfWork, *, now_ms: int | None = None) -> int:
    """One pass for the unit of work's tenant; returns how many leaves it appended."""
    tenant_id = uow.require_tenant()
    session = uow.session
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(tenant_id))))
    pending = list(
        session.execute(
            sa.select(AuditEntry.id, AuditEntry.leaf_hash)
            .join(AuditPending, AuditPending.entry_id == AuditEntry.id)
            .where(AuditPending.tenant_id == tenant_id)
            .order_by(AuditEntry.at, AuditEntry.id)
            .limit(BATCH)
        )
    )
    last = latest_head_row(session, tenant_id)
    size = last.tree_size if last is not None else 0
    stored = session.scalar(
        sa.select(sa.func.max(AuditLeaf.seq)).where(AuditLeaf.tenant_id == tenant_id)
    )
    stored = int(stored or 0)
    if last is None and stored > 0:
        # Leaves migrated from the hash chain: adopt them as the first signed tree.
        hashes = [
            bytes.fromhex(h)
            for h in session.scalars(
                sa.select(AuditLeaf.leaf_hash)
                .where(AuditLeaf.tenant_id == tenant_id)
                .order_by(AuditLeaf.seq)
            )
        ]
        if len(hashes) != stored:
            raise IntegrityError(f"tenant {tenant_id}: migrated leaves have gaps")
        frontier: list[bytes] = []
        for i, h in enumerate(hashes):
            frontier = merkle.append(frontier, i, h)
        size = stored
    elif stored != size:
        raise IntegrityError(f"tenant {tenant_id}: {stored} leaves but a head of {size}")
    else:
        frontier = [bytes.fromhex(h) for h in last.frontier] if last is not None else []
        if not pending:
            return 0
    for entry_id, digest in pending:
        size += 1
        session.add(AuditLeaf(tenant_id=tenant_id, seq=size, entry_id=entry_id, leaf_hash=digest))
        frontier = merkle.append(frontier, size - 1, bytes.fromhex(digest))
    if pending:
        session.execute(
            sa.delete(AuditPending).where(
                AuditPending.tenant_id == tenant_id,
                AuditPending.entry_id.in_([p[0] for p in pending]),
            )
        )
    root = merkle.frontier_root(frontier).hex()
    ts = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    if last is not None:
        ts = max(ts, last.timestamp_ms)  # heads never go back in time
    signature = signing_key(uow).sign(tree_head_message(tenant_id, size, ts, root)).hex()
    session.add(
        AuditTreeHead(
            tenant_id=tenant_id,
            tree_size=size,
            root_hash=root,
            timestamp_ms=ts,
            signature=signature,
            frontier=[h.hex() for h in frontier],
        )
    )
    session.flush()
    return len(pending)


def integrate_tenant(container: Container, tenant_id: uuid.UUID) -> int:
    """Integrate everything committed for the tenant (several passes for a long queue)."""
    total = 0
    while True:
        with container.uow(tenant_id) as uow:
            added = integrate_uow(uow)
        total += added
        if added < BATCH:
            return total


def integrate(container: Container, tenants: Iterable[uuid.UUID] | None = None) -> int:
    """One round over ``tenants`` (default: every tenant); a tenant's failure is logged and
    the others go on."""
    from teranga.tenancy import api as tenancy

    if tenants is None:
        with container.uow() as uow:
            tenant_ids = [t.id for t in tenancy.list_tenants(uow)]
    else:
        tenant_ids = list(tenants)
    total = 0
    for tid in tenant_ids:
        try:
            total += integrate_tenant(container, tid)
        except Exception:
            log.warning("audit integration failed for tenant %s", tid, exc_info=True)
    return total


class AuditIntegrator(BackgroundWorker):
    """Every ``poll_interval`` seconds, integrates the tenants that committed entries in
    this process since the last pass (no query at all when there are none), and every
    ``full_every`` seconds every tenant; at most once per ``min_gap``."""

    task_name = "audit-integrator"
    # No sweep of every tenant at start: a process starting (or a short-lived one, such as a
    # test app) would pay one transaction per tenant. The first sweep comes ``full_every``
    # after start; tenants this process writes to are integrated within ``poll_interval``.
    pass_at_start = False

    def __init__(
        self,
        container: Container,
        *,
        poll_interval: float = 2.0,
        full_every: float = 60.0,
        min_gap: float = 0.5,
        stop_timeout: float = 10.0,
    ) -> None:
        super().__init__(stop_timeout=stop_timeout)
        self.container = container
        self.poll_interval = poll_interval
        self.full_every = full_every
        self.min_gap = min_gap

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_full, full_due = loop.time(), False
        while not self._stopping:
            await self._wait(self.poll_interval)
            if self._stopping:
                return
            full = full_due or loop.time() - last_full >= self.full_every
            done = await self._tenant_pass(
                service.take_pending_tenants,
                functools.partial(integrate, self.container),
                full=full,
            )
            if done is None:
                continue
            if done and full:
                last_full, full_due = loop.time(), False
            elif not done:
                full_due = True  # everything again at the next poll
            await asyncio.sleep(self.min_gap)


def install(container: Container) -> AuditIntegrator:
    existing = container.extras.get(INTEGRATOR_KEY)
    if isinstance(existing, AuditIntegrator):
        return existing
    worker = AuditIntegrator(container)
    container.extras[INTEGRATOR_KEY] = worker
    container.uow_factory.after_publish_hooks.append(worker.wake)
    container.extras.setdefault("startup", []).append(worker.start)
    container.extras.setdefault("shutdown", []).append(worker.stop)
    return worker

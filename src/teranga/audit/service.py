"""Append to, read, prove and verify the per-tenant audit log.

``record`` runs in the caller's unit of work and takes no lock: it inserts the entry (with
its leaf hash) and a row in the pending queue, so the entry commits or rolls back with the
change it reports and concurrent writers never wait on each other. The integrator
(``integrator.integrate_tenant``) later gives committed entries their gapless ``seq`` as
leaves of the tenant's RFC 6962 Merkle tree and signs a tree head. ``verify`` recomputes
everything from the entries up and checks it against the signed heads (and a witness).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from teranga.audit import merkle
from teranga.audit.domain import (
    ACTION_RE,
    BadEntry,
    EntryFields,
    TreeHead,
    check_details,
    entry_leaf_hash,
    tree_head_message,
)
from teranga.audit.models import (
    AuditEntry,
    AuditLeaf,
    AuditPending,
    AuditSigningKey,
    AuditTreeHead,
)
from teranga.platform.errors import NotFound, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork
from teranga.platform.worker import TenantMarks

VERIFY_BATCH = 1000
EMPTY_ROOT = merkle.EMPTY_ROOT.hex()


@dataclass(frozen=True)
class EntryInfo:
    """``seq`` is None for an entry committed but not yet integrated into the tree."""

    seq: int | None
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    hash: str  # the RFC 6962 leaf hash


@dataclass(frozen=True)
class InclusionProof:
    head: TreeHead
    seq: int
    leaf_hash: str
    proof: list[str]


@dataclass(frozen=True)
class ConsistencyProof:
    first_size: int
    first_root: str
    head: TreeHead
    proof: list[str]


def fields_of(e: AuditEntry) -> EntryFields:
    return EntryFields(
        e.tenant_id, e.at, e.actor_id, e.action, e.target_type, e.target_id, e.details
    )


def record(
    uow: UnitOfWork,
    *,
    action: str,
    actor_id: uuid.UUID | None,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Append an entry in the unit of work's tenant and transaction; returns its id (its
    ``seq`` comes when the integrator adds it to the tree, after commit).

    ``details`` must hold no personal data in clear (ids, codes, amounts, blind indexes).
    """
    tenant_id = uow.require_tenant()
    if not ACTION_RE.match(action):
        raise ValidationFailed("action", "namespaced code like 'ticketing.order.refunded'")
    details = dict(details or {})
    check_details(details)
    fields = EntryFields(
        tenant_id=tenant_id,
        at=dt.datetime.now(dt.UTC),
        actor_id=actor_id,
        action=action,
        target_type=target_type[:40],
        target_id=target_id[:80],
        details=details,
    )
    entry_id = new_id()
    session = uow.session
    session.add(
        AuditEntry(
            id=entry_id,
            tenant_id=tenant_id,
            at=fields.at,
            actor_id=actor_id,
            action=action,
            target_type=fields.target_type,
            target_id=fields.target_id,
            details=details,
            leaf_hash=entry_leaf_hash(fields),
        )
    )
    # No flush here: the rows go out with the caller's next flush or commit (savepoints
    # flush before they begin), batched with the transaction's other inserts.
    session.add(AuditPending(tenant_id=tenant_id, entry_id=entry_id))
    uow.on_commit(functools.partial(_pending.mark, tenant_id))
    return entry_id


# Tenants that committed entries in this process since the integrator last looked: it
# integrates those every few seconds and sweeps every tenant now and then.
_pending = TenantMarks()


def take_pending_tenants() -> set[uuid.UUID]:
    return _pending.take()


# -- reading --------------------------------------------------------------------------------


def entries(
    uow: UnitOfWork, *, after_seq: int = 0, limit: int = 100, action: str | None = None
) -> list[EntryInfo]:
    """Integrated entries by seq; once those are exhausted, the page is filled with entries
    still pending integration (``seq`` None, in recording order), which a later call lists
    again with their seq."""
    tenant_id = uow.require_tenant()
    limit = max(1, min(limit, 1000))
    q = (
        sa.select(AuditLeaf.seq, AuditEntry)
        .join(AuditEntry, AuditEntry.id == AuditLeaf.entry_id)
        .where(AuditLeaf.tenant_id == tenant_id, AuditLeaf.seq > after_seq)
        .order_by(AuditLeaf.seq)
        .limit(limit)
    )
    pending = (
        sa.select(AuditEntry)
        .join(AuditPending, AuditPending.entry_id == AuditEntry.id)
        .where(AuditPending.tenant_id == tenant_id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    if action:
        q = q.where(AuditEntry.action == action)
        pending = pending.where(AuditEntry.action == action)
    out: list[EntryInfo] = [_info(seq, e) for seq, e in uow.session.execute(q)]
    if len(out) < limit:
        rows = uow.session.scalars(pending.limit(limit - len(out)))
        out.extend(_info(None, e) for e in rows)
    return out


def _info(seq: int | None, e: AuditEntry) -> EntryInfo:
    return EntryInfo(
        seq, e.at, e.actor_id, e.action, e.target_type, e.target_id, e.details, e.leaf_hash
    )


def _heads(session: Session, tenant_id: uuid.UUID) -> list[AuditTreeHead]:
    return list(
        session.scalars(
            sa.select(AuditTreeHead)
            .where(AuditTreeHead.tenant_id == tenant_id)
            .order_by(AuditTreeHead.tree_size)
        )
    )


def latest_head_row(session: Session, tenant_id: uuid.UUID) -> AuditTreeHead | None:
    return session.scalar(
        sa.select(AuditTreeHead)
        .where(AuditTreeHead.tenant_id == tenant_id)
        .order_by(AuditTreeHead.tree_size.desc())
        .limit(1)
    )


def _as_head(row: AuditTreeHead) -> TreeHead:
    return TreeHead(row.tenant_id, row.tree_size, row.root_hash, row.timestamp_ms, row.signature)


def head(uow: UnitOfWork, tenant_id: uuid.UUID | None = None) -> TreeHead:
    """The tenant's latest signed tree head: copy it to a witness (with ``public_key``)."""
    tenant_id = tenant_id or uow.require_tenant()
    row = latest_head_row(uow.session, tenant_id)
    if row is None:
        return TreeHead(tenant_id, 0, EMPTY_ROOT, 0, "")
    return _as_head(row)


def public_key(uow: UnitOfWork, tenant_id: uuid.UUID | None = None) -> bytes | None:
    """The raw Ed25519 public key that signs the tenant's tree heads (None before any)."""
    tenant_id = tenant_id or uow.require_tenant()
    row = uow.session.get(AuditSigningKey, tenant_id)
    return bytes(row.public_key) if row is not None else None


def signature_ok(key: bytes | None, h: TreeHead) -> bool:
    if key is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(
            bytes.fromhex(h.signature),
            tree_head_message(h.tenant_id, h.tree_size, h.timestamp_ms, h.root_hash),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _leaf_hashes(session: Session, tenant_id: uuid.UUID, size: int) -> list[bytes]:
    """The first ``size`` leaf hashes, checked gapless (a proof over holes proves nothing)."""
    out: list[bytes] = []
    last = 0
    while last < size:
        batch = list(
            session.execute(
                sa.select(AuditLeaf.seq, AuditLeaf.leaf_hash)
                .where(
                    AuditLeaf.tenant_id == tenant_id, AuditLeaf.seq > last, AuditLeaf.seq <= size
                )
                .order_by(AuditLeaf.seq)
                .limit(VERIFY_BATCH * 10)
            )
        )
        if not batch:
            break
        for seq, digest in batch:
            if seq != last + 1:
                raise NotFound("audit.leaf_missing", f"leaf {last + 1} is missing")
            out.append(bytes.fromhex(digest))
            last = seq
    if len(out) != size:
        raise NotFound("audit.leaf_missing", f"leaf {len(out) + 1} is missing")
    return out


def _signed_head(uow: UnitOfWork, tree_size: int | None) -> TreeHead:
    tenant_id = uow.require_tenant()
    if tree_size is None:
        row = latest_head_row(uow.session, tenant_id)
    else:
        row = uow.session.scalar(
            sa.select(AuditTreeHead).where(
                AuditTreeHead.tenant_id == tenant_id, AuditTreeHead.tree_size == tree_size
            )
        )
    if row is None:
        raise NotFound("audit.no_tree_head", "no signed tree head of that size")
    return _as_head(row)


def inclusion_proof(uow: UnitOfWork, seq: int, tree_size: int | None = None) -> InclusionProof:
    """Audit path of leaf ``seq`` in a signed tree (the latest by default)."""
    h = _signed_head(uow, tree_size)
    if not 1 <= seq <= h.tree_size:
        raise NotFound("audit.not_in_tree", f"entry {seq} is not in the tree of {h.tree_size}")
    leaves = _leaf_hashes(uow.session, h.tenant_id, h.tree_size)
    proof = merkle.inclusion_proof(seq - 1, leaves)
    return InclusionProof(h, seq, leaves[seq - 1].hex(), [p.hex() for p in proof])


def consistency_proof(uow: UnitOfWork, first: int, second: int | None = None) -> ConsistencyProof:
    """Proof that the tree of ``first`` leaves is a prefix of a signed tree (latest by
    default): an auditor holding an older head checks it with ``merkle.verify_consistency``."""
    h = _signed_head(uow, second)
    if not 0 <= first <= h.tree_size:
        raise ValidationFailed("first", f"must be between 0 and {h.tree_size}")
    leaves = _leaf_hashes(uow.session, h.tenant_id, h.tree_size)
    proof = merkle.consistency_proof(first, h.tree_size, leaves)
    first_root = merkle.root(leaves[:first]).hex()
    return ConsistencyProof(first, first_root, h, [p.hex() for p in proof])


# -- verification ---------------------------------------------------------------------------


def _leaves(
    session: Session, tenant_id: uuid.UUID
) -> Iterator[tuple[AuditLeaf, AuditEntry | None]]:
    last = 0
    while True:
        batch = list(
            session.execute(
                sa.select(AuditLeaf, AuditEntry)
                .outerjoin(AuditEntry, AuditEntry.id == AuditLeaf.entry_id)
                .where(AuditLeaf.tenant_id == tenant_id, AuditLeaf.seq > last)
                .order_by(AuditLeaf.seq)
                .limit(VERIFY_BATCH)
            )
        )
        if not batch:
            return
        yield from batch
        last = batch[-1][0].seq
        session.expunge_all()


def verify(
    uow: UnitOfWork,
    tenant_id: uuid.UUID | None = None,
    *,
    witness: TreeHead | tuple[int, str] | None = None,
) -> BadEntry | None:
    """Recompute the tenant's tree; the first bad entry, or None when intact.

    Every leaf's hash is recomputed from its entry, leaves must be gapless, and the root at
    each signed head's size must match that head (whose signature is checked): a failing
    head names the first leaf after the last head that still matched. ``witness`` is a
    head (or (size, root hex)) copied elsewhere earlier: the current tree must extend it
    (RFC 6962 consistency proof), which catches a log rebuilt and re-signed end to end.
    Entries not yet integrated are not covered until the integrator has run.
    """
    tenant_id = tenant_id or uow.require_tenant()
    session = uow.session
    heads = [_as_head(r) for r in _heads(session, tenant_id)]  # read before the leaves
    key = public_key(uow, tenant_id)
    for sth in heads:
        if not signature_ok(key, sth):
            return BadEntry(sth.tree_size, "bad_signature")
    signed = heads[-1].tree_size if heads else 0
    hashes: list[bytes] = []
    frontier: list[bytes] = []
    pending = iter(heads)
    next_head = next(pending, None)
    good_size = 0
    beyond = False
    for leaf, entry in _leaves(session, tenant_id):
        expected = len(hashes) + 1
        if expected > signed:
            beyond = True
            break
        if leaf.seq != expected or entry is None:
            return BadEntry(expected, "missing")
        digest = entry_leaf_hash(fields_of(entry))
        if digest != leaf.leaf_hash or digest != entry.leaf_hash:
            return BadEntry(expected, "hash_mismatch")
        leaf_bytes = bytes.fromhex(digest)
        frontier = merkle.append(frontier, len(hashes), leaf_bytes)
        hashes.append(leaf_bytes)
        while next_head is not None and next_head.tree_size == len(hashes):
            if merkle.frontier_root(frontier).hex() != next_head.root_hash:
                return BadEntry(good_size + 1, "root_mismatch")
            good_size = next_head.tree_size
            next_head = next(pending, None)
    n = len(hashes)
    if n < signed:
        return BadEntry(n + 1, "truncated")
    if beyond:
        # Leaves past the heads we read: a pass that committed meanwhile signed them, or
        # nobody did (forged leaves, deleted heads, or migrated leaves awaiting a first pass).
        current = latest_head_row(session, tenant_id)
        if current is None or current.tree_size <= signed:
            return BadEntry(signed + 1, "unsigned")
    if heads and heads[0].tree_size == 0 and heads[0].root_hash != EMPTY_ROOT:
        return BadEntry(1, "root_mismatch")
    if witness is not None:
        w_size, w_root = (
            (witness.tree_size, witness.root_hash) if isinstance(witness, TreeHead) else witness
        )
        if w_size > n:
            return BadEntry(n + 1, "truncated")
        try:
            w_root_bytes = bytes.fromhex(w_root)
        except ValueError:
            return BadEntry(w_size, "witness_mismatch")
        proof = merkle.consistency_proof(w_size, n, hashes)
        if not merkle.verify_consistency(w_size, n, w_root_bytes, merkle.root(hashes), proof):
            return BadEntry(max(w_size, 1), "witness_mismatch")
    return None

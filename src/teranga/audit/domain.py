"""The audit log's hashing and signing rules, pure.

An entry's leaf is its canonical JSON (sorted keys, no whitespace, UTF-8) of tenant, at
(ISO 8601, microseconds, UTC), actor, action, target_type, target_id and details; its leaf
hash is RFC 6962's SHA-256(0x00 || canonical). The sequence number is *not* hashed: it is
the leaf's position in the tenant's Merkle tree, assigned after commit by the integrator,
and a reordering shows as a different tree root. Each integration pass signs a tree head
(``tree_head_message``) with the tenant's Ed25519 key.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Any

from teranga.audit import merkle

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")
STH_CONTEXT = b"teranga.audit.sth.v1\x00"


@dataclass(frozen=True)
class EntryFields:
    tenant_id: uuid.UUID
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


@dataclass(frozen=True)
class BadEntry:
    """The first entry (1-based seq = leaf index + 1) at which verification failed, and why:
    ``missing`` (a leaf or its entry is gone), ``hash_mismatch`` (an entry or its leaf was
    edited), ``root_mismatch`` (leaves reordered or rewritten since the last good signed
    head), ``bad_signature``, ``truncated`` (leaves signed for are gone), ``unsigned``
    (leaves beyond every signed head), ``witness_mismatch`` (no longer extends a head
    copied to a witness)."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head: what a witness copies. ``signature`` is empty for the empty tree
    before any pass (nothing to sign yet)."""

    tenant_id: uuid.UUID
    tree_size: int
    root_hash: str
    timestamp_ms: int
    signature: str

    @property
    def timestamp(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, dt.UTC)


def canonical(fields: EntryFields) -> bytes:
    body = {
        "tenant": str(fields.tenant_id),
        "at": fields.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": str(fields.actor_id) if fields.actor_id else "system",
        "action": fields.action,
        "target_type": fields.target_type,
        "target_id": fields.target_id,
        "details": fields.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_leaf_hash(fields: EntryFields) -> str:
    return merkle.leaf_hash(canonical(fields)).hex()


def tree_head_message(tenant_id: uuid.UUID, tree_size: int, timestamp_ms: int, root: str) -> bytes:
    """The bytes signed: context, tenant (16 bytes), size and time (u64 BE), root (32)."""
    return (
        STH_CONTEXT
        + tenant_id.bytes
        + struct.pack(">QQ", tree_size, timestamp_ms)
        + bytes.fromhex(root)
    )


def check_details(details: dict[str, Any]) -> None:
    """Details must be plain JSON (no floats, whose text form may not round-trip)."""

    def ok(v: Any) -> bool:
        if v is None or isinstance(v, str | bool | int):
            return True
        if isinstance(v, list):
            return all(ok(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and ok(x) for k, x in v.items())
        return False

    if not ok(details):
        raise ValueError("audit details must be JSON made of str, int, bool, None, list, dict")

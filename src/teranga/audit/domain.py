"""The audit chain's hashing rules, pure.

Each entry's hash is SHA-256 over the previous entry's hash (hex) followed by the
canonical JSON (sorted keys, no whitespace, UTF-8) of the entry's fields: tenant, seq,
at (ISO 8601, microseconds, UTC), actor, action, target_type, target_id, details. The
first entry of a tenant chains on GENESIS. Editing, deleting or reordering any entry
changes a recomputed hash or breaks the seq/prev_hash links from that entry on; the head
row (last seq and hash) catches a truncated tail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$")


@dataclass(frozen=True)
class EntryFields:
    tenant_id: uuid.UUID
    seq: int
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


@dataclass(frozen=True)
class BadEntry:
    """The first entry at which verification failed, and why."""

    seq: int
    reason: str  # "missing", "out_of_order", "broken_link", "hash_mismatch", "truncated"

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


def canonical(fields: EntryFields) -> bytes:
    body = {
        "tenant": str(fields.tenant_id),
        "seq": fields.seq,
        "at": fields.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": str(fields.actor_id) if fields.actor_id else "system",
        "action": fields.action,
        "target_type": fields.target_type,
        "target_id": fields.target_id,
        "details": fields.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, fields: EntryFields) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(fields)).hexdigest()


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

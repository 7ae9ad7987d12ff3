"""``Idempotency-Key`` with Stripe's semantics, for POSTs that create orders, payments,
refunds and transfers.

* The key is claimed in its own committed transaction (a UNIQUE ``(tenant, scope, key)``
  row marked ``in_flight``), so a concurrent duplicate sees the claim and gets 409.
* The response is stored IN THE SAME transaction as the operation's writes: either both
  commit or neither, so a crash can never leave an operation done without its response.
  An error response (4xx) is stored after the rollback and replayed too.
* A two-step request (an order that starts its payment) stores its first step's answer
  with the first step and keeps the key in flight until the second step stores the full
  answer; if the holder dies in between, the first step's answer is replayed.
* Same key and same request: the stored status and body are replayed byte for byte.
  Same key with another request: 422. A claim left by a crashed process expires after
  ``LEASE`` and the request runs again (its writes were rolled back with the crash).
* Keys are kept at least 24 hours (``prune`` deletes older ones).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

import orjson
import sqlalchemy as sa

from teranga.platform.errors import Conflict, ValidationFailed
from teranga.platform.ids import new_id
from teranga.platform.uow import UnitOfWork, UnitOfWorkFactory, insert_for
from teranga.ticketing.models import IdempotencyKey

LEASE = dt.timedelta(seconds=60)
KEEP = dt.timedelta(hours=24)
MAX_KEY_LEN = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: bytes


def request_hash(method: str, path: str, body: object) -> str:
    canonical = orjson.dumps(
        {"m": method, "p": path, "b": body}, option=orjson.OPT_SORT_KEYS, default=str
    )
    return hashlib.sha256(canonical).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        raise ValidationFailed("Idempotency-Key", f"1 to {MAX_KEY_LEN} printable characters")
    return key


def claim(
    uows: UnitOfWorkFactory,
    *,
    tenant_id: uuid.UUID,
    scope: str,
    key: str,
    fingerprint: str,
    now: dt.datetime,
) -> Replay | None:
    """Claim ``key`` for this request; return a Replay if it already completed.

    Raises ValidationFailed (422) when the key was used for another request and Conflict
    (409) while another request with the key is in flight.
    """
    with uows(tenant_id) as uow:
        claimed = uow.session.scalar(
            insert_for(uow)(IdempotencyKey)
            .values(
                id=new_id(),
                tenant_id=tenant_id,
                scope=scope,
                key=key,
                request_hash=fingerprint,
                status="in_flight",
                created_at=now,
                locked_until=now + LEASE,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.id)
        )
        if claimed is not None:
            return None
        row = uow.session.scalar(
            sa.select(IdempotencyKey)
            .where(
                IdempotencyKey.tenant_id == tenant_id,
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
            )
            .with_for_update()
        )
        if row is None:  # deleted by prune between the insert and the read
            raise Conflict("idempotency.in_flight", "retry this request")
        if row.request_hash != fingerprint:
            raise ValidationFailed(
                "Idempotency-Key", "this key was already used with a different request"
            )
        if row.status == "done" and row.response_status is not None:
            return Replay(row.response_status, (row.response_body or "").encode())
        if row.locked_until > now:
            raise Conflict(
                "idempotency.in_flight", "a request with this Idempotency-Key is in progress"
            )
        if row.response_status is not None:
            # A two-step request whose holder crashed after its first step committed: that
            # step's answer stands (running it again would find its work done).
            row.status = "done"
            return Replay(row.response_status, (row.response_body or "").encode())
        row.locked_until = now + LEASE  # the previous holder crashed: take over
        return None


def complete(
    uow: UnitOfWork, *, scope: str, key: str, status: int, body: bytes, final: bool = True
) -> None:
    """Store the response in the caller's unit of work (commits with the operation).

    ``final=False``: the first step of a two-step request. Its answer is stored, but the
    key stays in flight (a concurrent duplicate still gets 409) until the second step
    stores the full answer, or the lease runs out and the first step's answer stands."""
    uow.session.execute(
        sa.update(IdempotencyKey)
        .where(
            IdempotencyKey.tenant_id == uow.require_tenant(),
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
        )
        .values(
            status="done" if final else "in_flight",
            response_status=status,
            response_body=body.decode(),
        )
    )


def prune(uow: UnitOfWork, *, now: dt.datetime) -> int:
    res = uow.session.execute(
        sa.delete(IdempotencyKey).where(
            IdempotencyKey.tenant_id == uow.require_tenant(),
            IdempotencyKey.created_at < now - KEEP,
        )
    )
    return int(getattr(res, "rowcount", 0) or 0)

"""Group commit for holds on a hot session (flat combining).

In a rush every buyer of a session needs that session's row lock for the few statements
of a hold. One transaction per hold makes them queue on the lock in PostgreSQL, and each
lock holder also waits for the GIL between its statements while dozens of request threads
run: the session's hold rate falls to a few per second. Here the holds of one session that
arrive in one process while a batch is being written go together into the next one: the
first waiting thread takes everything queued for the session and runs
``sales.create_holds`` in one transaction (one lock, one sweep, one flush, one commit);
the others sleep until their answer is ready. At low load a batch holds one request and
nothing waits. Across processes, batches still serialise on the session row, so every
invariant keeps resting on the database.

A batch that fails as a whole (a database error, not a buyer's refusal) is written again
one request at a time, so a fault that belongs to one request reaches that request only.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from teranga.container import Container
from teranga.platform.errors import TerangaError
from teranga.platform.uow import UnitOfWorkFactory
from teranga.ticketing import sales

_Key = tuple[uuid.UUID, uuid.UUID]  # (tenant, session)
_EXTRA = "ticketing.hold_batcher"


@dataclass
class _Pending:
    req: sales.HoldRequest
    done: threading.Event = field(default_factory=threading.Event)
    result: sales.HoldView | BaseException | None = None


class HoldBatcher:
    def __init__(self, uows: UnitOfWorkFactory, clock: Callable[[], dt.datetime]) -> None:
        self._uows = uows
        self._clock = clock
        self._mu = threading.Lock()
        self._queues: dict[_Key, list[_Pending]] = {}
        self._writers: dict[_Key, threading.Lock] = {}
        self.batches = 0  # written batches, for tests and the bench

    def hold(
        self, tenant_id: uuid.UUID, session_id: uuid.UUID, req: sales.HoldRequest
    ) -> sales.HoldView:
        """Hold as ``sales.create_hold`` would, sharing a transaction with concurrent holds
        of the same session. Raises the request's own error."""
        key = (tenant_id, session_id)
        mine = _Pending(req)
        with self._mu:
            self._queues.setdefault(key, []).append(mine)
            writer = self._writers.setdefault(key, threading.Lock())
        with writer:
            if not mine.done.is_set():
                # Not answered by the previous writer, so still queued: take it with the rest.
                with self._mu:
                    batch = self._queues.pop(key, [])
                try:
                    self._write(tenant_id, session_id, batch)
                finally:
                    # Even if this thread is interrupted mid-batch, nobody waits forever.
                    for p in batch:
                        if not p.done.is_set():
                            _settle(p, RuntimeError("the hold batch was interrupted"))
        result = mine.result
        if isinstance(result, sales.HoldView):
            return result
        raise result if result is not None else RuntimeError("hold batch left a request")

    def _write(self, tenant_id: uuid.UUID, session_id: uuid.UUID, batch: list[_Pending]) -> None:
        try:
            with self._uows(tenant_id) as uow:
                out = sales.create_holds(
                    uow, session_id=session_id, requests=[p.req for p in batch], now=self._clock()
                )
            self.batches += 1
        except Exception as exc:  # settled per request below
            if len(batch) > 1 and not isinstance(exc, TerangaError):
                for p in batch:
                    self._write(tenant_id, session_id, [p])
                return
            for p in batch:
                _settle(p, exc)
            return
        for p, res in zip(batch, out, strict=True):
            _settle(p, res)


def _settle(p: _Pending, result: sales.HoldView | BaseException) -> None:
    p.result = result
    p.done.set()


def batcher_of(container: Container) -> HoldBatcher:
    found = container.extras.get(_EXTRA)
    if found is None:

        def now() -> dt.datetime:
            # Through the container each time: tests and the demo may swap its clock later.
            return container.clock.now()

        fresh = HoldBatcher(container.uow_factory, now)
        found = container.extras.setdefault(_EXTRA, fresh)  # atomic: one per container
    return cast(HoldBatcher, found)


def create_hold(
    container: Container,
    tenant_id: uuid.UUID,
    *,
    session_id: uuid.UUID,
    category_id: uuid.UUID,
    quantity: int | None = None,
    seat_ids: list[uuid.UUID] | None = None,
    admission_token: str | None = None,
) -> sales.HoldView:
    """A buyer's online hold through the process's batcher (the web and page routes)."""
    req = sales.HoldRequest(
        category_id, quantity, tuple(seat_ids or ()), admission_token=admission_token
    )
    return batcher_of(container).hold(tenant_id, session_id, req)

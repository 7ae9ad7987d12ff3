"""Outbox relay: publishes committed ``outbox`` rows to the broker, in id order, once.

Why it is safe:

- A row is written in the same transaction as the change it reports, so an event exists
  iff its change committed. The relay marks a row ``published_at`` only after the broker
  acknowledged it; a crash in between leaves the row unpublished and it is published again
  at the next pass.
- That second publish carries the same broker message id (derived from the row id and its
  creation time, so it is unique across databases sharing a broker), and the broker drops
  it as a duplicate within its duplicate window: consumers see the event once.
- Several processes may run a relay. On PostgreSQL each pass runs in one transaction that
  first takes a transaction-level advisory lock (``pg_try_advisory_xact_lock``): one relay
  publishes at a time, so events leave in id order; the others skip the pass. Rows are
  claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` as well, so anything else that claims
  outbox rows the same way (an operator's script) is never published twice. A relay that
  dies mid-pass releases both locks with its connection. SQLite is the single-process
  embedded mode; should two processes relay anyway, the message id still deduplicates.
- The relay is woken right after a commit that wrote outbox rows
  (``UnitOfWorkFactory.after_publish_hooks``, called from whatever thread committed) and
  also polls, so rows left by a crashed process or a CLI command are published too.
- Published rows are deleted after ``keep_published`` (the broker holds the events), so
  the table and its scans stay small.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from teranga.platform.broker import Broker
from teranga.platform.clock import utcnow
from teranga.platform.outbox import OutboxMessage
from teranga.platform.worker import BackgroundWorker

if TYPE_CHECKING:
    from teranga.container import Container

log = logging.getLogger(__name__)

# Arbitrary constant naming the relay's advisory lock (advisory locks are per database).
ADVISORY_LOCK_KEY = 7_478_710_876_127
outbox = cast(sa.Table, OutboxMessage.__table__)


def message_id(row_id: int, created_at: Any) -> str:
    """Broker dedupe id of an outbox row: stable across retries, unique across databases."""
    stamp = int(created_at.timestamp() * 1_000_000) if created_at is not None else 0
    return f"outbox-{row_id}-{stamp}"


class OutboxRelay(BackgroundWorker):
    task_name = "outbox-relay"

    def __init__(
        self,
        engine: Engine,
        broker: Broker,
        *,
        batch_size: int = 200,
        poll_interval: float = 2.0,
        retry_delay: float = 1.0,
        stop_timeout: float = 10.0,
        keep_published: dt.timedelta = dt.timedelta(days=2),
        prune_every: float = 600.0,
    ) -> None:
        super().__init__(stop_timeout=stop_timeout)
        self.engine = engine
        self.broker = broker
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_delay = retry_delay
        # Published rows are kept a while (debugging, late re-publish) and then deleted so
        # the table stays small; the broker keeps the events themselves.
        self.keep_published = keep_published
        self.prune_every = prune_every
        self._last_prune = 0.0
        self._pass_lock = threading.Lock()  # one pass at a time within this process

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            await self._wait(self.poll_interval)
            if self._stopping:
                return
            try:
                # Keep going while full batches come back: a backlog drains without waiting.
                while await self.relay_once() >= self.batch_size and not self._stopping:
                    pass
                now = asyncio.get_running_loop().time()
                if now - self._last_prune >= self.prune_every:
                    self._last_prune = now
                    await asyncio.to_thread(self.prune)
            except Exception:  # broker or database down: retry later, never crash the app
                log.warning("outbox relay pass failed; retrying", exc_info=True)
                await asyncio.sleep(self.retry_delay)
                self._event().set()

    # -- one pass -------------------------------------------------------------------------
    async def relay_once(self) -> int:
        """Publish up to ``batch_size`` unsent rows; returns how many were published."""
        loop = asyncio.get_running_loop()
        return await asyncio.to_thread(self._pass, loop)

    def _query(self, postgres: bool) -> sa.Select[Any]:
        query = (
            sa.select(outbox.c.id, outbox.c.topic, outbox.c.payload, outbox.c.created_at)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(self.batch_size)
        )
        return query.with_for_update(skip_locked=True) if postgres else query

    def _publish_rows(
        self, loop: asyncio.AbstractEventLoop, rows: Sequence[sa.Row[Any]]
    ) -> tuple[list[int], Exception | None]:
        # One hop to the event loop per batch, not per row: a busy loop (thousands of live
        # clients) would otherwise drain the outbox one message per loop turn.
        if not rows:
            return [], None
        fut = asyncio.run_coroutine_threadsafe(self._publish_all(rows), loop)
        return fut.result(timeout=30 + len(rows))

    async def _publish_all(self, rows: Sequence[sa.Row[Any]]) -> tuple[list[int], Exception | None]:
        done: list[int] = []
        for row in rows:
            try:
                await self.broker.publish(
                    row.topic, row.payload, msg_id=message_id(row.id, row.created_at)
                )
            except Exception as exc:  # stop here: later rows must not overtake this one
                return done, exc
            done.append(row.id)
        return done, None

    def _pass(self, loop: asyncio.AbstractEventLoop) -> int:
        with self._pass_lock:
            if self.engine.dialect.name == "postgresql":
                done, failure = self._pass_postgres(loop)
            else:
                done, failure = self._pass_single_process(loop)
        if failure is not None:
            raise failure
        return len(done)

    def _pass_postgres(self, loop: asyncio.AbstractEventLoop) -> tuple[list[int], Exception | None]:
        # One transaction holds the advisory lock and the row locks while publishing.
        with self.engine.connect() as conn, conn.begin():
            if not conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))):
                return [], None  # another process is relaying; it will take our rows in order
            done, failure = self._publish_rows(loop, conn.execute(self._query(True)).all())
            # Mark (and commit) what the broker acknowledged, even when a later publish failed.
            self._mark(conn, done)
        return done, failure

    def _pass_single_process(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[list[int], Exception | None]:
        # SQLite transactions take the database write lock: never hold one while publishing.
        with self.engine.begin() as conn:
            rows = conn.execute(self._query(False)).all()
        done, failure = self._publish_rows(loop, rows)
        with self.engine.begin() as conn:
            self._mark(conn, done)
        return done, failure

    def prune(self, now: dt.datetime | None = None) -> int:
        """Delete rows published before ``now - keep_published``; returns how many."""
        horizon = (now or utcnow()) - self.keep_published
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.delete(outbox).where(
                    outbox.c.published_at.is_not(None), outbox.c.published_at < horizon
                )
            )
        return int(result.rowcount or 0)

    @staticmethod
    def _mark(conn: Connection, ids: list[int]) -> None:
        if ids:
            conn.execute(
                sa.update(outbox).where(outbox.c.id.in_(ids)).values(published_at=utcnow())
            )


def install(container: Container) -> OutboxRelay:
    """Create the process's relay once, wake it after commits, start/stop it with the app."""
    existing = container.extras.get("relay")
    if isinstance(existing, OutboxRelay):
        return existing
    relay = OutboxRelay(container.engine, container.broker)
    container.extras["relay"] = relay
    container.uow_factory.after_publish_hooks.append(relay.wake)
    container.extras.setdefault("startup", []).append(relay.start)
    container.extras.setdefault("shutdown", []).append(relay.stop)
    return relay

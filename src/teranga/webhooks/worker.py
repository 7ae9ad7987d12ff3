"""The webhook worker: turns committed events into deliveries and sends them.

Where events come from, and why none is lost. The dispatcher reads the transactional
outbox (``teranga.platform.outbox``), not the broker: an outbox row exists iff the change it
reports committed, it carries the tenant that raised it (broker messages do not), and it
covers every topic without knowing topic names in advance. It takes rows the relay has
marked ``published_at`` and that are not yet in ``webhook_ingested``; the deliveries for a
row and its ``webhook_ingested`` entry are written in one transaction, so a crash either
loses both (the row is taken again) or keeps both (it is not taken twice), and the unique
(endpoint, event id) constraint is the last guard. Because of the anti-join, a row that
becomes visible late (a long transaction, a relay pass that commits late) is still taken:

- regular passes only look at rows published since the previous pass started (minus a
  margin), to keep scans small;
- a full pass over every relayed row still in the outbox runs at start-up and every
  ``full_scan_every`` seconds. The relay keeps published rows ``keep_published`` (two days)
  before pruning them, so a row is missed only if no dispatcher ran a full pass for two
  days while the relay kept relaying, and both run in the same processes (app lifespan).

Why not subscribe to the broker: its messages carry no tenant, topics are open-ended (one
per competition unit) with no wildcard subscription, and retention (one hour by default)
would drop events while a process is down. On PostgreSQL one process ingests at a time
(session advisory lock); the others skip the pass.

Timing: the worker waits ``start_delay`` after start-up, then polls every
``poll_interval``; a commit that published events wakes it (after-commit hook) and it looks
again a few times in the next half second, once the relay has marked the rows. It remembers
when the next retry is due and skips the per-tenant queries until then, unless woken.

Sending: due deliveries are claimed (compare-and-set on ``attempts``, with a lease so a
crashed sender's claim expires), sent with httpx outside any transaction (no redirects
followed, timeouts, at most ``RESPONSE_EXCERPT`` bytes of the answer read), and the result
stored: 2xx succeeded; otherwise retried after an exponential, jittered delay, until
``max_attempts`` when it is marked ``failed``. Delivery is at least once: receivers
deduplicate on ``webhook-id``. The endpoint's address is checked again before each attempt
(a name may have been re-pointed at a private address since registration); the
connection itself resolves the name again, so a DNS answer changing in between (rebinding
within milliseconds) is a residual risk that an egress proxy or firewall should close.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from teranga.container import Container
from teranga.platform.errors import ValidationFailed
from teranga.platform.worker import BackgroundWorker
from teranga.tenancy import api as tenancy
from teranga.webhooks import domain, repo, service
from teranga.webhooks.service import OutboxEvent, Outcome, SendJob, UrlPolicy

log = logging.getLogger(__name__)
USER_AGENT = "Teranga-Webhooks/1"
# Arbitrary constant naming the ingest advisory lock (the relay uses another).
INGEST_LOCK_KEY = 7_478_710_876_128
# Due deliveries are looked for at least this often, whatever the worker believes.
MAX_IDLE = dt.timedelta(seconds=60)
# Extra looks after a commit woke the worker (seconds before each).
FOLLOW_UPS: tuple[float, ...] = (0.05, 0.2, 0.5)


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


class WebhookWorker(BackgroundWorker):
    task_name = "webhook-worker"
    pass_at_start = False  # it waits start_delay (or a commit) first

    def __init__(
        self,
        container: Container,
        *,
        poll_interval: float = 5.0,
        start_delay: float = 3.0,
        batch_size: int = 200,
        send_batch: int = 50,
        concurrency: int = 16,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_attempts: int = 8,
        base_delay: float = 30.0,
        max_delay: float = 6 * 3600.0,
        lease: dt.timedelta = dt.timedelta(minutes=2),
        scan_margin: dt.timedelta = dt.timedelta(minutes=5),
        full_scan_every: float = 600.0,
        keep_deliveries: dt.timedelta = dt.timedelta(days=30),
        stop_timeout: float = 15.0,
        policy: UrlPolicy | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(stop_timeout=stop_timeout)
        self.container = container
        self.poll_interval = poll_interval
        self.start_delay = start_delay
        self.batch_size = batch_size
        self.send_batch = send_batch
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.scan_margin = scan_margin
        self.full_scan_every = full_scan_every
        self.keep_deliveries = keep_deliveries
        self.policy = policy or UrlPolicy.for_env(container.settings.env)
        self.jitter = jitter
        self._semaphore = asyncio.Semaphore(concurrency)
        self._since: dt.datetime | None = None  # None: next ingest pass is a full one
        self._last_full = 0.0
        self._client: httpx.AsyncClient | None = None
        self._idle_until: dt.datetime | None = None  # nothing due before this (None: look)
        self._kick = False

    def _now(self) -> dt.datetime:
        return self.container.clock.now()

    # -- the loop -------------------------------------------------------------------------
    async def _stopped(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """After-commit hook (any thread): look for work now rather than at the next poll."""
        self._kick = True
        super().wake()

    async def _run(self) -> None:
        # Let the app finish starting first (unless a commit asks for us sooner).
        delays = FOLLOW_UPS if await self._wait(self.start_delay) else ()
        while not self._stopping:
            created = await self._safe_pass()
            if delays and not created:
                # Woken by a commit: the relay, woken by the same commit, may not have
                # marked its rows yet; look again shortly instead of at the next poll.
                await asyncio.sleep(delays[0])
                delays = delays[1:]
                continue
            delays = FOLLOW_UPS if await self._wait(self.poll_interval) else ()

    async def _safe_pass(self) -> int:
        try:
            created, _sent = await self.run_once()
        except Exception:  # database or network trouble: try again at the next poll
            log.warning("webhook worker pass failed", exc_info=True)
            return 0
        return created

    async def run_once(self) -> tuple[int, int]:
        """One ingest pass and one send pass: (deliveries created, attempts made)."""
        created = await asyncio.to_thread(self.ingest_once)
        sent = await self.send_once()
        return created, sent

    # -- ingest ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _ingest_lock(self) -> Iterator[bool]:
        """One ingester at a time across processes (PostgreSQL session advisory lock; a
        dead process's lock goes with its connection). SQLite is the single-process mode."""
        engine = self.container.engine
        if engine.dialect.name != "postgresql":
            yield True
            return
        with engine.connect() as conn:
            got = bool(conn.scalar(sa.select(sa.func.pg_try_advisory_lock(INGEST_LOCK_KEY))))
            conn.commit()  # the lock is per session: no transaction stays open meanwhile
            try:
                yield got
            finally:
                if got:
                    conn.scalar(sa.select(sa.func.pg_advisory_unlock(INGEST_LOCK_KEY)))
                    conn.commit()

    def ingest_once(self) -> int:
        with self._ingest_lock() as mine:
            return self._ingest() if mine else 0

    def _ingest(self) -> int:
        loop_time = self._now().timestamp()
        full = self._since is None or loop_time - self._last_full >= self.full_scan_every
        started = self._now()
        since = None if full else self._since
        created = 0
        while True:
            with self.container.uow() as uow:
                rows = repo.unprocessed_outbox(uow.session, since=since, limit=self.batch_size)
            if not rows:
                break
            made, failed = self._ingest_rows(rows)
            created += made
            if made:
                self._kick = True
            if failed:  # keep the window where it is: the failed rows are taken next pass
                return created
            if len(rows) < self.batch_size:
                break
        if full:
            self._last_full = loop_time
            self._prune(started)
        self._since = started - self.scan_margin
        return created

    def _prune(self, now: dt.datetime) -> None:
        with self.container.uow() as uow:
            repo.prune_ingested(uow.session)
        horizon = now - self.keep_deliveries
        for tid in self._tenants():
            with self.container.uow(tid) as uow:
                repo.prune_deliveries(uow.session, tid, before=horizon)

    def _ingest_rows(self, rows: Any) -> tuple[int, bool]:
        by_tenant: dict[uuid.UUID | None, list[OutboxEvent]] = defaultdict(list)
        for r in rows:
            by_tenant[r.tenant_id].append(OutboxEvent(r.id, r.topic, r.payload, r.created_at))
        created, failed = 0, False
        now = self._now()
        for tid, events in by_tenant.items():
            try:
                with self.container.uow(tid) as uow:
                    if tid is None:
                        service.mark_ingested(uow, [e.outbox_id for e in events], now=now)
                    else:
                        created += service.ingest(uow, events, now=now)
            except Exception:  # e.g. another process ingested them first (unique key)
                log.warning("webhook ingest of %d events failed", len(events), exc_info=True)
                failed = True
        return created, failed

    # -- send -----------------------------------------------------------------------------
    def _tenants(self) -> list[uuid.UUID]:
        with self.container.uow() as uow:
            return [t.id for t in tenancy.list_tenants(uow)]

    def _claim(self) -> list[SendJob]:
        now = self._now()
        jobs: list[SendJob] = []
        soonest = now + MAX_IDLE
        for tid in self._tenants():
            try:
                with self.container.uow(tid) as uow:
                    jobs.extend(
                        service.claim_due(
                            uow, now=now, lease=self.lease, limit=self.send_batch, encode=encode
                        )
                    )
                    due = repo.next_due(uow.session, tid)
                    if due is not None:
                        soonest = min(soonest, due)
            except Exception:  # one tenant's trouble (e.g. its key) must not stop the others
                log.warning("webhook claim failed for tenant %s", tid, exc_info=True)
        self._idle_until = soonest
        return jobs

    def kick(self) -> None:
        """Make the next pass look for due deliveries even before ``_idle_until``."""
        self._kick = True

    async def send_once(self) -> int:
        """Claim and send due deliveries. Between passes the worker knows when the next
        retry is due and skips the per-tenant queries until then (or until kicked)."""
        idle_until = self._idle_until
        if not self._kick and idle_until is not None and self._now() < idle_until:
            return 0
        self._kick = False
        jobs = await asyncio.to_thread(self._claim)
        if not jobs:
            return 0
        outcomes = await asyncio.gather(*(self._send(job) for job in jobs))
        await asyncio.to_thread(self._record, list(zip(jobs, outcomes, strict=True)))
        return len(jobs)

    def _record(self, results: list[tuple[SendJob, Outcome]]) -> None:
        now = self._now()
        for job, outcome in results:
            delay = domain.retry_delay(
                job.attempt, base=self.base_delay, cap=self.max_delay, jitter=self.jitter()
            )
            try:
                with self.container.uow(job.tenant_id) as uow:
                    d = service.record_outcome(
                        uow,
                        job=job,
                        outcome=outcome,
                        now=now,
                        max_attempts=self.max_attempts,
                        next_delay=delay,
                    )
                if d is not None and d.next_attempt_at is not None:
                    idle = self._idle_until
                    self._idle_until = (
                        d.next_attempt_at if idle is None else min(idle, d.next_attempt_at)
                    )
            except Exception:  # the lease expires and the delivery is tried again
                log.warning("recording webhook delivery %s failed", job.delivery_id, exc_info=True)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No redirects (a 3xx could point inside our network), no proxy from the env.
            self._client = httpx.AsyncClient(
                follow_redirects=False, timeout=self.timeout, trust_env=False
            )
        return self._client

    async def _send(self, job: SendJob) -> Outcome:
        async with self._semaphore:
            try:
                await asyncio.to_thread(self.policy.check, job.url)
            except ValidationFailed as exc:
                return Outcome(False, None, f"refused: {exc.message}", None)
            timestamp = int(self._now().timestamp())
            headers = {
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": job.msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": domain.signature_header(
                    job.secrets, job.msg_id, timestamp, job.body
                ),
            }
            try:
                async with self._http().stream(
                    "POST", job.url, content=job.body, headers=headers
                ) as resp:
                    excerpt = await _read_excerpt(resp)
            except httpx.TimeoutException:
                return Outcome(False, None, "timeout", None)
            except httpx.HTTPError as exc:
                return Outcome(False, None, f"connection error: {type(exc).__name__}", None)
            ok = 200 <= resp.status_code < 300
            error = None if ok else f"HTTP {resp.status_code}"
            return Outcome(ok, resp.status_code, error, excerpt)


async def _read_excerpt(resp: httpx.Response) -> str:
    """At most RESPONSE_EXCERPT bytes of the body, decoded leniently; the rest is not read."""
    buf = bytearray()
    async for chunk in resp.aiter_raw():
        buf.extend(chunk)
        if len(buf) >= domain.RESPONSE_EXCERPT:
            break
    return bytes(buf[: domain.RESPONSE_EXCERPT]).decode("utf-8", "replace")

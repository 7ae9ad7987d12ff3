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

Sending: due deliveries are claimed (compare-and-set on ``attempts``, with a lease so a
crashed sender's claim expires), sent with httpx outside any transaction (no redirects
followed, timeouts, at most ``RESPONSE_EXCERPT`` bytes of the answer read), and the result
stored: 2xx succeeded; otherwise retried after an exponential, jittered delay, until
``max_attempts`` when it is marked ``failed``. Delivery is at least once: receivers
deduplicate on ``webhook-id``. The endpoint's address is checked again before each attempt
(a name may have been re-pointed at a private address since registration).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from teranga.container import Container
from teranga.platform.errors import ValidationFailed
from teranga.tenancy import api as tenancy
from teranga.webhooks import domain, repo, service
from teranga.webhooks.service import OutboxEvent, Outcome, SendJob, UrlPolicy

log = logging.getLogger(__name__)
USER_AGENT = "Teranga-Webhooks/1"


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


class WebhookWorker:
    def __init__(
        self,
        container: Container,
        *,
        poll_interval: float = 1.0,
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
        policy: UrlPolicy | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.container = container
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.send_batch = send_batch
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.scan_margin = scan_margin
        self.full_scan_every = full_scan_every
        self.policy = policy or UrlPolicy.for_env(container.settings.env)
        self.jitter = jitter
        self._semaphore = asyncio.Semaphore(concurrency)
        self._since: dt.datetime | None = None  # None: next ingest pass is a full one
        self._last_full = 0.0
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None

    def _now(self) -> dt.datetime:
        return self.container.clock.now()

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._loop = None

    def wake(self) -> None:
        """After-commit hook (any thread): look for work now rather than at the next poll."""
        loop, event = self._loop, self._wakeup
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    async def _run(self) -> None:
        wakeup = self._wakeup
        if wakeup is None:
            raise RuntimeError("worker not started")
        while True:
            try:
                await self.run_once()
            except Exception:  # database or network trouble: try again at the next poll
                log.warning("webhook worker pass failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), self.poll_interval)
            wakeup.clear()

    async def run_once(self) -> tuple[int, int]:
        """One ingest pass and one send pass: (deliveries created, attempts made)."""
        created = await asyncio.to_thread(self.ingest_once)
        sent = await self.send_once()
        return created, sent

    # -- ingest ---------------------------------------------------------------------------
    def ingest_once(self) -> int:
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
            created += self._ingest_rows(rows)
            if len(rows) < self.batch_size:
                break
        if full:
            self._last_full = loop_time
            with self.container.uow() as uow:
                repo.prune_ingested(uow.session)
        self._since = started - self.scan_margin
        return created

    def _ingest_rows(self, rows: Any) -> int:
        by_tenant: dict[uuid.UUID | None, list[OutboxEvent]] = defaultdict(list)
        for r in rows:
            by_tenant[r.tenant_id].append(OutboxEvent(r.id, r.topic, r.payload, r.created_at))
        created = 0
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
        return created

    # -- send -----------------------------------------------------------------------------
    def _tenants(self) -> list[uuid.UUID]:
        with self.container.uow() as uow:
            return [t.id for t in tenancy.list_tenants(uow)]

    def _claim(self) -> list[SendJob]:
        now = self._now()
        jobs: list[SendJob] = []
        for tid in self._tenants():
            with self.container.uow(tid) as uow:
                jobs.extend(
                    service.claim_due(
                        uow, now=now, lease=self.lease, limit=self.send_batch, encode=encode
                    )
                )
        return jobs

    async def send_once(self) -> int:
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
            with self.container.uow(job.tenant_id) as uow:
                service.record_outcome(
                    uow,
                    job=job,
                    outcome=outcome,
                    now=now,
                    max_attempts=self.max_attempts,
                    next_delay=delay,
                )

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

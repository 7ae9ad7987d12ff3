"""Online entry scans with group commit: the scans that arrive while a batch is being
written share the next transaction.

At a stadium, thousands of gates' scans a second each cost a transaction of their own
(begin, tenant, revocation, claim, record, commit: seven round trips) and a worker thread.
Here a scan is checked on the event loop (signature, gate rules, from per-process caches)
and queued; a writer takes what is queued and runs ``service.scan_batch`` in one
transaction on a connection it keeps. At low load a batch holds one scan, so nothing
waits; under load batches grow and the cost per scan falls. Exactly-once entry still rests
on the database (see ``service``): the batch only shares the round trips.

Scans that need the database to be read before deciding (typed short codes, exit scans)
take the one-at-a-time path, ``service.scan_once``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from teranga.access import credentials, service, tickets
from teranga.access.domain import Credential, Direction
from teranga.container import Container
from teranga.platform.errors import NotFound
from teranga.platform.uow import UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BATCH = 200
# One batch in flight per process: the next fills meanwhile. Two gave smaller batches and
# 20 % fewer scans/s at 64 gates (bench/gate_scan.py).
FLUSHERS = 1
GATE_TTL = service.GATE_TTL  # configuration changes reach every process within 5 s
KEYS_TTL = 60.0
KEYS_REFRESH_MIN = 2.0  # an unknown key id reloads the keys at most this often
RETRIES = 3


@dataclass
class _Pending:
    tenant_id: uuid.UUID
    req: service.ScanRequest
    future: asyncio.Future[service.ScanResult]


@dataclass
class _Keys:
    tickets: dict[int, bytes] = field(default_factory=dict)
    badges: dict[int, Ed25519PublicKey] = field(default_factory=dict)
    expires: float = 0.0
    loaded: float = 0.0


class ScanBatcher:
    def __init__(self, container: Container) -> None:
        self.container = container
        self._queue: deque[_Pending] = deque()
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._gates: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, service.GateConfig]] = {}
        self._keys: dict[uuid.UUID, _Keys] = {}
        self._inflight: dict[object, asyncio.Task[Any]] = {}
        self._held: list[tuple[Connection, sessionmaker[Session]]] = []
        self.batches = 0  # counters for tests and the benchmark
        self.batched_scans = 0

    async def scan(
        self,
        *,
        tenant_id: uuid.UUID,
        gate_id: uuid.UUID,
        text: str,
        scanner_id: str,
        nonce: str,
        now: dt.datetime,
        direction: Direction = Direction.IN,
        agent_id: uuid.UUID | None = None,
    ) -> service.ScanResult:
        service.check_nonce(scanner_id, nonce)
        bare = text.strip()
        if direction is not Direction.IN or (bare and tickets.is_short_code(bare)):
            return await anyio.to_thread.run_sync(
                lambda: service.scan_once(
                    lambda: self.container.uow(tenant_id),
                    gate_id=gate_id,
                    text=text,
                    scanner_id=scanner_id,
                    nonce=nonce,
                    now=now,
                    direction=direction,
                    agent_id=agent_id,
                )
            )
        gate = await self._gate(tenant_id, gate_id)
        cred = await self._decode(tenant_id, text)
        future: asyncio.Future[service.ScanResult] = asyncio.get_running_loop().create_future()
        self._queue.append(
            _Pending(
                tenant_id,
                service.ScanRequest(gate, cred, scanner_id, nonce, now, agent_id),
                future,
            )
        )
        if self._active < FLUSHERS:
            self._active += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    # -- caches (per process; read on the event loop, filled from a worker thread) --------
    # An expired entry is served while one background load refreshes it, and concurrent
    # misses share one load: a busy process never stalls its scans, nor fills its worker
    # threads, reloading the same gate or keys.

    async def _load(self, key: object, load: Callable[[], T]) -> T:
        """``load()`` in a worker thread, run once for all the callers waiting on ``key``."""
        loop = asyncio.get_running_loop()
        fut = self._inflight.get(key)
        if fut is None or fut.get_loop() is not loop:
            fut = loop.create_task(anyio.to_thread.run_sync(load))
            self._inflight[key] = fut
            fut.add_done_callback(lambda f: self._inflight.pop(key, None))
        return cast(T, await asyncio.shield(fut))

    def _in_background(self, key: object, refresh: Callable[[], Awaitable[object]]) -> None:
        if key in self._inflight:
            return

        async def run() -> None:
            try:
                await refresh()
            except Exception:  # the stale entry stays; the next request tries again
                log.warning("scan cache refresh failed", exc_info=True)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _gate(self, tenant_id: uuid.UUID, gate_id: uuid.UUID) -> service.GateConfig:
        key = (tenant_id, gate_id)
        hit = self._gates.get(key)
        if hit is None:
            return await self._fetch_gate(key)
        if hit[0] <= time.monotonic():
            self._in_background(("gate", key), lambda: self._fetch_gate(key))
        return hit[1]

    async def _fetch_gate(self, key: tuple[uuid.UUID, uuid.UUID]) -> service.GateConfig:
        tenant_id, gate_id = key

        def load() -> service.GateConfig:
            with self.container.uow(tenant_id) as uow:
                return service.load_gate_config(uow, gate_id)

        try:
            gate = await self._load(("gate", key), load)
        except NotFound:
            self._gates.pop(key, None)  # deleted meanwhile: the route answers 404
            raise
        if len(self._gates) > 10_000:
            self._gates.clear()
        self._gates[key] = (time.monotonic() + GATE_TTL, gate)
        return gate

    async def _load_keys(self, tenant_id: uuid.UUID) -> _Keys:
        def load() -> _Keys:
            with self.container.uow(tenant_id) as uow:
                return _Keys(tickets.tenant_public_keys(uow), service.badge_public_keys(uow))

        keys = await self._load(("keys", tenant_id), load)
        keys.loaded = time.monotonic()
        keys.expires = keys.loaded + KEYS_TTL
        if len(self._keys) > 1_000:
            self._keys.clear()
        self._keys[tenant_id] = keys
        return keys

    async def _decode(self, tenant_id: uuid.UUID, text: str) -> Credential | None:
        """``service.decode`` for QR texts, against cached keys. A key the cache does not
        know (an event created since) reloads them, at most every KEYS_REFRESH_MIN s."""
        text = text.strip("\r\n\t")  # not spaces: a ticket's base45 text may start with one
        bare = text.strip()
        if not bare or len(text) > 400:
            return None
        keys = self._keys.get(tenant_id)
        if keys is None:
            keys = await self._load_keys(tenant_id)
        elif keys.expires <= time.monotonic():
            self._in_background(("keys", tenant_id), lambda: self._load_keys(tenant_id))
        if bare.upper().startswith(credentials.PREFIX):
            try:
                badge_key = credentials.parse_badge(bare)[0].key_id
                if badge_key not in keys.badges and self._stale(keys):
                    keys = await self._load_keys(tenant_id)
                return credentials.verify_badge(bare, keys.badges).credential()
            except credentials.BadCredential:
                return None
        key_id = tickets.qr_key_id(text)
        if key_id is None:
            return None
        if key_id not in keys.tickets and self._stale(keys):
            keys = await self._load_keys(tenant_id)
        return tickets.verify_qr(text, keys.tickets)

    @staticmethod
    def _stale(keys: _Keys) -> bool:
        return time.monotonic() - keys.loaded >= KEYS_REFRESH_MIN

    # -- writing batches --------------------------------------------------------------------

    def _take(self) -> list[_Pending]:
        """Up to MAX_BATCH queued scans of the first queued scan's tenant, in order."""
        tenant = self._queue[0].tenant_id
        batch: list[_Pending] = []
        others: list[_Pending] = []
        while self._queue and len(batch) < MAX_BATCH:
            p = self._queue.popleft()
            (batch if p.tenant_id == tenant else others).append(p)
        self._queue.extendleft(reversed(others))
        return batch

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._take()
                try:
                    results = await anyio.to_thread.run_sync(self._write, batch)
                except Exception as exc:
                    if len(batch) == 1 or isinstance(exc, OperationalError):
                        # The database is down: every caller gets the error.
                        _settle(batch, exc)
                        continue
                    # Anything else may come from one scan: write them one by one, so that
                    # only that one fails (the batch rolled back as a whole).
                    log.warning("scan batch failed; writing its scans one by one", exc_info=True)
                    for p in batch:
                        try:
                            (res,) = await anyio.to_thread.run_sync(self._write, [p])
                        except Exception as one:
                            _settle([p], one)
                        else:
                            _settle([p], res)
                    continue
                for p, res in zip(batch, results, strict=True):
                    _settle([p], res)
        finally:
            self._active -= 1

    # Each writer keeps its database connection between batches: a batch then costs no
    # pool checkout (whose liveness ping is a round trip of its own). A connection that
    # failed is closed and the batch retried on a new one (a scan is idempotent by nonce).

    def _checkout(self) -> tuple[Connection, sessionmaker[Session]]:
        try:
            return self._held.pop()
        except IndexError:
            conn = self.container.engine.connect()
            return conn, sessionmaker(bind=conn, expire_on_commit=False)

    def _checkin(self, held: tuple[Connection, sessionmaker[Session]], healthy: bool) -> None:
        if healthy and not held[0].invalidated and len(self._held) < FLUSHERS:
            self._held.append(held)
        else:
            held[0].close()

    def close(self) -> None:
        """Return the held connections (at shutdown)."""
        while self._held:
            self._held.pop()[0].close()

    def _write(self, batch: list[_Pending]) -> list[service.ScanResult]:
        tenant = batch[0].tenant_id
        reqs = [p.req for p in batch]
        results: list[service.ScanResult | None] = [None] * len(reqs)
        todo = list(range(len(reqs)))
        attempt = 0
        while todo:
            held = self._checkout()
            healthy = False
            try:
                with UnitOfWork(held[1], tenant) as uow:
                    out = service.scan_batch(uow, [reqs[i] for i in todo])
                healthy = True
            except service.DuplicateScans as dup:
                healthy = True  # rolled back cleanly
                done = [todo[k] for k in dup.indexes]
                with self.container.uow(tenant) as uow:
                    for i in done:
                        results[i] = service.replay(uow, reqs[i].scanner_id, reqs[i].nonce)
                todo = [i for i in todo if i not in set(done)]
                continue
            except DBAPIError as exc:
                # A deadlock, a serialisation failure or a lost connection rolls the whole
                # batch back: retry (on a new connection).
                if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                    raise
                attempt += 1
                if attempt >= RETRIES:
                    raise
                log.warning("scan batch retried", exc_info=True)
                continue
            finally:
                self._checkin(held, healthy)
            for i, res in zip(todo, out, strict=True):
                results[i] = res
            todo = []
        self.batches += 1
        self.batched_scans += len(reqs)
        done_results = [r for r in results if r is not None]
        if len(done_results) != len(reqs):  # pragma: no cover - every scan is answered above
            raise RuntimeError("scan batch left scans unanswered")
        return done_results


def _settle(batch: list[_Pending], outcome: service.ScanResult | BaseException) -> None:
    for p in batch:
        if p.future.done():  # a caller that went away leaves a cancelled one
            continue
        if isinstance(outcome, BaseException):
            p.future.set_exception(outcome)
        else:
            p.future.set_result(outcome)


def batcher_of(container: Container) -> ScanBatcher:
    b = container.extras.get("access.scan_batcher")
    if b is None:
        batcher = b = container.extras["access.scan_batcher"] = ScanBatcher(container)

        async def close() -> None:
            batcher.close()

        container.extras.setdefault("shutdown", []).append(close)
    return cast(ScanBatcher, b)

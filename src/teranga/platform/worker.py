"""The lifecycle shared by the process's background workers (outbox relay, webhook and SMS
senders): one asyncio task, woken by after-commit hooks from any thread or by its own poll,
stopped by letting the pass in flight finish (bounded by ``stop_timeout``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable

log = logging.getLogger(__name__)


class TenantMarks:
    """Tenants that committed work for a worker in this process since it last looked, marked
    by after-commit hooks from any thread: a woken pass visits those only, and a periodic
    full pass every tenant (work from other processes, or marks another worker took)."""

    def __init__(self) -> None:
        self._tenants: set[uuid.UUID] = set()
        self._lock = threading.Lock()

    def mark(self, tenant_id: uuid.UUID) -> None:
        with self._lock:
            self._tenants.add(tenant_id)

    def take(self) -> set[uuid.UUID]:
        with self._lock:
            taken, self._tenants = self._tenants, set()
        return taken


class BackgroundWorker:
    """Subclasses implement ``_run`` (their loop) and set ``task_name``."""

    task_name = "worker"
    # A first pass at once picks up work left by a crash or a CLI command.
    pass_at_start = True

    def __init__(self, *, stop_timeout: float) -> None:
        self.stop_timeout = stop_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        if self.pass_at_start:
            self._wakeup.set()
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Let the pass in flight finish (what it claimed gets recorded), then stop; past
        ``stop_timeout`` it is cancelled (claims then expire and are retried later)."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            if self._wakeup is not None:
                self._wakeup.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.stop_timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._stopped()
        self._loop = None

    async def _stopped(self) -> None:
        """Release what the worker holds (clients, connections) once its task ended."""

    def wake(self) -> None:
        """After-commit hook: safe from any thread, a no-op when the worker is not running."""
        loop, event = self._loop, self._wakeup
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(event.set)

    def _event(self) -> asyncio.Event:
        if self._wakeup is None:
            raise RuntimeError(f"{self.task_name} not started")
        return self._wakeup

    async def _wait(self, seconds: float) -> bool:
        """Sleep until woken or ``seconds`` passed; True when woken."""
        wakeup = self._event()
        try:
            await asyncio.wait_for(wakeup.wait(), seconds)
        except TimeoutError:
            return False
        finally:
            wakeup.clear()
        return True

    async def _tenant_pass(
        self,
        take: Callable[[], set[uuid.UUID]],
        run: Callable[[set[uuid.UUID] | None], object],
        *,
        full: bool,
    ) -> bool | None:
        """One pass of a worker whose work is per tenant, in a thread: ``run(None)`` (every
        tenant; the marks it covers are dropped) when ``full``, else ``run`` of the tenants
        marked since the last pass (``take``). None when there was nothing to do, False when
        the pass failed (logged; the caller decides when to sweep again)."""
        marked = take()
        if not full and not marked:
            return None
        try:
            await asyncio.to_thread(run, None if full else marked)
        except Exception:  # database down: the caller's next full pass covers it
            log.warning("%s pass failed", self.task_name, exc_info=True)
            return False
        return True

    async def _run(self) -> None:
        raise NotImplementedError

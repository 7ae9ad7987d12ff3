"""Periodic ticketing work across tenants: the payment reconciler and housekeeping.

``reconcile_all`` opens one unit of work per tenant (row-level security sees one tenant
at a time) and returns one report per tenant. ``housekeeping_all`` deletes idempotency
keys past their retention (``idempotency.KEEP``). ``run_reconciler`` loops both in the
background; ``include(app)`` in the package starts it with the app when asked to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from teranga.container import Container
from teranga.platform.uow import UnitOfWork
from teranga.tenancy import api as tenancy
from teranga.ticketing import idempotency
from teranga.ticketing.payments.service import ReconcileReport, reconcile_pending
from teranga.ticketing.payments.wiring import gateway

log = logging.getLogger(__name__)
T = TypeVar("T")


def _each_tenant(
    container: Container, work: Callable[[UnitOfWork], T], what: str
) -> dict[uuid.UUID, T]:
    """``work`` in each tenant's own unit of work (row-level security shows one tenant at a
    time); one tenant's failure is logged and the others go on."""
    with container.uow() as uow:
        tenants = [t.id for t in tenancy.list_tenants(uow)]
    results: dict[uuid.UUID, T] = {}
    for tenant_id in tenants:
        try:
            with container.uow(tenant_id) as uow:
                results[tenant_id] = work(uow)
        except Exception:
            log.exception("%s failed for tenant %s", what, tenant_id)
    return results


def reconcile_all(
    container: Container, *, older_than: dt.timedelta = dt.timedelta(minutes=2)
) -> dict[uuid.UUID, ReconcileReport]:
    gw = gateway(container)
    return _each_tenant(
        container,
        lambda uow: reconcile_pending(uow, gw, older_than=older_than),
        "payment reconciliation",
    )


def housekeeping_all(container: Container) -> dict[uuid.UUID, int]:
    """Delete expired idempotency keys in every tenant; returns how many per tenant."""
    return _each_tenant(
        container,
        lambda uow: idempotency.prune(uow, now=container.clock.now()),
        "ticketing housekeeping",
    )


async def run_reconciler(
    container: Container,
    *,
    every: dt.timedelta = dt.timedelta(minutes=1),
    older_than: dt.timedelta = dt.timedelta(minutes=2),
    housekeeping_every: dt.timedelta = dt.timedelta(hours=1),
) -> None:
    """Reconcile forever, and keep house every ``housekeeping_every`` (the first time one
    interval after start: no sweep of every tenant added to start-up); cancel the task to
    stop. Errors are logged, never fatal."""
    loop = asyncio.get_running_loop()
    next_housekeeping = loop.time() + housekeeping_every.total_seconds()
    while True:
        try:
            await run_in_threadpool(reconcile_all, container, older_than=older_than)
        except Exception:
            log.exception("payment reconciliation round failed")
        if loop.time() >= next_housekeeping:
            next_housekeeping = loop.time() + housekeeping_every.total_seconds()
            try:
                await run_in_threadpool(housekeeping_all, container)
            except Exception:
                log.exception("ticketing housekeeping round failed")
        await asyncio.sleep(every.total_seconds())

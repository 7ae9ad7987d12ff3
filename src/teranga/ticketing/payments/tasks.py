"""Periodic payment work across tenants: the reconciler.

``reconcile_all`` opens one unit of work per tenant (row-level security sees one tenant
at a time) and returns one report per tenant. ``run_reconciler`` loops it in the
background; ``include(app)`` in the package starts it with the app when asked to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid

from starlette.concurrency import run_in_threadpool

from teranga.container import Container
from teranga.tenancy import api as tenancy
from teranga.ticketing.payments.service import ReconcileReport, reconcile_pending
from teranga.ticketing.payments.wiring import gateway

log = logging.getLogger(__name__)


def reconcile_all(
    container: Container, *, older_than: dt.timedelta = dt.timedelta(minutes=2)
) -> dict[uuid.UUID, ReconcileReport]:
    gw = gateway(container)
    with container.uow() as uow:
        tenants = [t.id for t in tenancy.list_tenants(uow)]
    reports: dict[uuid.UUID, ReconcileReport] = {}
    for tenant_id in tenants:
        try:
            with container.uow(tenant_id) as uow:
                reports[tenant_id] = reconcile_pending(uow, gw, older_than=older_than)
        except Exception:  # one tenant's failure must not stop the others
            log.exception("payment reconciliation failed for tenant %s", tenant_id)
    return reports


async def run_reconciler(
    container: Container,
    *,
    every: dt.timedelta = dt.timedelta(minutes=1),
    older_than: dt.timedelta = dt.timedelta(minutes=2),
) -> None:
    """Reconcile forever (cancel the task to stop); errors are logged, never fatal."""
    while True:
        try:
            await run_in_threadpool(reconcile_all, container, older_than=older_than)
        except Exception:
            log.exception("payment reconciliation round failed")
        await asyncio.sleep(every.total_seconds())

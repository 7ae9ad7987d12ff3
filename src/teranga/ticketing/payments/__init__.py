"""Mobile-money payments for the billetterie: providers, callbacks, reconciliation, refunds.

``gateway(container)`` (in ``wiring``) gives the configured providers; use cases live in
``service``. The app factory discovers only ``teranga.<domain>.web``: mount this package
with ``include(app)``, which adds the callback endpoints and the sandbox page and starts
the background reconciler (``payments.reconcile_interval_seconds``, 0 = off).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI


def include(app: FastAPI) -> None:
    """Mount the payment routes on an app built by create_app, and its reconciler."""
    from teranga.container import Container
    from teranga.ticketing.payments.tasks import run_reconciler
    from teranga.ticketing.payments.web import router

    if getattr(app.state, "payments_included", False):
        return  # idempotent: mounting twice would duplicate routes and reconcilers
    app.state.payments_included = True
    app.include_router(router)
    container = app.state.container
    if not isinstance(container, Container):
        raise TypeError("include(app) needs an app built by teranga.web.app.create_app")
    every = container.settings.payments.reconcile_interval_seconds
    if every <= 0:
        return
    tasks: list[asyncio.Task[Any]] = []

    async def start() -> None:
        tasks.append(
            asyncio.create_task(run_reconciler(container, every=dt.timedelta(seconds=every)))
        )

    async def stop() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    container.extras.setdefault("startup", []).append(start)
    container.extras.setdefault("shutdown", []).append(stop)

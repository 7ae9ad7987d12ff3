"""FastAPI app factory. ``create_app(settings)`` builds everything; importing connects nothing."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware

from teranga import __version__
from teranga.config import Settings, load_settings
from teranga.container import Container, build_container
from teranga.domains import domain_modules
from teranga.platform import relay
from teranga.web import errors, fastpath, health, i18n, pages, streams
from teranga.web.templating import StaticAssets

STATIC_DIR = Path(__file__).parent / "static"

# FastAPI >= 0.16x asks OpenTelemetry on every request whether a provider is configured
# (an environment lookup each time: 7 % of a gate scan's CPU). Nothing is exported to a
# third party here; metrics are our own /metrics. Older FastAPI has no such option.
_NO_OPENTELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or load_settings()
    container = container or build_container(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await container.broker.start()
        for hook in container.extras.get("startup", []):
            await hook()
        try:
            yield
        finally:
            for hook in reversed(container.extras.get("shutdown", [])):
                await hook()
            await container.broker.close()
            container.dispose()

    app = FastAPI(
        **_NO_OPENTELEMETRY,
        title="Teranga API",
        version=__version__,
        description="Plateforme numérique souveraine — API publique de Teranga.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.settings = settings
    errors.install(app)
    app.include_router(health.router)
    app.include_router(pages.router)
    # Outbox relay and live-stream hub (started/stopped through extras startup/shutdown).
    relay.install(container)
    streams.setup(app, container)
    app.include_router(streams.router)
    for module in domain_modules("web"):
        setup = getattr(module, "setup", None)
        if setup is not None:
            setup(app, container)
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    app.mount("/static", StaticAssets(directory=STATIC_DIR), name="static")
    # Pages are read on 3G: compress text (htmx is 52 kB raw, 16 kB gzipped); SSE is excluded.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    i18n.install(app, settings.languages)
    fastpath.install(app, container)  # hot JSON endpoints (gate scans) skip the stack
    streams.install_fast_path(app, container)  # last: public streams skip the middleware stack
    return app


def app_from_env() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (used by ``teranga serve --workers N``)."""
    return create_app(load_settings())

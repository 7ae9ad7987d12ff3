"""Web wiring of the privacy domain: request ids, redacted logs, the register at start-up."""

from __future__ import annotations

from fastapi import FastAPI

from teranga.container import Container
from teranga.platform.logging import RequestIdMiddleware, configure_logging
from teranga.privacy.register import load_register
from teranga.privacy.rights_web import router  # noqa: F401  (data-subject rights API)


def setup(app: FastAPI, container: Container) -> None:
    """Called by the app factory: fail on an invalid register, log without PII."""
    load_register(env=container.settings.env)
    configure_logging(container.settings)
    app.add_middleware(RequestIdMiddleware)

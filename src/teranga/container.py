"""The objects built once per process from Settings: engine, units of work, broker, keys.

Nothing connects at import time; ``build_container`` is called by create_app and the CLI.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from teranga.config import Settings
from teranga.platform.broker import Broker, make_broker
from teranga.platform.clock import Clock
from teranga.platform.db import make_engine
from teranga.platform.errors import ConfigurationError
from teranga.platform.kms import bind_kms, make_kms
from teranga.platform.residency import enforce_residency
from teranga.platform.uow import UnitOfWork, UnitOfWorkFactory


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: UnitOfWorkFactory
    broker: Broker
    clock: Clock
    # Per-domain services that need process-wide state register here (e.g. "kms", "relay").
    extras: dict[str, Any] = field(default_factory=dict)

    def uow(self, tenant_id: Any = None) -> UnitOfWork:
        return self.uow_factory(tenant_id)

    def dispose(self) -> None:
        self.engine.dispose()


MIN_SECRET_BYTES = 32


def ensure_secret_key(settings: Settings) -> None:
    """Production needs an explicit secret key; the embedded mode makes one on first start
    and keeps it (0600) under data_dir, so a newcomer's demo has working sessions, sandbox
    payments and rate-limit keys without configuring anything."""
    if settings.secret_key:
        if len(settings.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                "config.secret_key_too_short",
                f"TERANGA_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes",
            )
        return
    if settings.env == "prod":
        raise ConfigurationError(
            "config.secret_key_missing",
            "TERANGA_SECRET_KEY is required in production (32+ random bytes)",
        )
    path = settings.data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    settings.secret_key = path.read_text().strip()


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    clock = clock or Clock()
    # Fail closed before anything connects: no store of personal data outside the allowed
    # jurisdictions without a live CDP transfer authorisation (Loi 2008-12 art. 49).
    enforce_residency(settings, now=clock.now())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_secret_key(settings)
    # Cross-domain foreign keys (e.g. to tenants) resolve only once every model is imported.
    from teranga.domains import load_all_models

    load_all_models()
    engine = make_engine(settings.resolved_database_url)
    broker = make_broker(
        settings.broker_url,
        retention_seconds=settings.broker_retention_seconds,
        retention_messages=settings.broker_retention_messages,
    )
    kms = make_kms(settings)
    bind_kms(engine, kms)  # privacy.seal/unseal find the tenant keys through the engine
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=UnitOfWorkFactory(engine),
        broker=broker,
        clock=clock,
        extras={"kms": kms},
    )

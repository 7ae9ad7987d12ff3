"""The objects built once per process from Settings: engine, units of work, broker, keys.

Nothing connects at import time; ``build_container`` is called by create_app and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from teranga.config import Settings
from teranga.platform.broker import Broker, make_broker
from teranga.platform.clock import Clock
from teranga.platform.db import make_engine
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


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    clock = clock or Clock()
    # Fail closed before anything connects: no store of personal data outside the allowed
    # jurisdictions without a live CDP transfer authorisation (Loi 2008-12 art. 49).
    enforce_residency(settings, now=clock.now())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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

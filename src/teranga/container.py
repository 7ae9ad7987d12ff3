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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    broker = make_broker(
        settings.broker_url,
        retention_seconds=settings.broker_retention_seconds,
        retention_messages=settings.broker_retention_messages,
    )
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=UnitOfWorkFactory(engine),
        broker=broker,
        clock=clock or Clock(),
    )

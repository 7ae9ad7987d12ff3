"""Unit of work: the one place that commits.

A request or task opens a unit of work for one tenant; services receive it and never
commit. On PostgreSQL the tenant is set per transaction with ``set_config(..., true)`` so
row-level security policies see it and it cannot leak to the next user of a pooled
connection. Side effects (broker publishes, webhooks, messages) are registered with
``on_commit`` and run only after the commit succeeded; events that must not be lost go
through the transactional outbox with ``publish``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from teranga.platform.outbox import OutboxMessage

log = logging.getLogger(__name__)

Hook = Callable[[], Any]


class UnitOfWork:
    def __init__(
        self,
        factory: sessionmaker[Session],
        tenant_id: uuid.UUID | None,
        *,
        after_commit: list[Hook] | None = None,
    ) -> None:
        self._factory = factory
        self.tenant_id = tenant_id
        self._hooks: list[Hook] = []
        self._global_hooks = after_commit or []
        self._published = False
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("unit of work used outside its 'with' block")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._factory()
        self._begin()
        return self

    def require_tenant(self) -> uuid.UUID:
        if self.tenant_id is None:
            raise RuntimeError("this operation needs a tenant")
        return self.tenant_id

    def on_commit(self, hook: Hook) -> None:
        self._hooks.append(hook)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue an event in the outbox, in this transaction; it is relayed after commit."""
        self.session.add(OutboxMessage(topic=topic, payload=payload, tenant_id=self.tenant_id))
        self._published = True

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        """Commit now and keep working in a new transaction (same tenant)."""
        self._commit()
        self._begin()

    def _begin(self) -> None:
        session = self.session
        session.begin()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                sa.text("SELECT set_config('app.tenant_id', :t, true)"),
                {"t": str(self.tenant_id) if self.tenant_id else ""},
            )

    def _commit(self) -> None:
        self.session.commit()
        hooks, self._hooks = self._hooks, []
        if self._published:
            hooks.extend(self._global_hooks)
            self._published = False
        for hook in hooks:
            try:
                hook()
            except Exception:  # an after-commit failure must not turn a commit into an error
                log.exception("after-commit hook failed")

    def rollback(self) -> None:
        self._hooks.clear()
        self._published = False
        self.session.rollback()
        self._begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc_type is None:
                # Loaded objects stay usable (detached, not expired) after the block.
                self._commit()
            else:
                self._hooks.clear()
                session.rollback()
        finally:
            session.close()
            self._session = None


class UnitOfWorkFactory:
    """Builds units of work bound to one engine; created once by create_app or the CLI."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
        self.after_publish_hooks: list[Hook] = []

    def __call__(self, tenant_id: uuid.UUID | None = None) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, tenant_id, after_commit=self.after_publish_hooks)


def insert_for(uow: UnitOfWork) -> type[postgresql.Insert] | type[sqlite.Insert]:
    """The dialect's INSERT construct (``on_conflict_do_nothing`` and the like)."""
    return (
        postgresql.Insert if uow.session.get_bind().dialect.name == "postgresql" else sqlite.Insert
    )

"""Audit chain: written with the change, gapless under concurrency, tamper-evident."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.audit.domain import GENESIS, EntryFields, entry_hash
from teranga.audit.models import AuditEntry
from teranga.config import Settings
from teranga.container import Container
from teranga.platform.errors import ValidationFailed
from tests.factories import make_tenant


def _append(container: Container, tenant_id: uuid.UUID, n: int) -> None:
    for i in range(n):
        with container.uow(tenant_id) as uow:
            audit.record(
                uow,
                action="ticketing.order.refunded",
                actor_id=None,
                target_type="order",
                target_id=f"o-{i}",
                details={"amount_xof": 1000 * i, "n": [i, "x"], "ok": True},
            )


def _verify(container: Container, tenant_id: uuid.UUID) -> audit.BadEntry | None:
    with container.uow(tenant_id) as uow:
        return audit.verify(uow, tenant_id)


@pytest.fixture
def owner(db_settings: Settings) -> Iterator[sa.Engine]:
    """A connection that can rewrite history: the table owner (PG, trigger off) or plain SQLite."""
    eng = sa.create_engine(db_settings.resolved_admin_url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as c:
            c.execute(sa.text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    try:
        yield eng
    finally:
        if eng.dialect.name == "postgresql":
            with eng.begin() as c:
                c.execute(sa.text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        eng.dispose()


def _sql(eng: sa.Engine, stmt: str, **params: object) -> None:
    q = sa.text(stmt)
    if "t" in params:
        q = q.bindparams(sa.bindparam("t", type_=sa.Uuid))
    with eng.begin() as c:
        c.execute(q, params)


def test_record_links_entries_and_verifies(container: Container) -> None:
    tid = make_tenant(container, "audit-a")
    other = make_tenant(container, "audit-b")
    _append(container, tid, 4)
    _append(container, other, 2)
    assert _verify(container, tid) is None
    with container.uow(tid) as uow:
        rows = audit.entries(uow)
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].details == {"amount_xof": 0, "n": [0, "x"], "ok": True}
    with container.uow(other) as uow:
        assert [r.seq for r in audit.entries(uow)] == [1, 2]


def test_entry_rolls_back_with_the_change(container: Container) -> None:
    tid = make_tenant(container, "audit-rb")

    def failing_change() -> None:
        with container.uow(tid) as uow:
            audit.record(uow, action="x.y.z", actor_id=None, target_type="t", target_id="1")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    with container.uow(tid) as uow:
        assert audit.entries(uow) == []
    _append(container, tid, 1)
    with container.uow(tid) as uow:
        assert [e.seq for e in audit.entries(uow)] == [1]


def test_bad_action_and_details_are_refused(container: Container) -> None:
    tid = make_tenant(container, "audit-bad")
    with container.uow(tid) as uow:
        with pytest.raises(ValidationFailed):
            audit.record(uow, action="Nope", actor_id=None, target_type="t", target_id="1")
        with pytest.raises(ValueError, match="JSON"):
            audit.record(
                uow, action="a.b", actor_id=None, target_type="t", target_id="1", details={"f": 1.5}
            )


def test_edit_is_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-edit")
    _append(container, tid, 5)
    _sql(
        owner,
        "UPDATE audit_entries SET target_id = 'o-forged' WHERE tenant_id = :t AND seq = 3",
        t=tid,
    )
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (3, "hash_mismatch")


def test_recomputed_hash_is_still_detected(container: Container, owner: sa.Engine) -> None:
    """A forger who rewrites an entry and its hash breaks the next entry's link."""
    tid = make_tenant(container, "audit-rehash")
    _append(container, tid, 4)
    _sql(
        owner,
        "UPDATE audit_entries SET hash = :h WHERE tenant_id = :t AND seq = 2",
        h="f" * 64,
        t=tid,
    )
    bad = _verify(container, tid)
    assert bad is not None
    assert bad.seq == 2


def test_delete_is_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-del")
    _append(container, tid, 5)
    _sql(owner, "DELETE FROM audit_entries WHERE tenant_id = :t AND seq = 2", t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (2, "missing")


def test_reorder_is_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-swap")
    _append(container, tid, 5)
    q = "UPDATE audit_entries SET seq = :new WHERE tenant_id = :t AND seq = :old"
    _sql(owner, q, new=-1, old=3, t=tid)
    _sql(owner, q, new=3, old=4, t=tid)
    _sql(owner, q, new=4, old=-1, t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert bad.seq == 3


def test_truncated_tail_is_detected_against_the_head(
    container: Container, owner: sa.Engine
) -> None:
    tid = make_tenant(container, "audit-trunc")
    _append(container, tid, 5)
    _sql(owner, "DELETE FROM audit_entries WHERE tenant_id = :t AND seq >= 4", t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (4, "truncated")


def test_other_tenant_unaffected_by_tampering(container: Container, owner: sa.Engine) -> None:
    a, b = make_tenant(container, "audit-ta"), make_tenant(container, "audit-tb")
    _append(container, a, 3)
    _append(container, b, 3)
    _sql(owner, "DELETE FROM audit_entries WHERE tenant_id = :t AND seq = 1", t=a)
    assert _verify(container, a) is not None
    assert _verify(container, b) is None


@pytest.mark.pg
def test_app_role_cannot_rewrite_history(pg_settings: Settings) -> None:
    from teranga.container import build_container

    container = build_container(pg_settings)
    try:
        tid = make_tenant(container, "audit-ro")
        _append(container, tid, 2)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), container.uow(tid) as uow:
            uow.session.execute(sa.text("UPDATE audit_entries SET target_id = 'x'"))
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), container.uow(tid) as uow:
            uow.session.execute(sa.text("DELETE FROM audit_entries"))
        assert _verify(container, tid) is None
    finally:
        container.dispose()


def test_concurrent_appends_stay_gapless(container: Container) -> None:
    tid = make_tenant(container, "audit-race")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(container, tid, 10)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with container.uow(tid) as uow:
        seqs = [e.seq for e in audit.entries(uow, limit=1000)]
    assert seqs == list(range(1, 61))
    assert _verify(container, tid) is None


def test_rebuilt_chain_is_caught_by_a_witnessed_head(
    container: Container, owner: sa.Engine
) -> None:
    """Limit and remedy: rewriting entries *and* the head passes a plain verify; a head
    copied to a witness beforehand exposes it."""
    tid = make_tenant(container, "audit-witness")
    _append(container, tid, 4)
    with container.uow(tid) as uow:
        witness = audit.head(uow, tid)
        entries = [
            EntryFields(
                e.tenant_id,
                e.seq,
                e.at,
                e.actor_id,
                e.action,
                e.target_type,
                e.target_id,
                e.details,
            )
            for e in uow.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.tenant_id == tid).order_by(AuditEntry.seq)
            )
        ]
    assert witness[0] == 4
    prev_hash = GENESIS
    for f in entries:
        forged = dataclasses.replace(f, target_id="o-forged") if f.seq == 2 else f
        digest = entry_hash(prev_hash, forged)
        _sql(
            owner,
            "UPDATE audit_entries SET target_id = :x, prev_hash = :p, hash = :h "
            "WHERE tenant_id = :t AND seq = :s",
            x=forged.target_id,
            p=prev_hash,
            h=digest,
            s=f.seq,
            t=tid,
        )
        prev_hash = digest
    _sql(owner, "UPDATE audit_heads SET hash = :h WHERE tenant_id = :t", h=prev_hash, t=tid)
    assert _verify(container, tid) is None  # the rebuilt chain is self-consistent
    with container.uow(tid) as uow:
        bad = audit.verify(uow, tid, witness=witness)
    assert bad is not None
    assert (bad.seq, bad.reason) == (4, "witness_mismatch")

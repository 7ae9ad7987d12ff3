"""Audit log: written with the change, lock-free, integrated gapless into a signed RFC 6962
Merkle tree, tamper-evident (security reference C3, test R12)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.audit import merkle
from teranga.audit.domain import EntryFields, TreeHead, entry_leaf_hash
from teranga.audit.integrator import integrate_tenant
from teranga.audit.models import AuditEntry, AuditLeaf
from teranga.audit.service import consistency_proof, fields_of, inclusion_proof
from teranga.config import Settings
from teranga.container import Container
from teranga.platform.errors import NotFound, ValidationFailed
from tests.factories import make_tenant

AUDIT_TABLES = ("audit_entries", "audit_leaves", "audit_tree_heads")


def _append(container: Container, tenant_id: uuid.UUID, n: int, *, each: bool = True) -> None:
    """n entries, each in its own transaction; integrated after each one by default, so
    every size has a signed head (the finest localisation ``verify`` can give)."""
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
        if each:
            integrate_tenant(container, tenant_id)


def _verify(
    container: Container, tenant_id: uuid.UUID, witness: TreeHead | None = None
) -> audit.BadEntry | None:
    with container.uow(tenant_id) as uow:
        return audit.verify(uow, tenant_id, witness=witness)


def _head(container: Container, tenant_id: uuid.UUID) -> TreeHead:
    with container.uow(tenant_id) as uow:
        return audit.head(uow, tenant_id)


@pytest.fixture
def owner(db_settings: Settings) -> Iterator[sa.Engine]:
    """A connection that can rewrite history: the owner (PG superuser, triggers off) or SQLite."""
    eng = sa.create_engine(db_settings.resolved_admin_url)
    if eng.dialect.name == "postgresql":
        with eng.begin() as c:
            for t in AUDIT_TABLES:
                c.execute(sa.text(f"ALTER TABLE {t} DISABLE TRIGGER USER"))
    try:
        yield eng
    finally:
        if eng.dialect.name == "postgresql":
            with eng.begin() as c:
                for t in AUDIT_TABLES:
                    c.execute(sa.text(f"ALTER TABLE {t} ENABLE TRIGGER USER"))
        eng.dispose()


def _sql(eng: sa.Engine, stmt: str, **params: object) -> None:
    q = sa.text(stmt)
    for name in ("t", "e"):
        if name in params:
            q = q.bindparams(sa.bindparam(name, type_=sa.Uuid))
    with eng.begin() as c:
        c.execute(q, params)


ENTRY_AT = "(SELECT entry_id FROM audit_leaves WHERE tenant_id = :t AND seq = {})"


def test_record_integrates_and_verifies(container: Container) -> None:
    tid = make_tenant(container, "audit-a")
    other = make_tenant(container, "audit-b")
    _append(container, tid, 4, each=False)
    _append(container, other, 2, each=False)
    with container.uow(tid) as uow:
        pending = audit.entries(uow)
    assert [r.seq for r in pending] == [None] * 4  # committed, listed, not yet in the tree
    assert [r.target_id for r in pending] == ["o-0", "o-1", "o-2", "o-3"]
    assert integrate_tenant(container, tid) == 4
    assert integrate_tenant(container, tid) == 0
    assert _verify(container, tid) is None
    with container.uow(tid) as uow:
        rows = audit.entries(uow)
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert [r.target_id for r in rows] == ["o-0", "o-1", "o-2", "o-3"]
    assert rows[0].details == {"amount_xof": 0, "n": [0, "x"], "ok": True}
    sth = _head(container, tid)
    assert sth.tree_size == 4
    assert sth.root_hash == merkle.root([bytes.fromhex(r.hash) for r in rows]).hex()
    with container.uow(tid) as uow:
        key = audit.public_key(uow)
    from teranga.audit.service import signature_ok

    assert signature_ok(key, sth)
    assert not signature_ok(key, TreeHead(tid, 4, "00" * 32, sth.timestamp_ms, sth.signature))
    integrate_tenant(container, other)
    with container.uow(other) as uow:
        assert [r.seq for r in audit.entries(uow)] == [1, 2]
        assert audit.public_key(uow) != key  # one signing key per tenant


def test_proofs_verify_against_the_signed_head(container: Container) -> None:
    tid = make_tenant(container, "audit-proof")
    _append(container, tid, 3, each=False)
    integrate_tenant(container, tid)
    witnessed = _head(container, tid)
    _append(container, tid, 4, each=False)
    integrate_tenant(container, tid)
    with container.uow(tid) as uow:
        sth = audit.head(uow)
        for seq in range(1, 8):
            p = inclusion_proof(uow, seq)
            assert merkle.verify_inclusion(
                seq - 1,
                sth.tree_size,
                bytes.fromhex(p.leaf_hash),
                [bytes.fromhex(x) for x in p.proof],
                bytes.fromhex(sth.root_hash),
            )
        old = inclusion_proof(uow, 2, tree_size=3)
        assert old.head.root_hash == witnessed.root_hash
        c = consistency_proof(uow, witnessed.tree_size)
        assert c.first_root == witnessed.root_hash
        assert merkle.verify_consistency(
            3,
            7,
            bytes.fromhex(witnessed.root_hash),
            bytes.fromhex(sth.root_hash),
            [bytes.fromhex(x) for x in c.proof],
        )
        with pytest.raises(NotFound):
            inclusion_proof(uow, 8)
        with pytest.raises(NotFound):
            inclusion_proof(uow, 1, tree_size=5)  # no head was signed at that size
        with pytest.raises(ValidationFailed):
            consistency_proof(uow, 9)


def test_entry_rolls_back_with_the_change(container: Container) -> None:
    tid = make_tenant(container, "audit-rb")

    def failing_change() -> None:
        with container.uow(tid) as uow:
            audit.record(uow, action="x.y.z", actor_id=None, target_type="t", target_id="1")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    integrate_tenant(container, tid)
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
        f"UPDATE audit_entries SET target_id = 'o-forged' WHERE id = {ENTRY_AT.format(3)}",
        t=tid,
    )
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (3, "hash_mismatch")


def test_recomputed_leaf_hash_is_still_detected(container: Container, owner: sa.Engine) -> None:
    """A forger who rewrites an entry and both copies of its leaf hash changes the root."""
    tid = make_tenant(container, "audit-rehash")
    _append(container, tid, 4)
    with container.uow(tid) as uow:
        e = uow.session.get(
            AuditEntry,
            uow.session.scalar(
                sa.select(AuditLeaf.entry_id).where(AuditLeaf.tenant_id == tid, AuditLeaf.seq == 2)
            ),
        )
        assert e is not None
        forged = EntryFields(tid, e.at, e.actor_id, e.action, e.target_type, "o-forged", e.details)
    digest = entry_leaf_hash(forged)
    _sql(
        owner,
        "UPDATE audit_entries SET target_id = 'o-forged', leaf_hash = :h "
        f"WHERE id = {ENTRY_AT.format(2)}",
        h=digest,
        t=tid,
    )
    _sql(
        owner,
        "UPDATE audit_leaves SET leaf_hash = :h WHERE tenant_id = :t AND seq = 2",
        h=digest,
        t=tid,
    )
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (2, "root_mismatch")


def test_delete_is_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-del")
    _append(container, tid, 5)
    _sql(owner, f"DELETE FROM audit_entries WHERE id = {ENTRY_AT.format(2)}", t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (2, "missing")


def test_reorder_is_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-swap")
    _append(container, tid, 5)
    q = "UPDATE audit_leaves SET seq = :new WHERE tenant_id = :t AND seq = :old"
    _sql(owner, q, new=-1, old=3, t=tid)
    _sql(owner, q, new=3, old=4, t=tid)
    _sql(owner, q, new=4, old=-1, t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (3, "root_mismatch")


def test_truncated_tail_is_detected_against_the_head(
    container: Container, owner: sa.Engine
) -> None:
    tid = make_tenant(container, "audit-trunc")
    _append(container, tid, 5)
    _sql(owner, "DELETE FROM audit_leaves WHERE tenant_id = :t AND seq >= 4", t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (4, "truncated")


def test_unsigned_leaves_are_detected(container: Container, owner: sa.Engine) -> None:
    tid = make_tenant(container, "audit-unsigned")
    _append(container, tid, 3)
    _sql(owner, "DELETE FROM audit_tree_heads WHERE tenant_id = :t AND tree_size = 3", t=tid)
    bad = _verify(container, tid)
    assert bad is not None
    assert (bad.seq, bad.reason) == (3, "unsigned")


def test_other_tenant_unaffected_by_tampering(container: Container, owner: sa.Engine) -> None:
    a, b = make_tenant(container, "audit-ta"), make_tenant(container, "audit-tb")
    _append(container, a, 3)
    _append(container, b, 3)
    _sql(owner, f"DELETE FROM audit_entries WHERE id = {ENTRY_AT.format(1)}", t=a)
    assert _verify(container, a) is not None
    assert _verify(container, b) is None


@pytest.mark.pg
def test_app_role_cannot_rewrite_history(pg_settings: Settings) -> None:
    from teranga.container import build_container

    container = build_container(pg_settings)
    try:
        tid = make_tenant(container, "audit-ro")
        _append(container, tid, 2)
        for stmt in (
            "UPDATE audit_entries SET target_id = 'x'",
            "DELETE FROM audit_entries",
            "UPDATE audit_leaves SET seq = seq + 1",
            "DELETE FROM audit_leaves",
            "DELETE FROM audit_tree_heads",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), container.uow(tid) as uow:
                uow.session.execute(sa.text(stmt))
        assert _verify(container, tid) is None
    finally:
        container.dispose()


def test_concurrent_appends_stay_gapless(container: Container) -> None:
    tid = make_tenant(container, "audit-race")
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _append(container, tid, 10)  # integrating concurrently too
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    integrate_tenant(container, tid)
    with container.uow(tid) as uow:
        seqs = [e.seq for e in audit.entries(uow, limit=1000)]
    assert seqs == list(range(1, 61))
    assert _verify(container, tid) is None


def test_rebuilt_log_is_caught_by_a_witnessed_head(container: Container, owner: sa.Engine) -> None:
    """Limit and remedy: someone holding the database *and* the signing key can rebuild and
    re-sign the whole log, which passes a plain verify; a head copied to a witness
    beforehand no longer has a valid consistency proof to the rebuilt tree."""
    tid = make_tenant(container, "audit-witness")
    _append(container, tid, 4)
    witness = _head(container, tid)
    assert witness.tree_size == 4
    # Rewrite entry 2 with its leaf hash, drop the tree and let the key sign a new one.
    with container.uow(tid) as uow:
        rows = list(
            uow.session.execute(
                sa.select(AuditLeaf.seq, AuditEntry)
                .join(AuditEntry, AuditEntry.id == AuditLeaf.entry_id)
                .where(AuditLeaf.tenant_id == tid)
                .order_by(AuditLeaf.seq)
            )
        )
    e = rows[1][1]
    digest = entry_leaf_hash(
        EntryFields(tid, e.at, e.actor_id, e.action, e.target_type, "o-forged", e.details)
    )
    _sql(
        owner,
        "UPDATE audit_entries SET target_id = 'o-forged', leaf_hash = :h WHERE id = :e",
        h=digest,
        e=e.id,
    )
    _sql(owner, "DELETE FROM audit_leaves WHERE tenant_id = :t", t=tid)
    _sql(owner, "DELETE FROM audit_tree_heads WHERE tenant_id = :t", t=tid)
    for _, entry in rows:
        _sql(
            owner,
            "INSERT INTO audit_pending (entry_id, tenant_id) VALUES (:e, :t)",
            e=entry.id,
            t=tid,
        )
    integrate_tenant(container, tid)
    assert _head(container, tid).root_hash != witness.root_hash
    assert _verify(container, tid) is None  # the rebuilt log is self-consistent and signed
    bad = _verify(container, tid, witness)
    assert bad is not None
    assert (bad.seq, bad.reason) == (4, "witness_mismatch")


def test_integrator_runs_in_the_background(container: Container) -> None:
    import asyncio

    from teranga.audit.integrator import AuditIntegrator

    tid = make_tenant(container, "audit-bg")

    async def scenario() -> TreeHead:
        worker = AuditIntegrator(container, poll_interval=0.05, min_gap=0.01)
        await worker.start()
        try:
            await asyncio.to_thread(_append, container, tid, 3, each=False)
            for _ in range(200):
                sth = await asyncio.to_thread(_head, container, tid)
                if sth.tree_size == 3:
                    return sth
                await asyncio.sleep(0.05)
            return sth
        finally:
            await worker.stop()

    assert asyncio.run(scenario()).tree_size == 3
    assert _verify(container, tid) is None


def test_entries_written_by_another_process_are_swept_in(container: Container) -> None:
    """Entries this process did not write (a CLI command, a crashed worker) carry no mark
    here: the periodic sweep of every tenant integrates them."""
    import asyncio

    from teranga.audit import service
    from teranga.audit.integrator import AuditIntegrator

    tid = make_tenant(container, "audit-sweep")
    _append(container, tid, 2, each=False)
    service.take_pending_tenants()  # as if another process had written them

    async def scenario() -> TreeHead:
        worker = AuditIntegrator(container, poll_interval=0.05, full_every=0.3, min_gap=0.01)
        await worker.start()
        try:
            for _ in range(200):
                sth = await asyncio.to_thread(_head, container, tid)
                if sth.tree_size == 2:
                    return sth
                await asyncio.sleep(0.05)
            return sth
        finally:
            await worker.stop()

    assert asyncio.run(scenario()).tree_size == 2


# -- R12 and the contention it replaces (PostgreSQL) ----------------------------------------


@pytest.mark.pg
def test_r12_tampering_named_and_witness_consistency_fails(pg_settings: Settings) -> None:
    """R12: as the owner, UPDATE one entry, DELETE one, reorder two, truncate the tail; each
    is named at its first bad index, and the head an auditor witnessed before no longer has a
    consistency proof to what the log now holds."""
    from teranga.container import build_container

    container = build_container(pg_settings)
    eng = sa.create_engine(pg_settings.resolved_admin_url)
    try:
        cases = {
            "update": (
                [f"UPDATE audit_entries SET details = '{{}}' WHERE id = {ENTRY_AT.format(5)}"],
                (5, "hash_mismatch"),
            ),
            "delete": (
                [
                    f"DELETE FROM audit_entries WHERE id = {ENTRY_AT.format(4)}",
                    "DELETE FROM audit_leaves WHERE tenant_id = :t AND seq = 4",
                ],
                (4, "missing"),
            ),
            "reorder": (
                [
                    "UPDATE audit_leaves SET seq = -seq WHERE tenant_id = :t AND seq IN (6, 7)",
                    "UPDATE audit_leaves SET seq = 13 + seq "
                    "WHERE tenant_id = :t AND seq IN (-6, -7)",
                ],
                (6, "root_mismatch"),
            ),
            "truncate": (
                [
                    "DELETE FROM audit_leaves WHERE tenant_id = :t AND seq > 7",
                    "DELETE FROM audit_tree_heads WHERE tenant_id = :t AND tree_size > 7",
                ],
                (8, "truncated"),
            ),
        }
        for name, (statements, expected) in cases.items():
            tid = make_tenant(container, f"r12-{name}")
            _append(container, tid, 10)
            witness = _head(container, tid)
            assert _verify(container, tid, witness) is None
            with eng.begin() as c:
                for t in AUDIT_TABLES:
                    c.execute(sa.text(f"ALTER TABLE {t} DISABLE TRIGGER USER"))
                for stmt in statements:
                    c.execute(
                        sa.text(stmt).bindparams(sa.bindparam("t", type_=sa.Uuid)), {"t": tid}
                    )
                for t in AUDIT_TABLES:
                    c.execute(sa.text(f"ALTER TABLE {t} ENABLE TRIGGER USER"))
            bad = _verify(container, tid)
            if name == "truncate":
                # Heads deleted with the tail: only the witness still knows the log was longer.
                assert bad is None
                bad = _verify(container, tid, witness)
            assert bad is not None, name
            assert (bad.seq, bad.reason) == expected, name
            assert _verify(container, tid, witness) is not None, name
            # The auditor's check: a consistency proof from the witnessed head to the tree the
            # stored entries now make (leaf hashes recomputed from them) does not verify.
            with container.uow(tid) as uow:
                hashes = [
                    bytes.fromhex(entry_leaf_hash(fields_of(e)))
                    for e in uow.session.scalars(
                        sa.select(AuditEntry)
                        .join(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
                        .where(AuditLeaf.tenant_id == tid)
                        .order_by(AuditLeaf.seq)
                    )
                ]
            m, n = witness.tree_size, len(hashes)
            proof = merkle.consistency_proof(min(m, n), n, hashes)
            assert not merkle.verify_consistency(
                m, n, bytes.fromhex(witness.root_hash), merkle.root(hashes), proof
            ), name
    finally:
        eng.dispose()
        container.dispose()


@pytest.mark.pg
def test_concurrent_records_never_wait_on_each_other(pg_settings: Settings) -> None:
    """16 threads x 25 records for one tenant, each in its own transaction, with a 50 ms
    lock_timeout: the old head-row design (SELECT ... FOR UPDATE) queued them all."""
    from teranga.container import build_container

    container = build_container(pg_settings)
    errors: list[BaseException] = []
    barrier = threading.Barrier(16)
    try:
        tid = make_tenant(container, "audit-nolock")

        def worker(w: int) -> None:
            try:
                barrier.wait()
                for i in range(25):
                    with container.uow(tid) as uow:
                        uow.session.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
                        audit.record(
                            uow,
                            action="identity.login.succeeded",
                            actor_id=None,
                            target_type="user",
                            target_id=f"{w}-{i}",
                        )
                        time.sleep(0.1)  # longer than lock_timeout: a queue would fail
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert integrate_tenant(container, tid) == 400
        with container.uow(tid) as uow:
            rows = audit.entries(uow, limit=1000)
        assert [r.seq for r in rows] == list(range(1, 401))
        assert len({r.target_id for r in rows}) == 400
        assert _verify(container, tid) is None
    finally:
        container.dispose()


def test_migration_keeps_old_entries_verifiable(tmp_path: Path) -> None:
    """Down to the hash chain (audit_0001) and up again: entries keep their order as the
    first leaves, and the first pass signs them. SQLite only: a downgrade of the shared
    PostgreSQL test database would drop every other test's tree heads."""
    from alembic import command

    from teranga import schema
    from teranga.container import build_container
    from tests.conftest import make_settings

    db_settings = make_settings(tmp_path)
    schema.upgrade(db_settings.resolved_admin_url)

    cfg = schema.alembic_config(db_settings.resolved_admin_url)
    container = build_container(db_settings)
    try:
        tid = make_tenant(container, "audit-migr")
        _append(container, tid, 3)
        _append(container, tid, 2, each=False)  # still pending at the downgrade
        with container.uow(tid) as uow:
            before = [(e.target_id, e.hash) for e in audit.entries(uow)]
    finally:
        container.dispose()
    command.downgrade(cfg, "audit_0001")
    eng = sa.create_engine(db_settings.resolved_admin_url)
    try:
        with eng.connect() as c:
            chain = c.execute(
                sa.text(
                    "SELECT seq, target_id FROM audit_entries WHERE tenant_id = :t ORDER BY seq"
                ).bindparams(sa.bindparam("t", type_=sa.Uuid)),
                {"t": tid},
            ).all()
    finally:
        eng.dispose()
    expected = [(1, "o-0"), (2, "o-1"), (3, "o-2"), (4, "o-0"), (5, "o-1")]
    assert [tuple(r) for r in chain] == expected
    schema.upgrade(db_settings.resolved_admin_url)
    container = build_container(db_settings)
    try:
        with container.uow(tid) as uow:
            assert audit.verify(uow, tid) == audit.BadEntry(1, "unsigned")  # not signed yet
        integrate_tenant(container, tid)
        with container.uow(tid) as uow:
            after = [(e.target_id, e.hash) for e in audit.entries(uow)]
            assert [e.seq for e in audit.entries(uow)] == [1, 2, 3, 4, 5]
            assert audit.verify(uow, tid) is None
        assert after == before
    finally:
        container.dispose()

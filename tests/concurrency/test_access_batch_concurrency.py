"""Batched scans under real concurrency on PostgreSQL: batches of many gates, holding the
same tickets in different orders, run at once. Each ticket enters exactly once, every scan
is recorded once, and no batch deadlocks (claims are written in key order)."""

from __future__ import annotations

import asyncio
import random
import threading
import uuid

import pytest
import sqlalchemy as sa

from teranga.access import service, tickets
from teranga.access.batcher import ScanBatcher
from teranga.access.domain import Credential, Reason
from teranga.access.models import PresenceRow, ScanRow
from teranga.container import Container
from tests.integration.test_access_batch import AT, SALE
from tests.integration.test_access_codes import sell
from tests.integration.test_ticketing_flow import make_session

pytestmark = pytest.mark.pg
GATES = 6
TICKETS = 120


def setup(c: Container) -> tuple[uuid.UUID, list[uuid.UUID], list[Credential], list[str]]:
    st = make_session(c, ga=TICKETS, per_person=None)
    with c.uow(st.tenant) as uow:
        lst = service.create_list(uow, name="Spectateurs", session_ids=[st.session])
        gates = [
            service.create_gate(uow, name=f"Porte {i}", cluster="Est", list_ids=[lst.id]).id
            for i in range(GATES)
        ]
    texts = [t.qr for _ in range(TICKETS // 4) for t in sell(c, st, 4, SALE)]
    with c.uow(st.tenant) as uow:
        keys = tickets.tenant_public_keys(uow)
    creds = [tickets.verify_qr(t, keys) for t in texts]
    assert all(creds)
    return st.tenant, gates, creds, texts  # type: ignore[return-value]


def totals(c: Container, tid: uuid.UUID) -> tuple[int, int]:
    with c.uow(tid) as uow:
        scans = uow.session.scalar(sa.select(sa.func.count()).select_from(ScanRow))
        inside = uow.session.scalar(sa.select(sa.func.count()).select_from(PresenceRow))
    return int(scans or 0), int(inside or 0)


def test_concurrent_batches_admit_each_ticket_once(pg_container: Container) -> None:
    c = pg_container
    tid, gates, creds, _ = setup(c)
    with c.uow(tid) as uow:
        configs = [service.gate_config(uow, g) for g in gates]
    barrier = threading.Barrier(GATES)
    accepted: list[uuid.UUID] = []
    reasons: list[Reason] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def gate(k: int) -> None:
        order = list(range(TICKETS))
        random.Random(k).shuffle(order)
        # Each gate writes its scans in 4 batches: ticket orders differ between gates.
        chunks = [order[i : i + TICKETS // 4] for i in range(0, TICKETS, TICKETS // 4)]
        barrier.wait()
        try:
            for n, chunk in enumerate(chunks):
                reqs = [
                    service.ScanRequest(configs[k], creds[i], f"g{k}", f"{n}-{i}", AT, None)
                    for i in chunk
                ]
                with c.uow(tid) as uow:
                    out = service.scan_batch(uow, reqs)
                with lock:
                    for r in out:
                        reasons.append(r.decision.reason)
                        if r.decision.accepted and r.credential:
                            accepted.append(r.credential.credential_id)
        except BaseException as exc:  # a deadlock would surface here
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=gate, args=(k,)) for k in range(GATES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(accepted) == sorted(c.credential_id for c in creds)
    assert reasons.count(Reason.ALREADY_ENTERED) == (GATES - 1) * TICKETS
    assert totals(c, tid) == (GATES * TICKETS, TICKETS)


def test_two_processes_batchers_and_retries(pg_container: Container) -> None:
    """Two batchers (as in two server processes), each on its own event loop, get every
    ticket at two gates plus retries of the same (scanner, nonce): one entry per ticket,
    one record per nonce, and retries answer what was recorded."""
    c = pg_container
    tid, gates, _creds, texts = setup(c)
    answers: dict[tuple[str, str], list[bool]] = {}
    lock = threading.Lock()

    def process(k: int) -> None:
        b = ScanBatcher(c)

        async def one(gate: uuid.UUID, text: str, scanner: str, nonce: str) -> None:
            r = await b.scan(
                tenant_id=tid, gate_id=gate, text=text, scanner_id=scanner, nonce=nonce, now=AT
            )
            with lock:
                answers.setdefault((scanner, nonce), []).append(r.decision.accepted)

        async def main() -> None:
            jobs = []
            for i, text in enumerate(texts):
                g = (i + k) % GATES
                jobs.append(one(gates[g], text, f"p{k}", f"{i}"))
                jobs.append(one(gates[g], text, "shared", f"{i}"))  # both processes send this
            await asyncio.gather(*jobs)

        asyncio.run(main())

    threads = [threading.Thread(target=process, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Every (scanner, nonce) got one consistent answer, however often it was sent.
    assert all(len(set(v)) == 1 for v in answers.values())
    assert len(answers) == 3 * TICKETS
    admitted = sum(v[0] for v in answers.values())
    assert admitted == TICKETS
    assert totals(c, tid) == (3 * TICKETS, TICKETS)


def test_a_lost_connection_is_replaced(pg_container: Container) -> None:
    """A writer's held connection killed by the server (a PostgreSQL restart, an idle
    timeout) costs a retry on a new connection, not a failed scan."""
    c = pg_container
    tid, gates, _creds, texts = setup(c)
    b = ScanBatcher(c)

    def scan(text: str, nonce: str) -> service.ScanResult:
        return asyncio.run(
            b.scan(tenant_id=tid, gate_id=gates[0], text=text, scanner_id="g", nonce=nonce, now=AT)
        )

    assert scan(texts[0], "1").decision.accepted
    (held, _maker) = b._held[0]
    pid = held.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    held.rollback()
    with c.engine.connect() as other:
        assert other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})").scalar()
        other.commit()
    assert scan(texts[1], "2").decision.accepted
    assert b._held[0][0] is not held
    b.close()
    assert totals(c, tid) == (2, 2)

"""Concurrent scans of one credential at 8 gates on PostgreSQL: exactly one is accepted."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest

from teranga.access import service
from teranga.access.domain import Reason
from teranga.container import Container
from tests.factories import make_tenant, register_badges
from tests.integration.test_access import NOW

pytestmark = pytest.mark.pg
GATES = 8
ROUNDS = 25


def test_eight_gates_one_entry(pg_container: Container) -> None:
    c = pg_container
    tid = make_tenant(c)
    with c.uow(tid) as uow:
        lst = service.create_list(uow, name="Tribune", accreditation_roles=["volunteer"])
        gates = [
            service.create_gate(uow, name=f"Porte {i}", cluster="Est", list_ids=[lst.id]).id
            for i in range(GATES)
        ]
        badges = register_badges(uow, ROUNDS, now=NOW)
    for text in badges:
        barrier = threading.Barrier(GATES)
        results: list[Reason] = []
        lock = threading.Lock()

        def gate_scan(
            i: int,
            text: str = text,
            barrier: threading.Barrier = barrier,
            results: list[Reason] = results,
            lock: threading.Lock = lock,
        ) -> None:
            barrier.wait()
            with c.uow(tid) as uow:
                r = service.scan(
                    uow,
                    gate_id=gates[i],
                    text=text,
                    scanner_id=f"g{i}",
                    nonce=uuid.uuid4().hex,
                    now=NOW,
                )
            with lock:
                results.append(r.decision.reason)

        threads = [threading.Thread(target=gate_scan, args=(i,)) for i in range(GATES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count(Reason.OK) == 1, results
        assert results.count(Reason.ALREADY_ENTERED) == GATES - 1
    with c.uow(tid) as uow:
        assert service.entry_stats(uow)["inside"] == ROUNDS


def test_concurrent_rescans_with_one_nonce_are_idempotent(pg_container: Container) -> None:
    c = pg_container
    tid = make_tenant(c)
    with c.uow(tid) as uow:
        lst = service.create_list(uow, name="Tribune", accreditation_roles=["staff"])
        gate = service.create_gate(uow, name="Porte", cluster="X", list_ids=[lst.id]).id
        text = service.register_accreditation(
            uow,
            name="Staff",
            organisation="COJOJ",
            role="staff",
            zones=[],
            valid_from=NOW - dt.timedelta(days=1),
            valid_until=NOW + dt.timedelta(days=1),
        ).qr_text
    barrier = threading.Barrier(GATES)
    results: list[tuple[bool, Reason]] = []
    lock = threading.Lock()

    def retry() -> None:
        barrier.wait()
        r = service.scan_once(
            lambda: c.uow(tid), gate_id=gate, text=text, scanner_id="phone", nonce="same", now=NOW
        )
        with lock:
            results.append((r.decision.accepted, r.decision.reason))

    threads = [threading.Thread(target=retry) for _ in range(GATES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(True, Reason.OK)] * GATES
    with c.uow(tid) as uow:
        stats = service.entry_stats(uow)
    assert (stats["scans"], stats["inside"]) == (1, 1)

"""Batched online scans (group commit) on SQLite and PostgreSQL: one batch gives the decisions
the scans would get one by one, the batcher groups concurrent scans, replays recorded
nonces, and learns keys created after it cached them."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from teranga.access import batcher as batcher_mod
from teranga.access import service, tickets
from teranga.access.batcher import ScanBatcher
from teranga.access.domain import Reason
from teranga.access.models import PresenceRow, ScanRow
from teranga.container import Container
from teranga.ticketing import aftersale
from tests.integration.test_access_codes import make_gate, sell
from tests.integration.test_ticketing_flow import T0, make_session

SALE = T0 + dt.timedelta(hours=1)
AT = T0 + dt.timedelta(days=2, minutes=10)  # during the session: tickets are valid


def count(container: Container, tid: uuid.UUID, model: type) -> int:
    with container.uow(tid) as uow:
        return int(uow.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_one_batch_decides_like_one_by_one(container: Container) -> None:
    st = make_session(container, ga=10, per_person=None)
    gate_id = make_gate(container, st, "Porte A")
    other = make_session(container, ga=2, tenant=st.tenant)
    a, b, c = sell(container, st, 3, SALE)
    (wrong,) = sell(container, other, 1, SALE)
    with container.uow(st.tenant) as uow:
        aftersale.transfer_ticket(
            uow, ticket_id=c.id, to_phone="776543210", order_token=None, actor_id=None, now=SALE
        )
    with container.uow(st.tenant) as uow:
        gate = service.gate_config(uow, gate_id)
        keys = tickets.tenant_public_keys(uow)

    def req(text: str, scanner: str, nonce: str) -> service.ScanRequest:
        return service.ScanRequest(
            gate, tickets.verify_qr(text, keys), scanner, nonce, AT, agent_id=None
        )

    forged = a.qr[:-3] + ("AAA" if not a.qr.endswith("AAA") else "BBB")
    reqs = [
        req(a.qr, "g1", "1"),
        req(a.qr, "g2", "1"),  # same ticket, other gate, same instant: already entered
        req(b.qr, "g1", "2"),
        req(forged, "g1", "3"),
        req(c.qr, "g1", "4"),  # given away: revoked
        req(wrong.qr, "g1", "5"),  # another session's ticket
        req(a.qr, "g1", "1"),  # a retry of the first request in the same batch
    ]
    with container.uow(st.tenant) as uow:
        out = service.scan_batch(uow, reqs)
    reasons = [r.decision.reason for r in out]
    assert reasons == [
        Reason.OK,
        Reason.ALREADY_ENTERED,
        Reason.OK,
        Reason.UNKNOWN,
        Reason.REVOKED,
        Reason.WRONG_SESSION,
        Reason.OK,
    ]
    assert out[1].decision.entered_gate == "Porte A"
    assert out[1].decision.entered_at == AT
    assert out[6].replayed
    assert not out[0].replayed
    assert out[0].credential is not None
    assert out[0].credential.credential_id == a.id
    # One record per (scanner, nonce), one presence per admitted ticket.
    assert count(container, st.tenant, ScanRow) == 6
    assert count(container, st.tenant, PresenceRow) == 2

    # The same ticket in a later batch: refused with where and when it entered.
    with container.uow(st.tenant) as uow:
        (again,) = service.scan_batch(uow, [req(a.qr, "g3", "9")])
    assert again.decision.reason is Reason.ALREADY_ENTERED
    assert again.decision.entered_gate == "Porte A"


def test_batch_with_a_recorded_nonce_raises_and_rolls_back(container: Container) -> None:
    st = make_session(container, ga=10, per_person=None)
    gate_id = make_gate(container, st)
    a, b = sell(container, st, 2, SALE)
    first = service.scan_once(
        lambda: container.uow(st.tenant),
        gate_id=gate_id,
        text=a.qr,
        scanner_id="g1",
        nonce="n1",
        now=AT,
    )
    assert first.decision.accepted
    with container.uow(st.tenant) as uow:
        gate = service.gate_config(uow, gate_id)
        keys = tickets.tenant_public_keys(uow)
    reqs = [
        service.ScanRequest(gate, tickets.verify_qr(b.qr, keys), "g1", "n2", AT, None),
        service.ScanRequest(gate, tickets.verify_qr(b.qr, keys), "g1", "n1", AT, None),
    ]
    with pytest.raises(service.DuplicateScans) as exc, container.uow(st.tenant) as uow:
        service.scan_batch(uow, reqs)
    assert exc.value.indexes == [1]
    # Rolled back: b did not enter.
    assert count(container, st.tenant, PresenceRow) == 1


def test_batcher_groups_replays_and_learns_new_keys(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = make_session(container, ga=40, per_person=None)
    with container.uow(st.tenant) as uow:
        lst = service.create_list(uow, name="Spectateurs", session_ids=[st.session])
        gates = [
            service.create_gate(uow, name=f"Porte {i}", cluster="Nord", list_ids=[lst.id]).id
            for i in range(2)
        ]
    sold = [t for _ in range(3) for t in sell(container, st, 4, SALE)]
    b = ScanBatcher(container)

    async def scan(gate: uuid.UUID, text: str, scanner: str, nonce: str) -> service.ScanResult:
        return await b.scan(
            tenant_id=st.tenant, gate_id=gate, text=text, scanner_id=scanner, nonce=nonce, now=AT
        )

    async def rush() -> list[service.ScanResult]:
        jobs = [
            scan(gates[k], t.qr, f"g{k}", f"{k}-{i}") for i, t in enumerate(sold) for k in (0, 1)
        ]
        return list(await asyncio.gather(*jobs))

    results = asyncio.run(rush())
    accepted = [r.credential.credential_id for r in results if r.decision.accepted and r.credential]
    assert sorted(accepted) == sorted(t.id for t in sold)
    assert sum(r.decision.reason is Reason.ALREADY_ENTERED for r in results) == len(sold)
    # Concurrent scans shared transactions.
    assert b.batched_scans == 2 * len(sold)
    assert b.batches < b.batched_scans

    # A retry of a recorded (scanner, nonce) answers what was recorded.
    retry = asyncio.run(scan(gates[0], sold[0].qr, "g0", "0-0"))
    assert retry.replayed
    assert retry.decision.reason is results[0].decision.reason

    # A new event (a new signing key) created after the keys were cached.
    monkeypatch.setattr(batcher_mod, "KEYS_REFRESH_MIN", 0.0)
    later = make_session(container, ga=2, tenant=st.tenant)
    with container.uow(st.tenant) as uow:
        lst = service.create_list(uow, name="Plus tard", session_ids=[later.session])
        gate_late = service.create_gate(uow, name="Porte C", cluster="Sud", list_ids=[lst.id]).id
    (t,) = sell(container, later, 1, SALE)
    res = asyncio.run(scan(gate_late, t.qr, "g9", "late"))
    assert res.decision.accepted, res.decision

    # Typed short codes and forged texts: short codes go the one-by-one way.
    res = asyncio.run(scan(gates[1], sold[-1].code, "g1", "typed"))
    assert res.decision.reason is Reason.ALREADY_ENTERED
    res = asyncio.run(scan(gates[1], "HELLO WORLD", "g1", "junk"))
    assert res.decision.reason is Reason.UNKNOWN


def test_one_failing_scan_does_not_fail_its_batch(
    container: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A scan whose write fails for a reason of its own (here a simulated data error) fails
    alone: its batch is rolled back and written again one scan at a time."""
    st = make_session(container, ga=10, per_person=None)
    gate = make_gate(container, st)
    sold = sell(container, st, 4, SALE)
    (warm,) = sell(container, st, 1, SALE)
    real = service.scan_batch

    def scan_batch(uow: object, reqs: list[service.ScanRequest]) -> list[service.ScanResult]:
        if any(r.nonce == "poison" for r in reqs):
            raise ValueError("simulated bad row")
        return real(uow, reqs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "scan_batch", scan_batch)
    b = ScanBatcher(container)

    async def rush() -> list[service.ScanResult | BaseException]:
        # Caches filled first: the four scans below then queue before the writer runs,
        # so they share one batch.
        await b.scan(
            tenant_id=st.tenant, gate_id=gate, text=warm.qr, scanner_id="g", nonce="w", now=AT
        )
        jobs = [
            b.scan(
                tenant_id=st.tenant,
                gate_id=gate,
                text=t.qr,
                scanner_id="g",
                nonce="poison" if i == 1 else str(i),
                now=AT,
            )
            for i, t in enumerate(sold)
        ]
        return list(await asyncio.gather(*jobs, return_exceptions=True))

    out = asyncio.run(rush())
    assert "writing its scans one by one" in caplog.text
    assert isinstance(out[1], ValueError)
    good = [r for i, r in enumerate(out) if i != 1]
    assert all(isinstance(r, service.ScanResult) and r.decision.accepted for r in good)
    assert count(container, st.tenant, PresenceRow) == 4  # the warm-up and three
    assert count(container, st.tenant, ScanRow) == 4

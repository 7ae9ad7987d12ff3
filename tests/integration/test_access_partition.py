"""Offline scanners under network partitions: after healing, every scan is recorded once
and every double admission is reported as a conflict (never silently dropped)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter

from teranga.access import credentials, service
from teranga.access.domain import Credential, Direction
from teranga.access.scanner import OfflineScanner
from teranga.container import Container
from tests.factories import make_tenant, register_badges
from tests.integration.test_access import NOW


def _world(
    container: Container, tid: uuid.UUID, people: int
) -> tuple[dict[str, uuid.UUID], list[str]]:
    with container.uow(tid) as uow:
        lst = service.create_list(uow, name="Village", accreditation_roles=["athlete", "staff"])
        gates = {
            "Nord": service.create_gate(uow, name="Nord", cluster="Nord", list_ids=[lst.id]).id,
            "Sud": service.create_gate(uow, name="Sud", cluster="Sud", list_ids=[lst.id]).id,
        }
        badges = register_badges(
            uow, people, now=NOW, role="athlete", name="Athlète", organisation="CNO", days=3
        )
    return gates, badges


def _verifier(container: Container, tid: uuid.UUID):  # type: ignore[no-untyped-def]
    with container.uow(tid) as uow:
        keys = service.badge_public_keys(uow)

    def verify(text: str) -> Credential | None:
        try:
            return credentials.verify_badge(text, keys).credential()
        except credentials.BadCredential:
            return None

    return verify


def _bundle(
    container: Container, tid: uuid.UUID, gate: uuid.UUID, since: str | None = None
) -> dict[str, object]:
    with container.uow(tid) as uow:
        return service.bundle(uow, gate_id=gate, since=since, now=NOW)


def _sync(container: Container, tid: uuid.UUID, s: OfflineScanner, batch: list) -> list[str]:  # type: ignore[type-arg]
    with container.uow(tid) as uow:
        out = service.sync(
            uow,
            gate_id=s.gate_id,
            scanner_id=s.scanner_id,
            now=NOW + dt.timedelta(hours=2),
            scans=[
                service.OfflineScan(
                    q.nonce, q.list_id, q.credential_id, q.at, q.direction, q.accepted, q.reason
                )
                for q in batch
            ],
        )
    return [o.status for o in out]


def test_partition_heals_with_every_scan_once_and_every_conflict(container: Container) -> None:
    rng = random.Random(2026)
    tid = make_tenant(container)
    gates, badges = _world(container, tid, people=30)
    verify = _verifier(container, tid)
    scanners = [
        OfflineScanner(f"{cluster.lower()}-{i}", gates[cluster], cluster, verify)
        for cluster in ("Nord", "Sud")
        for i in range(2)
    ]
    for s in scanners:
        s.load_bundle(_bundle(container, tid, s.gate_id))
    # Partition: nobody reaches the server; inside a cluster the link flaps.
    made = []
    t = NOW
    for _ in range(200):
        t += dt.timedelta(seconds=rng.randint(1, 20))
        s = rng.choice(scanners)
        s.scan(rng.choice(badges), t)
        made.append(s.queue[-1])
        for a in scanners:
            for b in scanners:
                if a is not b and a.gate_name == b.gate_name and rng.random() < 0.5:
                    a.share_with(b)
    accepted_in = Counter(
        q.credential_id for q in made if q.accepted and q.direction is Direction.IN
    )
    expected_conflicts = sum(n - 1 for n in accepted_in.values())
    assert expected_conflicts > 0, "the scenario must produce double admissions"
    # Heal: every scanner syncs, in random order, some twice (retries after a lost answer).
    batches = [(s, s.take_queue()) for s in scanners]
    rng.shuffle(batches)
    statuses: list[str] = []
    for s, batch in batches:
        statuses += _sync(container, tid, s, batch)
        if rng.random() < 0.5:
            assert set(_sync(container, tid, s, batch)) <= {"duplicate"}
    with container.uow(tid) as uow:
        stats = service.entry_stats(uow)
        conflicts = service.list_conflicts(uow)
    assert stats["scans"] == len(made)
    assert len(conflicts) == expected_conflicts == statuses.count("conflict")
    assert Counter(c.credential_id for c in conflicts) == Counter(
        {cid: n - 1 for cid, n in accepted_in.items() if n > 1}
    )
    assert stats["inside"] == len(accepted_in)
    # After healing, every scanner learns every entry and refuses a second one.
    for s in scanners:
        s.load_bundle(_bundle(container, tid, s.gate_id, since=None))
        for cid in accepted_in:
            assert s.presence[(s.rules[0].list_id, cid)].inside


def test_gossip_inside_a_cluster_prevents_double_entry(container: Container) -> None:
    tid = make_tenant(container)
    gates, badges = _world(container, tid, people=5)
    verify = _verifier(container, tid)
    a = OfflineScanner("a", gates["Nord"], "Nord", verify)
    b = OfflineScanner("b", gates["Nord"], "Nord", verify)
    for s in (a, b):
        s.load_bundle(_bundle(container, tid, s.gate_id))
    assert a.scan(badges[0], NOW).accepted
    a.share_with(b)
    refused = b.scan(badges[0], NOW + dt.timedelta(seconds=30))
    assert not refused.accepted
    assert refused.reason.value == "already_entered"
    assert refused.entered_gate == "Nord"

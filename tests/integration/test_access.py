"""Access control on SQLite and PostgreSQL: online scans, idempotency, badges, overrides."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from teranga.access import service
from teranga.access.domain import Direction, Reason
from teranga.access.models import ScanRow
from teranga.container import Container
from teranga.platform.errors import ValidationFailed
from tests.factories import make_tenant

NOW = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)


def setup_gate(
    container: Container, tid: uuid.UUID, *, reentry: bool = False, exit_scans: bool = False
) -> tuple[uuid.UUID, str, uuid.UUID]:
    with container.uow(tid) as uow:
        lst = service.create_list(
            uow,
            name="Tribune presse",
            accreditation_roles=["media", "official"],
            badge_zones=["MEDIA"],
            allow_reentry=reentry,
            exit_scans=exit_scans,
        )
        gate = service.create_gate(uow, name="Porte Presse", cluster="Nord", list_ids=[lst.id])
        badge = service.register_accreditation(
            uow,
            name="Fatou Ndiaye",
            organisation="RTS",
            role="media",
            zones=["MEDIA"],
            valid_from=NOW - dt.timedelta(days=3),
            valid_until=NOW + dt.timedelta(days=10),
        )
        return gate.id, badge.qr_text, badge.accreditation_id


def scan(
    container: Container,
    tid: uuid.UUID,
    gate: uuid.UUID,
    text: str,
    nonce: str,
    direction: Direction = Direction.IN,
    at: dt.datetime = NOW,
) -> service.ScanResult:
    return service.scan_once(
        lambda: container.uow(tid),
        gate_id=gate,
        text=text,
        scanner_id="s1",
        nonce=nonce,
        now=at,
        direction=direction,
    )


def test_badge_enters_once_with_where_and_when(container: Container) -> None:
    tid = make_tenant(container)
    gate, text, _ = setup_gate(container, tid)
    first = scan(container, tid, gate, text, "n1")
    assert first.decision.accepted
    again = scan(container, tid, gate, text, "n2", at=NOW + dt.timedelta(minutes=5))
    assert again.decision.reason is Reason.ALREADY_ENTERED
    assert again.decision.entered_gate == "Porte Presse"
    assert again.decision.entered_at == NOW
    # Same nonce: the recorded answer, not a second entry attempt.
    replay = scan(container, tid, gate, text, "n1")
    assert replay.replayed
    assert replay.decision.accepted
    with container.uow(tid) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(ScanRow)) == 2


def test_forged_revoked_and_wrong_zone(container: Container) -> None:
    tid = make_tenant(container)
    gate, text, badge_id = setup_gate(container, tid)
    forged = text[:-6] + ("AAAAAA" if not text.endswith("AAAAAA") else "BBBBBB")
    assert scan(container, tid, gate, forged, "f").decision.reason is Reason.UNKNOWN
    assert scan(container, tid, gate, "not a ticket", "j").decision.reason is Reason.UNKNOWN
    with container.uow(tid) as uow:
        athlete = service.register_accreditation(
            uow,
            name="Moussa Sarr",
            organisation="CNOSS",
            role="athlete",
            zones=["FOP"],
            valid_from=NOW - dt.timedelta(days=1),
            valid_until=NOW + dt.timedelta(days=1),
        )
        service.revoke_accreditation(uow, badge_id, now=NOW, actor_id=None)
    assert scan(container, tid, gate, athlete.qr_text, "a").decision.reason is Reason.WRONG_ZONE
    assert scan(container, tid, gate, text, "r").decision.reason is Reason.REVOKED


def test_other_tenants_badge_is_unknown(container: Container) -> None:
    a, b = make_tenant(container), make_tenant(container)
    gate_a, _, _ = setup_gate(container, a)
    _, text_b, _ = setup_gate(container, b)
    assert scan(container, a, gate_a, text_b, "x").decision.reason is Reason.UNKNOWN


def test_reentry_and_exit_scans(container: Container) -> None:
    tid = make_tenant(container)
    gate, text, _ = setup_gate(container, tid, reentry=True, exit_scans=True)
    assert scan(container, tid, gate, text, "1").decision.accepted
    assert scan(container, tid, gate, text, "2").decision.reason is Reason.ALREADY_ENTERED
    assert scan(container, tid, gate, text, "3", Direction.OUT).decision.accepted
    assert scan(container, tid, gate, text, "4", Direction.OUT).decision.reason is (
        Reason.NOT_INSIDE
    )
    assert scan(container, tid, gate, text, "5").decision.accepted


def test_override_is_audited(container: Container) -> None:
    from teranga.audit import api as audit

    tid = make_tenant(container)
    gate, text, _ = setup_gate(container, tid)
    agent = uuid.uuid4()
    with container.uow(tid) as uow:
        with pytest.raises(ValidationFailed):
            service.override(
                uow,
                gate_id=gate,
                credential_text=text,
                reason="",
                agent_id=agent,
                scanner_id="s1",
                nonce="o0",
                now=NOW,
            )
        service.override(
            uow,
            gate_id=gate,
            credential_text=text,
            reason="Billet papier illisible, identité vérifiée",
            agent_id=agent,
            scanner_id="s1",
            nonce="o1",
            now=NOW,
        )
    with container.uow(tid) as uow:
        entries = [e for e in audit.entries(uow) if e.action == "access.scan.override"]
    assert len(entries) == 1
    assert entries[0].actor_id == agent
    assert entries[0].details["reason"] == "Billet papier illisible, identité vérifiée"


def test_bundle_deltas(container: Container) -> None:
    tid = make_tenant(container)
    gate, text, badge_id = setup_gate(container, tid)
    with container.uow(tid) as uow:
        full = service.bundle(uow, gate_id=gate, since=None, now=NOW)
    assert full["full"]
    assert full["keys"]["badge"]
    assert scan(container, tid, gate, text, "b1").decision.accepted
    with container.uow(tid) as uow:
        service.revoke_accreditation(uow, badge_id, now=NOW, actor_id=None)
        delta = service.bundle(uow, gate_id=gate, since=str(full["cursor"]), now=NOW)
    assert not delta["full"]
    assert str(badge_id) in delta["revoked"]  # type: ignore[operator]
    assert [e["credential_id"] for e in delta["entries"]] == [str(badge_id)]  # type: ignore[attr-defined,index]

"""The demo works whatever today's date is: after the Games, a newcomer can still buy a
ticket for a session of the day, give it to someone, and have the new holder let in at a
demo gate (the Games' own sessions are over: transfers close and gates refuse them)."""

from __future__ import annotations

import uuid
from pathlib import Path

from teranga import demo, schema
from teranga.access import service as access
from teranga.container import build_container
from teranga.tenancy import api as tenancy
from teranga.ticketing import aftersale, domain, sales
from teranga.ticketing import api as ticketing_api
from teranga.ticketing import service as catalogue
from tests.conftest import make_settings

TODAY = "Entraînement ouvert au public (démonstration)"


def test_a_session_of_the_day_can_be_bought_given_and_scanned(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    schema.upgrade(settings.resolved_admin_url)
    demo.load(settings)
    again = demo.load(settings)  # idempotent: nothing new while today's sessions are ahead
    assert any("created 0" in line for line in again if "today" in line)
    container = build_container(settings)
    try:
        now = container.clock.now()
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, settings.default_tenant).id
        with container.uow(tid) as uow:
            on_sale = catalogue.list_sessions(uow, on_sale_at=now)
            (today,) = [s for s in on_sale if s.name == TODAY]
            assert now < today.starts_at  # it starts soon: its gates are already open
            (cat,) = catalogue.categories_of(uow, today.id)
            hold = sales.create_hold(uow, session_id=today.id, category_id=cat.id, quantity=1)
        with container.uow(tid) as uow:
            order = sales.checkout(uow, hold_id=hold.id, phone="77 123 45 67").order
        (ticket,) = order.tickets
        with container.uow(tid) as uow:
            moved = aftersale.transfer_ticket(
                uow,
                ticket_id=ticket.id,
                to_phone="78 111 22 33",
                order_token=None,
                actor_id=None,
                now=now,
            )
            staff = sales.get_order(uow, order.id)  # staff view: every valid ticket
            (new,) = [t for t in staff.tickets if t.id == moved.id]
            gate = next(g for g in access.list_gates(uow) if g.name == "Porte A")
        results = [
            access.scan_once(
                lambda: container.uow(tid),
                gate_id=gate.id,
                text=text,
                scanner_id="demo-phone",
                nonce=uuid.uuid4().hex,
                now=now,
            ).decision
            for text in (ticket.qr, new.qr, new.qr)
        ]
        with container.uow(tid) as uow:  # why a QR would not decode (key, signature...)
            why = []
            for text in (ticket.qr, new.qr):
                try:
                    domain.verify_payload(
                        domain.b45decode(text), ticketing_api.tenant_public_keys(uow)
                    )
                    why.append("ok")
                except domain.BadPayload as exc:
                    why.append(str(exc))
        assert why == ["ok", "ok"], (why, now, today)
        assert [(d.accepted, d.reason.value) for d in results] == [
            (False, "revoked"),  # the giver's old QR
            (True, "ok"),
            (False, "already_entered"),
        ]
    finally:
        container.dispose()


def test_sessions_created_after_the_first_load_join_the_demo_gates(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    schema.upgrade(settings.resolved_admin_url)
    demo.load(settings)
    container = build_container(settings)
    try:
        with container.uow() as uow:
            tid = tenancy.get_by_slug(uow, settings.default_tenant).id
        with container.uow(tid) as uow:
            first = catalogue.list_sessions(uow)[0]
            later = catalogue.create_session(
                uow,
                event_id=first.event_id,
                name="Séance ajoutée plus tard",
                starts_at=first.starts_at,
                ends_at=first.ends_at,
                sale_starts_at=first.sale_starts_at,
                sale_ends_at=first.sale_ends_at,
            )
        lines = demo.load(settings)
        assert "access: demo gates present; 1 new sessions on the spectators' list" in lines
        with container.uow(tid) as uow:
            (spectators,) = [x for x in access.list_lists(uow) if x.name.startswith("Spect")]
            assert str(later.id) in spectators.session_ids
    finally:
        container.dispose()

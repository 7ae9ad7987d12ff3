"""Data-subject rights across services on SQLite and PostgreSQL (RLS on).

Records are seeded through the domains' own services. Each test uses fresh random canaries
(a phone, a name, photo bytes), so the whole-database greps also hold on the PostgreSQL
database shared by the session.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from teranga.access import service as access
from teranga.access.domain import Direction
from teranga.access.models import Accreditation, ScanRow
from teranga.audit import api as audit
from teranga.container import Container
from teranga.platform.errors import ValidationFailed
from teranga.privacy import api as privacy
from teranga.privacy import rights
from teranga.privacy.subjects import TOMBSTONE
from teranga.ticketing import aftersale, fulfilment, sales
from teranga.ticketing import service as catalogue
from teranga.ticketing.models import Order, Ticket
from tests.factories import make_tenant

T0 = dt.datetime(2026, 10, 31, 9, 0, tzinfo=dt.UTC)
PURPOSES = ("pii", "access.photo")


def random_phone() -> str:
    """A national 9-digit mobile number, unlikely to appear anywhere else."""
    return "77" + "".join(secrets.choice("0123456789") for _ in range(7))


@dataclass
class Person:
    phone: str  # national form, as typed at the box office
    name: str
    photo: bytes
    paid_order: uuid.UUID
    cancelled_order: uuid.UUID
    tickets: set[uuid.UUID]  # tickets this person holds (own order + received transfer)
    entered_ticket: uuid.UUID  # one of them, scanned in at a gate
    accreditation: uuid.UUID

    @property
    def e164(self) -> str:
        return "+221" + self.phone


@dataclass
class World:
    tenant: uuid.UUID
    session: uuid.UUID
    category: uuid.UUID
    gate: uuid.UUID
    a: Person
    b_phone: str
    b_order: uuid.UUID


def make_session(
    container: Container, tid: uuid.UUID, *, ends: dt.datetime
) -> tuple[uuid.UUID, uuid.UUID]:
    with container.uow(tid) as uow:
        ev = catalogue.create_event(uow, name="Lutte — finale")
        s = catalogue.create_session(
            uow,
            event_id=ev.id,
            name="Finale",
            starts_at=ends - dt.timedelta(hours=2),
            ends_at=ends,
            sale_starts_at=T0 - dt.timedelta(days=1),
            venue_name="Arène nationale",
            per_order_limit=4,
            per_person_limit=6,
        )
        zone = catalogue.add_zone(uow, session_id=s.id, name="Pelouse", capacity=50)
        cat = catalogue.add_category(
            uow, session_id=s.id, zone_id=zone.id, name="Pelouse", price_xof=2000
        )
    return s.id, cat.id


def buy(
    container: Container,
    tid: uuid.UUID,
    session: uuid.UUID,
    category: uuid.UUID,
    phone: str,
    *,
    qty: int = 1,
    id_number: str | None = None,
    pay: bool = True,
    now: dt.datetime = T0,
) -> sales.OrderView:
    with container.uow(tid) as uow:
        hold = sales.create_hold(
            uow, session_id=session, category_id=category, quantity=qty, now=now
        )
        co = sales.checkout(uow, hold_id=hold.id, phone=phone, id_number=id_number, now=now)
        if pay:
            res = fulfilment.on_payment_confirmed(
                uow,
                order_id=co.order.id,
                payment_id=uuid.uuid4(),
                amount_xof=co.order.total_xof,
                provider="sandbox",
                now=now,
            )
            assert res.status == "issued"
        return sales.get_order(uow, co.order.id)


def seed(container: Container) -> World:
    tid = make_tenant(container)
    session, category = make_session(container, tid, ends=T0 + dt.timedelta(days=2))
    a_phone, b_phone = random_phone(), random_phone()
    name = f"Awa Canari {secrets.token_hex(4)}"
    photo = b"\xff\xd8\xff\xe0 photo of " + name.encode() + b" \xff\xd9"
    paid = buy(container, tid, session, category, a_phone, qty=2, id_number="1 234 5678 90123")
    unpaid = buy(container, tid, session, category, f"+221 {a_phone}", pay=False)
    with container.uow(tid) as uow:
        aftersale.cancel_order(uow, order_id=unpaid.id, actor_id=None, now=T0)
    b_order = buy(container, tid, session, category, b_phone)
    with container.uow(tid) as uow:
        moved = aftersale.transfer_ticket(
            uow,
            ticket_id=b_order.tickets[0].id,
            to_phone=a_phone,
            order_token=None,
            actor_id=None,
            now=T0,
        )
        lst = access.create_list(
            uow, name="Tribune officielle", accreditation_roles=["official"], badge_zones=["VIP"]
        )
        stand = access.create_list(uow, name="Pelouse", session_ids=[session])
        gate = access.create_gate(uow, name="Porte VIP", cluster="Est", list_ids=[lst.id, stand.id])
        badge = access.register_accreditation(
            uow,
            name=name,
            organisation="Fédération sénégalaise de lutte",
            role="official",
            zones=["VIP"],
            valid_from=T0 - dt.timedelta(days=5),
            valid_until=T0 + dt.timedelta(days=20),
            photo=photo,
            photo_type="image/jpeg",
        )
        scan = access.scan(
            uow, gate_id=gate.id, text=badge.qr_text, scanner_id="s1", nonce="n1", now=T0
        )
        assert scan.decision.accepted
        # One of the person's tickets entered through an offline scanner, synced later.
        synced = access.sync(
            uow,
            gate_id=gate.id,
            scanner_id="s2",
            scans=[
                access.OfflineScan(
                    nonce="o1",
                    list_id=stand.id,
                    credential_id=paid.tickets[0].id,
                    at=T0,
                    direction=Direction.IN,
                    accepted=True,
                    reason="ok",
                )
            ],
            now=T0,
        )
        assert [o.status for o in synced] == ["recorded"]
    person = Person(
        phone=a_phone,
        name=name,
        photo=photo,
        paid_order=paid.id,
        cancelled_order=unpaid.id,
        tickets={t.id for t in paid.tickets} | {moved.id},
        entered_ticket=paid.tickets[0].id,
        accreditation=badge.accreditation_id,
    )
    return World(tid, session, category, gate.id, person, b_phone, b_order.id)


# -- whole-database inspection ------------------------------------------------------------


def dump_database(container: Container) -> tuple[str, bytes]:
    """Every column of every table (text joined, bytes joined), read as the owner."""
    engine = sa.create_engine(container.settings.resolved_admin_url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        texts: list[str] = []
        blobs: list[bytes] = []
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    for value in row:
                        if isinstance(value, bytes | bytearray | memoryview):
                            blobs.append(bytes(value))
                        elif value is not None:
                            texts.append(str(value))
        return "\n".join(texts), b"\n".join(blobs)
    finally:
        engine.dispose()


def unsealed_values(container: Container, tid: uuid.UUID) -> list[str]:
    """Everything that opens as a sealed value of the tenant, in every table."""
    out: list[str] = []
    meta = sa.MetaData()
    meta.reflect(container.engine)
    with container.uow(tid) as uow:
        for table in meta.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, sa.LargeBinary)]
            if not cols or "tenant_id" not in table.columns:
                continue
            q = sa.select(*cols).where(table.c.tenant_id == tid)
            for row in uow.session.execute(q):
                for blob in row:
                    if blob is None:
                        continue
                    for purpose in PURPOSES:
                        # A savepoint each: a blob that is not a sealed value (e.g. a signed
                        # ticket payload) can make the key look-up fail in SQL (a version
                        # beyond INTEGER on PostgreSQL), which would abort the transaction.
                        try:
                            with uow.session.begin_nested():
                                out.append(privacy.unseal(uow, bytes(blob), purpose=purpose))
                        except Exception:  # noqa: S112 - not sealed for this purpose
                            continue
    return out


def traces(container: Container, w: World) -> list[str]:
    """Where the person's canaries still appear, in clear or once unsealed."""
    text, blob = dump_database(container)
    national, name = w.a.phone, w.a.name
    found = []
    if national in text or name in text:
        found.append("plaintext column")
    if national.encode() in blob or name.encode() in blob:
        found.append("binary column")
    photo_b64 = base64.b64encode(w.a.photo).decode()
    for value in unsealed_values(container, w.tenant):
        if national in value or name in value or value == photo_b64:
            found.append("sealed column")
            break
    return found


def accounting(
    container: Container, tid: uuid.UUID
) -> tuple[int, int, list[tuple[str, str, bytes]]]:
    with container.uow(tid) as uow:
        money = uow.session.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(Order.total_xof - Order.refunded_xof), 0),
                sa.func.count(),
            ).where(Order.tenant_id == tid, Order.status == "paid")
        ).one()
        tickets = [
            (str(t.id), t.status, bytes(t.payload))
            for t in uow.session.scalars(
                sa.select(Ticket).where(Ticket.tenant_id == tid).order_by(Ticket.id)
            )
        ]
    return int(money[0]), int(money[1]), tickets


# -- tests ---------------------------------------------------------------------------------


def test_export_holds_every_record_of_the_person_and_nothing_of_another(
    container: Container,
) -> None:
    w = seed(container)
    with container.uow(w.tenant) as uow:
        doc = rights.export_subject(
            uow, w.a.e164, "phone", actor_id=None, reason="DSAR-2026-001", now=T0
        )
        by_acc = rights.export_subject(
            uow, str(w.a.accreditation), "accreditation", actor_id=None, reason="DSAR-2026-002"
        )
        by_id = rights.export_subject(
            uow, "12345678-90123", "id_number", actor_id=None, reason="DSAR-2026-003"
        )
    json.dumps(doc)  # JSON-ready
    data = doc["data"]["ticketing"]
    assert {o["id"] for o in data["orders"]} == {str(w.a.paid_order), str(w.a.cancelled_order)}
    assert {t["id"] for t in data["tickets"]} == {str(t) for t in w.a.tickets}
    assert {o["phone"] for o in data["orders"]} == {w.a.e164}
    assert {t["holder_phone"] for t in data["tickets"]} == {w.a.e164}
    paid = next(o for o in data["orders"] if o["id"] == str(w.a.paid_order))
    assert paid["total_xof"] == 4000
    assert len(paid["places"]) == 2
    assert paid["id_number_on_file"]
    assert paid["session"]["event"] == "Lutte — finale"
    assert doc["records"] == {"ticketing": 5, "access": 2}
    assert {p["id"] for p in doc["processings"]} == {"ticketing", "access"}
    ticket_entry = doc["data"]["access"]["entries"]
    assert [(e["credential_id"], e["list"], e["online"]) for e in ticket_entry] == [
        (str(w.a.entered_ticket), "Pelouse", False)
    ]
    text = json.dumps(doc, ensure_ascii=False)
    assert w.b_phone not in text
    assert str(w.b_order) not in text

    acc = by_acc["data"]["access"]
    assert [a["name"] for a in acc["accreditations"]] == [w.a.name]
    assert base64.b64decode(acc["accreditations"][0]["photo"]["base64"]) == w.a.photo
    assert [(e["gate"], e["accepted"]) for e in acc["entries"]] == [("Porte VIP", True)]
    assert [p["entries"] for p in acc["presence"]] == [1]
    assert by_acc["records"] == {"access": 3}
    assert {o["id"] for o in by_id["data"]["ticketing"]["orders"]} == {str(w.a.paid_order)}

    pdf = rights.render_pdf(doc)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1000

    with container.uow(w.tenant) as uow:
        entries = audit.entries(uow, action="privacy.subject.exported")
        ix = privacy.blind_index(uow, w.a.e164, kind="phone")
    assert [e.target_id for e in entries][:1] == [ix]
    assert entries[0].details["records"] == {"ticketing": 5, "access": 2}
    assert all(w.a.phone not in json.dumps(e.details) for e in entries)


def test_erasure_leaves_no_trace_and_keeps_accounting_and_tickets(container: Container) -> None:
    w = seed(container)
    assert traces(container, w) == ["sealed column"]  # control: the canaries are there
    assert str(w.a.paid_order) in dump_database(container)[0]  # the dump sees RLS tables
    money_before = accounting(container, w.tenant)
    with container.uow(w.tenant) as uow:
        by_phone = rights.erase_subject(
            uow, w.a.phone, "phone", actor_id=None, reason="DSAR-2026-010"
        )
        by_acc = rights.erase_subject(
            uow, str(w.a.accreditation), "accreditation", actor_id=None, reason="DSAR-2026-011"
        )
    assert by_phone.found == {"ticketing": 5, "access": 2}
    assert by_phone.erased == {"ticketing": 5, "access": 0}
    assert by_acc.found == {"access": 3}
    assert by_acc.erased == {"access": 1}

    assert traces(container, w) == []
    assert accounting(container, w.tenant) == money_before
    with container.uow(w.tenant) as uow:
        ix = privacy.blind_index(uow, w.a.phone, kind="phone")
        assert (
            uow.session.scalar(
                sa.select(sa.func.count()).select_from(Order).where(Order.phone_index == ix)
            )
            == 0
        )
        # Another person's data is untouched.
        b = uow.session.get(Order, w.b_order)
        assert b is not None
        assert b.phone_sealed is not None
        assert privacy.unseal(uow, b.phone_sealed) == "+221" + w.b_phone
        acc = uow.session.get(Accreditation, w.a.accreditation)
        assert acc is not None
        assert privacy.unseal(uow, acc.name_sealed) == TOMBSTONE
        assert acc.photo_sealed is None
        assert acc.revoked_at is not None
        # Entry records stay (legal hold), pseudonymised through the credential id.
        assert (
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(ScanRow)
                .where(ScanRow.credential_id == w.a.accreditation)
            )
            == 1
        )
        # The person's valid tickets still admit their bearer.
        order = sales.get_order(uow, w.a.paid_order)
        assert {t.status for t in order.tickets} == {"valid"}
        again = rights.export_subject(uow, w.a.phone, "phone", actor_id=None, reason="DSAR-check")
        assert again["records"] == {}
        assert again["data"] == {}
        assert audit.verify(uow) is None
        erased = audit.entries(uow, action="privacy.subject.erased")
    assert [e.details["erased"] for e in erased] == [
        {"ticketing": 5, "access": 0},
        {"access": 1},
    ]
    assert erased[0].target_id == ix
    assert all(w.a.name not in json.dumps(e.details) for e in erased)


def test_erasure_without_legal_hold_deletes_never_paid_orders(container: Container) -> None:
    w = seed(container)
    with container.uow(w.tenant) as uow:
        report = rights.erase_subject(
            uow, w.a.phone, "phone", actor_id=None, reason="DSAR-2026-020", keep_legal=False
        )
        report_acc = rights.erase_subject(
            uow,
            str(w.a.accreditation),
            "accreditation",
            actor_id=None,
            reason="DSAR-2026-021",
            keep_legal=False,
        )
    assert report.erased == {"ticketing": 5, "access": 0}
    assert not report.keep_legal
    assert report_acc.erased == {"access": 1}
    with container.uow(w.tenant) as uow:
        assert uow.session.get(Order, w.a.cancelled_order) is None
        assert uow.session.get(Order, w.a.paid_order) is not None
        assert (
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(ScanRow)
                .where(ScanRow.credential_id == w.a.accreditation)
            )
            == 0
        )
        # A valid ticket keeps its entry records, legal hold or not.
        assert (
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(ScanRow)
                .where(ScanRow.credential_id == w.a.entered_ticket)
            )
            == 1
        )
        assert audit.verify(uow) is None
        # Places of the deleted order were released long ago: a new sale still works.
        hold = sales.create_hold(
            uow, session_id=w.session, category_id=w.category, quantity=1, now=T0
        )
    assert hold.quantity == 1
    assert traces(container, w) == []


def test_bad_requests_are_422(container: Container) -> None:
    tid = make_tenant(container)
    with container.uow(tid) as uow:
        for kind, value, reason in (
            ("phone", "12", "DSAR-1"),
            ("email", "not-an-email", "DSAR-1"),
            ("accreditation", "nope", "DSAR-1"),
            ("passport", "X", "DSAR-1"),
            ("credential", str(uuid.uuid4()), "DSAR-1"),
            ("phone", "771234567", " "),
        ):
            with pytest.raises(ValidationFailed):
                rights.export_subject(uow, value, kind, actor_id=None, reason=reason)
        # A well-formed identifier nobody has: an empty, audited export.
        doc = rights.export_subject(uow, "awa@example.sn", "email", actor_id=None, reason="DSAR")
    assert doc["records"] == {}
    assert doc["subject"] == {"kind": "email", "value": "awa@example.sn"}


def test_other_tenant_sees_nothing(container: Container) -> None:
    w = seed(container)
    other = make_tenant(container)
    with container.uow(other) as uow:
        doc = rights.export_subject(uow, w.a.phone, "phone", actor_id=None, reason="DSAR-X")
        acc = rights.export_subject(
            uow, str(w.a.accreditation), "accreditation", actor_id=None, reason="DSAR-X"
        )
        report = rights.erase_subject(uow, w.a.phone, "phone", actor_id=None, reason="DSAR-X")
    assert doc["records"] == {}
    assert acc["records"] == {}
    assert report.found == {}
    assert traces(container, w) == ["sealed column"]

"""Short codes in the offline bundle (SQLite and PostgreSQL): salted digests of the codes of
valid tickets with the claims a QR carries, deltas after a sale and after a transfer, per
gate salts and rotation, and nothing from another tenant."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from teranga.access import codes, service
from teranga.access.models import Gate
from teranga.container import Container
from teranga.platform.errors import NotFound
from teranga.ticketing import aftersale, sales
from teranga.ticketing.domain import normalise_code
from teranga.ticketing.models import Ticket
from tests.integration.test_ticketing_flow import T0, Setup, make_session

SALE = T0 + dt.timedelta(hours=1)


def sell(container: Container, st: Setup, qty: int, at: dt.datetime) -> list[sales.TicketView]:
    with container.uow(st.tenant) as uow:
        res = sales.box_office_sale(
            uow,
            session_id=st.session,
            category_id=st.ga_cat,
            quantity=qty,
            phone="771234567",
            actor_id=None,
            now=at,
        )
        return res.order.tickets


def make_gate(container: Container, st: Setup, name: str = "Porte A") -> uuid.UUID:
    with container.uow(st.tenant) as uow:
        lst = service.create_list(uow, name=f"Spectateurs {name}", session_ids=[st.session])
        return service.create_gate(uow, name=name, cluster="Nord", list_ids=[lst.id]).id


def bundle(
    container: Container, tid: uuid.UUID, gate: uuid.UUID, since: Any, now: dt.datetime
) -> dict[str, Any]:
    with container.uow(tid) as uow:
        return service.bundle(uow, gate_id=gate, since=str(since) if since else None, now=now)


def by_digest(b: dict[str, Any]) -> dict[str, list[Any]]:
    return {row[0]: row for row in b["codes"]["tickets"]}


def salt_of(b: dict[str, Any]) -> bytes:
    s = b["codes"]["salt"]
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def test_full_bundle_maps_code_digests_to_qr_claims(container: Container) -> None:
    st = make_session(container, ga=10)
    gate = make_gate(container, st)
    sold = sell(container, st, 3, SALE)
    b = bundle(container, st.tenant, gate, None, SALE + dt.timedelta(minutes=1))
    section = b["codes"]
    assert section["digest_bytes"] == 10
    assert len(salt_of(b)) == 16
    rows = by_digest(b)
    assert len(rows) == 3
    text = json.dumps(b)
    for t in sold:
        code = normalise_code(t.code)  # views show it in groups (ABCD-EFG-HJK)
        assert code not in text  # the bearer codes themselves never travel
        row = rows[codes.code_digest(salt_of(b), code)]
        # The same claims as the ticket's signed QR, in the same units.
        with container.uow(st.tenant) as uow:
            cred = service.decode(uow, t.qr)
        assert cred is not None
        assert row[1] == codes.b64url(t.id.bytes)
        assert section["session_tags"][row[2]] == st.session.bytes[8:].hex()
        assert row[2:] == [
            0,
            cred.zone_no,
            cred.category_no,
            int(cred.valid_from.timestamp() // 60),
            int(cred.valid_until.timestamp() // 60),
        ]
        assert cred.session_tag is not None
        assert section["session_tags"][0] == cred.session_tag.hex()
    # The session tag the lists carry is the one the codes point to.
    assert b["lists"][0]["session_tags"] == section["session_tags"]


def test_deltas_after_a_sale_and_after_a_transfer(container: Container) -> None:
    st = make_session(container, ga=10)
    gate = make_gate(container, st)
    (first,) = sell(container, st, 1, SALE)
    full = bundle(container, st.tenant, gate, None, SALE + dt.timedelta(hours=1))
    salt = salt_of(full)
    assert set(by_digest(full)) == {codes.code_digest(salt, normalise_code(first.code))}

    # A new sale after the cursor: only the new ticket's code comes in the delta.
    (second,) = sell(container, st, 1, SALE + dt.timedelta(hours=2))
    # (Each bundle is taken 10 minutes after the change: cursors overlap by 5 minutes.)
    delta = bundle(container, st.tenant, gate, full["cursor"], SALE + dt.timedelta(minutes=130))
    assert not delta["full"]
    assert salt_of(delta) == salt
    assert set(by_digest(delta)) == {codes.code_digest(salt, normalise_code(second.code))}

    # A transfer: the old ticket is revoked, the new ticket (new code) is in the next delta.
    with container.uow(st.tenant) as uow:
        moved = aftersale.transfer_ticket(
            uow,
            ticket_id=first.id,
            to_phone="776543210",
            order_token=None,
            actor_id=None,
            now=SALE + dt.timedelta(hours=3),
        )
        new_ticket = uow.session.get(Ticket, moved.id)
        assert new_ticket is not None
        new_code = new_ticket.code
    assert new_code != first.code
    delta2 = bundle(container, st.tenant, gate, delta["cursor"], SALE + dt.timedelta(minutes=190))
    assert str(first.id) in delta2["revoked"]
    rows = by_digest(delta2)
    assert set(rows) == {codes.code_digest(salt, new_code)}
    assert rows[codes.code_digest(salt, new_code)][1] == codes.b64url(moved.id.bytes)
    # A full bundle no longer carries the revoked ticket's code.
    again = bundle(container, st.tenant, gate, None, SALE + dt.timedelta(hours=3))
    assert set(by_digest(again)) == {
        codes.code_digest(salt, normalise_code(second.code)),
        codes.code_digest(salt, new_code),
    }


def test_salt_per_gate_lazy_for_old_gates_and_rotation(container: Container) -> None:
    st = make_session(container, ga=10)
    a = make_gate(container, st, "Porte A")
    b = make_gate(container, st, "Porte B")
    (t,) = sell(container, st, 1, SALE)
    ba = bundle(container, st.tenant, a, None, SALE)
    bb = bundle(container, st.tenant, b, None, SALE)
    assert salt_of(ba) != salt_of(bb)
    assert set(by_digest(ba)) != set(by_digest(bb))
    # A gate made before salts existed (or whose salt was cleared) gets one, kept after.
    with container.uow(st.tenant) as uow:
        uow.session.execute(sa.update(Gate).where(Gate.id == a).values(code_salt=None))
    fresh = bundle(container, st.tenant, a, None, SALE)
    assert salt_of(fresh) not in (salt_of(ba), b"")
    assert salt_of(bundle(container, st.tenant, a, None, SALE)) == salt_of(fresh)
    assert set(by_digest(fresh)) == {codes.code_digest(salt_of(fresh), normalise_code(t.code))}
    with container.uow(st.tenant) as uow:
        service.rotate_code_salt(uow, a)
    rotated = bundle(container, st.tenant, a, fresh["cursor"], SALE)
    assert salt_of(rotated) != salt_of(fresh)  # scanners notice and fetch a full bundle


def test_other_tenants_gate_and_tickets_stay_out(container: Container) -> None:
    mine = make_session(container, ga=10)
    theirs = make_session(container, ga=10)
    sell(container, theirs, 2, SALE)
    their_gate = make_gate(container, theirs)
    with pytest.raises(NotFound):
        bundle(container, mine.tenant, their_gate, None, SALE)
    # A list naming another tenant's session id gets none of its codes.
    with container.uow(mine.tenant) as uow:
        lst = service.create_list(uow, name="Piège", session_ids=[theirs.session, mine.session])
        gate = service.create_gate(uow, name="Porte X", cluster="X", list_ids=[lst.id]).id
    (own,) = sell(container, mine, 1, SALE)
    b = bundle(container, mine.tenant, gate, None, SALE)
    assert set(by_digest(b)) == {codes.code_digest(salt_of(b), normalise_code(own.code))}

"""Per-person caps across transfers (SQLite and PostgreSQL): a ticket counts for the phone
that holds it now, so a recipient at the cap is refused and a buyer who gave a ticket away
may buy again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from teranga.container import Container
from teranga.platform.errors import Conflict, NotFound
from teranga.ticketing import aftersale, pii, repo, sales
from teranga.ticketing.models import Ticket
from tests.integration.test_ticketing_flow import T0, Setup, make_session, pay_in_full

RECIPIENT = "770000001"


@dataclass
class Bought:
    order: sales.OrderView
    token: str


def buy(
    container: Container,
    st: Setup,
    phone: str,
    *,
    qty: int = 1,
    id_number: str | None = None,
) -> Bought:
    with container.uow(st.tenant) as uow:
        hold = sales.create_hold(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=qty, now=T0
        )
        co = sales.checkout(uow, hold_id=hold.id, phone=phone, id_number=id_number, now=T0)
        assert pay_in_full(uow, co.order).status == "issued"
        return Bought(sales.get_order(uow, co.order.id), co.access_token)


def transfer(
    container: Container, st: Setup, ticket_id: uuid.UUID, to: str, token: str | None = None
) -> aftersale.TransferResult:
    with container.uow(st.tenant) as uow:
        return aftersale.transfer_ticket(
            uow, ticket_id=ticket_id, to_phone=to, order_token=token, actor_id=None, now=T0
        )


def places(container: Container, st: Setup, phone: str) -> int:
    with container.uow(st.tenant) as uow:
        ix = pii.phone_index(uow, pii.normalise_phone(phone))
        return repo.person_places(uow, st.session, index_col="phone", index=ix)


def ticket_status(container: Container, st: Setup, ticket_id: uuid.UUID) -> str:
    with container.uow(st.tenant) as uow:
        t = uow.session.get(Ticket, ticket_id)
        assert t is not None
        return t.status


def test_recipient_at_cap_is_refused(container: Container) -> None:
    st = make_session(container, ga=10, per_person=3)
    buy(container, st, RECIPIENT, qty=2)
    a = buy(container, st, "771111111")
    b = buy(container, st, "772222222")
    # The buyer's own secret (public path) and staff (no secret) follow the same rule.
    transfer(container, st, a.order.tickets[0].id, RECIPIENT, token=a.token)
    assert places(container, st, RECIPIENT) == 3
    assert places(container, st, "771111111") == 0
    for token in (b.token, None):
        with pytest.raises(Conflict) as exc:
            transfer(container, st, b.order.tickets[0].id, "+221 77 000 00 01", token=token)
        assert exc.value.code == "ticketing.person_limit"
        assert exc.value.status == 409
        assert exc.value.message == "at most 3 places per person for this session"
    # Nothing moved: the refused ticket is still valid and still the giver's.
    assert ticket_status(container, st, b.order.tickets[0].id) == "valid"
    assert places(container, st, "772222222") == 1
    assert places(container, st, RECIPIENT) == 3
    # At the cap, the recipient cannot buy more either.
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
        with pytest.raises(Conflict) as exc:
            sales.checkout(uow, hold_id=h.id, phone=RECIPIENT, now=T0)
    assert exc.value.code == "ticketing.person_limit"


def test_buyer_who_transferred_away_can_buy_again_up_to_the_cap(container: Container) -> None:
    st = make_session(container, ga=10, per_person=3)
    buyer, friend = "773333333", "774444444"
    first = buy(container, st, buyer, qty=3)
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
        with pytest.raises(Conflict):
            sales.checkout(uow, hold_id=h.id, phone=buyer, now=T0)
    given = transfer(container, st, first.order.tickets[0].id, friend, token=first.token)
    assert (places(container, st, buyer), places(container, st, friend)) == (2, 1)
    buy(container, st, buyer)  # back to the cap
    assert places(container, st, buyer) == 3
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
        with pytest.raises(Conflict) as exc:
            sales.checkout(uow, hold_id=h.id, phone=buyer, now=T0)
    assert exc.value.code == "ticketing.person_limit"
    # Giving the ticket back to its buyer would put the buyer over the cap.
    with pytest.raises(Conflict) as exc:
        transfer(container, st, given.id, buyer)
    assert exc.value.code == "ticketing.person_limit"
    # A refund of the ticket the friend holds frees the friend's place, not the buyer's.
    with container.uow(st.tenant) as uow:
        row = uow.session.get(Ticket, given.id)
        assert row is not None
        aftersale.refund_order(
            uow,
            order_id=first.order.id,
            line_ids=[row.line_id],
            reason="friend cannot come",
            actor_id=None,
            now=T0,
        )
    assert (places(container, st, buyer), places(container, st, friend)) == (3, 0)


def test_ticket_given_back_to_its_buyer_counts_once(container: Container) -> None:
    st = make_session(container, ga=10, per_person=3)
    buyer, friend = "775555555", "776666666"
    order = buy(container, st, buyer, qty=2)
    moved = transfer(container, st, order.order.tickets[0].id, friend)
    assert (places(container, st, buyer), places(container, st, friend)) == (1, 1)
    transfer(container, st, moved.id, buyer)
    assert (places(container, st, buyer), places(container, st, friend)) == (2, 0)


def test_transfer_to_the_phone_that_holds_it_is_refused(container: Container) -> None:
    st = make_session(container, ga=10, per_person=3)
    order = buy(container, st, "777777777")
    t = order.order.tickets[0]
    with pytest.raises(Conflict) as exc:
        transfer(container, st, t.id, "+221 77 777 77 77", token=order.token)
    assert (exc.value.code, exc.value.status) == ("ticketing.same_holder", 409)
    assert ticket_status(container, st, t.id) == "valid"
    moved = transfer(container, st, t.id, "778888888")
    with pytest.raises(Conflict) as exc:
        transfer(container, st, moved.id, "778888888")
    assert exc.value.code == "ticketing.same_holder"
    # A stranger's secret does not open the ticket.
    with pytest.raises(NotFound):
        transfer(container, st, moved.id, "779999999", token="not-the-secret")


def test_box_office_ticket_without_phone_counts_for_its_recipient(container: Container) -> None:
    st = make_session(container, ga=10, per_person=2)
    buy(container, st, RECIPIENT)
    with container.uow(st.tenant) as uow:
        counter = sales.box_office_sale(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=2, actor_id=None, now=T0
        )
    first, second = counter.order.tickets
    transfer(container, st, first.id, RECIPIENT)
    assert places(container, st, RECIPIENT) == 2
    with pytest.raises(Conflict) as exc:
        transfer(container, st, second.id, RECIPIENT)
    assert exc.value.code == "ticketing.person_limit"


def test_id_number_cap_forgets_tickets_given_away(container: Container) -> None:
    st = make_session(container, ga=10, per_person=3)
    ident = "1 234 5678 90123"
    first = buy(container, st, "771212121", qty=3, id_number=ident)
    transfer(container, st, first.order.tickets[0].id, "772323232")
    # Same ID number, another phone: the ticket given away no longer counts for the ID.
    buy(container, st, "773434343", id_number=ident)
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(uow, session_id=st.session, category_id=st.ga_cat, quantity=1, now=T0)
        with pytest.raises(Conflict) as exc:
            sales.checkout(uow, hold_id=h.id, phone="774545454", id_number=ident, now=T0)
    assert exc.value.code == "ticketing.person_limit"


def test_no_cap_means_any_number_of_transfers(container: Container) -> None:
    st = make_session(container, ga=10, per_person=None)
    for n in range(5):
        order = buy(container, st, f"77600000{n}")
        transfer(container, st, order.order.tickets[0].id, RECIPIENT)
    assert places(container, st, RECIPIENT) == 5

"""Transfers protect their recipient (SQLite and PostgreSQL): the giver no longer sees the
ticket, the recipient gets it by SMS (after commit, retried, never for a rolled-back
transfer) through a link of their own, and can give it on in turn."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from teranga.container import Container
from teranga.platform import sms
from teranga.platform.errors import Conflict, NotFound
from teranga.platform.sms import LogSmsSender, SmsError
from teranga.ticketing import aftersale, notify, sales
from teranga.ticketing.models import TicketSms
from tests.integration.test_ticketing_flow import T0, Setup, make_session
from tests.integration.test_ticketing_transfer_caps import buy

BUYER = "771234512"
FRIEND = "+221 78 111 22 33"
FRIEND_E164 = "+221781112233"
LINK = re.compile(r"/billetterie/b/([A-Za-z0-9_-]+)$")


class FlakySender:
    """A gateway that refuses the first ``failures`` messages."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.log = LogSmsSender()

    def send(self, to: str, text: str) -> None:
        if self.failures:
            self.failures -= 1
            raise SmsError("sms gateway answered HTTP 503")
        self.log.send(to, text)


def _sms_rows(container: Container, st: Setup) -> list[TicketSms]:
    with container.uow(st.tenant) as uow:
        return list(uow.session.scalars(sa.select(TicketSms).order_by(TicketSms.created_at)))


def _give(
    container: Container,
    st: Setup,
    ticket_id: uuid.UUID,
    to: str,
    *,
    order_token: str | None = None,
    ticket_token: str | None = None,
) -> aftersale.TransferResult:
    with container.uow(st.tenant) as uow:
        return aftersale.transfer_ticket(
            uow,
            ticket_id=ticket_id,
            to_phone=to,
            order_token=order_token,
            ticket_token=ticket_token,
            actor_id=None,
            now=T0,
        )


def _secret_sent_to(sender: LogSmsSender, phone: str) -> str:
    (msg,) = [m for m in sender.sent if m.to == phone]
    match = LINK.search(msg.text)
    assert match, msg.text
    return match.group(1)


def test_recipient_gets_the_ticket_by_sms_and_the_giver_loses_it(container: Container) -> None:
    st = make_session(container)
    bought = buy(container, st, BUYER, qty=2)
    given, kept = bought.order.tickets
    moved = _give(container, st, given.id, FRIEND, order_token=bought.token)
    assert (moved.status, moved.replaced_id, moved.to_phone_masked) == (
        "transferred",
        given.id,
        "+221 ••• •• 33",
    )
    # The giver's order view: only the ticket they kept; the given place is flagged.
    with container.uow(st.tenant) as uow:
        mine = sales.get_order(uow, bought.order.id, token=bought.token)
        staff = sales.get_order(uow, bought.order.id)
    assert [t.id for t in mine.tickets] == [kept.id]
    assert len(mine.transferred_line_ids) == 1
    assert mine.transferred_line_ids[0] in {p.line_id for p in mine.places}
    assert staff.transferred_line_ids == ()  # staff see every holder's tickets
    new = next(t for t in staff.tickets if t.id == moved.id)
    assert new.code not in repr(mine)
    assert new.qr not in repr(mine)
    # Nor can the giver move it again with the order's secret.
    with pytest.raises(NotFound):
        _give(container, st, moved.id, "779999999", order_token=bought.token)

    sender = LogSmsSender()
    notifier = notify.Notifier(container, sender)
    assert notifier.send_due(now=T0) >= 1
    (msg,) = [m for m in sender.sent if m.to == FRIEND_E164]
    assert msg.text.startswith(
        "Billet JOJ Dakar 2026 transféré par +221***12 : Finale. Votre billet : http"
    )
    assert len(msg.text) < 160
    assert "771234512" not in msg.text
    assert "781112233" not in msg.text
    assert [r.status for r in _sms_rows(container, st)] == ["sent"]
    assert _sms_rows(container, st)[0].secret_sealed is None  # wiped once sent
    notifier.send_due(now=T0)
    assert len([m for m in sender.sent if m.to == FRIEND_E164]) == 1  # sent once

    secret = _secret_sent_to(sender, FRIEND_E164)
    with container.uow(st.tenant) as uow:
        assert aftersale.ticket_for_secret(uow, secret) == moved.id
        held = aftersale.held_ticket(uow, moved.id, secret=secret)
        assert held.status == "valid"
        assert held.ticket is not None
        assert held.ticket.code == new.code
        assert held.ticket.qr == new.qr
        for wrong in ("", "x" * 22, bought.token):
            with pytest.raises(NotFound):
                aftersale.held_ticket(uow, moved.id, secret=wrong)
        with pytest.raises(NotFound):  # a link opens its own ticket only
            aftersale.held_ticket(uow, kept.id, secret=secret)


def test_recipient_gives_it_on_and_then_loses_it(container: Container) -> None:
    st = make_session(container)
    bought = buy(container, st, BUYER)
    first = _give(container, st, bought.order.tickets[0].id, FRIEND, order_token=bought.token)
    sender = LogSmsSender()
    notifier = notify.Notifier(container, sender)
    notifier.send_due(now=T0)
    secret = _secret_sent_to(sender, FRIEND_E164)
    with pytest.raises(NotFound):
        _give(container, st, first.id, "775550011", ticket_token="not-the-secret")
    second = _give(container, st, first.id, "775550011", ticket_token=secret)
    notifier.send_due(now=T0)
    (msg,) = [m for m in sender.sent if m.to == "+221775550011"]
    assert "transféré par +221***33 :" in msg.text  # the previous holder, masked
    with container.uow(st.tenant) as uow:
        gone = aftersale.held_ticket(uow, first.id, secret=secret)
        assert (gone.status, gone.ticket) == ("revoked", None)
        third = _secret_sent_to(sender, "+221775550011")
        assert aftersale.held_ticket(uow, second.id, secret=third).ticket is not None
    with pytest.raises(Conflict) as exc:
        _give(container, st, first.id, "776660022", ticket_token=secret)
    assert exc.value.code == "ticketing.ticket_not_valid"
    # The buyer's order lists neither: the place is someone else's now.
    with container.uow(st.tenant) as uow:
        view = sales.get_order(uow, bought.order.id, token=bought.token)
    assert view.tickets == []
    assert len(view.transferred_line_ids) == 1


def test_no_sms_for_a_rolled_back_transfer(container: Container) -> None:
    st = make_session(container)
    bought = buy(container, st, BUYER)

    def transfer_then_fail() -> None:
        with container.uow(st.tenant) as uow:
            aftersale.transfer_ticket(
                uow,
                ticket_id=bought.order.tickets[0].id,
                to_phone=FRIEND,
                order_token=bought.token,
                actor_id=None,
                now=T0,
            )
            raise RuntimeError("something later in the request failed")

    with pytest.raises(RuntimeError):
        transfer_then_fail()
    sender = LogSmsSender()
    notify.Notifier(container, sender).send_due(now=T0)
    assert [m for m in sender.sent if m.to == FRIEND_E164] == []
    assert _sms_rows(container, st) == []


def test_a_refused_sms_is_retried_later(container: Container) -> None:
    st = make_session(container)
    bought = buy(container, st, BUYER)
    _give(container, st, bought.order.tickets[0].id, FRIEND, order_token=bought.token)
    flaky = FlakySender(failures=1)
    notifier = notify.Notifier(container, flaky)
    notifier.send_due(now=T0)
    (row,) = _sms_rows(container, st)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "sms gateway answered HTTP 503",
    )
    assert row.next_attempt_at == T0 + notifier.base_delay
    notifier.send_due(now=T0)  # not due yet
    assert flaky.log.sent == []
    notifier.send_due(now=T0 + notifier.base_delay)
    assert [m.to for m in flaky.log.sent] == [FRIEND_E164]
    (row,) = _sms_rows(container, st)
    assert (row.status, row.attempts, row.secret_sealed) == ("sent", 2, None)


def test_sms_for_a_ticket_given_on_before_sending_is_dropped(container: Container) -> None:
    st = make_session(container)
    bought = buy(container, st, BUYER)
    first = _give(container, st, bought.order.tickets[0].id, FRIEND, order_token=bought.token)
    _give(container, st, first.id, "775550011")  # staff moved it on before any SMS left
    sender = LogSmsSender()
    notify.Notifier(container, sender).send_due(now=T0)
    assert [m.to for m in sender.sent if m.to in (FRIEND_E164, "+221775550011")] == [
        "+221775550011"
    ]
    statuses = sorted(r.status for r in _sms_rows(container, st))
    assert statuses == ["cancelled", "sent"]


def test_sms_text_fits_one_message_whatever_the_session_name() -> None:
    link = "https://billetterie.dakar2026.sn" + notify.link_path("A" * 22)
    text = notify.received_text("+221•••12", "Lutte avec frappe — " * 20, link)
    assert len(text) <= notify.SMS_MAX
    assert text.endswith(f". Votre billet : {link}")
    assert "..." in text
    # GSM-7 only (160 characters per message): no bullet, no "ç", no long dash.
    assert set(text) <= sms.GSM7
    assert "+221***12" in text
    assert sms.gsm7("Reçu à Saly — « Tribune »") == 'Recu à Saly - " Tribune "'
    assert notify.received_text(None, "Finale", link).startswith(
        "Billet JOJ Dakar 2026 transféré : "
    )


def test_a_transfer_wakes_the_notifier_for_its_tenant_only(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit that queues an SMS wakes the running notifier, which sends it without
    sweeping every tenant (the full sweep waits for its poll)."""
    import asyncio

    st = make_session(container)
    bought = buy(container, st, BUYER, qty=1)
    sender = LogSmsSender()
    notifier = notify.Notifier(container, sender, poll_interval=600)
    notify._notifiers.add(notifier)
    sweeps: list[int] = []
    monkeypatch.setattr(notifier, "_tenants", lambda: sweeps.append(1) or [])

    async def run() -> None:
        await notifier.start()
        try:
            await asyncio.to_thread(
                _give, container, st, bought.order.tickets[0].id, FRIEND, order_token=bought.token
            )
            for _ in range(200):  # 10 s at most
                if sender.sent:
                    break
                await asyncio.sleep(0.05)
        finally:
            await notifier.stop()

    asyncio.run(run())
    assert [m.to for m in sender.sent] == [FRIEND_E164]
    assert sweeps == []

"""SMS to spectators, sent after commit through a domain outbox (``ticketing_sms``).

Why not the platform outbox: its payloads are plain JSON relayed to the broker, and an SMS
needs a phone number and a bearer link. A ``ticketing_sms`` row is written in the same
transaction as the transfer that causes it (so a rolled-back transfer sends nothing) and
names only the ticket; the phone is the ticket's sealed holder and the link's secret is
sealed with the tenant key, both opened at send time. Once a row is settled (sent, given
up, or moot because the ticket moved on) its sealed secret is wiped.

Sending follows the webhook deliveries: due rows are claimed with a compare-and-set on
``attempts`` and a lease (a sender that dies mid-way loses its claim when the lease ends),
the gateway is called outside any transaction, and a failure is retried with exponential
back-off until ``max_attempts``. Delivery is at least once.

A commit that queued a message marks its tenant and wakes this process's notifiers, which
then look at the marked tenants only; every ``poll_interval`` they look at every tenant
(retries, rows left by a crash or queued by another process).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from teranga.platform.ids import new_id
from teranga.platform.sms import SmsError, SmsSender, gsm7, make_sender, mask_phone
from teranga.platform.uow import UnitOfWork
from teranga.platform.worker import BackgroundWorker, TenantMarks
from teranga.tenancy import api as tenancy
from teranga.ticketing import pii
from teranga.ticketing.domain import TicketStatus
from teranga.ticketing.models import Order, Ticket, TicketSession, TicketSms

if TYPE_CHECKING:
    from teranga.container import Container

log = logging.getLogger(__name__)

TICKET_RECEIVED = "ticket_received"
SMS_MAX = 160  # one GSM-7 message, whatever the session's name
SENDER_KEY = "sms"
NOTIFIER_KEY = "ticketing.notifier"


def link_path(secret: str) -> str:
    """The recipient's short link: it fits an SMS; the page redirects to the ticket."""
    return f"/billetterie/b/{secret}"


def received_text(giver_masked: str | None, session_name: str, link: str) -> str:
    """French, one GSM-7 SMS: who gave it (masked), the session, the link; the name is cut."""
    who = f" par {giver_masked}" if giver_masked else ""
    start = gsm7(f"Billet JOJ Dakar 2026 transféré{who} : ")
    end = gsm7(f". Votre billet : {link}")
    room = SMS_MAX - len(start) - len(end)
    name = gsm7(" ".join(session_name.split()))
    if len(name) > room:  # cut at a word, and let the ellipsis stand for the full stop
        cut = name[: max(0, room - 2)].rsplit(" ", 1)[0].rstrip(" .,;:-(")
        return f"{start}{cut}...{end[1:]}" if room > 3 else f"{start}{end[2:]}"
    return f"{start}{name}{end}"


# Tenants that queued messages in this process since a notifier last looked, and the
# notifiers to wake (one per container; tests build several).
_queued = TenantMarks()
_notifiers: weakref.WeakSet[Notifier] = weakref.WeakSet()


def _mark_queued(tenant_id: uuid.UUID) -> None:
    _queued.mark(tenant_id)
    for notifier in list(_notifiers):
        notifier.wake()


def queue_ticket_received(
    uow: UnitOfWork, *, ticket_id: uuid.UUID, secret: str, now: dt.datetime
) -> None:
    """Tell the new holder of a transferred ticket, after commit (see the module doc)."""
    uow.on_commit(functools.partial(_mark_queued, uow.require_tenant()))
    uow.session.add(
        TicketSms(
            id=new_id(),
            tenant_id=uow.require_tenant(),
            ticket_id=ticket_id,
            kind=TICKET_RECEIVED,
            secret_sealed=pii.seal_link_secret(uow, secret),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


@dataclass(frozen=True)
class SmsJob:
    sms_id: uuid.UUID
    tenant_id: uuid.UUID
    attempt: int
    to: str
    text: str


def _settle(row: TicketSms, status: str, now: dt.datetime, error: str | None = None) -> None:
    row.status = status
    row.secret_sealed = None
    row.last_error = error
    if status == "sent":
        row.sent_at = now


def _giver(uow: UnitOfWork, ticket: Ticket) -> str | None:
    """The previous holder's phone, masked (None when the place had no phone)."""
    sealed = None
    if ticket.replaces_id is not None:
        old = uow.session.get(Ticket, ticket.replaces_id)
        sealed = old.holder_phone_sealed if old is not None else None
    if sealed is None:
        order = uow.session.get(Order, ticket.order_id)
        sealed = order.phone_sealed if order is not None else None
    return mask_phone(pii.unseal_phone(uow, sealed), compact=True) if sealed else None


def _job(uow: UnitOfWork, row: TicketSms, base_url: str, now: dt.datetime) -> SmsJob | None:
    ticket = uow.session.get(Ticket, row.ticket_id)
    if ticket is None or ticket.status != TicketStatus.VALID.value:
        _settle(row, "cancelled", now, "ticket no longer valid")
        return None
    if ticket.holder_phone_sealed is None or row.secret_sealed is None:
        _settle(row, "failed", now, "nothing to send")
        return None
    session = uow.session.get(TicketSession, ticket.session_id)
    link = base_url.rstrip("/") + link_path(pii.unseal_link_secret(uow, row.secret_sealed))
    text = received_text(_giver(uow, ticket), session.name if session else "", link)
    to = pii.unseal_phone(uow, ticket.holder_phone_sealed)
    return SmsJob(row.id, row.tenant_id, row.attempts, to, text)


def claim_due(
    uow: UnitOfWork, *, now: dt.datetime, lease: dt.timedelta, limit: int, base_url: str
) -> list[SmsJob]:
    """Claim this tenant's due messages (compare-and-set) and resolve them for sending."""
    rows = list(
        uow.session.scalars(
            sa.select(TicketSms)
            .where(
                TicketSms.tenant_id == uow.require_tenant(),
                TicketSms.status == "pending",
                TicketSms.next_attempt_at <= now,
            )
            .order_by(TicketSms.next_attempt_at, TicketSms.id)
            .limit(limit)
        )
    )
    jobs = []
    for row in rows:
        claimed = uow.session.execute(
            sa.update(TicketSms)
            .where(
                TicketSms.id == row.id,
                TicketSms.attempts == row.attempts,
                TicketSms.status == "pending",
            )
            .values(attempts=row.attempts + 1, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another sender took it
        uow.session.refresh(row)
        try:
            with uow.session.begin_nested():  # a failure here must not undo the other claims
                job = _job(uow, row, base_url, now)
        except Exception as exc:  # e.g. the tenant's key was destroyed: never sendable
            _settle(row, "failed", now, f"cannot resolve: {type(exc).__name__}")
            continue
        if job is not None:
            jobs.append(job)
    uow.session.flush()
    return jobs


def record(
    uow: UnitOfWork,
    job: SmsJob,
    *,
    error: str | None,
    now: dt.datetime,
    max_attempts: int,
    base_delay: dt.timedelta,
    max_delay: dt.timedelta,
) -> TicketSms | None:
    row = uow.session.get(TicketSms, job.sms_id, populate_existing=True)
    if row is None or row.status != "pending" or row.attempts != job.attempt:
        return row  # settled or re-claimed elsewhere (our lease ran out)
    if error is None:
        _settle(row, "sent", now)
    elif row.attempts >= max_attempts:
        _settle(row, "failed", now, error[:200])
    else:
        row.last_error = error[:200]
        row.next_attempt_at = now + min(base_delay * 2 ** (row.attempts - 1), max_delay)
    uow.session.flush()
    return row


class Notifier(BackgroundWorker):
    """Sends due ``ticketing_sms`` rows; woken after commits, and polls for retries."""

    task_name = "ticketing-sms"
    # Messages left by a crash wait for the first poll: a pass at start would add one
    # transaction per tenant to every process start.
    pass_at_start = False

    def __init__(
        self,
        container: Container,
        sender: SmsSender,
        *,
        poll_interval: float = 15.0,
        batch: int = 50,
        lease: dt.timedelta = dt.timedelta(minutes=2),
        max_attempts: int = 8,
        base_delay: dt.timedelta = dt.timedelta(seconds=30),
        max_delay: dt.timedelta = dt.timedelta(hours=1),
        stop_timeout: float = 15.0,
    ) -> None:
        super().__init__(stop_timeout=stop_timeout)
        self.container = container
        self.sender = sender
        self.poll_interval = poll_interval
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay

    def _tenants(self) -> list[uuid.UUID]:
        with self.container.uow() as uow:
            return [t.id for t in tenancy.list_tenants(uow)]

    def send_due(
        self, now: dt.datetime | None = None, tenants: set[uuid.UUID] | None = None
    ) -> int:
        """Claim, send and record every due message (of ``tenants``, else of every
        tenant); returns how many were attempted."""
        moment = now or self.container.clock.now()
        base_url = self.container.settings.base_url
        attempted = 0
        for tid in sorted(tenants) if tenants is not None else self._tenants():
            try:
                with self.container.uow(tid) as uow:
                    jobs = claim_due(
                        uow, now=moment, lease=self.lease, limit=self.batch, base_url=base_url
                    )
            except Exception:  # one tenant's trouble must not stop the others
                log.warning("sms claim failed for tenant %s", tid, exc_info=True)
                continue
            for job in jobs:
                error = None
                try:
                    self.sender.send(job.to, job.text)
                except SmsError as exc:
                    error = str(exc)
                except Exception as exc:  # an adapter bug: retry later, keep the worker alive
                    error = f"sender error: {type(exc).__name__}"
                attempted += 1
                try:
                    with self.container.uow(tid) as uow:
                        record(
                            uow,
                            job,
                            error=error,
                            now=now or self.container.clock.now(),
                            max_attempts=self.max_attempts,
                            base_delay=self.base_delay,
                            max_delay=self.max_delay,
                        )
                except Exception:  # the lease expires and the message is tried again
                    log.warning("recording sms %s failed", job.sms_id, exc_info=True)
        return attempted

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while not self._stopping:
            woken = await self._wait(self.poll_interval)
            if self._stopping:
                return
            # A poll that timed out sweeps every tenant (retries, other processes' rows).
            full = not woken or loop.time() - last_full >= self.poll_interval
            done = await self._tenant_pass(
                _queued.take, functools.partial(self.send_due, None), full=full
            )
            if done and full:
                last_full = loop.time()


def install(container: Container) -> Notifier:
    """One notifier per container, woken after the commits that queue messages."""
    existing = container.extras.get(NOTIFIER_KEY)
    if isinstance(existing, Notifier):
        return existing
    sender = container.extras.get(SENDER_KEY)
    if sender is None:
        sender = make_sender(container.settings)
        container.extras[SENDER_KEY] = sender
    notifier = Notifier(container, sender)
    container.extras[NOTIFIER_KEY] = notifier
    _notifiers.add(notifier)
    container.extras.setdefault("startup", []).append(notifier.start)
    container.extras.setdefault("shutdown", []).append(notifier.stop)
    return notifier

"""Ticketing JSON API under ``/api/v1/ticketing`` (public buyer flow, organiser, box office).

Every POST that creates an order, a payment, a refund or a transfer honours
``Idempotency-Key`` (see ``idempotency``). Buyers prove they own an order with the
``X-Order-Token`` header returned once when the order is created.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from pydantic import BaseModel

from teranga.audit import api as audit
from teranga.container import Container
from teranga.identity.api import Principal, public, require
from teranga.platform.errors import Conflict, NotFound, TerangaError, ValidationFailed
from teranga.platform.uow import UnitOfWork
from teranga.ticketing import aftersale, hold_batch, idempotency, pii, reports, sales, seatmap
from teranga.ticketing import schemas as sc
from teranga.ticketing import service as catalogue
from teranga.ticketing.domain import PAYLOAD_VERSION
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.errors import error_body

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/ticketing", tags=["ticketing"])

IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Random key (UUIDv4); same key + same body replays the first response",
    ),
]
OrderToken = Annotated[str | None, Header(alias="X-Order-Token")]
TicketToken = Annotated[
    str | None,
    Header(
        alias="X-Ticket-Token",
        description="The ticket's own secret, from the link sent by SMS to its recipient",
    ),
]
Public = [Depends(public)]


def _json(model: BaseModel | list[Any], status: int = 200) -> Response:
    if isinstance(model, list):
        body = orjson.dumps([m.model_dump(mode="json") for m in model])
    else:
        body = model.model_dump_json().encode()
    return Response(body, status_code=status, media_type="application/json")


Then = Callable[[UnitOfWork, BaseModel], BaseModel | None]


def _idempotent(
    request: Request,
    container: ContainerDep,
    *,
    tenant_id: uuid.UUID,
    scope: str,
    key: str | None,
    body: object,
    run: Callable[[UnitOfWork], tuple[int, BaseModel]],
    then: Then | None = None,
) -> Response:
    """Run ``run`` in one unit of work, storing its response under the key in it.

    ``then`` is a second step in its own unit of work, after the first committed (a call to
    a payment provider must not run under the first step's locks). The first step stores
    its answer with the key still in flight (a concurrent duplicate gets 409); the second
    returns the full answer, stored in its transaction, or None to keep the first. If it
    fails, the first step stands and its answer is the one given and stored."""
    if key is None:
        with container.uow(tenant_id) as uow:
            status, model = run(uow)
        if then is not None:
            model = _then(container, tenant_id, then, model, None, status)
        return _json(model, status)
    key = idempotency.validate_key(key)
    fingerprint = idempotency.request_hash(request.method, request.url.path, body)
    replay = idempotency.claim(
        container.uow_factory,
        tenant_id=tenant_id,
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        now=container.clock.now(),
    )
    if replay is not None:
        return Response(
            replay.body,
            status_code=replay.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        with container.uow(tenant_id) as uow:
            status, model = run(uow)
            payload = model.model_dump_json().encode()
            idempotency.complete(
                uow, scope=scope, key=key, status=status, body=payload, final=then is None
            )
    except TerangaError as exc:
        err = orjson.dumps(error_body(exc.code, exc.message, **exc.details))
        with container.uow(tenant_id) as uow:
            idempotency.complete(uow, scope=scope, key=key, status=exc.status, body=err)
        raise
    if then is not None:
        model = _then(container, tenant_id, then, model, (scope, key), status)
        payload = model.model_dump_json().encode()
    return Response(payload, status_code=status, media_type="application/json")


def _then(
    container: Container,
    tenant_id: uuid.UUID,
    then: Then,
    first: BaseModel,
    stored: tuple[str, str] | None,
    status: int,
) -> BaseModel:
    def store(uow: UnitOfWork, answer: BaseModel) -> None:
        if stored is not None:
            body = answer.model_dump_json().encode()
            idempotency.complete(uow, scope=stored[0], key=stored[1], status=status, body=body)

    try:
        with container.uow(tenant_id) as uow:
            answer = then(uow, first) or first
            store(uow, answer)
        return answer
    # The first step committed (an order and its access token, shown once): answer it,
    # whatever went wrong after.
    except TerangaError as exc:  # a refusal (the hold ran out meanwhile, ...)
        log.info("second step of %s refused (%s); answering the first", then.__qualname__, exc.code)
    except Exception:
        log.exception("second step of %s failed; answering the first", then.__qualname__)
    if stored is not None:
        # If even this fails, the key's lease runs out and the stored first answer stands.
        with contextlib.suppress(Exception), container.uow(tenant_id) as uow:
            store(uow, first)
    return first


def _dump(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(mode="json")


# -- public: catalogue ------------------------------------------------------------------


@router.get("/sessions", dependencies=Public, response_model=list[sc.SessionOut])
def list_on_sale(container: ContainerDep, tenant: PublicTenantDep) -> Response:
    """Sessions on sale now."""
    with container.uow(tenant) as uow:
        found = catalogue.list_sessions(uow, on_sale_at=container.clock.now())
    return _json([sc.SessionOut.model_validate(s) for s in found])


def session_detail(uow: UnitOfWork, session_id: uuid.UUID) -> sc.SessionDetailOut:
    s = catalogue.get_session(uow, session_id)
    zones = catalogue.zones_of(uow, session_id)
    cats = catalogue.categories_of(uow, session_id)
    by_zone = {z.id: z for z in zones}
    session_left = None if s.capacity is None else s.capacity - s.taken
    avail = []
    for c in cats:
        z = by_zone[c.zone_id]
        left = z.capacity - z.taken
        if c.quota is not None:
            left = min(left, c.quota - c.taken)
        if session_left is not None:
            left = min(left, session_left)
        avail.append(
            sc.AvailabilityOut(
                category_id=c.id,
                category=c.name,
                zone_id=z.id,
                zone=z.name,
                seated=z.seated,
                price_xof=c.price_xof,
                left=max(0, left),
            )
        )
    return sc.SessionDetailOut(
        session=sc.SessionOut.model_validate(s),
        zones=[sc.ZoneOut.model_validate(z) for z in zones],
        categories=[sc.CategoryOut.model_validate(c) for c in cats],
        availability=avail,
    )


@router.get("/sessions/{session_id}", dependencies=Public, response_model=sc.SessionDetailOut)
def get_session(
    session_id: uuid.UUID, container: ContainerDep, tenant: PublicTenantDep
) -> Response:
    """A session with its zones, price categories and places left."""
    with container.uow(tenant) as uow:
        return _json(session_detail(uow, session_id))


@router.get("/sessions/{session_id}/seats", dependencies=Public, response_model=list[sc.SeatOut])
def list_seats(
    session_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    zone_id: Annotated[
        uuid.UUID | None, Query(description="Only this seated zone's seats (404 if unknown)")
    ] = None,
    section: Annotated[
        str | None, Query(max_length=40, description="Only this section's seats")
    ] = None,
) -> Response:
    """The seat map of a session in seat order: each seat's place and whether it is free.

    A seat is taken while a hold or a sale has it. Filter by zone and section to keep the
    answer small on a phone.
    """
    with container.uow(tenant) as uow:
        found = seatmap.seat_states(uow, session_id, zone_id=zone_id, section=section)
    return _json([sc.SeatOut.model_validate(st) for st in found])


# -- public: buying ---------------------------------------------------------------------


@router.post(
    "/sessions/{session_id}/holds",
    dependencies=Public,
    status_code=201,
    response_model=sc.HoldOut,
)
def create_hold(
    session_id: uuid.UUID,
    body: sc.HoldIn,
    container: ContainerDep,
    tenant: PublicTenantDep,
    admission: Annotated[
        str | None,
        Header(
            alias="X-Admission-Token",
            description="Admission token from the session's waiting room, when it has one",
        ),
    ] = None,
) -> Response:
    """Hold places (a quantity, best available seats, or chosen seats) for a few minutes."""
    hold = hold_batch.create_hold(
        container,
        tenant,
        session_id=session_id,
        category_id=body.category_id,
        quantity=body.quantity,
        seat_ids=body.seat_ids,
        admission_token=admission,
    )
    return _json(sc.HoldOut.model_validate(hold), 201)


@router.get("/holds/{hold_id}", dependencies=Public, response_model=sc.HoldOut)
def get_hold(hold_id: uuid.UUID, container: ContainerDep, tenant: PublicTenantDep) -> Response:
    with container.uow(tenant) as uow:
        return _json(sc.HoldOut.model_validate(sales.get_hold(uow, hold_id)))


@router.delete("/holds/{hold_id}", dependencies=Public, response_model=sc.HoldOut)
def release_hold(hold_id: uuid.UUID, container: ContainerDep, tenant: PublicTenantDep) -> Response:
    """Give held places back before ordering."""
    with container.uow(tenant) as uow:
        return _json(sc.HoldOut.model_validate(sales.release_hold(uow, hold_id=hold_id)))


@router.post(
    "/holds/{hold_id}/order",
    dependencies=Public,
    status_code=201,
    response_model=sc.OrderCreatedOut,
)
def create_order(
    hold_id: uuid.UUID,
    body: sc.OrderIn,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    idempotency_key: IdemKey = None,
) -> Response:
    """Order the held places with the buyer's phone. Free sessions are issued at once.

    With ``payment`` the payment starts too, in the same request: one round trip fewer for
    a buyer on a slow network. The order commits first and the payment after it (a
    provider's API is never called under the hold's locks); should the payment not start,
    the order stands, ``payment`` is null and ``POST /orders/{id}/payments`` pays it.
    """
    pay = body.payment
    if pay is not None:
        from teranga.ticketing.payments import service as payments
        from teranga.ticketing.payments import wiring

        payments.check_request(
            wiring.gateway(container),
            provider=pay.provider,
            return_url=pay.return_url,
            field="payment.",
        )

    def run(uow: UnitOfWork) -> tuple[int, BaseModel]:
        res = sales.checkout(
            uow,
            hold_id=hold_id,
            phone=body.phone,
            id_number=body.id_number,
            now=container.clock.now(),
        )
        return 201, sc.OrderCreatedOut(
            order=sc.OrderOut.model_validate(res.order), access_token=res.access_token
        )

    def then(uow: UnitOfWork, first: BaseModel) -> BaseModel | None:
        if not isinstance(first, sc.OrderCreatedOut) or pay is None:
            return None
        if first.order.status != "pending":  # free: issued already
            return None
        payment = _start_payment(
            uow,
            container,
            order_id=first.order.id,
            body=pay,
            token=first.access_token,
            key="with-order",  # one such payment per order
        )
        return first.model_copy(update={"payment": payment})

    return _idempotent(
        request,
        container,
        tenant_id=tenant,
        scope="public:order",
        key=idempotency_key,
        # Without a payment the fingerprint is the one keys stored before it existed had.
        body=body.model_dump(mode="json", exclude={"payment"} if pay is None else None),
        run=run,
        then=then if pay is not None else None,
    )


@router.get("/orders/{order_id}", dependencies=Public, response_model=sc.OrderOut)
def get_order(
    order_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    x_order_token: OrderToken = None,
) -> Response:
    """The buyer's order and tickets (needs ``X-Order-Token``)."""
    if not x_order_token:
        raise NotFound("ticketing.order_not_found", "no such order")
    with container.uow(tenant) as uow:
        view = sales.get_order(uow, order_id, token=x_order_token)
    return _json(sc.OrderOut.model_validate(view))


def _start_payment(
    uow: UnitOfWork,
    container: ContainerDep,
    *,
    order_id: uuid.UUID,
    body: sc.PaymentIn,
    token: str,
    key: str,
) -> sc.PaymentOut:
    from teranga.ticketing.payments import service as payments
    from teranga.ticketing.payments import wiring

    order = sales.payable_order(uow, order_id, token=token, now=container.clock.now())
    phone = body.phone or (
        pii.unseal_phone(uow, order.phone_sealed) if order.phone_sealed else None
    )
    view = payments.start_payment(
        uow,
        wiring.gateway(container),
        order_id=order.id,
        amount_xof=order.total_xof,
        provider=body.provider,
        phone=phone,
        return_url=body.return_url
        or f"{container.settings.base_url}/billetterie/commande/{order.id}",
        idempotency_key=f"ticketing:{order.id}:{key}",
    )
    return sc.PaymentOut(
        payment_id=view.payment_id,
        order_id=view.order_id,
        provider=view.provider,
        status=view.status,
        amount_xof=view.amount_xof,
        action_kind=view.action_kind,
        redirect_url=view.redirect_url,
        instructions=view.instructions,
        qr_payload=view.qr_payload,
        expires_at=view.expires_at,
    )


@router.post(
    "/orders/{order_id}/payments",
    dependencies=Public,
    status_code=201,
    response_model=sc.PaymentOut,
)
def start_payment(
    order_id: uuid.UUID,
    body: sc.PaymentIn,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    x_order_token: OrderToken = None,
    idempotency_key: IdemKey = None,
) -> Response:
    """Pay a pending order with a provider (sandbox, wave, orange_money)."""
    if not x_order_token:
        raise NotFound("ticketing.order_not_found", "no such order")
    token = x_order_token
    key = idempotency_key or str(uuid.uuid4())

    def run(uow: UnitOfWork) -> tuple[int, BaseModel]:
        out = _start_payment(uow, container, order_id=order_id, body=body, token=token, key=key)
        return 201, out

    return _idempotent(
        request,
        container,
        tenant_id=tenant,
        scope=f"public:payment:{order_id}",
        key=idempotency_key,
        body=_dump(body),
        run=run,
    )


def held_ticket_out(uow: UnitOfWork, held: aftersale.HeldTicket) -> sc.HeldTicketOut:
    session = catalogue.get_session(uow, held.session_id)
    return sc.HeldTicketOut(
        id=held.id,
        status=held.status,
        zone=held.zone,
        category=held.category,
        seat=held.seat,
        session=sc.HeldTicketSessionOut.model_validate(session),
        ticket=sc.TicketOut.model_validate(held.ticket) if held.ticket else None,
    )


@router.get("/tickets/{ticket_id}", dependencies=Public, response_model=sc.HeldTicketOut)
def get_ticket(
    ticket_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    x_ticket_token: TicketToken = None,
) -> Response:
    """A ticket received by transfer, with its own secret (``X-Ticket-Token``).

    The code and QR (``ticket``) are there while the ticket is valid; once its holder gave
    it on (``revoked``) or it was refunded (``void``) only its place and status remain.
    """
    if not x_ticket_token:
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    with container.uow(tenant) as uow:
        held = aftersale.held_ticket(uow, ticket_id, secret=x_ticket_token)
        out = held_ticket_out(uow, held)
    return _json(out)


@router.post(
    "/tickets/{ticket_id}/transfer",
    dependencies=Public,
    status_code=201,
    response_model=sc.TransferOut,
)
def transfer(
    ticket_id: uuid.UUID,
    body: sc.TransferIn,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    x_order_token: OrderToken = None,
    x_ticket_token: TicketToken = None,
    idempotency_key: IdemKey = None,
) -> Response:
    """Give a ticket to another phone: the old code and QR are revoked, new ones issued.

    Prove ownership with ``X-Order-Token`` (tickets the buyer's phone still holds) or
    ``X-Ticket-Token`` (a ticket received by transfer). The new ticket is sent by SMS to
    the recipient only: this answer has its id and the masked phone, not its code or QR.
    """
    if not x_order_token and not x_ticket_token:
        raise NotFound("ticketing.ticket_not_found", "no such ticket")
    order_token = x_order_token or None
    ticket_token = x_ticket_token or None

    def run(uow: UnitOfWork) -> tuple[int, BaseModel]:
        res = aftersale.transfer_ticket(
            uow,
            ticket_id=ticket_id,
            to_phone=body.to_phone,
            order_token=None if ticket_token else order_token,
            ticket_token=ticket_token,
            actor_id=None,
            now=container.clock.now(),
        )
        return 201, sc.TransferOut(
            status="transferred",
            ticket_id=res.id,
            replaced_ticket_id=res.replaced_id,
            to_phone_masked=res.to_phone_masked,
        )

    return _idempotent(
        request,
        container,
        tenant_id=tenant,
        scope="public:transfer",
        key=idempotency_key,
        body=_dump(body),
        run=run,
    )


# -- public: scanners -----------------------------------------------------------------


@router.get("/keys", dependencies=Public, response_model=sc.KeysOut)
def keys(container: ContainerDep, tenant: PublicTenantDep) -> Response:
    """Public Ed25519 keys that sign tickets (payload layout: teranga.ticketing.domain)."""
    with container.uow(tenant) as uow:
        found = catalogue.public_keys(uow)
    return _json(
        sc.KeysOut(
            payload_version=PAYLOAD_VERSION,
            keys=[sc.PublicKeyOut.model_validate(k) for k in found],
        )
    )


@router.get("/revocations", dependencies=Public, response_model=sc.RevocationsOut)
def revocations(
    container: ContainerDep,
    tenant: PublicTenantDep,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601, exclusive")] = None,
) -> Response:
    """Tickets revoked (transferred) or voided (refunded) since a moment."""
    if since is not None and since.tzinfo is None:
        raise ValidationFailed("since", "give a timezone (e.g. 2026-10-31T09:00:00Z)")
    with container.uow(tenant) as uow:
        found = aftersale.revocations(uow, since=since)
    return _json(
        sc.RevocationsOut(
            until=found[-1].revoked_at if found else since,
            revocations=[sc.RevocationOut.model_validate(r) for r in found],
        )
    )


# -- organiser ------------------------------------------------------------------------

EventWrite = Annotated[Principal, Depends(require("ticketing.event.write"))]
EventRead = Annotated[Principal, Depends(require("ticketing.event.read"))]
OrderRead = Annotated[Principal, Depends(require("ticketing.order.read"))]
OrderRefund = Annotated[Principal, Depends(require("ticketing.order.refund"))]
SessionCancel = Annotated[Principal, Depends(require("ticketing.session.cancel"))]
ReportRead = Annotated[Principal, Depends(require("ticketing.report.read"))]
BoxSell = Annotated[Principal, Depends(require("ticketing.boxoffice.sell"))]
BoxLookup = Annotated[Principal, Depends(require("ticketing.boxoffice.lookup"))]
BoxReprint = Annotated[Principal, Depends(require("ticketing.boxoffice.reprint"))]


@router.post("/events", status_code=201, response_model=sc.EventOut)
def create_event(body: sc.EventIn, p: EventWrite, container: ContainerDep) -> Response:
    """Create an event; its ticket-signing key is created in the same transaction."""
    with container.uow(p.tenant_id) as uow:
        ev = catalogue.create_event(
            uow,
            name=body.name,
            description=body.description,
            programme_event_id=body.programme_event_id,
        )
    return _json(sc.EventOut.model_validate(ev), 201)


@router.get("/events", response_model=list[sc.EventOut])
def list_events(p: EventRead, container: ContainerDep) -> Response:
    with container.uow(p.tenant_id) as uow:
        return _json([sc.EventOut.model_validate(e) for e in catalogue.list_events(uow)])


@router.post("/events/{event_id}/sessions", status_code=201, response_model=sc.SessionOut)
def create_session(
    event_id: uuid.UUID, body: sc.SessionIn, p: EventWrite, container: ContainerDep
) -> Response:
    for name in ("starts_at", "ends_at", "sale_starts_at", "sale_ends_at"):
        value = getattr(body, name)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(name, "give a timezone (e.g. 2026-10-31T18:00:00Z)")
    with container.uow(p.tenant_id) as uow:
        s = catalogue.create_session(uow, event_id=event_id, **body.model_dump())
    return _json(sc.SessionOut.model_validate(s), 201)


@router.get("/admin/sessions", response_model=list[sc.SessionOut])
def admin_sessions(p: EventRead, container: ContainerDep) -> Response:
    with container.uow(p.tenant_id) as uow:
        return _json([sc.SessionOut.model_validate(s) for s in catalogue.list_sessions(uow)])


@router.post("/sessions/{session_id}/zones", status_code=201, response_model=sc.ZoneOut)
def add_zone(
    session_id: uuid.UUID, body: sc.ZoneIn, p: EventWrite, container: ContainerDep
) -> Response:
    """A general-admission zone (capacity) or a seated one (seat grids)."""
    seats = None
    if body.seat_grids is not None:
        seats = [
            seat
            for g in body.seat_grids
            for seat in catalogue.seat_grid(
                g.section, g.rows, g.per_row, accessible_rows=tuple(g.accessible_rows)
            )
        ]
        if len(seats) > 100_000:
            raise ValidationFailed("seat_grids", "at most 100000 seats per zone")
    with container.uow(p.tenant_id) as uow:
        z = catalogue.add_zone(
            uow, session_id=session_id, name=body.name, capacity=body.capacity, seats=seats
        )
    return _json(sc.ZoneOut.model_validate(z), 201)


@router.post("/sessions/{session_id}/categories", status_code=201, response_model=sc.CategoryOut)
def add_category(
    session_id: uuid.UUID, body: sc.CategoryIn, p: EventWrite, container: ContainerDep
) -> Response:
    with container.uow(p.tenant_id) as uow:
        c = catalogue.add_category(
            uow,
            session_id=session_id,
            zone_id=body.zone_id,
            name=body.name,
            price_xof=body.price_xof,
            quota=body.quota,
        )
    return _json(sc.CategoryOut.model_validate(c), 201)


@router.put("/sessions/{session_id}/quotas/{channel}", status_code=204)
def set_quota(
    session_id: uuid.UUID, channel: str, body: sc.QuotaIn, p: EventWrite, container: ContainerDep
) -> Response:
    """Places reserved to a channel: online, box_office or agent."""
    with container.uow(p.tenant_id) as uow:
        catalogue.set_channel_quota(uow, session_id=session_id, channel=channel, quota=body.quota)
    return Response(status_code=204)


def _refund_money(
    uow: UnitOfWork, container: ContainerDep, due: aftersale.RefundDue, reason: str, key: str
) -> sc.RefundOut:
    if due.amount_xof == 0:
        return sc.RefundOut(order_id=due.order_id, amount_xof=0, money="none")
    if due.payment_id is None:
        return sc.RefundOut(order_id=due.order_id, amount_xof=due.amount_xof, money="cash")
    from teranga.ticketing.payments import service as payments
    from teranga.ticketing.payments import wiring

    refund = payments.refund(
        uow,
        wiring.gateway(container),
        payment_id=due.payment_id,
        amount_xof=due.amount_xof,
        reason=reason[:64],
        idempotency_key=key,
    )
    return sc.RefundOut(
        order_id=due.order_id,
        amount_xof=due.amount_xof,
        money="provider",
        payment_refund_status=refund.status,
    )


@router.post("/orders/{order_id}/refunds", status_code=201, response_model=sc.RefundOut)
def refund_order(
    order_id: uuid.UUID,
    body: sc.RefundIn,
    request: Request,
    p: OrderRefund,
    container: ContainerDep,
    idempotency_key: IdemKey = None,
) -> Response:
    """Refund an order, whole or some places; the money goes back to the wallet."""
    key = idempotency_key or str(uuid.uuid4())

    def run(uow: UnitOfWork) -> tuple[int, BaseModel]:
        due = aftersale.refund_order(
            uow,
            order_id=order_id,
            line_ids=body.line_ids,
            reason=body.reason,
            actor_id=p.user_id,
            now=container.clock.now(),
        )
        return 201, _refund_money(uow, container, due, body.reason, f"ticketing:{key}")

    return _idempotent(
        request,
        container,
        tenant_id=p.tenant_id,
        scope=f"staff:refund:{order_id}",
        key=idempotency_key,
        body=_dump(body),
        run=run,
    )


@router.post("/orders/{order_id}/cancel", response_model=sc.OrderOut)
def cancel_order(order_id: uuid.UUID, p: OrderRefund, container: ContainerDep) -> Response:
    """Cancel an unpaid order (its places go back on sale)."""
    with container.uow(p.tenant_id) as uow:
        view = aftersale.cancel_order(
            uow, order_id=order_id, actor_id=p.user_id, now=container.clock.now()
        )
    return _json(sc.OrderOut.model_validate(view))


@router.post("/sessions/{session_id}/cancel", response_model=sc.SessionCancelOut)
def cancel_session(session_id: uuid.UUID, p: SessionCancel, container: ContainerDep) -> Response:
    """Cancel a session: sales stop, every paid order is refunded."""
    with container.uow(p.tenant_id) as uow:
        catalogue.get_session(uow, session_id)
        dues = aftersale.cancel_session(
            uow, session_id=session_id, actor_id=p.user_id, now=container.clock.now()
        )
        refunds = [
            _refund_money(uow, container, d, "session cancelled", f"ticketing:cancel:{d.order_id}")
            for d in dues
        ]
    return _json(sc.SessionCancelOut(session_id=session_id, refunds=refunds))


@router.get("/admin/orders/{order_id}", response_model=sc.OrderOut)
def admin_order(order_id: uuid.UUID, p: OrderRead, container: ContainerDep) -> Response:
    with container.uow(p.tenant_id) as uow:
        return _json(sc.OrderOut.model_validate(sales.get_order(uow, order_id)))


@router.get("/dashboard", response_model=list[sc.SessionStatsOut])
def dashboard(
    p: ReportRead,
    container: ContainerDep,
    session_id: uuid.UUID | None = None,
) -> Response:
    """Sold, held and left per session and category, and revenue (XOF)."""
    with container.uow(p.tenant_id) as uow:
        stats = reports.dashboard(uow, session_id=session_id)
    return _json([sc.SessionStatsOut.model_validate(s) for s in stats])


@router.get("/dashboard.csv", response_class=Response)
def dashboard_csv(p: ReportRead, container: ContainerDep) -> Response:
    with container.uow(p.tenant_id) as uow:
        text = reports.dashboard_csv(reports.dashboard(uow))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ventes.csv"'},
    )


# -- box office -------------------------------------------------------------------------


@router.post("/boxoffice/sales", status_code=201, response_model=sc.OrderCreatedOut)
def box_office_sale(
    body: sc.BoxOfficeSaleIn,
    request: Request,
    p: BoxSell,
    container: ContainerDep,
    idempotency_key: IdemKey = None,
) -> Response:
    """Sell at the counter for cash; the tickets are issued at once."""

    def run(uow: UnitOfWork) -> tuple[int, BaseModel]:
        res = sales.box_office_sale(
            uow,
            session_id=body.session_id,
            category_id=body.category_id,
            quantity=body.quantity,
            seat_ids=body.seat_ids,
            phone=body.phone,
            actor_id=p.user_id,
            now=container.clock.now(),
        )
        return 201, sc.OrderCreatedOut(
            order=sc.OrderOut.model_validate(res.order), access_token=res.access_token
        )

    return _idempotent(
        request,
        container,
        tenant_id=p.tenant_id,
        scope=f"staff:boxoffice:{p.user_id}",
        key=idempotency_key,
        body=_dump(body),
        run=run,
    )


@router.get("/boxoffice/codes/{code}", response_model=sc.CodeCheckOut)
def check_code(code: str, p: BoxLookup, container: ContainerDep) -> Response:
    """Check a short code online (valid, revoked, void or unknown)."""
    with container.uow(p.tenant_id) as uow:
        res = aftersale.check_code(uow, code)
    return _json(
        sc.CodeCheckOut(
            valid=res.valid,
            reason=res.reason,
            ticket=sc.TicketOut.model_validate(res.ticket) if res.ticket else None,
        )
    )


@router.post("/boxoffice/lookup", response_model=list[sc.OrderOut])
def lookup_by_phone(body: sc.PhoneLookupIn, p: BoxLookup, container: ContainerDep) -> Response:
    """Orders bought by, or tickets held by, a phone number (for reprint).

    A POST so the phone number never appears in a URL or an access log.
    """
    with container.uow(p.tenant_id) as uow:
        found = aftersale.orders_by_phone(uow, body.phone)
    return _json([sc.OrderOut.model_validate(o) for o in found])


def setup(app: FastAPI, container: Container) -> None:
    """Mount the spectator pages and the payments package's routes (callbacks, sandbox)."""
    from teranga.ticketing import notify, pages, payments, waiting_room_web

    notify.install(container)
    payments.include(app)
    app.include_router(pages.router)
    app.include_router(waiting_room_web.router)


@router.get(
    "/boxoffice/orders/{order_id}/tickets.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def reprint(order_id: uuid.UUID, p: BoxReprint, container: ContainerDep) -> Response:
    """Reprint the tickets the buyer still holds (A6 PDF, one page per ticket) at the
    counter: a ticket given to another phone is its new holder's, not reprinted here."""
    from teranga.ticketing.pages import pdf_response

    with container.uow(p.tenant_id) as uow:
        order = sales.get_order(uow, order_id, buyer_view=True)
        if not order.tickets:
            raise Conflict(
                "ticketing.nothing_to_print", "the buyer holds no valid ticket of this order"
            )
        session = catalogue.get_session(uow, order.session_id)
        audit.record(
            uow,
            action="ticketing.order.reprinted",
            actor_id=p.user_id,
            target_type="order",
            target_id=str(order_id),
            details={"tickets": len(order.tickets)},
        )
    return pdf_response(order, session)

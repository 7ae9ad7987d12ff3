"""Spectator pages (French first, phone-first, light): sessions on sale -> places -> hold
with a visible countdown -> phone and payment -> tickets with QR code, offline once loaded.

Pages call the same services as the JSON API. The order's bearer secret travels in an
HttpOnly cookie scoped to ``/billetterie``, never in a URL. A transfer recipient's secret
arrives in the SMS link (``/billetterie/b/<secret>``, or ``?k=`` on the ticket page): the
page moves it into such a cookie at once and redirects to the ticket's plain address.
"""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

import segno
from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from teranga.container import Container
from teranga.identity.api import CsrfToken, csrf_protect, public
from teranga.platform.errors import NotFound, TerangaError, ValidationFailed
from teranga.platform.sms import LogSmsSender
from teranga.ticketing import aftersale, hold_batch, notify, pii, sales, seatmap
from teranga.ticketing import service as catalogue
from teranga.ticketing import waiting_room_pages as rooms
from teranga.ticketing.domain import HoldStatus
from teranga.transport import api as transport
from teranga.web.deps import ContainerDep, PublicTenantDep
from teranga.web.templating import render

router = APIRouter(include_in_schema=False)
Public = [Depends(public)]
PublicForm = [Depends(public), Depends(csrf_protect)]
COOKIE = "tk_order_"
TICKET_COOKIE = "tk_ticket_"
COOKIE_AGE = 180 * 24 * 3600
MAX_SEATS = 100  # seats in one hold request (the session's per-order limit is lower)


def _cookie(order_id: uuid.UUID) -> str:
    return f"{COOKIE}{order_id.hex}"


def qr_svg(text: str) -> str:
    """Inline SVG of the ticket QR (error level L keeps it at version 6: 41x41 modules)."""
    qr = segno.make_qr(text, error="l", boost_error=False)
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True, omitsize=True)
    return buf.getvalue().decode()


@router.get("/billetterie", dependencies=Public)
def sessions_page(request: Request, container: ContainerDep, tenant: PublicTenantDep) -> Response:
    now = container.clock.now()
    with container.uow(tenant) as uow:
        # Coming sessions first (soonest first), then those already over.
        found = sorted(
            catalogue.list_sessions(uow, on_sale_at=now),
            key=lambda s: (s.ends_at <= now, s.starts_at),
        )
        prices = {
            s.id: sorted({c.price_xof for c in catalogue.categories_of(uow, s.id)}) for s in found
        }
    return render(request, "ticketing/sessions.html", {"sessions": found, "prices": prices})


@router.get("/billetterie/seance/{session_id}", dependencies=Public)
def session_page(
    session_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    csrf: CsrfToken,
    error: str | None = None,
    plan: Annotated[uuid.UUID | None, Query(description="Category whose seat map is open")] = None,
    bloc: Annotated[int, Query(ge=0, le=100_000)] = 0,
    seat: Annotated[list[uuid.UUID] | None, Query(max_length=MAX_SEATS)] = None,
) -> Response:
    from teranga.ticketing.web import session_detail

    seat_map = None
    with container.uow(tenant) as uow:
        detail = session_detail(uow, session_id)
    # A sale behind a waiting room shows the queue until the buyer's turn has come.
    must_queue = rooms.room_enabled(container, tenant, session_id) and not request.cookies.get(
        rooms.admission_cookie(session_id)
    )
    shown = next((a for a in detail.availability if a.category_id == plan), None)
    if shown is not None and shown.seated and not must_queue:
        with container.uow(tenant) as uow:
            seat_map = seatmap.seat_map(uow, session_id, shown.zone_id, block=bloc, chosen=seat)
    return render(
        request,
        "ticketing/session.html",
        {
            "d": detail,
            "csrf_token": csrf,
            "error": error,
            "must_queue": must_queue,
            "plan": plan if seat_map is not None else None,
            "seat_map": seat_map,
        },
    )


@router.post("/billetterie/seance/{session_id}/reserver", dependencies=PublicForm)
def hold_form(
    session_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    category_id: Annotated[uuid.UUID, Form()],
    quantity: Annotated[int | None, Form(ge=1, le=100)] = None,
    seat_id: Annotated[list[uuid.UUID] | None, Form(max_length=MAX_SEATS)] = None,
    bloc: Annotated[int, Form(ge=0, le=100_000)] = 0,
) -> Response:
    """Hold a quantity (best available) or, from the seat map, exactly the chosen seats."""
    try:
        hold = hold_batch.create_hold(
            container,
            tenant,
            session_id=session_id,
            category_id=category_id,
            quantity=None if seat_id else quantity,
            seat_ids=seat_id or None,
            admission_token=request.cookies.get(rooms.admission_cookie(session_id)),
        )
    except TerangaError as exc:
        page = f"/billetterie/seance/{session_id}"
        if not seat_id:
            return RedirectResponse(f"{page}?error={exc.code}", status_code=303)
        # Back to the refreshed map, the buyer's other seats still selected.
        query = [("error", exc.code), ("plan", str(category_id)), ("bloc", str(bloc))]
        query += [("seat", str(s)) for s in seat_id]
        return RedirectResponse(f"{page}?{urlencode(query)}#plan", status_code=303)
    return RedirectResponse(f"/billetterie/panier/{hold.id}", status_code=303)


@router.get("/billetterie/panier/{hold_id}", dependencies=Public)
def hold_page(
    hold_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    csrf: CsrfToken,
    error: str | None = None,
) -> Response:
    now = container.clock.now()
    with container.uow(tenant) as uow:
        hold = sales.get_hold(uow, hold_id)
        session = catalogue.get_session(uow, hold.session_id)
    live = hold.status == HoldStatus.ACTIVE.value and now < hold.expires_at
    return render(
        request,
        "ticketing/hold.html",
        {
            "hold": hold,
            "session": session,
            "live": live,
            "seconds_left": max(0, int((hold.expires_at - now).total_seconds())),
            "csrf_token": csrf,
            "error": error,
        },
    )


@router.post("/billetterie/panier/{hold_id}/commander", dependencies=PublicForm)
def order_form(
    hold_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    phone: Annotated[str, Form(max_length=32)],
    provider: Annotated[str, Form(max_length=40)] = "sandbox",
) -> Response:
    try:
        with container.uow(tenant) as uow:
            res = sales.checkout(uow, hold_id=hold_id, phone=phone, now=container.clock.now())
    except TerangaError as exc:
        return RedirectResponse(f"/billetterie/panier/{hold_id}?error={exc.code}", status_code=303)
    # The order stands from here: whatever the payment does, the buyer gets its cookie and
    # lands on a page of the order (the provider's, or ours with a way to pay again).
    target = f"/billetterie/commande/{res.order.id}"
    if res.order.status == "pending":
        target = _pay(container, tenant, res.order.id, res.access_token, provider, phone)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        _cookie(res.order.id),
        res.access_token,
        max_age=COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies,
        path="/billetterie",
    )
    return response


@router.post("/billetterie/commande/{order_id}/payer", dependencies=PublicForm)
def pay_form(
    order_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    provider: Annotated[str, Form(max_length=40)] = "sandbox",
) -> Response:
    """Pay a pending order again (a failed or abandoned attempt) while its hold runs."""
    token = request.cookies.get(_cookie(order_id))
    if not token:
        raise NotFound("ticketing.order_not_found", "no such order on this phone")
    return RedirectResponse(
        _pay(container, tenant, order_id, token, provider, None), status_code=303
    )


def _pay(
    container: Container,
    tenant: uuid.UUID,
    order_id: uuid.UUID,
    token: str,
    provider: str,
    phone: str | None,
) -> str:
    """Start a payment; where to send the buyer: the provider's page, or the order's page
    (with the refusal's code when the payment could not start)."""
    from teranga.ticketing import schemas as sc
    from teranga.ticketing.web import _start_payment

    order_page = f"/billetterie/commande/{order_id}"
    try:
        with container.uow(tenant) as uow:
            pay = _start_payment(
                uow,
                container,
                order_id=order_id,
                body=sc.PaymentIn(provider=provider, phone=phone, return_url=order_page),
                token=token,
                key=uuid.uuid4().hex,
            )
    except TerangaError as exc:
        if exc.code in ("ticketing.order_not_pending", "ticketing.hold_expired"):
            return order_page  # paid meanwhile (a second tap), or too late: the page says so
        return f"{order_page}?error={exc.code}"
    except ValidationError:  # a tampered form (an empty provider)
        return f"{order_page}?error=validation_failed"
    if pay.status == "failed":
        return f"{order_page}?error=ticketing.payment_failed"
    return _same_site(pay.redirect_url, container.settings.base_url) or order_page


def _same_site(url: str | None, base_url: str) -> str | None:
    """Our own pages (the sandbox) by path, so the flow works whatever host serves it."""
    if url and url.startswith(base_url.rstrip("/") + "/"):
        return url[len(base_url.rstrip("/")) :]
    return url


def _order_for(
    request: Request, container: ContainerDep, tenant: uuid.UUID, order_id: uuid.UUID
) -> sales.OrderView:
    token = request.cookies.get(_cookie(order_id))
    if not token:
        raise NotFound("ticketing.order_not_found", "no such order on this phone")
    with container.uow(tenant) as uow:
        return sales.get_order(uow, order_id, token=token)


@router.get("/billetterie/commande/{order_id}", dependencies=Public)
def order_page(
    order_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    csrf: CsrfToken,
    error: str | None = None,
    transferred: bool = False,
) -> Response:
    order = _order_for(request, container, tenant, order_id)
    with container.uow(tenant) as uow:
        session = catalogue.get_session(uow, order.session_id)
    # Pending: waiting for the provider (the page refreshes), or, after a failed attempt,
    # a form to pay again while the places are held.
    hold_live = container.clock.now() < order.hold_expires_at
    payable = (
        order.status == "pending"
        and hold_live
        and (order.payment_status == "failed" or error is not None)
    )
    qrs = {t.id: qr_svg(t.qr) for t in order.tickets}
    journey = (
        transport.journey_url(session.venue_id, session.starts_at) if session.venue_id else None
    )
    return render(
        request,
        "ticketing/order.html",
        {
            "order": order,
            "session": session,
            "qrs": qrs,
            "journey": journey,
            "csrf_token": csrf,
            "error": error,
            "hold_live": hold_live,
            "payable": payable,
            "transferred": transferred,
            "sms_sandbox": _sms_sandbox(container),
        },
        headers={"Cache-Control": "private, no-cache"},
    )


@router.post(
    "/billetterie/commande/{order_id}/billets/{ticket_id}/transferer", dependencies=PublicForm
)
def transfer_form(
    order_id: uuid.UUID,
    ticket_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    to_phone: Annotated[str, Form(max_length=32)],
) -> Response:
    """Give one ticket of the order to another phone; the order's cookie proves ownership."""
    token = request.cookies.get(_cookie(order_id))
    if not token:
        raise NotFound("ticketing.order_not_found", "no such order on this phone")
    return _transfer(
        container,
        tenant,
        f"/billetterie/commande/{order_id}",
        ticket_id=ticket_id,
        to_phone=to_phone,
        order_token=token,
    )


def _transfer(
    container: Container, tenant: uuid.UUID, page: str, **kwargs: Any
) -> RedirectResponse:
    """Transfer from a public form; back to ``page`` with the outcome (or the refusal's code)."""
    try:
        with container.uow(tenant) as uow:
            aftersale.transfer_ticket(uow, actor_id=None, now=container.clock.now(), **kwargs)
    except TerangaError as exc:
        return RedirectResponse(f"{page}?error={exc.code}", status_code=303)
    return RedirectResponse(f"{page}?transferred=1", status_code=303)


def _ticket_cookie(ticket_id: uuid.UUID) -> str:
    return f"{TICKET_COOKIE}{ticket_id.hex}"


def _to_ticket_page(container: ContainerDep, ticket_id: uuid.UUID, secret: str) -> Response:
    response = RedirectResponse(f"/billetterie/billet/{ticket_id}", status_code=303)
    response.set_cookie(
        _ticket_cookie(ticket_id),
        secret,
        max_age=COOKIE_AGE,
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies,
        path="/billetterie",
    )
    return response


@router.get("/billetterie/b/{secret}", dependencies=Public)
def ticket_link(secret: str, container: ContainerDep, tenant: PublicTenantDep) -> Response:
    """The short link of the recipient's SMS: keep the secret in a cookie, show the ticket."""
    with container.uow(tenant) as uow:
        ticket_id = aftersale.ticket_for_secret(uow, secret)
    return _to_ticket_page(container, ticket_id, secret)


@router.get("/billetterie/billet/{ticket_id}", dependencies=Public)
def ticket_page(
    ticket_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    csrf: CsrfToken,
    k: Annotated[str | None, Query(max_length=64)] = None,
    error: str | None = None,
    transferred: bool = False,
) -> Response:
    """One ticket received by transfer: QR, code, session, place, and a form to give it on."""
    secret = k or request.cookies.get(_ticket_cookie(ticket_id))
    if not secret:
        raise NotFound("ticketing.ticket_not_found", "no such ticket on this phone")
    with container.uow(tenant) as uow:
        held = aftersale.held_ticket(uow, ticket_id, secret=secret)
        session = catalogue.get_session(uow, held.session_id)
    if k:
        return _to_ticket_page(container, ticket_id, k)
    journey = (
        transport.journey_url(session.venue_id, session.starts_at) if session.venue_id else None
    )
    return render(
        request,
        "ticketing/ticket.html",
        {
            "held": held,
            "t": held.ticket,
            "qr": qr_svg(held.ticket.qr) if held.ticket else None,
            "session": session,
            "journey": journey,
            "csrf_token": csrf,
            "error": error,
            "transferred": transferred,
            "sms_sandbox": _sms_sandbox(container),
        },
        headers={"Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer"},
    )


@router.post("/billetterie/billet/{ticket_id}/transferer", dependencies=PublicForm)
def ticket_transfer_form(
    ticket_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    tenant: PublicTenantDep,
    to_phone: Annotated[str, Form(max_length=32)],
) -> Response:
    """Give a received ticket on; the ticket's own cookie proves ownership."""
    secret = request.cookies.get(_ticket_cookie(ticket_id))
    if not secret:
        raise NotFound("ticketing.ticket_not_found", "no such ticket on this phone")
    return _transfer(
        container,
        tenant,
        f"/billetterie/billet/{ticket_id}",
        ticket_id=ticket_id,
        to_phone=to_phone,
        order_token=None,
        ticket_token=secret,
    )


@router.get("/billetterie/commande/{order_id}/billets.pdf", dependencies=Public)
def order_pdf(
    order_id: uuid.UUID, request: Request, container: ContainerDep, tenant: PublicTenantDep
) -> Response:
    order = _order_for(request, container, tenant, order_id)
    with container.uow(tenant) as uow:
        session = catalogue.get_session(uow, order.session_id)
    return pdf_response(order, session)


def pdf_response(order: sales.OrderView, session: catalogue.SessionView) -> Response:
    return Response(
        tickets_pdf(order, session),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="billets-{order.reference}.pdf"'},
    )


def tickets_pdf(order: sales.OrderView, session: catalogue.SessionView) -> bytes:
    """One A6 page per valid ticket: session, place, QR code and short code."""
    from fpdf import FPDF

    pdf = FPDF(format=(105, 148))  # A6, in millimetres
    pdf.set_auto_page_break(auto=False)
    for t in order.tickets:
        pdf.add_page()
        pdf.set_font("helvetica", "B", 12)
        pdf.multi_cell(0, 6, _latin1(session.name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 9)
        when = session.starts_at.strftime("%d/%m/%Y %H:%M UTC")
        pdf.multi_cell(
            0, 5, _latin1(f"{when} - {session.venue_name}"), new_x="LMARGIN", new_y="NEXT"
        )
        pdf.multi_cell(
            0, 5, _latin1(f"{t.category} - {t.seat or t.zone}"), new_x="LMARGIN", new_y="NEXT"
        )
        img = io.BytesIO()
        segno.make_qr(t.qr, error="l", boost_error=False).save(img, kind="png", scale=6, border=2)
        img.seek(0)
        pdf.image(img, x=22, y=pdf.get_y() + 2, w=60)
        pdf.set_y(pdf.get_y() + 66)
        pdf.set_font("courier", "B", 16)
        pdf.cell(0, 8, t.code, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 7)
        pdf.cell(0, 4, _latin1(f"Commande {order.reference}"), align="C")
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    # The core PDF fonts are Latin-1: keep accents, replace what they cannot draw.
    return text.replace("·", "-").replace("—", "-").encode("latin-1", "replace").decode("latin-1")


SERVICE_WORKER = """
const CACHE = "billets-v1";
self.addEventListener("install", (e) => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  const mine = url.pathname.startsWith("/billetterie/commande/") ||
    url.pathname.startsWith("/billetterie/billet/");
  if (e.request.method !== "GET" || !mine) return;
  e.respondWith(
    fetch(e.request)
      .then((r) => {
        if (r.ok) {
          const copy = r.clone();
          caches.open(CACHE).then((c) => c.put(e.request, copy));
        }
        return r;
      })
      .catch(() => caches.match(e.request))
  );
});
"""


@router.get("/billetterie/sw.js", dependencies=Public)
def service_worker() -> Response:
    """Keeps each order or ticket page the phone has opened available offline (network
    first)."""
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/billetterie/"},
    )


router.include_router(rooms.router)


def _sms_sandbox(container: Container) -> bool:
    """True where SMS stay in this process (demo, dev): pages then link to the inbox."""
    return container.settings.env != "prod" and isinstance(
        container.extras.get(notify.SENDER_KEY), LogSmsSender
    )


@router.get("/bac-a-sable/sms", dependencies=[Depends(public)])
def sandbox_sms(
    request: Request,
    container: ContainerDep,
    tel: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Demo and development only (the ``log`` SMS backend, never in prod): the messages
    this process would have sent to a phone number, so a transfer can be followed end to
    end without a gateway. The texts carry ticket links: never enabled in production."""
    sender = container.extras.get(notify.SENDER_KEY)
    if not _sms_sandbox(container) or not isinstance(sender, LogSmsSender):
        raise NotFound("not_found", "no such page")
    messages: list[Any] = []
    error = False
    if tel:
        try:
            phone = pii.normalise_phone(tel)
        except ValidationFailed:
            error = True
        else:
            messages = [m for m in reversed(sender.sent) if m.to == phone]
    return render(
        request,
        "ticketing/sms_inbox.html",
        {"tel": tel, "messages": messages, "error": error},
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )

"""Ticketing's contributions to the tenant-isolation walk (tests/isolation.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from teranga.container import Container
from teranga.ticketing import sales
from teranga.ticketing import service as catalogue
from tests.isolation import EXEMPT, factory

P = "/api/v1/ticketing"
EXEMPT["/api/v1/payments/{provider}/callback"] = (
    "a payment provider code (public, signature-checked callback), not a tenant object"
)


@dataclass(frozen=True)
class _World:
    event: str
    session: str
    hold: str
    order: str
    ticket: str
    code: str


_WORLDS: dict[tuple[int, uuid.UUID], _World] = {}


def _world(container: Container, tenant_id: uuid.UUID) -> _World:
    """One event, session, free order and ticket in the tenant (made once per tenant)."""
    found = _WORLDS.get((id(container), tenant_id))
    if found is not None:
        return found
    now = dt.datetime.now(dt.UTC)
    with container.uow(tenant_id) as uow:
        ev = catalogue.create_event(uow, name="Iso")
        s = catalogue.create_session(
            uow,
            event_id=ev.id,
            name="Iso",
            starts_at=now + dt.timedelta(days=1),
            ends_at=now + dt.timedelta(days=1, hours=2),
            sale_starts_at=now - dt.timedelta(days=1),
        )
        z = catalogue.add_zone(uow, session_id=s.id, name="Iso", capacity=10)
        c = catalogue.add_category(uow, session_id=s.id, zone_id=z.id, name="Iso", price_xof=0)
        hold = sales.create_hold(uow, session_id=s.id, category_id=c.id, quantity=1, now=now)
        spare = sales.create_hold(uow, session_id=s.id, category_id=c.id, quantity=1, now=now)
        order = sales.checkout(uow, hold_id=hold.id, phone="770000000", now=now).order
    world = _World(
        str(ev.id),
        str(s.id),
        str(spare.id),
        str(order.id),
        str(order.tickets[0].id),
        order.tickets[0].code,
    )
    _WORLDS[(id(container), tenant_id)] = world
    return world


def _for(param: str, attr: str, paths: list[str]) -> None:
    for path in paths:
        factory(param, path=f"{P}{path}")(lambda c, t, a=attr: getattr(_world(c, t), a))


_for(
    "session_id",
    "session",
    [
        "/sessions/{session_id}",
        "/sessions/{session_id}/cancel",
        "/sessions/{session_id}/categories",
        "/sessions/{session_id}/holds",
        "/sessions/{session_id}/queue",
        "/sessions/{session_id}/waiting-room",
        "/sessions/{session_id}/quotas/{channel}",
        "/sessions/{session_id}/seats",
        "/sessions/{session_id}/zones",
    ],
)
_for("event_id", "event", ["/events/{event_id}/sessions"])
_for("hold_id", "hold", ["/holds/{hold_id}", "/holds/{hold_id}/order"])
_for(
    "order_id",
    "order",
    [
        "/admin/orders/{order_id}",
        "/orders/{order_id}",
        "/orders/{order_id}/cancel",
        "/orders/{order_id}/payments",
        "/orders/{order_id}/refunds",
        "/boxoffice/orders/{order_id}/tickets.pdf",
    ],
)
_for("ticket_id", "ticket", ["/tickets/{ticket_id}", "/tickets/{ticket_id}/transfer"])
_for("code", "code", ["/boxoffice/codes/{code}"])
factory("channel", path=f"{P}/sessions/{{session_id}}/quotas/{{channel}}")(lambda c, t: "online")

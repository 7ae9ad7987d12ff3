"""Organiser dashboard: sold and left per session and category, revenue; CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from teranga.platform.uow import UnitOfWork
from teranga.ticketing.domain import LineStatus
from teranga.ticketing.models import OrderLine, PriceCategory, TicketSession, Zone


@dataclass(frozen=True)
class CategoryStats:
    category_id: uuid.UUID
    category: str
    zone: str
    price_xof: int
    sold: int
    held: int
    left: int  # places still sellable in this category (zone, quota and session bound)
    revenue_xof: int


@dataclass(frozen=True)
class SessionStats:
    session_id: uuid.UUID
    name: str
    status: str
    capacity: int
    sold: int
    held: int
    left: int
    revenue_xof: int
    categories: list[CategoryStats]


def dashboard(uow: UnitOfWork, *, session_id: uuid.UUID | None = None) -> list[SessionStats]:
    tenant = uow.require_tenant()
    q = sa.select(TicketSession).where(TicketSession.tenant_id == tenant)
    if session_id is not None:
        q = q.where(TicketSession.id == session_id)
    sessions = list(uow.session.scalars(q.order_by(TicketSession.starts_at)))
    ids = [s.id for s in sessions]
    if not ids:
        return []
    counts: dict[tuple[uuid.UUID, str], tuple[int, int]] = {}
    for cat_id, status, n, money in uow.session.execute(
        sa.select(
            OrderLine.category_id,
            OrderLine.status,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(OrderLine.price_xof), 0),
        )
        .where(
            OrderLine.session_id.in_(ids),
            OrderLine.status.in_([LineStatus.HELD.value, LineStatus.SOLD.value]),
        )
        .group_by(OrderLine.category_id, OrderLine.status)
    ):
        counts[(cat_id, status)] = (int(n), int(money))
    zones = {z.id: z for z in uow.session.scalars(sa.select(Zone).where(Zone.session_id.in_(ids)))}
    cats = list(
        uow.session.scalars(
            sa.select(PriceCategory)
            .where(PriceCategory.session_id.in_(ids))
            .order_by(PriceCategory.number)
        )
    )
    out = []
    for s in sessions:
        zone_cap = sum(z.capacity for z in zones.values() if z.session_id == s.id)
        capacity = min(zone_cap, s.capacity) if s.capacity is not None else zone_cap
        session_left = capacity - s.taken
        stats = []
        for c in (c for c in cats if c.session_id == s.id):
            zone = zones[c.zone_id]
            sold, revenue = counts.get((c.id, LineStatus.SOLD.value), (0, 0))
            held, _ = counts.get((c.id, LineStatus.HELD.value), (0, 0))
            left = zone.capacity - zone.taken
            if c.quota is not None:
                left = min(left, c.quota - c.taken)
            stats.append(
                CategoryStats(
                    c.id,
                    c.name,
                    zone.name,
                    c.price_xof,
                    sold,
                    held,
                    max(0, min(left, session_left)),
                    revenue,
                )
            )
        out.append(
            SessionStats(
                s.id,
                s.name,
                s.status,
                capacity,
                sum(x.sold for x in stats),
                sum(x.held for x in stats),
                max(0, session_left),
                sum(x.revenue_xof for x in stats),
                stats,
            )
        )
    return out


def dashboard_csv(stats: list[SessionStats]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "session_id",
            "session",
            "status",
            "category",
            "zone",
            "price_xof",
            "sold",
            "held",
            "left",
            "revenue_xof",
        ]
    )
    for s in stats:
        for c in s.categories:
            w.writerow(
                [
                    s.session_id,
                    s.name,
                    s.status,
                    c.category,
                    c.zone,
                    c.price_xof,
                    c.sold,
                    c.held,
                    c.left,
                    c.revenue_xof,
                ]
            )
    return buf.getvalue()

"""Retention purge (L7) on SQLite and PostgreSQL: time travel, idempotency, audit, limits."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from teranga.access import service as access
from teranga.access.models import Accreditation, PresenceRow, ScanRow
from teranga.audit import api as audit
from teranga.container import Container
from teranga.privacy import api as privacy
from teranga.privacy import retention
from teranga.privacy.register import load_register
from teranga.privacy.subjects import TOMBSTONE
from teranga.ticketing import aftersale
from teranga.ticketing.models import Order, Ticket
from tests.factories import make_tenant
from tests.integration.test_privacy_rights import T0, buy, make_session, random_phone

ENDS = T0 + dt.timedelta(days=2)
BADGE_UNTIL = T0 + dt.timedelta(days=10)


@dataclass
class Seeded:
    tenant: uuid.UUID
    unpaid: uuid.UUID
    paid: uuid.UUID
    accreditation: uuid.UUID


def seed(container: Container) -> Seeded:
    tid = make_tenant(container)
    session, category = make_session(container, tid, ends=ENDS)
    unpaid = buy(container, tid, session, category, random_phone(), pay=False)
    with container.uow(tid) as uow:
        aftersale.cancel_order(uow, order_id=unpaid.id, actor_id=None, now=T0)
    paid = buy(container, tid, session, category, random_phone(), id_number="SN-42")
    with container.uow(tid) as uow:
        lst = access.create_list(
            uow,
            name="Village olympique",
            accreditation_roles=["athlete"],
            badge_zones=["VO"],
            closes_at=BADGE_UNTIL,
        )
        gate = access.create_gate(uow, name="Porte VO", cluster="Sud", list_ids=[lst.id])
        badge = access.register_accreditation(
            uow,
            name="Moussa Sarr",
            organisation="Équipe du Sénégal",
            role="athlete",
            zones=["VO"],
            valid_from=T0 - dt.timedelta(days=5),
            valid_until=BADGE_UNTIL,
            photo=b"\xff\xd8 jpeg \xff\xd9",
            photo_type="image/jpeg",
        )
        scan = access.scan(
            uow, gate_id=gate.id, text=badge.qr_text, scanner_id="s9", nonce="r1", now=T0
        )
        assert scan.decision.accepted
    return Seeded(tid, unpaid.id, paid.id, badge.accreditation_id)


def purge(
    container: Container, tid: uuid.UUID, now: dt.datetime, *, dry_run: bool = False
) -> dict[str, int]:
    with container.uow(tid) as uow:
        return retention.purge(uow, now, dry_run=dry_run).counts


def contact_left(container: Container, s: Seeded) -> dict[str, int]:
    """Rows that still hold personal data, per kind."""
    with container.uow(s.tenant) as uow:

        def count(model: type[object], *where: sa.ColumnElement[bool]) -> int:
            q = sa.select(sa.func.count()).select_from(model).where(*where)
            return int(uow.session.scalar(q) or 0)

        acc = uow.session.get(Accreditation, s.accreditation)
        assert acc is not None
        return {
            "unpaid": count(Order, Order.id == s.unpaid, Order.phone_sealed.is_not(None)),
            "paid": count(Order, Order.id == s.paid, Order.phone_index.is_not(None)),
            "tickets": count(
                Ticket, Ticket.tenant_id == s.tenant, Ticket.holder_phone_sealed.is_not(None)
            ),
            "badge": int(privacy.unseal(uow, acc.name_sealed) != TOMBSTONE),
            "photo": int(acc.photo_sealed is not None),
            "scans": count(ScanRow, ScanRow.tenant_id == s.tenant),
            "presence": count(PresenceRow, PresenceRow.tenant_id == s.tenant),
        }


ALL = {"unpaid": 1, "paid": 1, "tickets": 1, "badge": 1, "photo": 1, "scans": 1, "presence": 1}
NONE = dict.fromkeys(ALL, 0)


def test_time_travel_purges_each_class_at_its_expiry_once(container: Container) -> None:
    s = seed(container)
    with container.uow(s.tenant) as uow:
        total_before = uow.session.scalar(
            sa.select(sa.func.sum(Order.total_xof)).where(Order.tenant_id == s.tenant)
        )
    assert purge(container, s.tenant, T0 + dt.timedelta(days=1)) == {
        "ticketing.unpaid_order_contact": 0,
        "ticketing.order_contact": 0,
        "access.accreditation": 0,
        "access.entry_log": 0,
    }
    assert contact_left(container, s) == ALL

    # 31 days on: only the never-paid order's phone has expired (P30D).
    assert (
        purge(container, s.tenant, T0 + dt.timedelta(days=31))["ticketing.unpaid_order_contact"]
        == 1
    )
    assert contact_left(container, s) == {**ALL, "unpaid": 0}

    # Six months after the badge ended (and its list closed): access data goes.
    later = BADGE_UNTIL + dt.timedelta(days=190)
    counts = purge(container, s.tenant, later)
    assert counts["access.accreditation"] == 1
    assert counts["access.entry_log"] == 2  # one scan, one presence row
    assert counts["ticketing.order_contact"] == 0
    assert contact_left(container, s) == {**NONE, "paid": 1, "tickets": 1}

    # Two years after the session: the buyer's and holder's phones go; amounts stay.
    far = ENDS + dt.timedelta(days=2 * 365 + 2)
    dry = purge(container, s.tenant, far, dry_run=True)
    assert dry["ticketing.order_contact"] == 2  # the order and its ticket
    assert contact_left(container, s) == {**NONE, "paid": 1, "tickets": 1}  # dry run
    assert purge(container, s.tenant, far) == dry
    assert contact_left(container, s) == NONE
    again = purge(container, s.tenant, far + dt.timedelta(days=1))
    assert sum(again.values()) == 0  # idempotent

    with container.uow(s.tenant) as uow:
        assert (
            uow.session.scalar(
                sa.select(sa.func.sum(Order.total_xof)).where(Order.tenant_id == s.tenant)
            )
            == total_before
        )
        assert audit.verify(uow) is None
        runs = audit.entries(uow, action="privacy.retention.purged")
    assert len(runs) == 5  # every real run, none for the dry run
    assert [r.details["total"] for r in runs] == [0, 1, 3, 2, 0]


def test_purge_is_per_tenant(container: Container) -> None:
    s = seed(container)
    other = make_tenant(container)
    far = ENDS + dt.timedelta(days=3 * 365)
    assert sum(purge(container, other, far).values()) == 0
    assert contact_left(container, s) == ALL


def test_rules_stay_within_the_register() -> None:
    reg = load_register()
    assert {r.cls.processing for r in retention.rules(reg)} <= {p.id for p in reg.processings}
    assert retention.uncovered_tables() == []
    missing = retention.processings_without_purge(reg)
    assert set(missing) <= {p.id for p in reg.processings} - {"ticketing", "access"}
    shorter = reg.model_copy(
        update={
            "processings": tuple(
                p.model_copy(update={"retention": "P1M"}) if p.id == "access" else p
                for p in reg.processings
            )
        }
    )
    with pytest.raises(ValueError, match="exceeds"):
        retention.rules(shorter)
    no_ticketing = reg.model_copy(
        update={"processings": tuple(p for p in reg.processings if p.id != "ticketing")}
    )
    with pytest.raises(ValueError, match="not in the register"):
        retention.rules(no_ticketing)


def test_calendar_arithmetic() -> None:
    d = retention.Duration.parse
    at = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert d("P1M").before(at) == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)
    assert d("P2Y").before(dt.datetime(2028, 2, 29, tzinfo=dt.UTC)) == dt.datetime(
        2026, 2, 28, tzinfo=dt.UTC
    )
    assert d("P1W3D").before(at) == at - dt.timedelta(days=10)
    assert d("P6M").within(d("P6M"))
    assert not d("P7M").within(d("P6M"))
    assert d("P30D").within(d("P1M")) is False  # 30 days exceed February
    for bad in ("P", "6M", "PT1H", "P1.5Y"):
        with pytest.raises(ValueError, match="ISO 8601"):
            d(bad)

"""The rush waiting room on SQLite and PostgreSQL: order of arrival, admission at the
configured rate as the clock moves, signed admission tokens checked by create_hold."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import Container, build_container
from teranga.platform.clock import FrozenClock
from teranga.platform.errors import Forbidden, NotFound, ValidationFailed
from teranga.ticketing import sales, waiting_room
from teranga.web.app import create_app
from tests.factories import bearer, make_principal_token, make_tenant
from tests.integration.test_ticketing_flow import T0, Setup, make_session

MIN = dt.timedelta(minutes=1)


def _room(container: Container, st: Setup, *, rate: int = 2, enabled: bool = True) -> None:
    with container.uow(st.tenant) as uow:
        waiting_room.configure(
            uow, session_id=st.session, enabled=enabled, rate_per_minute=rate, opens_at=T0, now=T0
        )


def _join(
    container: Container, st: Setup, now: dt.datetime = T0, entry: str | None = None
) -> waiting_room.JoinResult:
    with container.uow(st.tenant) as uow:
        return waiting_room.join(uow, session_id=st.session, entry_token=entry, now=now)


def _status(
    container: Container, st: Setup, entry: str, now: dt.datetime
) -> waiting_room.QueueStatus:
    with container.uow(st.tenant) as uow:
        return waiting_room.status(uow, session_id=st.session, entry_token=entry, now=now)


def _hold(container: Container, st: Setup, token: str | None, now: dt.datetime) -> uuid.UUID:
    with container.uow(st.tenant) as uow:
        h = sales.create_hold(
            uow,
            session_id=st.session,
            category_id=st.ga_cat,
            quantity=1,
            now=now,
            admission_token=token,
        )
    return h.id


def test_admitted_up_to_is_a_function_of_time() -> None:
    assert waiting_room.admitted_up_to(2, T0, T0 - MIN) == 0
    assert waiting_room.admitted_up_to(2, T0, T0) == 0
    assert waiting_room.admitted_up_to(2, T0, T0 + dt.timedelta(seconds=29)) == 0
    assert waiting_room.admitted_up_to(2, T0, T0 + dt.timedelta(seconds=30)) == 1
    assert waiting_room.admitted_up_to(2, T0, T0 + 10 * MIN) == 20
    for seq in (1, 2, 7, 1000):
        for rate in (1, 3, 7, 600):
            at = waiting_room.admitted_at(rate, T0, seq)
            assert waiting_room.admitted_up_to(rate, T0, at) >= seq
            assert waiting_room.admitted_up_to(rate, T0, at - dt.timedelta(microseconds=1)) < seq


def test_admission_follows_the_rate_as_the_clock_moves(container: Container) -> None:
    st = make_session(container)
    _room(container, st, rate=2)
    joined = [_join(container, st) for _ in range(5)]
    assert [j.status.seq for j in joined] == [1, 2, 3, 4, 5]
    assert [j.status.position for j in joined] == [1, 2, 3, 4, 5]
    assert not any(j.status.admitted for j in joined)
    assert all(j.status.admission_token is None for j in joined)
    assert joined[2].status.estimated_wait_seconds == 90

    half = T0 + dt.timedelta(seconds=30)
    first, second = (_status(container, st, j.entry_token, half) for j in joined[:2])
    assert first.admitted
    assert first.position == 0
    assert first.admission_token
    assert not second.admitted
    assert second.position == 1
    assert second.admission_token is None
    assert second.estimated_wait_seconds == 30

    later = T0 + 2 * MIN
    states = [_status(container, st, j.entry_token, later) for j in joined]
    assert [s.admitted for s in states] == [True, True, True, True, False]
    assert states[4].position == 1

    # Re-joining with the entry token keeps the place; an unknown one is refused.
    again = _join(container, st, later, entry=joined[4].entry_token)
    assert again.status.seq == 5
    assert again.entry_token == joined[4].entry_token
    with pytest.raises(NotFound):
        _status(container, st, "not-a-token", later)
    with container.uow(st.tenant) as uow:
        room = waiting_room.get_room(uow, st.session, later)
    assert (room.joined, room.admitted_up_to) == (5, 4)


def test_hold_requires_a_valid_admission_token(container: Container) -> None:
    st = make_session(container)
    other = make_session(container, tenant=st.tenant)
    _room(container, st, rate=60)
    _room(container, other, rate=60)
    mine = _join(container, st)
    theirs = _join(container, other)
    now = T0 + MIN
    token = _status(container, st, mine.entry_token, now).admission_token
    other_token = _status(container, other, theirs.entry_token, now).admission_token
    assert token
    assert other_token

    with pytest.raises(Forbidden) as exc:
        _hold(container, st, None, now)
    assert exc.value.code == "ticketing.not_admitted"
    version, seq, exp, sig = token.split(".")
    forged = [
        f"{version}.{int(seq) + 1}.{exp}.{sig}",  # someone else's place
        f"{version}.{seq}.{int(exp) + 3600}.{sig}",  # a longer window
        f"{version}.{seq}.{exp}.{'A' * len(sig)}",
        other_token,  # admitted to another session
        "garbage",
    ]
    for bad in forged:
        with pytest.raises(Forbidden) as exc:
            _hold(container, st, bad, now)
        assert exc.value.code == "ticketing.not_admitted"
    # Admitted at T0 + 1 s, the token lasts 10 minutes.
    with pytest.raises(Forbidden) as exc:
        _hold(container, st, token, T0 + 11 * MIN)
    assert "expired" in exc.value.message
    assert _hold(container, st, token, now)

    # An expired visitor who joins again goes to the back of the line.
    back = _join(container, st, T0 + 11 * MIN, entry=mine.entry_token)
    assert back.status.seq == 2
    assert back.entry_token != mine.entry_token

    # The box office does not queue.
    with container.uow(st.tenant) as uow:
        assert sales.create_hold(
            uow,
            session_id=st.session,
            category_id=st.ga_cat,
            quantity=1,
            channel="box_office",
            now=now,
        )


def test_disabled_room_changes_nothing(container: Container) -> None:
    st = make_session(container)
    assert _hold(container, st, None, T0)  # no room at all
    _room(container, st, enabled=False)
    assert _hold(container, st, None, T0)
    with pytest.raises(NotFound):
        _join(container, st)
    with container.uow(st.tenant) as uow, pytest.raises(ValidationFailed):
        waiting_room.configure(
            uow, session_id=st.session, enabled=True, rate_per_minute=0, opens_at=T0
        )


def test_waiting_room_of_another_tenant_is_not_found(container: Container) -> None:
    st = make_session(container)
    _room(container, st)
    stranger = make_tenant(container)
    with container.uow(stranger) as uow, pytest.raises(NotFound):
        waiting_room.join(uow, session_id=st.session, now=T0)


@pytest.mark.pg
def test_concurrent_joins_get_a_gapless_order_of_arrival(pg_settings: Settings) -> None:
    container = build_container(pg_settings)
    try:
        st = make_session(container)
        _room(container, st, rate=1)
        visitors = 40
        start = threading.Barrier(visitors)

        def run(_: int) -> tuple[str, int]:
            start.wait()
            res = _join(container, st)
            return res.entry_token, res.status.seq

        with ThreadPoolExecutor(max_workers=visitors) as pool:
            got = list(pool.map(run, range(visitors)))
        assert sorted(seq for _, seq in got) == list(range(1, visitors + 1))
        # Each visitor polls back the number they were given; later arrivals come after.
        for entry, seq in got:
            assert _status(container, st, entry, T0).seq == seq
        assert _join(container, st).status.seq == visitors + 1
    finally:
        container.dispose()


@dataclass
class Http:
    client: TestClient
    clock: FrozenClock
    admin: dict[str, str]
    st: Setup


@pytest.fixture
def http(db_settings: Settings) -> Iterator[Http]:
    clock = FrozenClock(T0)
    db_settings = db_settings.model_copy(update={"default_tenant": f"t-{uuid.uuid4().hex[:10]}"})
    container = build_container(db_settings, clock=clock)
    tenant = make_tenant(container, db_settings.default_tenant)
    token = make_principal_token(container, tenant, "organiser-admin")
    with TestClient(create_app(db_settings, container=container)) as client:
        yield Http(client, clock, bearer(token), make_session(container, tenant=tenant))


def test_waiting_room_over_http(http: Http) -> None:
    client, clock, admin = http.client, http.clock, http.admin
    cat = str(http.st.ga_cat)
    p = f"/api/v1/ticketing/sessions/{http.st.session}"
    room = {"rate_per_minute": 1, "opens_at": T0.isoformat()}
    assert client.put(f"{p}/waiting-room", json=room).status_code == 401
    r = client.put(f"{p}/waiting-room", json=room, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is True
    bad = client.put(f"{p}/waiting-room", json={**room, "rate_per_minute": 0}, headers=admin)
    assert bad.status_code == 422

    joined = client.post(f"{p}/queue")
    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert (body["seq"], body["position"], body["admitted"]) == (1, 1, False)
    entry = body["entry"]
    assert client.post(f"{p}/queue", json={"entry": entry}).json()["seq"] == 1

    hold = {"category_id": cat, "quantity": 1}
    refused = client.post(f"{p}/holds", json=hold)
    assert refused.status_code == 403
    assert refused.json()["code"] == "ticketing.not_admitted"

    clock.advance(minutes=1)
    st = client.get(f"{p}/queue", params={"entry": entry})
    assert st.status_code == 200, st.text
    token = st.json()["admission_token"]
    assert st.json()["admitted"]
    assert token
    assert client.get(f"{p}/queue", params={"entry": "nope"}).status_code == 404
    assert client.get(f"{p}/queue").status_code == 422
    forged = client.post(f"{p}/holds", json=hold, headers={"X-Admission-Token": token + "x"})
    assert forged.status_code == 403
    ok = client.post(f"{p}/holds", json=hold, headers={"X-Admission-Token": token})
    assert ok.status_code == 201, ok.text

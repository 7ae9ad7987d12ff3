"""Access control through the public API: roles, scans, offline sync, badge pages."""

from __future__ import annotations

import base64
import datetime as dt
import uuid

from fastapi.testclient import TestClient

from teranga.access import codes, service
from teranga.audit import service as audit
from teranga.container import Container
from teranga.ticketing import sales
from teranga.ticketing.domain import normalise_code
from teranga.ticketing.sales import TicketView
from tests.factories import app_container, bearer, make_principal_token, make_tenant
from tests.integration.test_ticketing_flow import T0, Setup, make_session

NOW = dt.datetime.now(dt.UTC)


def test_organiser_configures_and_agent_scans(client: TestClient) -> None:
    tid = make_tenant(app_container(client))
    org = bearer(make_principal_token(app_container(client), tid, "organiser-admin"))
    agent = bearer(make_principal_token(app_container(client), tid, "gate-agent"))
    lst = client.post(
        "/api/v1/access/lists",
        json={"name": "Zone mixte", "accreditation_roles": ["media"], "badge_zones": ["MIX"]},
        headers=org,
    )
    assert lst.status_code == 201, lst.text
    gate = client.post(
        "/api/v1/access/gates",
        json={"name": "Porte 3", "cluster": "Est", "list_ids": [lst.json()["id"]]},
        headers=org,
    )
    assert gate.status_code == 201
    gid = gate.json()["id"]
    badge = client.post(
        "/api/v1/access/accreditations",
        json={
            "name": "Ibrahima Fall",
            "organisation": "APS",
            "role": "media",
            "zones": ["mix"],
            "valid_from": (NOW - dt.timedelta(days=1)).isoformat(),
            "valid_until": (NOW + dt.timedelta(days=1)).isoformat(),
        },
        headers=org,
    )
    assert badge.status_code == 201, badge.text
    qr = badge.json()["qr_text"]
    # A gate agent cannot configure; an organiser's config routes answer the agent 403.
    assert client.post("/api/v1/access/lists", json={"name": "x"}, headers=agent).status_code == 403
    body = {"text": qr, "scanner_id": "phone-1", "nonce": "1"}
    first = client.post(f"/api/v1/access/gates/{gid}/scans", json=body, headers=agent)
    assert first.status_code == 200
    assert first.json()["accepted"] is True
    second = client.post(
        f"/api/v1/access/gates/{gid}/scans", json={**body, "nonce": "2"}, headers=agent
    )
    assert second.json()["reason"] == "already_entered"
    assert "Porte 3" in second.json()["message"]
    assert second.json()["message"].startswith("Déjà entré")
    replay = client.post(f"/api/v1/access/gates/{gid}/scans", json=body, headers=agent)
    assert replay.json()["replayed"] is True
    # Offline bundle and sync.
    bundle = client.get(f"/api/v1/access/gates/{gid}/bundle", headers=agent).json()
    assert bundle["entries"][0]["credential_id"] == badge.json()["id"]
    assert bundle["messages"]["unknown"]
    sync = client.post(
        f"/api/v1/access/gates/{gid}/sync",
        json={
            "scanner_id": "phone-2",
            "scans": [
                {
                    "nonce": "p2-1",
                    "list_id": lst.json()["id"],
                    "credential_id": badge.json()["id"],
                    "at": NOW.isoformat(),
                    "accepted": True,
                    "reason": "ok",
                }
            ],
        },
        headers=agent,
    )
    assert sync.status_code == 200, sync.text
    assert sync.json()["conflicts"] == 1
    conflicts = client.get("/api/v1/access/conflicts", headers=org).json()
    assert [c["second_gate"] for c in conflicts] == ["Porte 3"]


def test_bad_input_is_a_clear_4xx(client: TestClient) -> None:
    tid = make_tenant(app_container(client))
    org = bearer(make_principal_token(app_container(client), tid, "organiser-admin"))
    r = client.post(
        "/api/v1/access/accreditations",
        json={
            "name": "X",
            "organisation": "Y",
            "role": "spy",
            "valid_from": NOW.isoformat(),
            "valid_until": NOW.isoformat(),
        },
        headers=org,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    missing = client.get(f"/api/v1/access/gates/{uuid.uuid4()}", headers=org)
    assert missing.status_code == 404
    sync = client.post(
        f"/api/v1/access/gates/{uuid.uuid4()}/sync",
        json={"scanner_id": "x", "scans": [{"nonce": "1"}]},
        headers=org,
    )
    assert sync.status_code == 422


def test_badge_page_shows_qr(client: TestClient) -> None:
    tid = make_tenant(app_container(client))
    org = bearer(make_principal_token(app_container(client), tid, "organiser-admin"))
    badge = client.post(
        "/api/v1/access/accreditations",
        json={
            "name": "Khady Sow",
            "organisation": "JAMBAAR26",
            "role": "volunteer",
            "valid_from": NOW.isoformat(),
            "valid_until": (NOW + dt.timedelta(days=5)).isoformat(),
        },
        headers=org,
    ).json()
    page = client.get(f"/accreditation/{badge['id']}", headers=org)
    assert page.status_code == 200
    assert "Khady Sow" in page.text
    assert "<svg" in page.text


def _gate_with_one_sale(
    container: Container,
) -> tuple[Setup, uuid.UUID, TicketView, uuid.UUID, uuid.UUID]:
    """A session with one ticket sold, a gate (and its list) that admits it, and another
    tenant: (setup, other tenant, ticket, gate id, list id)."""
    st = make_session(container)
    other = make_tenant(container)
    with container.uow(st.tenant) as uow:
        sold = sales.box_office_sale(
            uow, session_id=st.session, category_id=st.ga_cat, quantity=1, actor_id=None, now=T0
        ).order.tickets[0]
        lst = service.create_list(uow, name="Spectateurs", session_ids=[st.session])
        gid = service.create_gate(uow, name="Porte A", cluster="Nord", list_ids=[lst.id]).id
    return st, other, sold, gid, lst.id


def test_bundle_codes_over_http_sync_once_and_tenant_isolation(client: TestClient) -> None:
    container = app_container(client)
    st, other, sold, gid, list_id = _gate_with_one_sale(container)
    agent = bearer(make_principal_token(container, st.tenant, "gate-agent"))
    b = client.get(f"/api/v1/access/gates/{gid}/bundle", headers=agent)
    assert b.status_code == 200
    section = b.json()["codes"]
    salt = base64.urlsafe_b64decode(section["salt"] + "=" * (-len(section["salt"]) % 4))
    (row,) = section["tickets"]
    assert row[0] == codes.code_digest(salt, normalise_code(sold.code))
    ticket_id = uuid.UUID(bytes=base64.urlsafe_b64decode(row[1] + "=="))
    assert ticket_id == sold.id
    # Another tenant's gate agent cannot read this gate's bundle.
    foreign = bearer(make_principal_token(container, other, "gate-agent"))
    assert client.get(f"/api/v1/access/gates/{gid}/bundle", headers=foreign).status_code == 404
    # A typed code admitted offline syncs like a QR scan (credential id from the bundle),
    # and a resent batch is recorded once.
    scan = {
        "nonce": "web-1",
        "list_id": str(list_id),
        "credential_id": str(ticket_id),
        "at": NOW.isoformat(),
        "accepted": True,
        "reason": "ok",
    }
    for status in ("recorded", "duplicate"):
        r = client.post(
            f"/api/v1/access/gates/{gid}/sync",
            json={"scanner_id": "phone-1", "scans": [scan]},
            headers=agent,
        )
        assert r.status_code == 200, r.text
        assert r.json()["outcomes"] == [{"nonce": "web-1", "status": status}]
    entries = client.get(f"/api/v1/access/gates/{gid}/bundle", headers=agent).json()["entries"]
    assert [e["credential_id"] for e in entries] == [str(ticket_id)]


def test_organiser_rotates_a_gates_code_salt_after_a_lost_phone(client: TestClient) -> None:
    container = app_container(client)
    st, other, sold, gid, _list = _gate_with_one_sale(container)
    org = bearer(make_principal_token(container, st.tenant, "organiser-admin"))
    agent = bearer(make_principal_token(container, st.tenant, "gate-agent"))

    def salt() -> bytes:
        s = client.get(f"/api/v1/access/gates/{gid}/bundle", headers=agent).json()["codes"]
        return base64.urlsafe_b64decode(s["salt"] + "=" * (-len(s["salt"]) % 4))

    before = salt()
    rotate = f"/api/v1/access/gates/{gid}/code-salt/rotate"
    assert client.post(rotate, headers=agent).status_code == 403  # agents scan, not configure
    foreign = bearer(make_principal_token(container, other, "organiser-admin"))
    assert client.post(rotate, headers=foreign).status_code == 404
    r = client.post(rotate, headers=org)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == str(gid)
    after = salt()
    assert after != before
    section = client.get(f"/api/v1/access/gates/{gid}/bundle", headers=agent).json()["codes"]
    assert [row[0] for row in section["tickets"]] == [
        codes.code_digest(after, normalise_code(sold.code))
    ]
    with container.uow(st.tenant) as uow:
        done = audit.entries(uow, action="access.gate.code_salt_rotated")
    assert [e.target_id for e in done] == [str(gid)]

"""Organiser pages for access control: lists and gates through forms, conflicts shown."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from teranga.config import Settings
from tests.factories import (
    MadeUser,
    app_container,
    bearer,
    make_principal_token,
    make_tenant,
    make_user,
)

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def client(client: TestClient, db_settings: Settings) -> TestClient:
    """The shared app client (conftest), its public tenant made."""
    make_tenant(app_container(client), db_settings.default_tenant)
    return client


def _tenant(c: TestClient) -> uuid.UUID:
    return make_tenant(app_container(c), app_container(c).settings.default_tenant)


def _csrf(c: TestClient, path: str) -> str:
    page = c.get(path)
    assert page.status_code == 200, page.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m is not None
    return m.group(1)


def _sign_in(c: TestClient, role: str) -> MadeUser:
    user = make_user(app_container(c), _tenant(c), role)
    r = c.post(
        "/login",
        data={"email": user.email, "password": user.password, "csrf_token": _csrf(c, "/login")},
    )
    assert r.status_code == 303
    return user


def _create_list(c: TestClient, **fields: object) -> str:
    token = _csrf(c, "/controle/admin")
    r = c.post("/controle/admin/listes", data={"csrf_token": token, **fields})
    assert r.status_code == 303, r.text
    page = c.get("/controle/admin").text
    m = re.search(r'name="list_ids" value="([0-9a-f-]{36})"> ' + str(fields["name"]), page)
    assert m is not None
    return m.group(1)


def test_organiser_creates_a_list_and_a_gate(client: TestClient) -> None:
    _sign_in(client, "organiser-admin")
    page = client.get("/controle/admin")
    assert page.status_code == 200
    assert "Paramétrage du contrôle d’accès" in html.unescape(page.text)
    list_id = _create_list(
        client,
        name="Tribune officielle",
        roles=["media", "official"],
        badge_zones="mix, fop",
        allow_reentry="true",
        opens_at="2026-11-01T08:00",
        closes_at="2026-11-01T20:00",
    )
    token = _csrf(client, "/controle/admin")
    gate = client.post(
        "/controle/admin/portes",
        data={"csrf_token": token, "name": "Porte Nord", "cluster": "Nord", "list_ids": [list_id]},
    )
    assert gate.status_code == 303, gate.text
    text = html.unescape(client.get("/controle/admin").text)
    assert "<td>Tribune officielle</td>" in text
    assert "média" in text  # roles shown in French
    assert "(FOP, MIX)" in text
    assert "01/11 08:00 – 01/11 20:00" in text
    assert "<tr><td>Porte Nord</td><td>Nord</td><td>Tribune officielle</td></tr>" in text
    # The JSON API sees the same configuration.
    org = bearer(make_principal_token(app_container(client), _tenant(client), "organiser-admin"))
    lists = {x["id"]: x for x in client.get("/api/v1/access/lists", headers=org).json()}
    made = lists[list_id]
    assert made["allow_reentry"] is True
    assert made["exit_scans"] is False
    assert made["accreditation_roles"] == ["media", "official"]
    assert made["badge_zones"] == ["FOP", "MIX"]
    assert made["opens_at"].startswith("2026-11-01T08:00:00")


def test_conflict_from_offline_sync_is_shown(client: TestClient) -> None:
    _sign_in(client, "organiser-admin")
    list_id = _create_list(client, name="Piscine")
    for name in ("Porte A", "Porte B"):
        r = client.post(
            "/controle/admin/portes",
            data={
                "csrf_token": _csrf(client, "/controle/admin"),
                "name": name,
                "list_ids": list_id,
            },
        )
        assert r.status_code == 303, r.text
    agent = bearer(make_principal_token(app_container(client), _tenant(client), "gate-agent"))
    gates = {g["name"]: g["id"] for g in client.get("/api/v1/access/gates", headers=agent).json()}
    credential = str(uuid.uuid4())
    for scanner, gate, minutes in (("phone-a", "Porte A", 10), ("phone-b", "Porte B", 5)):
        r = client.post(
            f"/api/v1/access/gates/{gates[gate]}/sync",
            json={
                "scanner_id": scanner,
                "scans": [
                    {
                        "nonce": f"{scanner}-1",
                        "list_id": list_id,
                        "credential_id": credential,
                        "at": (NOW - dt.timedelta(minutes=minutes)).isoformat(),
                        "accepted": True,
                        "reason": "ok",
                    }
                ],
            },
            headers=agent,
        )
        assert r.status_code == 200, r.text
    assert r.json()["conflicts"] == 1
    text = html.unescape(client.get("/controle/admin").text)
    assert "Aucun conflit signalé." not in text
    row = re.search(rf"<code>{credential}</code>.*?</tr>", text, re.S)
    assert row is not None
    first = (NOW - dt.timedelta(minutes=10)).strftime("%d/%m %H:%M")
    second = (NOW - dt.timedelta(minutes=5)).strftime("%d/%m %H:%M")
    assert f"Porte A · {first}" in row.group(0)
    assert f"Porte B · {second}" in row.group(0)
    assert "<td>Piscine</td>" in row.group(0)


def test_gate_agent_is_refused(client: TestClient) -> None:
    _sign_in(client, "gate-agent")
    assert client.get("/controle/admin").status_code == 403
    # Refused on the permission itself, before the CSRF token is even looked at.
    r = client.post("/controle/admin/listes", data={"csrf_token": "x", "name": "x"})
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


def test_signed_out_is_sent_to_login(client: TestClient) -> None:
    r = client.get("/controle/admin")
    assert r.status_code in (302, 303)
    assert "/login" in r.headers["location"]


def test_bad_forms_answer_422_with_the_message(client: TestClient) -> None:
    _sign_in(client, "organiser-admin")
    token = _csrf(client, "/controle/admin")
    window = client.post(
        "/controle/admin/listes",
        data={
            "csrf_token": token,
            "name": "Soirée",
            "opens_at": "2026-11-02T20:00",
            "closes_at": "2026-11-02T18:00",
        },
    )
    assert window.status_code == 422
    text = html.unescape(window.text)
    assert "La liste doit fermer après son ouverture." in text
    assert 'value="Soirée"' in text  # what was typed is kept
    foreign = client.post(
        "/controle/admin/listes",
        data={"csrf_token": token, "name": "X", "session_ids": [str(uuid.uuid4())]},
    )
    assert foreign.status_code == 422
    assert "séances en billetterie" in html.unescape(foreign.text)
    no_list = client.post(
        "/controle/admin/portes", data={"csrf_token": token, "name": "Porte 1", "list_ids": []}
    )
    assert no_list.status_code == 422
    assert "au moins une liste" in html.unescape(no_list.text)
    # Nothing was created by the refused forms.
    after = client.get("/controle/admin").text
    assert "<td>Soirée</td>" not in after
    assert "<td>Porte 1</td>" not in after
    missing_csrf = client.post("/controle/admin/listes", data={"name": "Sans jeton"})
    assert missing_csrf.status_code == 403

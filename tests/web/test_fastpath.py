"""Gate scans on the fast path (``teranga.web.fastpath``): the same answers as the full
FastAPI route, served only when a cached credential holds the permission, and every other
case (no or unknown credential, missing CSRF header, bad body, unknown gate) answered by
the full path exactly as before."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi.testclient import TestClient

from teranga.access import service
from teranga.identity import service as identity
from teranga.web.fastpath import EXTRA
from tests.factories import (
    DEFAULT_PASSWORD,
    app_container,
    bearer,
    make_principal_token,
    make_tenant,
    make_user,
    register_badges,
)

NOW = dt.datetime.now(dt.UTC)
SCANS = "/api/v1/access/gates/{}/scans"


def _served(c: TestClient) -> int:
    return sum(app_container(c).extras.get("web.fast_served", {}).values())


def _setup(c: TestClient, badges: int = 3) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    container = app_container(c)
    tid = make_tenant(container)
    with container.uow(tid) as uow:
        lst = service.create_list(uow, name="Tribune", accreditation_roles=["volunteer"])
        gate = service.create_gate(uow, name="Porte 7", cluster="Est", list_ids=[lst.id])
        texts = register_badges(uow, badges, now=NOW)
    return tid, gate.id, texts


def _scan(c: TestClient, gate: uuid.UUID, text: str, nonce: str, **headers: str) -> Any:
    return c.post(
        SCANS.format(gate),
        json={"text": text, "scanner_id": "phone-1", "nonce": nonce},
        headers=headers,
    )


def test_fast_answers_match_the_full_route(client: TestClient) -> None:
    tid, gate, texts = _setup(client)
    agent = bearer(make_principal_token(app_container(client), tid, "gate-agent"))
    # First request: the token is not cached yet, so the full route answers (and caches).
    first = _scan(client, gate, texts[0], "1", **agent)
    assert first.status_code == 200
    assert _served(client) == 0
    fast = [
        _scan(client, gate, texts[0], "2", **agent),
        _scan(client, gate, texts[1], "3", **agent),
    ]
    assert _served(client) == 2
    replay = _scan(client, gate, texts[0], "2", **agent)  # same nonce: the recorded answer
    assert _served(client) == 3

    # The same sequence with the fast path switched off, on another tenant.
    routes = app_container(client).extras.pop(EXTRA)
    try:
        tid2, gate2, texts2 = _setup(client)
        agent2 = bearer(make_principal_token(app_container(client), tid2, "gate-agent"))
        full = [
            _scan(client, gate2, texts2[0], "1", **agent2),
            _scan(client, gate2, texts2[0], "2", **agent2),
            _scan(client, gate2, texts2[1], "3", **agent2),
        ]
        full_replay = _scan(client, gate2, texts2[0], "2", **agent2)
    finally:
        app_container(client).extras[EXTRA] = routes
    assert _served(client) == 3

    def shape(r: Any) -> dict[str, Any]:
        body = dict(r.json())
        body.pop("credential_id", None)
        at = body.pop("entered_at", None)
        body["entered_at_given"] = at is not None
        if at is not None:
            assert dt.datetime.fromisoformat(at).tzinfo is not None
        return body

    assert [shape(r) for r in [first, *fast, replay]] == [
        shape(r) for r in [full[0], *full[1:], full_replay]
    ]
    assert fast[0].json()["reason"] == "already_entered"
    assert fast[0].json()["message"].startswith("Déjà entré")
    assert fast[1].json()["credential_id"] is not None
    for r in fast:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["content-language"] == "fr"
        assert r.headers["x-request-id"]
    # English on request, and an incoming request id is echoed.
    r = _scan(
        client,
        gate,
        texts[2],
        "4",
        **agent,
        **{"Accept-Language": "en", "X-Request-ID": "gate7-scan-4"},
    )
    assert r.json()["accepted"] is True
    assert r.headers["content-language"] == "en"
    assert r.headers["x-request-id"] == "gate7-scan-4"
    r = _scan(client, gate, texts[2], "5", **agent, **{"Accept-Language": "en"})
    assert r.json()["message"].startswith("Already entered")


def test_everything_else_takes_the_full_path(client: TestClient) -> None:
    tid, gate, texts = _setup(client)
    container = app_container(client)
    agent = bearer(make_principal_token(container, tid, "gate-agent"))
    assert _scan(client, gate, texts[0], "warm", **agent).status_code == 200  # caches it
    served = _served(client)

    # No credential, an unknown token, a role without the permission.
    assert _scan(client, gate, texts[1], "a").status_code == 401
    assert _scan(client, gate, texts[1], "b", **bearer("trg_" + "x" * 40)).status_code == 401
    scorer = bearer(make_principal_token(container, tid, "scorer"))
    for _ in range(2):  # twice: the second time the scorer's token is cached
        denied = _scan(client, gate, texts[1], "c", **scorer)
        assert denied.status_code == 403
        assert denied.json()["code"] == "forbidden"
    # Malformed bodies: the route's own 422, with the field named.
    bad = client.post(SCANS.format(gate), content=b"{not json", headers=agent)
    assert bad.status_code == 422
    missing = client.post(SCANS.format(gate), json={"text": texts[1]}, headers=agent)
    assert missing.status_code == 422
    assert "nonce" in missing.text
    big = client.post(
        SCANS.format(gate),
        json={"text": "A" * 5000, "scanner_id": "p", "nonce": "big"},
        headers=agent,
    )
    assert big.status_code == 422
    # An unknown gate: the route's 404.
    lost = _scan(client, uuid.uuid4(), texts[1], "d", **agent)
    assert lost.status_code == 404
    assert lost.json()["code"] == "access.gate_not_found"
    assert _served(client) == served
    # Nothing above recorded a scan or let anybody in.
    with container.uow(tid) as uow:
        assert service.entry_stats(uow)["inside"] == 1


def test_cookie_sessions_need_the_csrf_header(client: TestClient) -> None:
    tid, gate, texts = _setup(client)
    container = app_container(client)
    user = make_user(container, tid, "gate-agent")
    res = identity.login(
        container,
        tenant_id=tid,
        email=user.email,
        password=DEFAULT_PASSWORD,
        client_ip="192.0.2.10",
    )
    assert res is not None
    client.cookies.set("teranga_session", res.secret)
    try:
        ok = _scan(client, gate, texts[0], "1", **{"X-CSRF-Token": res.csrf_token})
        assert ok.json()["accepted"] is True
        served = _served(client)
        again = _scan(client, gate, texts[1], "2", **{"X-CSRF-Token": res.csrf_token})
        assert again.json()["accepted"] is True
        assert _served(client) == served + 1  # the cached session took the fast path
        forged = _scan(client, gate, texts[2], "3")  # a cross-site post carries no token
        assert forged.status_code == 403
        assert forged.json()["code"] == "csrf_failed"
        wrong = _scan(client, gate, texts[2], "4", **{"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        assert _served(client) == served + 1
        # Logging out ends the session at once in this process, cache or not.
        identity.logout(container, res.secret)
        assert (
            _scan(client, gate, texts[2], "5", **{"X-CSRF-Token": res.csrf_token}).status_code
            == 401
        )
    finally:
        client.cookies.clear()

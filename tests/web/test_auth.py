"""Sign-in over HTTP: sessions, CSRF, bearer tokens, 401/403, login rate limits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.identity.api import CsrfProtected, CsrfToken, CurrentPrincipal, public
from teranga.web.app import create_app
from tests.factories import (
    DEFAULT_PASSWORD,
    MadeUser,
    app_container,
    bearer,
    make_principal_token,
    make_tenant,
    make_user,
)


def _client(settings: Settings, **client_kw: Any) -> TestClient:
    return TestClient(create_app(settings), follow_redirects=False, **client_kw)


@pytest.fixture
def client(client: TestClient, db_settings: Settings) -> TestClient:
    """The shared app client (conftest), its public tenant made."""
    make_tenant(app_container(client), db_settings.default_tenant)
    return client


def _tenant(c: TestClient) -> Any:
    return make_tenant(app_container(c), app_container(c).settings.default_tenant)


def _csrf(c: TestClient, path: str = "/login") -> str:
    page = c.get(path)
    assert page.status_code == 200
    m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert m is not None
    return m.group(1)


def _sign_in(c: TestClient, user: MadeUser, password: str | None = None) -> Any:
    token = _csrf(c)
    return c.post(
        "/login",
        data={"email": user.email, "password": password or user.password, "csrf_token": token},
    )


def test_login_page_is_french_with_labelled_fields(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "Se connecter" in page.text
    assert '<label for="email">Adresse e-mail</label>' in page.text
    assert '<label for="password">Mot de passe</label>' in page.text
    assert "teranga_csrf=" in page.headers["set-cookie"]


def test_login_sets_a_hardened_cookie_and_rotates_it(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    r = _sign_in(client, user)
    assert r.status_code == 303
    assert r.headers["location"] == "/compte"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("teranga_session=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    first = client.cookies.get("teranga_session")
    account = client.get("/compte")
    assert account.status_code == 200
    assert "Awa Diop" in account.text
    assert _sign_in(client, user).status_code == 303
    assert client.cookies.get("teranga_session") != first
    # The old session id no longer works.
    with _client(client.app.state.settings) as other:  # type: ignore[attr-defined]
        other.cookies.set("teranga_session", str(first))
        assert other.get("/compte").status_code == 303


def test_secure_cookie_when_configured(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"secure_cookies": True})
    with _client(settings, base_url="https://testserver") as c:
        user = make_user(app_container(c), _tenant(c), "scorer")
        r = _sign_in(c, user)
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]


def test_wrong_password_is_a_401_page(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    r = _sign_in(client, user, password="not-the-password")
    assert r.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in r.text
    assert "teranga_session" not in client.cookies


def test_login_without_csrf_token_is_refused(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    client.get("/login")
    r = client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 403
    assert r.json()["code"] == "csrf_failed"
    r = client.post(
        "/login", data={"email": user.email, "password": DEFAULT_PASSWORD, "csrf_token": "x" * 43}
    )
    assert r.status_code == 403


def test_pages_redirect_to_login_and_api_says_401(client: TestClient) -> None:
    r = client.get("/compte")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/compte"
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert client.get("/api/v1/me", headers=bearer("trg_00000000_" + "a" * 43)).status_code == 401


def test_logout_needs_csrf_and_kills_the_server_session(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    _sign_in(client, user)
    secret = client.cookies.get("teranga_session")
    assert client.post("/logout").status_code == 403
    token = _csrf(client, "/compte")
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    with _client(client.app.state.settings) as other:  # type: ignore[attr-defined]
        other.cookies.set("teranga_session", str(secret))
        assert other.get("/compte").status_code == 303


def test_session_api_write_needs_csrf_header(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "developer")
    _sign_in(client, user)
    body = {"name": "ci", "scopes": ["*.read"]}
    r = client.post("/api/v1/auth/tokens", json=body)
    assert r.status_code == 403
    token = _csrf(client, "/compte")
    r = client.post("/api/v1/auth/tokens", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


def test_bearer_tokens_me_create_and_scopes(client: TestClient) -> None:
    tid = _tenant(client)
    secret = make_principal_token(app_container(client), tid, "organiser-admin")
    me = client.get("/api/v1/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.json()["roles"] == ["organiser-admin"]
    assert me.json()["via"] == "token"
    r = client.post(
        "/api/v1/auth/tokens",
        json={"name": "lecture", "scopes": ["audit.read", "identity.me.read"], "expires_days": 7},
        headers=bearer(secret),
    )
    assert r.status_code == 201
    narrow = r.json()["token"]
    assert r.json()["prefix"] == narrow[:12]
    assert client.get("/api/v1/audit/entries", headers=bearer(narrow)).status_code == 200
    # organiser-admin could create users, but this token's scopes do not allow it.
    r = client.post(
        "/api/v1/users",
        json={
            "email": "x@example.sn",
            "display_name": "X",
            "password": DEFAULT_PASSWORD,
            "role": "scorer",
        },
        headers=bearer(narrow),
    )
    assert r.status_code == 403
    # Revoke it.
    tok_id = client.post(
        "/api/v1/auth/tokens", json={"name": "tmp", "scopes": ["*"]}, headers=bearer(secret)
    ).json()["id"]
    assert client.delete(f"/api/v1/auth/tokens/{tok_id}", headers=bearer(secret)).status_code == 204


def test_forbidden_is_403_and_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    secret = make_principal_token(app_container(client), _tenant(client), "gate-agent")
    with caplog.at_level("WARNING", logger="teranga.identity.auth"):
        r = client.get("/api/v1/audit/entries", headers=bearer(secret))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    denied = [rec for rec in caplog.records if rec.getMessage() == "access denied"]
    assert len(denied) == 1
    assert denied[0].permission == "audit.read"


def test_user_admin_api(client: TestClient) -> None:
    secret = make_principal_token(app_container(client), _tenant(client), "organiser-admin")
    r = client.post(
        "/api/v1/users",
        json={
            "email": "Box@Example.sn",
            "display_name": "Fatou",
            "password": "short",
            "role": "box-office",
        },
        headers=bearer(secret),
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/users",
        json={
            "email": "Box@Example.sn",
            "display_name": "Fatou",
            "password": DEFAULT_PASSWORD,
            "role": "platform-admin",
        },
        headers=bearer(secret),
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/users",
        json={
            "email": "Box@Example.sn",
            "display_name": "Fatou",
            "password": DEFAULT_PASSWORD,
            "role": "box-office",
        },
        headers=bearer(secret),
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert r.json()["email"] == "box@example.sn"
    r = client.post(
        f"/api/v1/users/{uid}/roles", json={"role": "gate-agent"}, headers=bearer(secret)
    )
    assert r.json()["roles"] == ["box-office", "gate-agent"]
    audit = client.get("/api/v1/audit/entries", headers=bearer(secret)).json()
    actions = [e["action"] for e in audit]
    assert "identity.user.created" in actions
    assert actions.count("identity.role.granted") >= 3
    assert all("box@example.sn" not in str(e["details"]) for e in audit)
    assert client.get("/api/v1/audit/verify", headers=bearer(secret)).json()["ok"] is True


def _hammer(c: TestClient, email: str, n: int, headers: dict[str, str] | None = None) -> list[int]:
    token = _csrf(c)
    codes = []
    for _ in range(n):
        r = c.post(
            "/login",
            data={"email": email, "password": "wrong-password", "csrf_token": token},
            headers=headers or {},
        )
        codes.append(r.status_code)
    return codes


def test_rate_limit_per_account_gives_429_with_retry_after(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    limit = app_container(client).settings.login_rate_per_account
    assert _hammer(client, user.email, limit) == [401] * limit
    r = _sign_in(client, user)
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 300


def test_forged_forwarded_for_does_not_bypass_the_address_limit(db_settings: Settings) -> None:
    settings = db_settings.model_copy(update={"login_rate_per_ip": 3})
    with _client(settings, client=("198.51.100.77", 5000)) as c:
        make_tenant(app_container(c), settings.default_tenant)
        codes = [
            _hammer(c, f"n{i}@example.sn", 1, {"X-Forwarded-For": f"203.0.113.{i}"})[0]
            for i in range(6)
        ]
    assert codes[:3] == [401, 401, 401]
    assert codes[3:] == [429, 429, 429]


def test_trusted_proxy_forwarded_for_is_honoured(db_settings: Settings) -> None:
    settings = db_settings.model_copy(
        update={"login_rate_per_ip": 2, "trusted_proxies": ["127.0.0.1"]}
    )
    with _client(settings, client=("127.0.0.1", 5000)) as c:
        make_tenant(app_container(c), settings.default_tenant)
        # Behind our proxy, each real client has its own budget...
        for i in range(3):
            assert _hammer(c, f"p{i}@example.sn", 1, {"X-Forwarded-For": f"192.0.2.{i + 10}"}) == [
                401
            ]
        # ...and a forged left-hand hop does not give one client a fresh budget.
        codes = [
            _hammer(c, f"q{i}@example.sn", 1, {"X-Forwarded-For": f"6.6.6.{i}, 192.0.2.99"})[0]
            for i in range(4)
        ]
    assert codes == [401, 401, 429, 429]


def test_next_is_never_an_open_redirect(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "scorer")
    for target, expected in (
        ("//evil.example", "/compte"),
        ("https://evil.example", "/compte"),
        ("/resultats", "/resultats"),
    ):
        token = _csrf(client)  # after a sign-in, the form carries the session's token
        r = client.post(
            "/login",
            data={
                "email": user.email,
                "password": user.password,
                "csrf_token": token,
                "next": target,
            },
        )
        assert r.status_code == 303
        assert r.headers["location"] == expected


def test_helpers_for_other_domains_forms(db_settings: Settings) -> None:
    """optional_principal, CsrfToken and CsrfProtected as a domain's public form would use them."""
    router = APIRouter(dependencies=[Depends(public)])

    @router.get("/essai")
    def form(token: CsrfToken, who: CurrentPrincipal) -> dict[str, str]:
        return {"token": token, "who": who.via if who else "anonymous"}

    @router.post("/essai")
    def submit(_: CsrfProtected) -> dict[str, str]:
        return {"ok": "yes"}

    app = create_app(db_settings)
    app.include_router(router)
    with TestClient(app) as c:
        tid = make_tenant(c.app.state.container, db_settings.default_tenant)  # type: ignore[attr-defined]
        got = c.get("/essai").json()
        assert got["who"] == "anonymous"
        assert c.post("/essai", data={}).status_code == 403
        assert c.post("/essai", data={"csrf_token": "forged"}).status_code == 403
        assert c.post("/essai", data={"csrf_token": got["token"]}).status_code == 200
        assert c.post("/essai", headers={"X-CSRF-Token": got["token"]}).status_code == 200
        secret = make_principal_token(c.app.state.container, tid, "developer")  # type: ignore[attr-defined]
        assert c.get("/essai", headers=bearer(secret)).json()["who"] == "token"


def test_account_limit_holds_across_app_instances(db_settings: Settings) -> None:
    """Two app instances (as two worker processes) share the budget through the database."""
    with _client(db_settings) as one, _client(db_settings) as two:
        user = make_user(app_container(one), _tenant(one), "scorer")
        limit = db_settings.login_rate_per_account
        codes = [_hammer(one if i % 2 else two, user.email, 1)[0] for i in range(limit)]
        assert codes == [401] * limit
        assert _sign_in(one, user).status_code == 429
        assert _sign_in(two, user).status_code == 429


def test_account_page_creates_a_token_shown_once(client: TestClient) -> None:
    user = make_user(app_container(client), _tenant(client), "developer")
    _sign_in(client, user)
    form = {"name": "mon appli", "scopes": "programme.*.read identity.me.read"}
    assert client.post("/compte/jetons", data=form).status_code == 403
    token = _csrf(client, "/compte")
    r = client.post("/compte/jetons", data={**form, "csrf_token": token})
    assert r.status_code == 200
    m = re.search(r'<code id="new-token">([^<]+)</code>', r.text)
    assert m is not None
    secret = m.group(1)
    assert client.get("/api/v1/me", headers=bearer(secret)).json()["scopes"] == [
        "identity.me.read",
        "programme.*.read",
    ]
    page = client.get("/compte").text
    assert "mon appli" in page
    assert secret not in page
    bad = client.post("/compte/jetons", data={"name": "x", "scopes": "", "csrf_token": token})
    assert bad.status_code == 422

"""Identity services on both databases: users, roles, tokens, sessions, login limits."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid

import pytest
import sqlalchemy as sa

from teranga.audit import api as audit
from teranga.container import Container
from teranga.identity import domain, service
from teranga.identity.models import ApiToken, User, WebSession
from teranga.platform.errors import Conflict, Forbidden, TooManyRequests, ValidationFailed
from tests.factories import DEFAULT_PASSWORD, make_principal_token, make_tenant, make_user


def _actions(container: Container, tid: uuid.UUID) -> list[str]:
    with container.uow(tid) as uow:
        return [e.action for e in audit.entries(uow, limit=1000)]


def test_create_user_normalises_and_audits(container: Container) -> None:
    tid = make_tenant(container, "id-users")
    with container.uow(tid) as uow:
        user = service.create_user(
            uow, email="  Awa.Diop@Example.SN ", display_name="Awa", password="baobab-de-thies"
        )
        service.grant_role(uow, user_id=user.id, role="scorer")
        assert service.roles_of(uow, user.id) == {"scorer"}
        row = uow.session.get(User, user.id)
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
    assert user.email == "awa.diop@example.sn"
    with container.uow(tid) as uow, pytest.raises(Conflict):
        service.create_user(
            uow, email="AWA.DIOP@example.sn", display_name="X", password="baobab-de-thies"
        )
    assert _actions(container, tid) == ["identity.user.created", "identity.role.granted"]


@pytest.mark.parametrize("pw", ["short-pw", "motdepasse123", "Azertyuiop", "aaaaaaaaaaaa"])
def test_weak_passwords_are_refused(container: Container, pw: str) -> None:
    with container.uow() as uow, pytest.raises(ValidationFailed, match="password"):
        service.create_user(uow, email="x@example.sn", display_name="X", password=pw)


def test_unknown_role_and_platform_admin_grant(container: Container) -> None:
    tid = make_tenant(container, "id-roles")
    user = make_user(container, tid, "scorer")
    with container.uow(tid) as uow, pytest.raises(ValidationFailed):
        service.grant_role(uow, user_id=user.id, role="king")
    with pytest.raises(Forbidden):
        service.check_grantable(frozenset({"organiser-admin"}), "platform-admin")
    service.check_grantable(frozenset({"platform-admin"}), "platform-admin")


def test_token_is_stored_hashed_and_authenticates(container: Container) -> None:
    tid = make_tenant(container, "id-tok")
    secret = make_principal_token(container, tid, "box-office", scopes=["ticketing.*"])
    assert domain.looks_like_api_token(secret)
    with container.uow() as uow:
        rows = [(r.token_hash, r.prefix) for r in uow.session.scalars(sa.select(ApiToken))]
    assert all(secret not in row for row in rows)
    assert any(h == domain.sha256_hex(secret) for h, _ in rows)
    p = service.authenticate_token(container, secret)
    assert p is not None
    assert (p.tenant_id, p.roles, p.via) == (tid, {"box-office"}, "token")
    # roles ∩ scopes
    assert p.can("ticketing.boxoffice.sell")
    assert not p.can("access.scan.perform")
    assert "identity.token.created" in _actions(container, tid)
    with container.uow() as uow:
        row = uow.session.scalar(
            sa.select(ApiToken).where(ApiToken.token_hash == domain.sha256_hex(secret))
        )
        assert row is not None
        assert row.last_used_at is not None


def test_token_scopes_narrow_roles(container: Container) -> None:
    tid = make_tenant(container, "id-scope")
    secret = make_principal_token(container, tid, "organiser-admin", scopes=["*.read"])
    p = service.authenticate_token(container, secret)
    assert p is not None
    assert p.can("ticketing.order.read")
    assert not p.can("ticketing.order.refund")


def test_expired_revoked_forged_and_disabled_tokens_fail(container: Container) -> None:
    tid = make_tenant(container, "id-tok2")
    user = make_user(container, tid, "developer")
    with container.uow(tid) as uow:
        s1, t1 = service.create_token(
            uow,
            user_id=user.id,
            name="a",
            scopes=["*"],
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
        )
        s2, t2 = service.create_token(uow, user_id=user.id, name="b", scopes=["*"], expires_at=None)
        with pytest.raises(ValidationFailed):
            service.create_token(
                uow,
                user_id=user.id,
                name="c",
                scopes=["*"],
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
            )
    with container.uow() as uow:
        row = uow.session.get(ApiToken, t1.id)
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert service.authenticate_token(container, s1) is None
    assert service.authenticate_token(container, s2) is not None
    forged = s2[:-1] + ("A" if s2[-1] != "A" else "B")
    assert service.authenticate_token(container, forged) is None
    assert service.authenticate_token(container, "garbage") is None
    with container.uow(tid) as uow:
        service.set_active(uow, user_id=user.id, active=False)
    assert service.authenticate_token(container, s2) is None
    with container.uow(tid) as uow:
        service.set_active(uow, user_id=user.id, active=True)
        service.revoke_token(uow, token_id=t2.id, actor_id=user.id)
    assert service.authenticate_token(container, s2) is None


def _ip(tid: uuid.UUID) -> str:
    """An address of this test's own (login attempts are global, the PG database is shared)."""
    return str(ipaddress.IPv6Address(tid.int))


def _login(
    container: Container, tid: uuid.UUID, email: str, pw: str, ip: str | None = None
) -> service.LoginResult | None:
    return service.login(
        container, tenant_id=tid, email=email, password=pw, client_ip=ip or _ip(tid)
    )


def test_login_session_rotation_logout_and_disable(container: Container) -> None:
    tid = make_tenant(container, "id-login")
    user = make_user(container, tid, "gate-agent")
    assert _login(container, tid, user.email, "wrong-password!") is None
    first = _login(container, tid, user.email.upper(), DEFAULT_PASSWORD)
    assert first is not None
    ctx = service.authenticate_session(container, first.secret)
    assert ctx is not None
    assert ctx.principal.roles == {"gate-agent"}
    assert ctx.csrf_token == first.csrf_token
    # A new login replaces the session the browser presented (fixation defence).
    second = service.login(
        container,
        tenant_id=tid,
        email=user.email,
        password=DEFAULT_PASSWORD,
        client_ip=_ip(tid),
        previous_secret=first.secret,
    )
    assert second is not None
    assert second.secret != first.secret
    assert service.authenticate_session(container, first.secret) is None
    service.logout(container, second.secret)
    assert service.authenticate_session(container, second.secret) is None
    third = _login(container, tid, user.email, DEFAULT_PASSWORD)
    assert third is not None
    with container.uow(tid) as uow:
        service.set_active(uow, user_id=user.id, active=False)
    assert service.authenticate_session(container, third.secret) is None
    with container.uow() as uow:
        assert (
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(WebSession)
                .where(WebSession.user_id == user.id)
            )
            == 0
        )
    assert _login(container, tid, user.email, DEFAULT_PASSWORD) is None
    actions = _actions(container, tid)
    assert actions.count("identity.login.succeeded") == 3
    assert actions.count("identity.login.failed") == 2
    assert "identity.logout" in actions
    assert "identity.user.disabled" in actions


def test_login_needs_a_role_in_that_tenant(container: Container) -> None:
    a, b = make_tenant(container, "id-la"), make_tenant(container, "id-lb")
    user = make_user(container, a, "scorer")
    assert _login(container, b, user.email, DEFAULT_PASSWORD) is None
    assert _login(container, a, user.email, DEFAULT_PASSWORD) is not None


def test_expired_session_is_refused(container: Container) -> None:
    tid = make_tenant(container, "id-exp")
    user = make_user(container, tid, "scorer")
    res = _login(container, tid, user.email, DEFAULT_PASSWORD)
    assert res is not None
    with container.uow() as uow:
        row = uow.session.scalar(
            sa.select(WebSession).where(WebSession.token_hash == domain.sha256_hex(res.secret))
        )
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert service.authenticate_session(container, res.secret) is None


def test_rate_limit_per_account(container: Container) -> None:
    tid = make_tenant(container, "id-rl")
    user = make_user(container, tid, "scorer")
    limit = container.settings.login_rate_per_account
    for i in range(limit):
        assert (
            _login(container, tid, user.email, "wrong-password!", ip=f"10.1.{i}.{tid.int % 250}")
            is None
        )
    with pytest.raises(TooManyRequests) as info:
        _login(container, tid, user.email, DEFAULT_PASSWORD, ip=f"10.2.0.{tid.int % 250}")
    assert 1 <= info.value.retry_after <= container.settings.login_rate_window_seconds
    # Another account from the same addresses is not locked.
    other = make_user(container, tid, "scorer")
    assert (
        _login(container, tid, other.email, DEFAULT_PASSWORD, ip=f"10.1.0.{tid.int % 250}")
        is not None
    )
    assert "identity.login.rate_limited" in _actions(container, tid)


def test_rate_limit_per_address(container: Container) -> None:
    tid = make_tenant(container, "id-rlip")
    limit = container.settings.login_rate_per_ip
    for i in range(limit):
        assert _login(container, tid, f"nobody{i}@example.sn", "wrong-password!") is None
    user = make_user(container, tid, "scorer")
    with pytest.raises(TooManyRequests):
        _login(container, tid, user.email, DEFAULT_PASSWORD)
    assert _login(container, tid, user.email, DEFAULT_PASSWORD, ip="10.9.9.9") is not None


def test_successful_logins_do_not_count(container: Container) -> None:
    tid = make_tenant(container, "id-rlok")
    user = make_user(container, tid, "scorer")
    for _ in range(container.settings.login_rate_per_account + 2):
        assert _login(container, tid, user.email, DEFAULT_PASSWORD) is not None


def test_revoked_token_stops_working_at_once_despite_the_cache(container: Container) -> None:
    from teranga.identity import service as identity_service

    tid = make_tenant(container)
    user = make_user(container, tid, "developer")
    with container.uow(tid) as uow:
        secret, token = identity_service.create_token(
            uow, user_id=user.id, name="app", scopes=["*"], expires_at=None
        )
    assert identity_service.authenticate_token(container, secret) is not None
    assert identity_service.authenticate_token(container, secret) is not None  # cached
    with container.uow(tid) as uow:
        identity_service.revoke_token(uow, token_id=token.id, actor_id=None)
    assert identity_service.authenticate_token(container, secret) is None

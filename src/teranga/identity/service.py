"""Identity use cases: users, roles, API tokens, web sessions and login.

Services take a unit of work and never commit. ``login`` and the ``authenticate_*``
functions take the container instead, because they need more than one transaction: the
rate-limit attempt is committed before the password is checked (so concurrent attempts
from several processes all see each other), and authentication reads global tables
before the tenant (and so row-level security) is known.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from teranga.audit import api as audit
from teranga.container import Container
from teranga.identity import domain, permissions, repo
from teranga.identity.domain import Principal
from teranga.identity.models import ApiToken, Membership, User, WebSession
from teranga.platform.errors import Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from teranga.platform.uow import UnitOfWork

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults
_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """Verified against when the account does not exist, so timing does not reveal it."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash("not-a-real-password-for-timing")
    return _dummy_hashes[key]


LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class UserInfo:
    id: uuid.UUID
    email: str
    display_name: str
    active: bool


@dataclass(frozen=True)
class TokenInfo:
    id: uuid.UUID
    prefix: str
    name: str
    scopes: tuple[str, ...]
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class LoginResult:
    """A new session: ``secret`` goes in the cookie and nowhere else."""

    secret: str
    csrf_token: str
    principal: Principal
    expires_at: dt.datetime


def _info(u: User) -> UserInfo:
    return UserInfo(u.id, u.email, u.display_name, u.active)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- users and roles ---------------------------------------------------------------------


def hash_password(password: str) -> str:
    problem = domain.password_problem(password)
    if problem:
        raise ValidationFailed("password", problem)
    return _hasher.hash(password)


def create_user(
    uow: UnitOfWork,
    *,
    email: str,
    display_name: str,
    password: str,
    actor_id: uuid.UUID | None = None,
) -> UserInfo:
    """Create a global user account; audited in the unit of work's tenant when it has one."""
    email = domain.normalise_email(email)
    if not domain.EMAIL_RE.match(email) or len(email) > 254:
        raise ValidationFailed("email", "not a valid e-mail address")
    if not display_name.strip() or len(display_name) > 200:
        raise ValidationFailed("display_name", "required, at most 200 characters")
    if repo.user_by_email(uow.session, email) is not None:
        raise Conflict("identity.user.exists", "an account with this e-mail already exists")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        active=True,
    )
    uow.session.add(user)
    uow.session.flush()
    if uow.tenant_id is not None:
        audit.record(
            uow,
            action="identity.user.created",
            actor_id=actor_id,
            target_type="user",
            target_id=str(user.id),
            details={},
        )
    return _info(user)


def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> UserInfo:
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("identity.user.not_found", "no such user")
    return _info(user)


def find_user(uow: UnitOfWork, email: str) -> UserInfo:
    user = repo.user_by_email(uow.session, domain.normalise_email(email))
    if user is None:
        raise NotFound("identity.user.not_found", "no such user")
    return _info(user)


def roles_of(uow: UnitOfWork, user_id: uuid.UUID) -> frozenset[str]:
    return repo.roles_of(uow.session, uow.require_tenant(), user_id)


def grant_role(
    uow: UnitOfWork, *, user_id: uuid.UUID, role: str, actor_id: uuid.UUID | None = None
) -> bool:
    """Give a user a role in the unit of work's tenant; False when they already had it."""
    tenant_id = uow.require_tenant()
    if not permissions.is_role(role):
        raise ValidationFailed("role", f"unknown role, one of: {', '.join(permissions.ROLES)}")
    get_user(uow, user_id)
    if repo.membership(uow.session, tenant_id, user_id, role) is not None:
        return False
    uow.session.add(Membership(tenant_id=tenant_id, user_id=user_id, role=role))
    uow.on_commit(_forget_tokens)
    uow.session.flush()
    audit.record(
        uow,
        action="identity.role.granted",
        actor_id=actor_id,
        target_type="user",
        target_id=str(user_id),
        details={"role": role},
    )
    return True


def revoke_role(
    uow: UnitOfWork, *, user_id: uuid.UUID, role: str, actor_id: uuid.UUID | None = None
) -> bool:
    tenant_id = uow.require_tenant()
    row = repo.membership(uow.session, tenant_id, user_id, role)
    if row is None:
        return False
    uow.session.delete(row)
    uow.on_commit(_forget_tokens)
    uow.session.flush()
    audit.record(
        uow,
        action="identity.role.revoked",
        actor_id=actor_id,
        target_type="user",
        target_id=str(user_id),
        details={"role": role},
    )
    return True


def set_active(
    uow: UnitOfWork, *, user_id: uuid.UUID, active: bool, actor_id: uuid.UUID | None = None
) -> None:
    """Enable or disable an account; disabling ends every session it has (ASVS 7.4.2)."""
    user = uow.session.get(User, user_id)
    if user is None:
        raise NotFound("identity.user.not_found", "no such user")
    user.active = active
    uow.on_commit(_forget_tokens)
    if not active:
        repo.delete_sessions_of(uow.session, user_id)
    uow.session.flush()
    if uow.tenant_id is not None:
        audit.record(
            uow,
            action="identity.user.enabled" if active else "identity.user.disabled",
            actor_id=actor_id,
            target_type="user",
            target_id=str(user_id),
            details={},
        )


def member_or_404(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    """404 unless the user holds a role in this tenant (other tenants' users do not exist)."""
    if not repo.roles_of(uow.session, uow.require_tenant(), user_id):
        raise NotFound("identity.user.not_found", "no such user")


def check_grantable(actor_roles: frozenset[str], role: str) -> None:
    """Only a platform admin may make another platform admin."""
    if role == "platform-admin" and "platform-admin" not in actor_roles:
        raise Forbidden("identity.role.not_grantable", "only a platform admin grants this role")


# -- API tokens --------------------------------------------------------------------------


def create_token(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: dt.datetime | None,
    actor_id: uuid.UUID | None = None,
) -> tuple[str, TokenInfo]:
    """Mint a bearer token for a user in this tenant. Returns the secret (shown once)."""
    tenant_id = uow.require_tenant()
    if not name.strip() or len(name) > 100:
        raise ValidationFailed("name", "required, at most 100 characters")
    if not scopes or any(not s or len(s) > 100 or " " in s for s in scopes):
        raise ValidationFailed("scopes", "at least one scope pattern, e.g. ticketing.*")
    if expires_at is not None and expires_at <= _now():
        raise ValidationFailed("expires_at", "must be in the future")
    user = uow.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("identity.user.not_found", "no such user")
    if not repo.roles_of(uow.session, tenant_id, user_id):
        raise ValidationFailed("user", "has no role in this tenant")
    secret, prefix = domain.new_api_token()
    token = ApiToken(
        user_id=user_id,
        tenant_id=tenant_id,
        prefix=prefix,
        token_hash=domain.sha256_hex(secret),
        name=name.strip(),
        scopes=list(scopes),
        expires_at=expires_at,
    )
    uow.session.add(token)
    uow.session.flush()
    audit.record(
        uow,
        action="identity.token.created",
        actor_id=actor_id if actor_id is not None else user_id,
        target_type="api_token",
        target_id=str(token.id),
        details={"prefix": prefix, "scopes": sorted(scopes), "user_id": str(user_id)},
    )
    return secret, TokenInfo(token.id, prefix, token.name, tuple(scopes), expires_at)


def revoke_token(uow: UnitOfWork, *, token_id: uuid.UUID, actor_id: uuid.UUID | None) -> None:
    tenant_id = uow.require_tenant()
    token = uow.session.get(ApiToken, token_id)
    if token is None or token.tenant_id != tenant_id:
        raise NotFound("identity.token.not_found", "no such token")
    if token.revoked_at is None:
        token.revoked_at = _now()
        uow.on_commit(_forget_tokens)
        uow.session.flush()
        audit.record(
            uow,
            action="identity.token.revoked",
            actor_id=actor_id,
            target_type="api_token",
            target_id=str(token.id),
            details={"prefix": token.prefix},
        )


def list_tokens(uow: UnitOfWork, user_id: uuid.UUID) -> list[TokenInfo]:
    """A user's live tokens in this tenant (never their secrets, which are not kept)."""
    return [
        TokenInfo(t.id, t.prefix, t.name, tuple(t.scopes), t.expires_at)
        for t in repo.tokens_of(uow.session, uow.require_tenant(), user_id)
    ]


def token_owner(uow: UnitOfWork, token_id: uuid.UUID) -> uuid.UUID:
    token = uow.session.get(ApiToken, token_id)
    if token is None or token.tenant_id != uow.require_tenant():
        raise NotFound("identity.token.not_found", "no such token")
    return token.user_id


# Resolved bearer tokens are kept a few seconds per process: a scanner or an app calling the
# API many times a second then costs no extra transactions per request. A revocation or a
# disabled account takes effect at once in the process that made it (the cache is cleared
# after commit) and within TOKEN_CACHE_SECONDS in the others.
TOKEN_CACHE_SECONDS = 5.0
_TOKEN_CACHE_LIMIT = 10_000
V = TypeVar("V")


_generation = [0]  # bumped after a revocation, logout or account change commits here


def _forget_tokens() -> None:
    _generation[0] += 1


class _Recent(Generic[V]):
    """Credentials this process resolved moments ago, by the digest of their secret: an
    entry lasts TOKEN_CACHE_SECONDS and dies with any change of ``_generation``."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[float, int, V]] = {}

    def get(self, secret: str) -> V | None:
        hit = self._rows.get(domain.sha256_hex(secret))
        if hit is not None and hit[0] > time.monotonic() and hit[1] == _generation[0]:
            return hit[2]
        return None

    def put(self, secret: str, generation: int, value: V) -> None:
        """``generation``: read before resolving, so a change committed meanwhile wins."""
        if len(self._rows) >= _TOKEN_CACHE_LIMIT:
            self._rows.clear()
        self._rows[domain.sha256_hex(secret)] = (
            time.monotonic() + TOKEN_CACHE_SECONDS,
            generation,
            value,
        )


def _recent(container: Container, name: str) -> _Recent[Any]:
    found = container.extras.get(name)
    if found is None:
        found = container.extras[name] = _Recent()
    return cast(_Recent[Any], found)


def _token_cache(container: Container) -> _Recent[Principal]:
    return _recent(container, "identity.token_cache")


def cached_token(container: Container, secret: str) -> Principal | None:
    """The principal behind a bearer token if this process resolved it moments ago, else
    None (then call ``authenticate_token``). Touches no database: safe on the event loop."""
    if not domain.looks_like_api_token(secret):
        return None
    return _token_cache(container).get(secret)


def authenticate_token(container: Container, secret: str) -> Principal | None:
    """The principal behind a bearer token, or None (unknown, expired, revoked, disabled)."""
    hit = cached_token(container, secret)
    if hit is not None or not domain.looks_like_api_token(secret):
        return hit
    generation = _generation[0]
    principal = _resolve_token(container, secret)
    if principal is not None:
        _token_cache(container).put(secret, generation, principal)
    return principal


def _resolve_token(container: Container, secret: str) -> Principal | None:
    now = container.clock.now()
    with container.uow() as uow:
        token = repo.token_by_hash(uow.session, domain.sha256_hex(secret))
        if token is None or token.revoked_at is not None:
            return None
        if token.expires_at is not None and token.expires_at <= now:
            return None
        user = uow.session.get(User, token.user_id)
        if user is None or not user.active:
            return None
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            token.last_used_at = now  # coarse, so busy tokens do not write on every call
        tenant_id, user_id, scopes = token.tenant_id, token.user_id, frozenset(token.scopes)
    with container.uow(tenant_id) as uow:
        roles = repo.roles_of(uow.session, tenant_id, user_id)
    return Principal(user_id, tenant_id, roles, scopes, "token")


# -- web sessions and login ---------------------------------------------------------------


@dataclass(frozen=True)
class SessionContext:
    principal: Principal
    csrf_token: str


# Resolved sessions are kept as briefly as tokens, for the same reason (a gate agent's
# scanner page sends a scan every few seconds): logout, a disabled account or a role change
# take effect at once in the process that made them and within TOKEN_CACHE_SECONDS in the
# others; the session's own expiry is checked on every hit.


def _session_cache(container: Container) -> _Recent[tuple[SessionContext, dt.datetime]]:
    return _recent(container, "identity.session_cache")


def cached_session(container: Container, secret: str) -> SessionContext | None:
    """The session behind a cookie if this process resolved it moments ago, else None
    (then call ``authenticate_session``). Touches no database: safe on the event loop."""
    if not secret or len(secret) > 100:
        return None
    hit = _session_cache(container).get(secret)
    if hit is not None and container.clock.now() < hit[1]:
        return hit[0]
    return None


def authenticate_session(container: Container, secret: str) -> SessionContext | None:
    """The principal behind a session cookie, or None (unknown, expired, user disabled)."""
    hit = cached_session(container, secret)
    if hit is not None or not secret or len(secret) > 100:
        return hit
    generation = _generation[0]
    resolved = _resolve_session(container, secret)
    if resolved is None:
        return None
    _session_cache(container).put(secret, generation, resolved)
    return resolved[0]


def _resolve_session(
    container: Container, secret: str
) -> tuple[SessionContext, dt.datetime] | None:
    now = container.clock.now()
    with container.uow() as uow:
        row = repo.session_by_hash(uow.session, domain.sha256_hex(secret))
        if row is None:
            return None
        if row.expires_at <= now:
            uow.session.delete(row)
            return None
        user = uow.session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        sid, tenant_id, user_id, csrf = row.id, row.tenant_id, row.user_id, row.csrf_token
        expires_at = row.expires_at
    with container.uow(tenant_id) as uow:
        roles = repo.roles_of(uow.session, tenant_id, user_id)
    principal = Principal(user_id, tenant_id, roles, None, "session", sid)
    return SessionContext(principal, csrf), expires_at


def _rate_keys(container: Container, email: str, client_ip: str) -> list[tuple[str, int]]:
    s = container.settings
    key = s.secret_key or "teranga"
    return [
        (domain.keyed_hash(key, "account", email), s.login_rate_per_account),
        (domain.keyed_hash(key, "ip", client_ip), s.login_rate_per_ip),
    ]


def _retry_after(
    uow: UnitOfWork, keys: list[tuple[str, int]], now: dt.datetime, window: int
) -> int | None:
    since = now - dt.timedelta(seconds=window)
    wait = 0.0
    for key, limit in keys:
        count, oldest = repo.attempts_since(uow.session, key, since)
        if count > limit and oldest is not None:
            wait = max(wait, (oldest - since).total_seconds())
    return max(1, math.ceil(wait)) if wait > 0 else None


def login(
    container: Container,
    *,
    tenant_id: uuid.UUID,
    email: str,
    password: str,
    client_ip: str,
    previous_secret: str | None = None,
) -> LoginResult | None:
    """Check a password and open a session in a tenant; None when the credentials fail.

    Rate limits per account and per client address hold across processes: the attempt is
    committed first, then attempts in the sliding window are counted (raises
    TooManyRequests with the seconds to wait). A previous session presented by the browser
    is deleted, so the session id changes at login (no fixation).
    """
    email = domain.normalise_email(email)
    now = container.clock.now()
    window = container.settings.login_rate_window_seconds
    keys = _rate_keys(container, email, client_ip)
    with container.uow() as uow:
        repo.purge_attempts(uow.session, now - dt.timedelta(seconds=window * 2))
        repo.purge_expired_sessions(uow.session, now)
        attempt_ids = repo.add_attempts(uow.session, [k for k, _ in keys], now)
    with container.uow(tenant_id) as uow:
        wait = _retry_after(uow, keys, now, window)
        if wait is not None:
            # A refused attempt does not count, so Retry-After is honest.
            repo.delete_attempts(uow.session, attempt_ids)
            audit.record(
                uow,
                action="identity.login.rate_limited",
                actor_id=None,
                target_type="user",
                target_id="",
                details={"retry_after": wait},
            )
    if wait is not None:
        raise TooManyRequests(
            "identity.login.rate_limited", "too many login attempts", retry_after=wait
        )
    with container.uow(tenant_id) as uow:
        user = repo.user_by_email(uow.session, email)
        user_id = user.id if user else None
        stored_hash = user.password_hash if user else _dummy_hash()
        active = bool(user and user.active)
        roles = repo.roles_of(uow.session, tenant_id, user.id) if user else frozenset()
    # Argon2 runs outside any transaction: no connection or SQLite write lock held for it.
    ok = _verify(stored_hash, password)
    result: LoginResult | None = None
    with container.uow(tenant_id) as uow:
        if user_id is None or not ok or not active or not roles:
            reason = (
                "unknown_account"
                if user_id is None
                else "bad_password"
                if not ok
                else "disabled"
                if not active
                else "no_role"
            )
            audit.record(
                uow,
                action="identity.login.failed",
                actor_id=user_id,
                target_type="user",
                target_id=str(user_id or ""),
                details={"reason": reason},
            )
        else:
            repo.delete_attempts(uow.session, attempt_ids)
            if previous_secret:
                old = repo.session_by_hash(uow.session, domain.sha256_hex(previous_secret))
                if old is not None:
                    uow.session.delete(old)
                    uow.on_commit(_forget_tokens)  # and the replaced session, if cached
            if _hasher.check_needs_rehash(stored_hash):
                row_user = uow.session.get(User, user_id)
                if row_user is not None and row_user.password_hash == stored_hash:
                    row_user.password_hash = _hasher.hash(password)
            secret, csrf = domain.new_secret(), domain.new_secret()
            expires = now + dt.timedelta(seconds=container.settings.session_ttl_seconds)
            row = WebSession(
                token_hash=domain.sha256_hex(secret),
                user_id=user_id,
                tenant_id=tenant_id,
                csrf_token=csrf,
                expires_at=expires,
            )
            uow.session.add(row)
            uow.session.flush()
            audit.record(
                uow,
                action="identity.login.succeeded",
                actor_id=user_id,
                target_type="user",
                target_id=str(user_id),
                details={"via": "password"},
            )
            principal = Principal(user_id, tenant_id, roles, None, "session", row.id)
            result = LoginResult(secret, csrf, principal, expires)
    return result


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def logout(container: Container, secret: str) -> None:
    """Delete the server-side session row, so the cookie is worthless even if kept."""
    token_hash = domain.sha256_hex(secret)
    with container.uow() as uow:
        row = repo.session_by_hash(uow.session, token_hash)
        if row is None:
            return
        tenant_id = row.tenant_id
    with container.uow(tenant_id) as uow:
        row = repo.session_by_hash(uow.session, token_hash)
        if row is None:
            return
        uow.session.delete(row)
        uow.on_commit(_forget_tokens)  # and cached sessions
        audit.record(
            uow,
            action="identity.logout",
            actor_id=row.user_id,
            target_type="user",
            target_id=str(row.user_id),
            details={},
        )


def me(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    user = get_user(uow, principal.user_id)
    return {
        "user_id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "tenant_id": principal.tenant_id,
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes) if principal.scopes is not None else None,
        "via": principal.via,
    }

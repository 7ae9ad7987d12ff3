"""Identity queries. Global tables are looked up by id or hashed secret only; never commits."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from teranga.identity.models import ApiToken, LoginAttempt, Membership, User, WebSession


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == email))


def roles_of(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> frozenset[str]:
    rows = session.scalars(
        sa.select(Membership.role).where(
            Membership.tenant_id == tenant_id, Membership.user_id == user_id
        )
    )
    return frozenset(rows)


def membership(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> Membership | None:
    return session.scalar(
        sa.select(Membership).where(
            Membership.tenant_id == tenant_id,
            Membership.user_id == user_id,
            Membership.role == role,
        )
    )


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_hash))


def session_by_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(sa.select(WebSession).where(WebSession.token_hash == token_hash))


def delete_sessions_of(session: Session, user_id: uuid.UUID) -> int:
    result = session.execute(sa.delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def add_attempts(session: Session, keys: list[str], at: dt.datetime) -> list[uuid.UUID]:
    rows = [LoginAttempt(key=k, at=at) for k in keys]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def delete_attempts(session: Session, ids: list[uuid.UUID]) -> None:
    if ids:
        session.execute(sa.delete(LoginAttempt).where(LoginAttempt.id.in_(ids)))


def attempts_since(
    session: Session, key: str, since: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """How many attempts under this key since a time, and the oldest of them."""
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginAttempt.at)).where(
            LoginAttempt.key == key, LoginAttempt.at > since
        )
    ).one()
    return int(count), oldest


def purge_attempts(session: Session, before: dt.datetime) -> None:
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at <= before))


def purge_expired_sessions(session: Session, now: dt.datetime) -> None:
    session.execute(sa.delete(WebSession).where(WebSession.expires_at <= now))


def tokens_of(session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[ApiToken]:
    return list(
        session.scalars(
            sa.select(ApiToken)
            .where(
                ApiToken.tenant_id == tenant_id,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
            )
            .order_by(ApiToken.created_at.desc())
        )
    )

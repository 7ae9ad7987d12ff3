"""Roles and the permission patterns they grant: the one place authorisation rules live.

Permissions are ``<domain>.<resource>.<action>``. A role grants fnmatch-style patterns
(``ticketing.*``, ``*.read``). A principal may do X when one of its roles grants a pattern
matching X and, for API tokens, one of the token's scopes matches X too (the token can only
narrow what its owner may do, never widen it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from fnmatch import fnmatchcase

# Every role may mint API tokens for itself: a token never exceeds its owner's grants.
_SELF = ("identity.token.create", "identity.me.read")

ROLE_GRANTS: dict[str, tuple[str, ...]] = {
    "platform-admin": ("*",),
    "organiser-admin": (
        "programme.*",
        "ticketing.*",
        "access.*",
        "results.read",
        "transport.shuttle.*",
        "privacy.*",
        "audit.read",
        "identity.user.*",
        "webhooks.*",
        *_SELF,
    ),
    "box-office": ("ticketing.boxoffice.*", "ticketing.order.read", *_SELF),
    "gate-agent": ("access.scan.*", *_SELF),
    "scorer": ("results.*", *_SELF),
    "transport-operator": ("transport.*", *_SELF),
    "developer": ("*.read", "webhooks.*", *_SELF),
}

ROLES: tuple[str, ...] = tuple(ROLE_GRANTS)


def is_role(name: str) -> bool:
    return name in ROLE_GRANTS


def matches(patterns: Iterable[str], permission: str) -> bool:
    """True when any pattern matches the permission (case-sensitive fnmatch)."""
    return any(fnmatchcase(permission, p) for p in patterns)


def role_patterns(roles: Iterable[str]) -> tuple[str, ...]:
    """The patterns granted by these roles; unknown role names grant nothing."""
    out: list[str] = []
    for role in roles:
        out.extend(ROLE_GRANTS.get(role, ()))
    return tuple(out)


def allowed(roles: Iterable[str], scopes: Iterable[str] | None, permission: str) -> bool:
    """Effective permission: role grants, intersected with token scopes when there are any.

    ``scopes`` is None for web sessions (no narrowing); a token always has scopes, and an
    empty scope list allows nothing.
    """
    return _allowed(frozenset(roles), None if scopes is None else frozenset(scopes), permission)


# Every request asks: remember the answers (a pure function of few distinct inputs).
@functools.lru_cache(maxsize=8192)
def _allowed(roles: frozenset[str], scopes: frozenset[str] | None, permission: str) -> bool:
    if not matches(role_patterns(roles), permission):
        return False
    return scopes is None or matches(scopes, permission)

"""Pure identity rules: principals, password policy, secret formats. No framework here."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Literal

from teranga.identity import permissions

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "trg"  # noqa: S105 - a public marker, not a secret
_TOKEN_RE = re.compile(r"^trg_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

# Lowercased; a short list of the most common choices (and their French favourites).
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "0123456789",
        "1111111111",
        "0000000000",
        "123456789a",
        "azertyuiop",
        "qwertyuiop",
        "motdepasse",
        "motdepasse1",
        "motdepasse123",
        "password123",
        "password1234",
        "passwordpassword",
        "iloveyou12",
        "senegal2026",
        "dakar2026!",
        "dakar12345",
        "jojdakar2026",
        "teranga2026",
        "administrator",
        "azerty1234",
        "qwerty1234",
        "abcdefghij",
        "bienvenue1",
        "bienvenue123",
        "soleil1234",
        "changeme123",
        "letmein123",
        "welcome123",
    }
)


@dataclass(frozen=True)
class Principal:
    """Who is calling, for which tenant, with what rights.

    ``scopes`` is None for a web session; for an API token it holds the token's scopes,
    which narrow the roles' grants. ``via`` tells how the caller authenticated.
    """

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    roles: frozenset[str]
    scopes: frozenset[str] | None = None
    via: Literal["session", "token"] = "session"
    session_id: uuid.UUID | None = field(default=None, compare=False)

    def can(self, permission: str) -> bool:
        return permissions.allowed(self.roles, self.scopes, permission)


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None when it is acceptable (ASVS 6.2.1, 6.2.12)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 3:
        return "too common, choose another"
    return None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    """A 256-bit CSPRNG secret, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def new_api_token() -> tuple[str, str]:
    """A fresh API token ``trg_<id8>_<secret>`` and its public prefix ``trg_<id8>``."""
    ident = secrets.token_hex(4)
    return f"{TOKEN_PREFIX}_{ident}_{new_secret()}", f"{TOKEN_PREFIX}_{ident}"


def looks_like_api_token(value: str) -> bool:
    return _TOKEN_RE.match(value) is not None


def keyed_hash(key: str, kind: str, value: str) -> str:
    """HMAC-SHA256 of a value, so rate-limit keys hold no e-mail or address in clear."""
    return hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: the socket peer, unless that peer is a trusted proxy.

    Behind trusted proxies, X-Forwarded-For is read right to left and the first hop that
    is not itself a trusted proxy is the client; anything left of it is client-supplied
    and may be forged (ASVS 4.1.3), so it is ignored.
    """
    addr = peer or "unknown"
    if not forwarded_for or not _in_networks(addr, trusted):
        return addr
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = hop
        if not _in_networks(hop, trusted):
            return hop
    return addr

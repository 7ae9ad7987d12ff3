"""Pure identity rules: permission matching, password policy, client address."""

from __future__ import annotations

import uuid

import pytest

from teranga.identity import domain, permissions
from teranga.identity.domain import Principal


@pytest.mark.parametrize(
    ("role", "perm", "ok"),
    [
        ("platform-admin", "anything.at.all", True),
        ("organiser-admin", "ticketing.order.refund", True),
        ("organiser-admin", "results.read", True),
        ("organiser-admin", "results.score.write", False),
        ("organiser-admin", "transport.shuttle.write", True),
        ("organiser-admin", "transport.gtfs.import", False),
        ("organiser-admin", "identity.user.write", True),
        ("box-office", "ticketing.boxoffice.sell", True),
        ("box-office", "ticketing.order.read", True),
        ("box-office", "ticketing.order.refund", False),
        ("gate-agent", "access.scan.perform", True),
        ("gate-agent", "access.list.write", False),
        ("scorer", "results.score.write", True),
        ("transport-operator", "transport.gtfs.import", True),
        ("developer", "programme.event.read", True),
        ("developer", "programme.event.write", False),
        ("developer", "identity.token.create", True),
        ("gate-agent", "identity.token.create", True),
        ("nobody", "results.read", False),
    ],
)
def test_role_grants(role: str, perm: str, ok: bool) -> None:
    assert permissions.allowed([role], None, perm) is ok


def test_scopes_intersect() -> None:
    p = Principal(uuid.uuid4(), uuid.uuid4(), frozenset({"scorer"}), frozenset({"*.read"}), "token")
    assert p.can("results.read")
    assert not p.can("results.score.write")
    empty = Principal(
        uuid.uuid4(), uuid.uuid4(), frozenset({"platform-admin"}), frozenset(), "token"
    )
    assert not empty.can("results.read")


def test_password_policy() -> None:
    assert domain.password_problem("short") is not None
    assert domain.password_problem("MotDePasse123") is not None
    assert domain.password_problem("x" * 300) is not None
    assert domain.password_problem("le baobab de Thiès") is None


def test_client_address_ignores_untrusted_forwarded_for() -> None:
    trusted = ["10.0.0.0/8", "127.0.0.1"]
    # Direct client: the header is whatever the client wants, ignored.
    assert domain.client_address("203.0.113.7", "1.2.3.4", trusted) == "203.0.113.7"
    # Through our proxy: the rightmost untrusted hop; a forged left part is ignored.
    assert domain.client_address("10.0.0.2", "1.2.3.4, 198.51.100.9", trusted) == "198.51.100.9"
    assert (
        domain.client_address("127.0.0.1", "6.6.6.6, 198.51.100.9, 10.0.0.5", trusted)
        == "198.51.100.9"
    )
    assert domain.client_address("10.0.0.2", None, trusted) == "10.0.0.2"
    assert domain.client_address("10.0.0.2", "junk", trusted) == "junk"


def test_api_token_format() -> None:
    secret, prefix = domain.new_api_token()
    assert secret.startswith(prefix + "_")
    assert domain.looks_like_api_token(secret)
    assert len(secret) > 50

"""An auditor checks the tenant's log over HTTP with nothing but the answers: the signed
tree head (Ed25519 over the documented bytes), an entry's inclusion proof against it, and a
consistency proof from an earlier head, as a witness would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient

from teranga import schema
from teranga.audit import api as audit
from teranga.audit import merkle
from teranga.audit.domain import tree_head_message
from teranga.container import Container, build_container
from teranga.web.app import create_app
from tests.conftest import make_settings
from tests.factories import bearer, make_principal_token, make_tenant


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Container]]:
    settings = make_settings(tmp_path)
    schema.upgrade(settings.resolved_admin_url)
    container = build_container(settings)
    with TestClient(create_app(settings, container=container)) as client:
        yield client, container


def _record(container: Container, tid: uuid.UUID, n: int) -> None:
    with container.uow(tid) as uow:
        for i in range(n):
            audit.record(
                uow,
                action="test.thing.done",
                actor_id=None,
                target_type="thing",
                target_id=str(i),
                details={"i": i},
            )


def _checked_head(head: dict[str, object], tid: uuid.UUID) -> bytes:
    """The head's root once its signature is checked with the key it names."""
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(head["public_key"])))
    message = tree_head_message(
        tid, int(str(head["tree_size"])), int(str(head["timestamp_ms"])), str(head["root_hash"])
    )
    key.verify(bytes.fromhex(str(head["signature"])), message)  # raises when forged
    return bytes.fromhex(str(head["root_hash"]))


def test_an_auditor_checks_heads_and_proofs_over_http(
    app: tuple[TestClient, Container],
) -> None:
    client, container = app
    tid = make_tenant(container)
    auditor = bearer(make_principal_token(container, tid, "organiser-admin"))
    _record(container, tid, 5)
    first = client.get("/api/v1/audit/head", headers=auditor)
    assert first.status_code == 200, first.text
    witnessed = first.json()
    first_root = _checked_head(witnessed, tid)
    size = witnessed["tree_size"]
    assert size >= 5

    _record(container, tid, 6)
    later = client.get("/api/v1/audit/head", headers=auditor).json()
    later_root = _checked_head(later, tid)
    assert later["tree_size"] == size + 6

    r = client.get(
        "/api/v1/audit/proofs/consistency",
        params={"first": size, "second": later["tree_size"]},
        headers=auditor,
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["first_root"] == witnessed["root_hash"]
    assert merkle.verify_consistency(
        size, later["tree_size"], first_root, later_root, [bytes.fromhex(h) for h in c["proof"]]
    )

    seq = size + 3  # one of the later entries
    r = client.get(
        "/api/v1/audit/proofs/inclusion",
        params={"seq": seq, "tree_size": later["tree_size"]},
        headers=auditor,
    )
    assert r.status_code == 200, r.text
    inc = r.json()
    assert inc["leaf_index"] == seq - 1
    assert merkle.verify_inclusion(
        seq - 1,
        later["tree_size"],
        bytes.fromhex(inc["leaf_hash"]),
        [bytes.fromhex(h) for h in inc["audit_path"]],
        later_root,
    )
    # A proof is only good for its own leaf.
    assert not merkle.verify_inclusion(
        seq,
        later["tree_size"],
        bytes.fromhex(inc["leaf_hash"]),
        [bytes.fromhex(h) for h in inc["audit_path"]],
        later_root,
    )


def test_proof_requests_out_of_range_are_clear_4xx(app: tuple[TestClient, Container]) -> None:
    client, container = app
    tid = make_tenant(container)
    auditor = bearer(make_principal_token(container, tid, "organiser-admin"))
    _record(container, tid, 2)
    size = client.get("/api/v1/audit/head", headers=auditor).json()["tree_size"]
    for path, params in (
        ("/api/v1/audit/proofs/inclusion", {"seq": size + 10}),
        ("/api/v1/audit/proofs/inclusion", {"seq": 0}),
        ("/api/v1/audit/proofs/consistency", {"first": size + 1, "second": size}),
        ("/api/v1/audit/proofs/inclusion", {"seq": "x"}),
    ):
        r = client.get(path, params=params, headers=auditor)
        assert 400 <= r.status_code < 500, (path, params, r.status_code, r.text)
        assert r.json().get("message") or r.json().get("detail")
    anonymous = client.get("/api/v1/audit/head")
    assert anonymous.status_code == 401

"""Envelope encryption with per-tenant keys, blind indexes, rotation and crypto-shredding.

Runs on SQLite and PostgreSQL (as the unprivileged app role, under RLS) via ``container``.
A second container over the same database and KMS stands for another process: it has a
cold key cache, so what it reads went through the database and the KMS.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from teranga.audit import api as audit
from teranga.cli.main import app as cli
from teranga.container import Container, build_container
from teranga.platform.errors import ValidationFailed
from teranga.privacy import api as privacy
from teranga.privacy.keys import kek_id
from teranga.privacy.models import TenantDataKey
from teranga.tenancy import api as tenancy


def make_tenant(container: Container, slug: str) -> uuid.UUID:
    with container.uow() as uow:
        return tenancy.create_tenant(
            uow,
            slug=slug,
            name=slug,
            legal_entity=f"{slug} SA",
            representative_sn="Dakar",
            dpo_contact=f"dpo@{slug}.sn",
        ).id


def _keys(tenant_id: uuid.UUID) -> sa.Select[TenantDataKey]:
    return sa.select(TenantDataKey).where(TenantDataKey.tenant_id == tenant_id)


@pytest.fixture
def other_process(container: Container) -> Iterator[Container]:
    c = build_container(container.settings)
    try:
        yield c
    finally:
        c.dispose()


@pytest.fixture
def tenant_a(container: Container) -> uuid.UUID:
    return make_tenant(container, f"a-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def tenant_b(container: Container) -> uuid.UUID:
    return make_tenant(container, f"b-{uuid.uuid4().hex[:8]}")


def test_seal_roundtrip_across_processes(
    container: Container, other_process: Container, tenant_a: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        blob = privacy.seal(uow, "Awa Ndiaye — Médina")
        again = privacy.seal(uow, "Awa Ndiaye — Médina")
        assert privacy.unseal(uow, blob) == "Awa Ndiaye — Médina"
    assert blob != again
    assert b"Awa" not in blob
    with other_process.uow(tenant_a) as uow:
        assert privacy.unseal(uow, blob) == "Awa Ndiaye — Médina"
        assert privacy.unseal(uow, again) == "Awa Ndiaye — Médina"
    with container.uow(tenant_a) as uow:
        (row,) = uow.session.scalars(_keys(tenant_a)).all()
        assert row.version == 1
        assert row.kek_id == kek_id(tenant_a)
        assert len(row.wrapped_dek) > 32


def test_values_are_bound_to_tenant_and_purpose(
    container: Container, tenant_a: uuid.UUID, tenant_b: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        blob = privacy.seal(uow, "+221771234567")
        marketing = privacy.seal(uow, "+221771234567", purpose="marketing")
        with pytest.raises(privacy.DecryptionFailed):
            privacy.unseal(uow, marketing)
        assert privacy.unseal(uow, marketing, purpose="marketing") == "+221771234567"
    with container.uow(tenant_b) as uow:
        # B has no key yet, then has its own: A's value opens in neither case.
        with pytest.raises(privacy.DecryptionFailed):
            privacy.unseal(uow, blob)
        privacy.seal(uow, "b's own value")
        with pytest.raises(privacy.DecryptionFailed):
            privacy.unseal(uow, blob)


def test_bytes_never_sealed_fail_cleanly_and_keep_the_transaction(
    container: Container, tenant_a: uuid.UUID
) -> None:
    """Any binary value read as sealed (a signature, a key...) names a key version out of
    the column's range: a DecryptionFailed, not a database error that aborts the transaction
    (the data-subject scan tries every binary column in one transaction)."""
    with container.uow(tenant_a) as uow:
        privacy.seal(uow, "x")
        # Format byte 1, then a key version past the 32-bit column (PostgreSQL would refuse
        # the query with "integer out of range" and abort the transaction).
        for junk in (b"\x01\x80\x00\x00\x00" + bytes(60), b"\x01\xff\xff\xff\xff" + bytes(40)):
            with pytest.raises(privacy.DecryptionFailed):
                privacy.unseal(uow, junk)
        assert privacy.unseal(uow, privacy.seal(uow, "still usable")) == "still usable"


def test_blind_index_normalises_and_is_per_tenant(
    container: Container, other_process: Container, tenant_a: uuid.UUID, tenant_b: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        a1 = privacy.blind_index(uow, "77 123 45 67")
        a2 = privacy.blind_index(uow, "+221 77 123 45 67")
        a_mail = privacy.blind_index(uow, " Awa@Example.SN ", kind="email")
        assert a_mail == privacy.blind_index(uow, "awa@example.sn", kind="email")
        with pytest.raises(ValidationFailed, match="invalid phone number"):
            privacy.blind_index(uow, "12 34")
    assert a1 == a2
    assert len(a1) == 64
    assert int(a1, 16) >= 0
    with other_process.uow(tenant_a) as uow:
        assert privacy.blind_index(uow, "00221771234567") == a1
    with container.uow(tenant_b) as uow:
        assert privacy.blind_index(uow, "77 123 45 67") != a1


def test_rotation_keeps_old_values_and_indexes_readable(
    container: Container, other_process: Container, tenant_a: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        old = privacy.seal(uow, "before rotation")
        index = privacy.blind_index(uow, "771234567")
        assert privacy.rotate_data_key(uow) == 2
    with container.uow(tenant_a) as uow:
        new = privacy.seal(uow, "after rotation")
        assert privacy.blind_index(uow, "771234567") == index
    assert int.from_bytes(old[1:5], "big") == 1
    assert int.from_bytes(new[1:5], "big") == 2
    with other_process.uow(tenant_a) as uow:
        assert privacy.unseal(uow, old) == "before rotation"
        assert privacy.unseal(uow, new) == "after rotation"
        assert privacy.blind_index(uow, "771234567") == index
        (entry,) = audit.entries(uow, action="privacy.data_key.rotated")
        assert entry.details == {"dek_version": 2}


def test_kek_rotation_rewraps_and_retires_old_versions(
    container: Container, other_process: Container, tenant_a: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        blob = privacy.seal(uow, "wrapped twice")
        before = uow.session.scalars(_keys(tenant_a)).one().wrapped_dek
    with container.uow(tenant_a) as uow:
        info = privacy.rotate_tenant_kek(uow)
    assert info.latest_version == 2
    kms = container.extras["kms"]
    assert kms.key_info(kek_id(tenant_a)).min_decryption_version == 2
    with other_process.uow(tenant_a) as uow:
        after = uow.session.scalars(_keys(tenant_a)).one().wrapped_dek
        assert privacy.unseal(uow, blob) == "wrapped twice"
    assert after != before
    with pytest.raises(privacy.KeyVersionRetired):
        kms.unwrap(kek_id(tenant_a), before)
    with container.uow(tenant_a) as uow:
        assert [e.details for e in audit.entries(uow, action="privacy.kek.rotated")] == [
            {"kek_version": 2}
        ]


def test_shred_tenant_makes_its_data_unreadable_and_spares_others(
    container: Container, other_process: Container, tenant_a: uuid.UUID, tenant_b: uuid.UUID
) -> None:
    with container.uow(tenant_a) as uow:
        a_blob = privacy.seal(uow, "Awa Ndiaye")
    with container.uow(tenant_b) as uow:
        b_blob = privacy.seal(uow, "Babacar Diop")
        privacy.rotate_data_key(uow)
        b_blob2 = privacy.seal(uow, "Babacar Diop (v2)")
    with other_process.uow(tenant_b) as uow:  # warm another process's cache before the shred
        assert privacy.unseal(uow, b_blob) == "Babacar Diop"
    with container.uow(tenant_b) as uow:
        backup = [
            (r.version, r.kek_id, bytes(r.wrapped_dek))
            for r in uow.session.scalars(_keys(tenant_b))
        ]
        privacy.shred_tenant(uow)
    assert len(backup) == 2

    with container.uow(tenant_b) as uow:
        assert uow.session.scalars(_keys(tenant_b)).all() == []
        for blob in (b_blob, b_blob2):
            with pytest.raises(privacy.KeyDestroyed):
                privacy.unseal(uow, blob)
        with pytest.raises(privacy.KeyDestroyed):
            privacy.seal(uow, "new data for a shredded tenant")
    # Restoring a pre-shred backup of the wrapped keys does not bring the data back.
    with container.uow(tenant_b) as uow:
        for version, kid, wrapped in backup:
            uow.session.add(
                TenantDataKey(tenant_id=tenant_b, version=version, kek_id=kid, wrapped_dek=wrapped)
            )
    fresh = build_container(container.settings)
    try:
        with fresh.uow(tenant_b) as uow, pytest.raises(privacy.KeyDestroyed):
            privacy.unseal(uow, b_blob)
        with fresh.uow(tenant_a) as uow:
            assert privacy.unseal(uow, a_blob) == "Awa Ndiaye"
    finally:
        fresh.dispose()
    with container.uow(tenant_a) as uow:
        assert privacy.unseal(uow, a_blob) == "Awa Ndiaye"
        assert audit.entries(uow, action="privacy.tenant.shredded") == []
    with container.uow(tenant_b) as uow:
        (entry,) = audit.entries(uow, action="privacy.tenant.shredded")
        assert entry.target_id == kek_id(tenant_b)
        assert audit.verify(uow) is None


def test_a_rolled_back_key_never_seals_committed_data(
    container: Container, other_process: Container, tenant_a: uuid.UUID
) -> None:
    class Boom(Exception):
        pass

    def doomed() -> None:
        with container.uow(tenant_a) as uow:
            privacy.seal(uow, "first")
            privacy.seal(uow, "second")  # reads the uncommitted key row back
            raise Boom

    with pytest.raises(Boom):
        doomed()
    with container.uow(tenant_a) as uow:
        kept = privacy.seal(uow, "kept")
    with other_process.uow(tenant_a) as uow:
        assert privacy.unseal(uow, kept) == "kept"


def test_concurrent_first_use_creates_one_key(
    container: Container, other_process: Container, tenant_a: uuid.UUID
) -> None:
    barrier = threading.Barrier(4)
    blobs: list[bytes] = []
    errors: list[BaseException] = []

    def worker(c: Container) -> None:
        try:
            barrier.wait()
            with c.uow(tenant_a) as uow:
                blobs.append(privacy.seal(uow, "same person"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(c,))
        for c in (container, other_process, container, other_process)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(blobs) == 4
    fresh = build_container(container.settings)
    try:
        with fresh.uow(tenant_a) as uow:
            assert [privacy.unseal(uow, b) for b in blobs] == ["same person"] * 4
            assert len(uow.session.scalars(_keys(tenant_a)).all()) == 1
    finally:
        fresh.dispose()


def test_row_level_security_hides_other_tenants_keys(
    container: Container, tenant_a: uuid.UUID, tenant_b: uuid.UUID
) -> None:
    for t in (tenant_a, tenant_b):
        with container.uow(t) as uow:
            privacy.seal(uow, "x")
    with container.uow(tenant_a) as uow:
        tenants = set(uow.session.scalars(sa.select(TenantDataKey.tenant_id)))
    if container.settings.is_postgres:
        assert tenants == {tenant_a}
    else:  # no RLS on SQLite: services filter by tenant themselves
        assert tenants == {tenant_a, tenant_b}


def test_cli_rotates_a_tenant_key(
    container: Container, tenant_a: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    with container.uow(tenant_a) as uow:
        blob = privacy.seal(uow, "before the CLI rotation")
        slug = tenancy.get(uow, tenant_a).slug
    monkeypatch.chdir(container.settings.data_dir)
    monkeypatch.setenv("TERANGA_DATA_DIR", str(container.settings.data_dir))
    monkeypatch.setenv("TERANGA_DATABASE_URL", container.settings.resolved_database_url)
    result = CliRunner().invoke(cli, ["privacy", "rotate-key", slug, "--kek"])
    assert result.exit_code == 0, result.output
    assert "data key version 2" in result.output
    assert "KEK version 2" in result.output
    missing = CliRunner().invoke(cli, ["privacy", "rotate-key", "no-such-tenant"])
    assert missing.exit_code == 1
    assert "no tenant 'no-such-tenant'" in missing.output
    fresh = build_container(container.settings)
    try:
        with fresh.uow(tenant_a) as uow:
            assert privacy.unseal(uow, blob) == "before the CLI rotation"
            assert int.from_bytes(privacy.seal(uow, "after")[1:5], "big") == 2
    finally:
        fresh.dispose()

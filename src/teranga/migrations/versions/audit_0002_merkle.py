"""audit: RFC 6962 Merkle tree (pending queue, leaves, signed tree heads, signing keys)

The hash chain's entries become the first leaves of each tenant's tree, in their chain
order; their leaf hashes are computed here (the chain's seq is not part of a leaf). The
integrator signs a first tree head over them on its first pass. The head rows, which
serialised every append, are dropped.

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from teranga.platform.db import UTCDateTime
from teranga.platform.rls import disable_rls, enable_rls

revision: str = "audit_0002"
down_revision: str | Sequence[str] | None = "audit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql;
"""
APPEND_ONLY_TABLES = ("audit_leaves", "audit_tree_heads")
GENESIS = "0" * 64


def _canonical(row: Any, *, seq: int | None) -> bytes:
    """The entry's canonical JSON (frozen copy of ``audit.domain.canonical``); the chain's
    version also carried ``seq``."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    body: dict[str, Any] = {
        "tenant": str(row.tenant_id),
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": str(row.actor_id) if row.actor_id else "system",
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "details": row.details,
    }
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entries_table(*extra: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table(
        "audit_entries",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("at", UTCDateTime()),
        sa.column("actor_id", sa.Uuid()),
        sa.column("action", sa.String()),
        sa.column("target_type", sa.String()),
        sa.column("target_id", sa.String()),
        sa.column("details", sa.JSON()),
        *extra,
    )


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def _rewriting_entries(pg: bool, on: bool) -> None:
    """Let the owner read every tenant's entries and rewrite them, for the data migration."""
    if not pg:
        return
    if on:
        op.execute("ALTER TABLE audit_entries NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
    else:
        op.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
        op.execute("ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table(
        "audit_pending",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        _tenant_fk("audit_pending"),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_pending")),
    )
    op.create_index(op.f("ix_audit_pending_tenant_id"), "audit_pending", ["tenant_id"])
    op.create_table(
        "audit_leaves",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        _tenant_fk("audit_leaves"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("tenant_id", "seq", name=op.f("uq_audit_leaves_tenant_id_seq")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_audit_leaves_entry_id")),
    )
    op.create_index(op.f("ix_audit_leaves_tenant_id"), "audit_leaves", ["tenant_id"])
    op.create_table(
        "audit_tree_heads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("frontier", sa.JSON(), nullable=False),
        _tenant_fk("audit_tree_heads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_heads")),
        sa.UniqueConstraint(
            "tenant_id", "tree_size", name=op.f("uq_audit_tree_heads_tenant_id_tree_size")
        ),
    )
    op.create_index(op.f("ix_audit_tree_heads_tenant_id"), "audit_tree_heads", ["tenant_id"])
    op.create_table(
        "audit_signing_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("kek_id", sa.String(length=100), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _tenant_fk("audit_signing_keys"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_audit_signing_keys")),
    )
    op.create_index(op.f("ix_audit_signing_keys_tenant_id"), "audit_signing_keys", ["tenant_id"])
    op.add_column("audit_entries", sa.Column("leaf_hash", sa.String(length=64), nullable=True))

    # Data: chain order -> leaves, with leaf hashes over the seq-free canonical form.
    _rewriting_entries(pg, True)
    old = _entries_table(sa.column("seq", sa.BigInteger()), sa.column("leaf_hash", sa.String()))
    leaves = sa.table(
        "audit_leaves",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("seq", sa.BigInteger()),
        sa.column("entry_id", sa.Uuid()),
        sa.column("leaf_hash", sa.String()),
    )
    rows = bind.execute(sa.select(old).order_by(old.c.tenant_id, old.c.seq)).all()
    for row in rows:
        digest = hashlib.sha256(b"\x00" + _canonical(row, seq=None)).hexdigest()
        bind.execute(old.update().where(old.c.id == row.id).values(leaf_hash=digest))
        bind.execute(
            leaves.insert().values(
                id=uuid.uuid4(),
                tenant_id=row.tenant_id,
                seq=row.seq,
                entry_id=row.id,
                leaf_hash=digest,
            )
        )
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("leaf_hash", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint("uq_audit_entries_tenant_id_seq", type_="unique")
        batch.drop_column("seq")
        batch.drop_column("prev_hash")
        batch.drop_column("hash")
    _rewriting_entries(pg, False)

    for table in ("audit_pending", "audit_leaves", "audit_tree_heads", "audit_signing_keys"):
        enable_rls(op, table)
    disable_rls(op, "audit_heads")
    op.drop_index(op.f("ix_audit_heads_tenant_id"), table_name="audit_heads")
    op.drop_table("audit_heads")
    if pg:
        op.execute(APPEND_ONLY)
        for table in APPEND_ONLY_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
            )


def downgrade() -> None:
    """Back to the chain: leaves in seq order, then pending entries in recording order."""
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    if pg:
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.create_table(
        "audit_heads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _tenant_fk("audit_heads"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_heads")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_audit_heads_tenant_id")),
    )
    op.create_index(op.f("ix_audit_heads_tenant_id"), "audit_heads", ["tenant_id"])
    for table in ("audit_pending", "audit_leaves", "audit_tree_heads", "audit_signing_keys"):
        disable_rls(op, table)
    op.add_column("audit_entries", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_entries", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_entries", sa.Column("hash", sa.String(length=64), nullable=True))
    _rewriting_entries(pg, True)
    if pg:
        op.execute("ALTER TABLE audit_heads NO FORCE ROW LEVEL SECURITY")
    e = _entries_table(
        sa.column("seq", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    leaves = sa.table("audit_leaves", sa.column("seq", sa.BigInteger()), sa.column("entry_id"))
    order = bind.execute(
        sa.select(e, leaves.c.seq.label("leaf_seq"))
        .select_from(e.outerjoin(leaves, leaves.c.entry_id == e.c.id))
        .order_by(e.c.tenant_id, leaves.c.seq.is_(None), leaves.c.seq, e.c.at, e.c.id)
    ).all()
    heads: dict[uuid.UUID, tuple[int, str]] = {}
    for row in order:
        seq, prev = heads.get(row.tenant_id, (0, GENESIS))
        seq += 1
        digest = hashlib.sha256(prev.encode() + _canonical(row, seq=seq)).hexdigest()
        bind.execute(
            e.update().where(e.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest)
        )
        heads[row.tenant_id] = (seq, digest)
    head_rows = sa.table(
        "audit_heads",
        sa.column("id", sa.Uuid()),
        sa.column("tenant_id", sa.Uuid()),
        sa.column("seq", sa.BigInteger()),
        sa.column("hash", sa.String()),
    )
    for tid, (seq, digest) in heads.items():
        bind.execute(
            head_rows.insert().values(id=uuid.uuid4(), tenant_id=tid, seq=seq, hash=digest)
        )
    with op.batch_alter_table("audit_entries") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f("uq_audit_entries_tenant_id_seq"), ["tenant_id", "seq"])
        batch.drop_column("leaf_hash")
    _rewriting_entries(pg, False)
    enable_rls(op, "audit_heads")
    for table in ("audit_signing_keys", "audit_tree_heads", "audit_leaves", "audit_pending"):
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        op.drop_table(table)

"""Row-level security helpers used by migrations (PostgreSQL only; no-ops on SQLite).

Policies compare ``tenant_id`` with the per-transaction setting ``app.tenant_id`` that the
unit of work sets. ``FORCE`` makes the policy apply to the table owner too; superusers
still bypass it, which is why the application connects as a role that is neither.
"""

from __future__ import annotations

from typing import Any

TENANT_EXPR = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def enable_rls(op: Any, table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{table}" '
        f"USING (tenant_id = {TENANT_EXPR}) WITH CHECK (tenant_id = {TENANT_EXPR})"
    )


def disable_rls(op: Any, table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')

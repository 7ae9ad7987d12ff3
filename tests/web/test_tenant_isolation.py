"""Tenant isolation (security reference R9): API walk with foreign ids, and raw SQL under RLS.

The API walk runs on PostgreSQL (the production database, with row-level security). With
tenant A's platform-admin and organiser-admin tokens, every ``/api/v1`` route that takes a
path parameter is called with tenant B's object ids (from tests/isolation.py factories)
and must answer 404, never the object and never 403 (which would confirm it exists).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from teranga.config import Settings
from teranga.container import Container
from teranga.domains import load_all_models
from teranga.identity import service as identity_service
from teranga.identity.api import Principal, require
from teranga.platform.db import tenant_tables
from teranga.web.app import create_app
from tests import isolation
from tests.conftest import make_settings
from tests.factories import bearer, make_principal_token, make_tenant, make_user
from tests.routes import iter_routes

pytestmark = pytest.mark.pg
PARAM_RE = re.compile(r"{([^}:]+)(?::[^}]*)?}")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


# -- request bodies from the OpenAPI schema -------------------------------------------------
def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A value satisfying a JSON schema's required parts (examples and defaults first)."""
    schema = _resolve(schema, spec)
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, spec).get("type") != "null"]
            return sample(options[0] if options else schema[key][0], spec)
    kind = schema.get("type")
    fmt = schema.get("format", "")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: sample(props[k], spec) for k in schema.get("required", []) if k in props}
    if kind == "array":
        n = max(1, schema.get("minItems", 1))
        return [sample(schema.get("items", {}), spec) for _ in range(n)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return "2026-11-01T10:00:00Z"
    if fmt == "date":
        return "2026-11-01"
    if fmt == "email":
        return "iso@example.sn"
    return "x" * max(1, schema.get("minLength", 1))


def body_for(
    method: str, path: str, spec: dict[str, Any], container: Container, tenant_b: uuid.UUID
) -> dict[str, Any]:
    """httpx keyword arguments carrying the request body, if the operation has one."""
    make = isolation.BODIES.get((method, path))
    if make is not None:
        return {"json": make(container, tenant_b)}
    op = spec["paths"].get(path, {}).get(method.lower(), {})
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": sample(content["application/json"]["schema"], spec)}
    for ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if ctype in content:
            data = sample(content[ctype]["schema"], spec)
            return {"data": {k: str(v) for k, v in data.items()}}
    return {}


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture
def world(pg_settings: Settings) -> Iterator[tuple[TestClient, Container, uuid.UUID, uuid.UUID]]:
    slug_a = f"iso-a-{uuid.uuid4().hex[:6]}"
    settings = pg_settings.model_copy(update={"default_tenant": slug_a})
    app = create_app(settings)
    with TestClient(app, follow_redirects=False) as client:
        container: Container = app.state.container
        a = make_tenant(container, slug_a)
        b = make_tenant(container, f"iso-b-{uuid.uuid4().hex[:6]}")
        yield client, container, a, b


def api_routes_with_params(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    out = []
    for route in iter_routes(app):
        params = PARAM_RE.findall(route.path)
        if not route.path.startswith("/api/v1/") or not params:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path, params))
    return out


def uncovered(routes: list[tuple[str, str, list[str]]]) -> list[str]:
    """Path parameters with no factory, not exempt and not on the PENDING ratchet."""
    return sorted(
        {
            f"{{{p}}} in {path}"
            for _, path, params in routes
            for p in params
            if path not in isolation.EXEMPT
            and f"{path}:{p}" not in isolation.PENDING
            and isolation.factory_for(path, p) is None
        }
    )


def test_every_path_parameter_is_covered(tmp_path: Path) -> None:
    """New routes need an isolation factory; PENDING (older routes) may only shrink."""
    isolation.load_contributions()
    app = create_app(make_settings(tmp_path))
    present = {f"{path}:{p}" for _, path, params in api_routes_with_params(app) for p in params}
    stale = [
        key
        for key in isolation.PENDING
        if key not in present
        or key.split(":", 1)[1] in isolation.FACTORIES
        or key in isolation.FACTORIES
    ]
    assert stale == [], f"remove from tests/isolation.py PENDING: {stale}"
    missing = uncovered(api_routes_with_params(app))
    assert missing == [], (
        "path parameters without an isolation factory (add one in tests/isolation_<domain>.py): "
        + ", ".join(missing)
    )


def walk(
    client: TestClient, container: Container, a: uuid.UUID, b: uuid.UUID
) -> tuple[int, list[str]]:
    """Call every covered route with A's credentials and B's ids: (calls made, failures)."""
    isolation.load_contributions()
    app: FastAPI = client.app  # type: ignore[assignment]
    routes = api_routes_with_params(app)
    assert routes, "no /api/v1 route with a path parameter: the walk is broken"
    spec = app.openapi()
    admin_a = bearer(make_principal_token(container, a, "platform-admin"))
    organiser_a = bearer(make_principal_token(container, a, "organiser-admin"))
    ids: dict[str, str] = {}
    failures = []
    calls = 0
    for method, path, params in routes:
        if (
            path in isolation.EXEMPT
            or f"{method} {path}" in isolation.EXEMPT
            or any(isolation.factory_for(path, p) is None for p in params)
        ):
            continue  # reported by test_every_path_parameter_is_covered
        url = path
        for p in params:
            key = f"{path}:{p}" if f"{path}:{p}" in isolation.FACTORIES else p
            if key not in ids:
                fn = isolation.factory_for(path, p)
                assert fn is not None
                ids[key] = fn(container, b)
            url = re.sub("{" + re.escape(p) + r"(?::[^}]*)?}", ids[key], url)
        extra = body_for(method, path, spec, container, b)
        for who, headers, allowed in (
            ("platform-admin of A", admin_a, {404}),
            ("organiser-admin of A", organiser_a, {403, 404}),
        ):
            r = client.request(method, url, headers=headers, **extra)
            calls += 1
            if r.status_code not in allowed:
                failures.append(f"{method} {path} as {who}: {r.status_code} {r.text[:120]}")
    return calls, failures


def test_foreign_ids_answer_404_on_every_api_route(
    world: tuple[TestClient, Container, uuid.UUID, uuid.UUID],
) -> None:
    calls, failures = walk(*world)
    assert calls >= 6  # identity's own routes at least
    assert failures == [], "\n".join(failures)


def test_the_walk_catches_a_leaky_route(
    world: tuple[TestClient, Container, uuid.UUID, uuid.UUID],
) -> None:
    """Negative control: a route that loads by id without its tenant is reported."""
    client, container, a, b = world
    leaky = APIRouter()

    @leaky.get("/api/v1/leaky/{user_id}")
    def leak(
        user_id: uuid.UUID,
        p: Annotated[Principal, Depends(require("identity.user.read"))],
    ) -> dict[str, str]:
        with container.uow(p.tenant_id) as uow:
            return {"email": identity_service.get_user(uow, user_id).email}

    client.app.include_router(leaky)  # type: ignore[attr-defined]
    _, failures = walk(client, container, a, b)
    assert any("/api/v1/leaky/{user_id} as platform-admin of A: 200" in f for f in failures)


def test_own_ids_are_reachable(world: tuple[TestClient, Container, uuid.UUID, uuid.UUID]) -> None:
    """Control: with the same credentials, tenant A's own user is found (the walk can pass)."""
    client, container, a, _ = world
    admin_a = bearer(make_principal_token(container, a, "platform-admin"))
    own = isolation.user_in(container, a)
    assert client.get(f"/api/v1/users/{own}", headers=admin_a).status_code == 200


# -- raw SQL as the application role ---------------------------------------------------------
def test_rls_hides_and_refuses_foreign_rows_in_every_tenant_table(
    world: tuple[TestClient, Container, uuid.UUID, uuid.UUID], pg_settings: Settings
) -> None:
    _, container, a, b = world
    make_user(container, b, "scorer")  # memberships and audit rows in B
    load_all_models()
    tables = tenant_tables()
    assert {"memberships", "audit_entries", "audit_leaves"} <= set(tables)
    owner = sa.create_engine(pg_settings.database_admin_url)
    app_engine = container.engine
    try:
        with owner.connect() as c:
            owned = {
                t: c.execute(
                    sa.text(f'SELECT count(*) FROM "{t}" WHERE tenant_id = :b'), {"b": b}
                ).scalar_one()
                for t in tables
            }
        assert owned["memberships"] > 0
        assert owned["audit_entries"] > 0
        for table in tables:
            with app_engine.connect() as c:
                role = c.execute(sa.text("SELECT current_user")).scalar_one()
                assert role == pg_settings.app_db_role
                c.execute(sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(a)})
                seen = c.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" WHERE tenant_id = :b'), {"b": b}
                ).scalar_one()
                assert seen == 0, f"{table}: tenant A sees {seen} of B's rows"
                with pytest.raises(sa.exc.DBAPIError, match="row-level security") as err:
                    c.execute(sa.text(f'INSERT INTO "{table}" (tenant_id) VALUES (:b)'), {"b": b})
                assert table in str(err.value)
                c.rollback()
                # Control: as B, the same INSERT gets past RLS (and fails on NOT NULL instead).
                c.execute(sa.text("SELECT set_config('app.tenant_id', :t, false)"), {"t": str(b)})
                error = ""
                try:
                    c.execute(sa.text(f'INSERT INTO "{table}" (tenant_id) VALUES (:b)'), {"b": b})
                except sa.exc.DBAPIError as exc:
                    error = str(exc)
                assert "row-level security" not in error, table
                c.rollback()
                c.execute(sa.text("SELECT set_config('app.tenant_id', '', false)"))
    finally:
        owner.dispose()

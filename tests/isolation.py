"""Registry for the tenant-isolation walk (tests/web/test_tenant_isolation.py).

Every ``/api/v1`` route with a path parameter is called with tenant A's credentials and
tenant B's object ids; each must answer 404. A route whose parameter has no factory makes
the test fail, so new routes must be covered. Each domain contributes in its own module
``tests/isolation_<domain>.py`` (imported automatically)::

    from tests.isolation import factory

    @factory("event_id")                      # every route with {event_id}
    def event_in(container: Container, tenant_id: uuid.UUID) -> str:
        ...create an event in tenant_id...
        return str(event.id)

    @factory("code", path="/api/v1/results/units/{code}")   # only for that route
    def unit_code(container, tenant_id) -> str: ...

    BODIES[("POST", "/api/v1/events/{event_id}/sessions")] = lambda c, t: {"name": "x"}

``PENDING`` is a ratchet for routes that predate the registry: ``"<path>:<param>"`` ->
owning domain. It may only shrink: an entry that gained a factory fails the test until it is
removed, and a new route missing from FACTORIES, EXEMPT and PENDING fails it too.

A JSON body is generated from the OpenAPI schema (required fields, examples first) unless
``BODIES`` has one; give one when the generated body would be refused (422) before the
object is looked up. ``EXEMPT`` lists routes whose parameters are not tenant objects
(``"<path>"``, or ``"<METHOD> <path>"`` for one method of a route).
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teranga.container import Container

Factory = Callable[[Container, uuid.UUID], str]
BodyFactory = Callable[[Container, uuid.UUID], Any]

FACTORIES: dict[str, Factory] = {}
BODIES: dict[tuple[str, str], BodyFactory] = {}
EXEMPT: dict[str, str] = {
    "/api/v1/streams/{topic}": "a broker topic name, not a tenant object (SSE: never ends)",
    "/api/v1/results/sports/{sport}": "a shared ODF discipline code, not a tenant object",
    # An upsert by a code every tenant may use: A's PUT creates A's own unit (200), and
    # leaving B's untouched is checked in tests/web/test_results_web.py. GET is walked.
    "PUT /api/v1/results/units/{code}": "upsert by ODF code into the caller's own tenant",
}
PENDING: dict[str, str] = {}


def factory(param: str, *, path: str | None = None) -> Callable[[Factory], Factory]:
    """Register a factory for a path parameter (for one route when ``path`` is given)."""

    def register(fn: Factory) -> Factory:
        FACTORIES[f"{path}:{param}" if path else param] = fn
        return fn

    return register


def factory_for(path: str, param: str) -> Factory | None:
    return FACTORIES.get(f"{path}:{param}") or FACTORIES.get(param)


def load_contributions() -> None:
    """Import every ``tests/isolation_*.py`` so its factories register."""
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("isolation_"):
            importlib.import_module(f"tests.{info.name}")


# -- identity's own contributions ------------------------------------------------------
@factory("user_id")
def user_in(container: Container, tenant_id: uuid.UUID) -> str:
    from tests.factories import make_user

    return str(make_user(container, tenant_id, "scorer").id)


@factory("token_id")
def token_in(container: Container, tenant_id: uuid.UUID) -> str:
    from teranga.identity import service
    from tests.factories import make_user

    user = make_user(container, tenant_id, "developer")
    with container.uow(tenant_id) as uow:
        _, info = service.create_token(
            uow, user_id=user.id, name="iso", scopes=["*"], expires_at=None
        )
    return str(info.id)


BODIES[("POST", "/api/v1/users/{user_id}/roles")] = lambda c, t: {"role": "box-office"}

"""Results' contribution to the tenant-isolation walk (see tests/isolation.py).

A unit is found by its code within the caller's tenant, and codes are shared by every
tenant (the same ODF RSC everywhere), so tenant B's unit code must be "no unit" for A.

``/api/v1/results/units/{code}`` itself (GET and PUT) stays on PENDING: the registry keys
factories by path, not method, and PUT is an upsert by code, so A's PUT with B's code
rightly creates A's own unit (200) instead of answering 404. Both are covered directly by
tests/web/test_results_web.py::test_another_tenant_s_unit_code_is_not_ours.
"""

from __future__ import annotations

import datetime as dt
import uuid

from teranga.container import Container
from teranga.results import service
from teranga.results.domain import Line
from tests.isolation import BODIES, factory

UNIT = "/api/v1/results/units/{code}"


def _unit_in(container: Container, tenant_id: uuid.UUID) -> str:
    """A medal unit with a start list, in ``tenant_id``; returns its code."""
    code = f"ATH{('M' + uuid.uuid4().hex[:8].upper()).ljust(19, '-')}FNL-000100--"
    with container.uow(tenant_id) as uow:
        service.upsert_unit(
            uow,
            service.UnitSpec(
                code=code,
                name="Men's 100m Final",
                scheduled_at=dt.datetime(2026, 11, 2, 18, 30, tzinfo=dt.UTC),
                medal=True,
            ),
        )
        service.record_lines(
            uow,
            code=code,
            lines=[Line(participant="1001", name="Moussa DIALLO", noc="SEN", start_order=1)],
            result_status="START_LIST",
        )
    return code


for _suffix in ("", "/lines", "/official", "/status", "/versions"):
    factory("code", path=UNIT + _suffix)(_unit_in)

# Valid bodies, so the 404 comes from the lookup and not from validation (lines are
# validated before the unit is read).
BODIES[("POST", UNIT + "/lines")] = lambda c, t: {
    "result_status": "START_LIST",
    "lines": [{"participant": "2002", "name": "Other", "noc": "GHA", "start_order": 1}],
}
BODIES[("POST", UNIT + "/status")] = lambda c, t: {"status": "RUNNING"}
BODIES[("POST", UNIT + "/official")] = lambda c, t: {"expected_version": None}

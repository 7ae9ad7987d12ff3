"""Data-subject rights API: ``POST /api/v1/privacy/subjects/export`` and ``/erase``.

For the organiser's administrators and DPO (``privacy.subject.export`` /
``privacy.subject.erase``). The identifier travels in the body, never in the URL, so it
never reaches an access log; responses are ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from teranga.identity.api import Principal, require
from teranga.privacy import rights
from teranga.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1/privacy/subjects", tags=["privacy"])

NO_STORE = {"Cache-Control": "no-store"}


class SubjectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["phone", "email", "id_number", "accreditation"] = Field(
        description="How the person is designated"
    )
    value: str = Field(min_length=1, max_length=200, description="e.g. +221771234567")
    reason: str = Field(
        min_length=3, max_length=200, description="Request reference or ground (audited)"
    )


class ExportRequest(SubjectRequest):
    format: Literal["json", "pdf"] = "json"


class ErasureOut(BaseModel):
    found: dict[str, int] = Field(description="Records found, per service")
    erased: dict[str, int] = Field(description="Records erased or pseudonymised, per service")
    keep_legal: bool = Field(description="Records under legal hold were kept, pseudonymised")


@router.post(
    "/export",
    responses={200: {"content": {"application/json": {}, "application/pdf": {}}}},
    summary="Export every record of a person across services (right of access)",
)
def export_subject(
    body: ExportRequest,
    p: Annotated[Principal, Depends(require("privacy.subject.export"))],
    container: ContainerDep,
) -> Response:
    with container.uow(p.tenant_id) as uow:
        doc = rights.export_subject(
            uow,
            body.value,
            body.kind,
            actor_id=p.user_id,
            reason=body.reason,
            now=container.clock.now(),
        )
    if body.format == "pdf":
        return Response(
            rights.render_pdf(doc),
            media_type="application/pdf",
            headers={**NO_STORE, "Content-Disposition": 'attachment; filename="export.pdf"'},
        )
    return Response(orjson.dumps(doc), media_type="application/json", headers=NO_STORE)


@router.post(
    "/erase",
    response_model=ErasureOut,
    summary="Erase a person's data across services; legal holds are kept pseudonymised",
)
def erase_subject(
    body: SubjectRequest,
    p: Annotated[Principal, Depends(require("privacy.subject.erase"))],
    container: ContainerDep,
) -> Response:
    with container.uow(p.tenant_id) as uow:
        report = rights.erase_subject(
            uow, body.value, body.kind, actor_id=p.user_id, reason=body.reason
        )
    out = ErasureOut(found=report.found, erased=report.erased, keep_legal=report.keep_legal)
    return Response(out.model_dump_json(), media_type="application/json", headers=NO_STORE)

"""Audit log over HTTP: read entries and verify the chain (``audit.read``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from teranga.audit import service
from teranga.identity.api import Principal, require
from teranga.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(require("audit.read"))]


class EntryOut(BaseModel):
    seq: int
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    """``head_seq``/``head_hash`` are what an external witness should record."""

    ok: bool
    first_bad_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str


@router.get("/entries", response_model=list[EntryOut], summary="Audit entries, in order")
def list_entries(
    container: ContainerDep,
    p: Reader,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(max_length=80)] = None,
) -> list[EntryOut]:
    with container.uow(p.tenant_id) as uow:
        rows = service.entries(uow, after_seq=after_seq, limit=limit, action=action)
    return [EntryOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/verify", response_model=VerifyOut, summary="Recompute the tenant's hash chain")
def verify(container: ContainerDep, p: Reader) -> VerifyOut:
    with container.uow(p.tenant_id) as uow:
        bad = service.verify(uow, p.tenant_id)
        seq, digest = service.head(uow, p.tenant_id)
    return VerifyOut(
        ok=bad is None,
        first_bad_seq=bad.seq if bad else None,
        reason=bad.reason if bad else None,
        head_seq=seq,
        head_hash=digest,
    )

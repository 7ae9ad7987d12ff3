"""Waiting room JSON API: visitors join and poll; organisers configure the room.

A visitor ``POST``s to join and receives an entry token (kept by the client), then polls
``GET ...?entry=`` until ``admitted``; the admission token it then carries goes in the
``X-Admission-Token`` header of ``POST /sessions/{session_id}/holds``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from teranga.identity.api import Principal, public, require
from teranga.ticketing import waiting_room
from teranga.web.deps import ContainerDep, PublicTenantDep

router = APIRouter(prefix="/api/v1/ticketing", tags=["ticketing"])
Public = [Depends(public)]
RoomWrite = Annotated[Principal, Depends(require("ticketing.event.write"))]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class QueueJoinIn(BaseModel):
    entry: str | None = Field(
        default=None, max_length=100, description="Entry token of an earlier join (keeps place)"
    )


class QueueStatusOut(_Out):
    session_id: uuid.UUID
    seq: int = Field(description="Number in the order of arrival (1 = first)")
    position: int = Field(description="Visitors still ahead of you plus you; 0 once admitted")
    admitted: bool
    estimated_wait_seconds: int
    admitted_at: dt.datetime
    admission_token: str | None = Field(description="Send as X-Admission-Token when holding")
    admission_expires_at: dt.datetime | None
    expired: bool = Field(description="Admission window passed: join again")


class QueueJoinOut(QueueStatusOut):
    entry: str = Field(description="Entry token: keep it to poll and to keep your place")


class WaitingRoomIn(BaseModel):
    enabled: bool = True
    rate_per_minute: int = Field(ge=1, le=100_000)
    opens_at: dt.datetime
    admission_minutes: int = Field(default=10, ge=1, le=120)


class WaitingRoomOut(_Out):
    session_id: uuid.UUID
    enabled: bool
    rate_per_minute: int
    opens_at: dt.datetime
    admission_minutes: int
    joined: int
    admitted_up_to: int


def _status_out(st: waiting_room.QueueStatus) -> QueueStatusOut:
    return QueueStatusOut.model_validate(st)


@router.post(
    "/sessions/{session_id}/queue",
    dependencies=Public,
    status_code=201,
    response_model=QueueJoinOut,
)
def join_queue(
    session_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    body: QueueJoinIn | None = None,
) -> QueueJoinOut:
    """Join the session's waiting room; re-joining with your entry token keeps your place."""
    with container.uow(tenant) as uow:
        res = waiting_room.join(
            uow,
            session_id=session_id,
            entry_token=body.entry if body else None,
            now=container.clock.now(),
        )
    return QueueJoinOut(entry=res.entry_token, **_status_out(res.status).model_dump())


@router.get("/sessions/{session_id}/queue", dependencies=Public, response_model=QueueStatusOut)
def queue_status(
    session_id: uuid.UUID,
    container: ContainerDep,
    tenant: PublicTenantDep,
    entry: Annotated[
        str | None, Query(max_length=100, description="Entry token returned when joining")
    ] = None,
) -> QueueStatusOut:
    """Your position, or your admission token once your turn came."""
    with container.uow(tenant) as uow:
        st = waiting_room.status(
            uow, session_id=session_id, entry_token=entry, now=container.clock.now()
        )
    return _status_out(st)


@router.put("/sessions/{session_id}/waiting-room", response_model=WaitingRoomOut)
def configure_room(
    session_id: uuid.UUID, body: WaitingRoomIn, p: RoomWrite, container: ContainerDep
) -> WaitingRoomOut:
    """Enable, disable or tune the session's waiting room (admission rate, opening time)."""
    with container.uow(p.tenant_id) as uow:
        room = waiting_room.configure(
            uow,
            session_id=session_id,
            enabled=body.enabled,
            rate_per_minute=body.rate_per_minute,
            opens_at=body.opens_at,
            admission_minutes=body.admission_minutes,
            now=container.clock.now(),
        )
    return WaitingRoomOut.model_validate(room)

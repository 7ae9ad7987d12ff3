"""Audit log over HTTP (``audit.read``): entries, verification, the signed tree head and
RFC 6962 inclusion and consistency proofs for auditors."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel

from teranga.audit import integrator, service
from teranga.audit.domain import TreeHead
from teranga.container import Container
from teranga.identity.api import Principal, require
from teranga.web.deps import ContainerDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Reader = Annotated[Principal, Depends(require("audit.read"))]


class EntryOut(BaseModel):
    """``seq`` is null while the entry waits for the integrator (a few seconds)."""

    seq: int | None
    at: dt.datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]
    hash: str


class TreeHeadOut(BaseModel):
    """A signed tree head: Ed25519 over ``domain.tree_head_message`` with ``public_key``."""

    tree_size: int
    root_hash: str
    timestamp_ms: int
    signature: str
    public_key: str | None


class VerifyOut(BaseModel):
    """``head_seq``/``head_hash`` (tree size and root) are what an external witness records."""

    ok: bool
    first_bad_seq: int | None
    reason: str | None
    head_seq: int
    head_hash: str


class InclusionOut(BaseModel):
    seq: int
    leaf_index: int
    leaf_hash: str
    audit_path: list[str]
    head: TreeHeadOut


class ConsistencyOut(BaseModel):
    first: int
    first_root: str
    proof: list[str]
    head: TreeHeadOut


def _head_out(h: TreeHead, key: bytes | None) -> TreeHeadOut:
    return TreeHeadOut(
        tree_size=h.tree_size,
        root_hash=h.root_hash,
        timestamp_ms=h.timestamp_ms,
        signature=h.signature,
        public_key=key.hex() if key else None,
    )


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


def _integrate(container: Container, tenant_id: uuid.UUID) -> None:
    """Sign what is committed first, so answers cover every entry written until now."""
    try:
        integrator.integrate_tenant(container, tenant_id)
    except Exception:  # what is already signed can be read without a signing key
        log.warning("audit integration before answering failed", exc_info=True)


@router.get("/verify", response_model=VerifyOut, summary="Recompute the tenant's Merkle tree")
def verify(container: ContainerDep, p: Reader) -> VerifyOut:
    _integrate(container, p.tenant_id)
    with container.uow(p.tenant_id) as uow:
        bad = service.verify(uow, p.tenant_id)
        sth = service.head(uow, p.tenant_id)
    return VerifyOut(
        ok=bad is None,
        first_bad_seq=bad.seq if bad else None,
        reason=bad.reason if bad else None,
        head_seq=sth.tree_size,
        head_hash=sth.root_hash,
    )


@router.get("/head", response_model=TreeHeadOut, summary="The latest signed tree head")
def tree_head(container: ContainerDep, p: Reader) -> TreeHeadOut:
    _integrate(container, p.tenant_id)
    with container.uow(p.tenant_id) as uow:
        return _head_out(service.head(uow), service.public_key(uow))


@router.get("/proofs/inclusion", response_model=InclusionOut, summary="Audit path of one entry")
def inclusion(
    container: ContainerDep,
    p: Reader,
    seq: Annotated[int, Query(ge=1, description="The entry's seq (leaf index + 1)")],
    tree_size: Annotated[
        int | None, Query(ge=1, description="A signed head's size; default the latest")
    ] = None,
) -> InclusionOut:
    with container.uow(p.tenant_id) as uow:
        proof = service.inclusion_proof(uow, seq, tree_size)
        key = service.public_key(uow)
    return InclusionOut(
        seq=proof.seq,
        leaf_index=proof.seq - 1,
        leaf_hash=proof.leaf_hash,
        audit_path=proof.proof,
        head=_head_out(proof.head, key),
    )


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyOut,
    summary="Proof that an earlier tree is a prefix of a signed tree",
)
def consistency(
    container: ContainerDep,
    p: Reader,
    first: Annotated[int, Query(ge=0, description="Size of the earlier (witnessed) tree")],
    second: Annotated[
        int | None, Query(ge=1, description="A signed head's size; default the latest")
    ] = None,
) -> ConsistencyOut:
    with container.uow(p.tenant_id) as uow:
        proof = service.consistency_proof(uow, first, second)
        key = service.public_key(uow)
    return ConsistencyOut(
        first=proof.first_size,
        first_root=proof.first_root,
        proof=proof.proof,
        head=_head_out(proof.head, key),
    )


def setup(app: FastAPI, container: Container) -> None:
    """Run the integrator in the background (started and stopped with the app)."""
    integrator.install(container)

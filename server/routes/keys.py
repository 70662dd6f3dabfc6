"""Admin: API keys and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from server.auth import AuditEntry, KeyInfo, NewKey, Role
from server.deps import AdminDep, ApiError, DBDep, audit_detail
from tools.errors import ToolRetry

__all__ = ["AuditList", "KeyCreate", "KeyList", "router"]

router = APIRouter(prefix="/v1", tags=["admin"])


class KeyCreate(BaseModel):
    """A key to create."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    label: str | None = Field(None, max_length=200, description="Who or what uses the key.")


class KeyList(BaseModel):
    """API keys (never their secrets)."""

    data: list[KeyInfo]
    count: int


class AuditList(BaseModel):
    """Audit entries, newest first."""

    data: list[AuditEntry]
    count: int


@router.get("/keys", response_model=KeyList)
def list_keys(db: DBDep, _who: AdminDep) -> KeyList:
    """List API keys."""
    keys = db.list_keys()
    return KeyList(data=keys, count=len(keys))


@router.post("/keys", response_model=NewKey, status_code=201)
def create_key(body: KeyCreate, request: Request, db: DBDep, _who: AdminDep) -> NewKey:
    """Create an API key; the secret is in this response only."""
    new = db.create_key(body.role, label=body.label)
    audit_detail(request, key_id=new.id, role=new.role)
    return new


@router.delete("/keys/{key_id}", response_model=KeyInfo)
def revoke_key(
    request: Request, db: DBDep, _who: AdminDep,
    key_id: str = Path(..., min_length=1, max_length=64, pattern=r"^[0-9a-f]+$"),
) -> KeyInfo:
    """Revoke an API key."""
    audit_detail(request, key_id=key_id)
    try:
        return db.revoke_key(key_id)
    except ToolRetry as exc:
        raise ApiError(404, str(exc), param="key_id", code="not_found") from None


@router.get("/audit", response_model=AuditList)
def audit(
    db: DBDep, _who: AdminDep,
    limit: int = Query(100, ge=1, le=1000),
    actor: str | None = Query(None, max_length=64),
) -> AuditList:
    """The audit log (who, what, when, outcome), newest first."""
    entries = db.audit_entries(limit=limit, actor=actor)
    return AuditList(data=entries, count=len(entries))

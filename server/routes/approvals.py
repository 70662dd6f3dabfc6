"""Approvals: list the mutating actions agents proposed; approve, reject or edit them (resumes the graph)."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from agents.runner import pending_approvals, resume
from agents.state import AskResult
from server.auth import utc_now
from server.deps import ApiError, BrainDep, DBDep, EngineerDep, ViewerDep, audit_detail
from server.routes.turns import (
    THREAD_ID_PATTERN,
    Approval,
    ApprovalStatus,
    finish_turn,
    get_approval,
    list_approvals,
    turn_context,
)
from tools.errors import ToolRetry

__all__ = ["ApprovalList", "DecideRequest", "DecideResponse", "router"]

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

ApprovalId = Path(..., min_length=3, max_length=64, pattern=r"^ap_[0-9a-f]+$", description="The approval id.")
_DECIDED = {"approve": "approved", "reject": "rejected", "edit": "edited"}


class ApprovalList(BaseModel):
    """Approvals, newest first."""

    data: list[Approval]
    count: int


class DecideRequest(BaseModel):
    """A person's decision on a proposed action."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "edit"]
    args: dict[str, Any] | None = Field(None, description="With `edit`: the arguments to change.")
    comment: str | None = Field(None, max_length=2000, description="Why (kept in the trace and the audit log).")


class DecideResponse(BaseModel):
    """The decided approval and the turn the graph finished after resuming."""

    approval: Approval
    result: AskResult


@router.get("", response_model=ApprovalList)
def list_(
    db: DBDep, _who: ViewerDep,
    status: ApprovalStatus | Literal["all"] = Query("pending", description="pending (default), a decided status, all."),
    thread_id: str | None = Query(None, max_length=128, pattern=THREAD_ID_PATTERN),
    limit: int = Query(100, ge=1, le=1000),
) -> ApprovalList:
    """List approvals (pending ones by default)."""
    items = list_approvals(db, status=None if status == "all" else status, thread_id=thread_id, limit=limit)
    return ApprovalList(data=items, count=len(items))


@router.get("/{approval_id}", response_model=Approval)
def get(db: DBDep, _who: ViewerDep, approval_id: str = ApprovalId) -> Approval:
    """One approval."""
    return _require(db, approval_id)


def _require(db: Any, approval_id: str) -> Approval:
    ap = get_approval(db, approval_id)
    if ap is None:
        raise ApiError(404, f"No approval {approval_id!r}; list them with GET /v1/approvals.",
                       param="approval_id", code="not_found")
    return ap


@router.post("/{approval_id}", response_model=DecideResponse)
async def decide(
    body: DecideRequest, request: Request, brain: BrainDep, db: DBDep, who: EngineerDep,
    approval_id: str = ApprovalId,
) -> DecideResponse:
    """Approve, reject or edit a proposed action; the paused graph resumes (also inside a sub-agent)."""
    ap = _require(db, approval_id)
    audit_detail(request, approval_id=ap.id, thread_id=ap.thread_id, tool=ap.tool, decision=body.decision,
                 comment=body.comment)
    if ap.status != "pending":
        raise ApiError(409, f"Approval {ap.id!r} is already {ap.status}.", param="approval_id", code="already_decided")
    if body.decision == "edit":
        if not body.args:
            raise ApiError(422, "args: an edit needs the arguments to change, e.g. {\"value\": 3}.", param="args")
        try:
            brain.tools.get(ap.tool).validate_args({**ap.args, **body.args})
        except ToolRetry as exc:
            raise ApiError(422, f"args: {exc}", param="args") from None
        audit_detail(request, args=body.args)
    if not db.execute("UPDATE approvals SET status = 'deciding' WHERE id = ? AND status = 'pending'", (ap.id,)):
        raise ApiError(409, f"Approval {ap.id!r} is being decided by someone else.", param="approval_id",
                       code="already_decided")
    ctx = turn_context(brain, who, "auto")
    decision = {"decision": body.decision, "by": who.id, "comment": body.comment,
                **({"args": body.args} if body.decision == "edit" else {})}

    def run() -> AskResult | None:
        with request.app.state.thread_locks.hold(ap.thread_id):
            waiting = pending_approvals(brain.graph, ap.thread_id)
            if not any(isinstance(w, dict) and w.get("call_id") == ap.call_id for w in waiting):
                return None
            return resume(brain.graph, ctx, ap.thread_id, decision)

    try:
        result = await run_in_threadpool(run)
    except BaseException:
        db.execute("UPDATE approvals SET status = 'pending' WHERE id = ? AND status = 'deciding'", (ap.id,))
        raise
    if result is None:
        db.execute("UPDATE approvals SET status = 'stale' WHERE id = ?", (ap.id,))
        raise ApiError(409, f"Thread {ap.thread_id!r} no longer waits for approval {ap.id!r} (decided elsewhere).",
                       param="approval_id", code="stale")
    db.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision = ? WHERE id = ?",
        (_DECIDED[body.decision], who.id, utc_now(), json.dumps(decision, default=str), ap.id),
    )
    request.app.state.metrics.decisions.labels(body.decision).inc()
    aid = finish_turn(request, result, endpoint="approvals")
    if aid and result.pending_approval is not None:
        result.pending_approval = {**result.pending_approval, "approval_id": aid}
    return DecideResponse(approval=_require(db, ap.id), result=result)

"""Approvals: list the mutating actions agents proposed; approve, reject or edit them (resumes the graph).

Approvals that scheduled runs wait on are listed too (indexed from the runs database on each
read); deciding one resumes through :func:`server.runs.resume_run`, so the run's status, trace and
report follow the decision.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from agents.approvals import PLAN_TOOL, plan_actions
from agents.runner import pending_approvals, resume
from agents.state import AskResult
from server.auth import utc_now
from server.deps import ApiError, BrainDep, DBDep, EngineerDep, SettingsDep, ViewerDep, audit_detail
from server.routes.runs import RunSummary, StoreDep, run_summary, run_worker, sync_run_approvals
from server.routes.turns import (
    THREAD_ID_PATTERN,
    Approval,
    ApprovalStatus,
    finish_turn,
    get_approval,
    list_approvals,
    turn_context,
)
from server.runs import RunRecord, RunStateError, RunStore, resume_run
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
    args: dict[str, Any] | None = Field(
        None, description="With `edit`: the arguments to change. For a closed-loop plan (tool `closed_loop_plan`), "
                          "keyed by the plan's tool, e.g. {\"create_work_order\": {\"priority\": \"high\"}}.")
    tools: dict[str, Literal["approve", "reject"]] | None = Field(
        None, description="Closed-loop plans only: a decision per tool of the plan that overrides `decision`, "
                          "e.g. {\"write_setpoints\": \"reject\"}.")
    comment: str | None = Field(None, max_length=2000, description="Why (kept in the trace and the audit log).")


class DecideResponse(BaseModel):
    """The decided approval and the turn the graph finished after resuming (and the run, when a run waited)."""

    approval: Approval
    result: AskResult
    run: RunSummary | None = Field(None, description="The scheduled run that owned the thread, after the decision.")


@router.get("", response_model=ApprovalList)
def list_(
    db: DBDep, store: StoreDep, _who: ViewerDep,
    status: ApprovalStatus | Literal["all"] = Query("pending", description="pending (default), a decided status, all."),
    thread_id: str | None = Query(None, max_length=128, pattern=THREAD_ID_PATTERN),
    limit: int = Query(100, ge=1, le=1000),
) -> ApprovalList:
    """List approvals (pending ones by default), those of scheduled runs included."""
    sync_run_approvals(db, store)
    items = list_approvals(db, status=None if status == "all" else status, thread_id=thread_id, limit=limit)
    return ApprovalList(data=items, count=len(items))


@router.get("/{approval_id}", response_model=Approval)
def get(db: DBDep, store: StoreDep, _who: ViewerDep, approval_id: str = ApprovalId) -> Approval:
    """One approval."""
    return _require(db, approval_id, store=store)


def _require(db: Any, approval_id: str, *, store: RunStore | None = None) -> Approval:
    """The approval (after indexing those of runs, when ``store`` is given), or 404."""
    if store is not None:
        sync_run_approvals(db, store)
    ap = get_approval(db, approval_id)
    if ap is None:
        raise ApiError(404, f"No approval {approval_id!r}; list them with GET /v1/approvals.",
                       param="approval_id", code="not_found")
    return ap


def _plan_tools(ap: Approval) -> dict[str, dict[str, Any]]:
    """A closed-loop plan's remaining actions: tool -> its proposed arguments."""
    return {str(a.get("tool")): dict(a.get("args") or {}) for a in plan_actions(ap.tool, ap.args) or []}


def _check_plan_fields(ap: Approval, body: DecideRequest) -> None:
    """``tools`` only goes with a closed-loop plan, and names tools of that plan."""
    if not body.tools:
        return
    if ap.tool != PLAN_TOOL:
        raise ApiError(422, f"tools: per-tool decisions are for closed-loop plans; approval {ap.id!r} is one "
                            f"{ap.tool} call: use decision alone.", param="tools")
    actions = _plan_tools(ap)
    for tool in body.tools:
        if tool not in actions:
            raise ApiError(422, f"tools.{tool}: not in this plan; the plan has {', '.join(sorted(actions))}.",
                           param=f"tools.{tool}")


def _check_edit(brain: Any, ap: Approval, args: dict[str, Any]) -> None:
    """Validate an edit against the tool's argument schema (each tool of a plan against its own); 422 if bad."""
    if ap.tool != PLAN_TOOL:
        try:
            brain.tools.get(ap.tool).validate_args({**ap.args, **args})
        except ToolRetry as exc:
            raise ApiError(422, f"args: {exc}", param="args") from None
        return
    actions = _plan_tools(ap)
    for tool, change in args.items():
        if tool not in actions:
            raise ApiError(422, f"args.{tool}: not in this plan; edit one of {', '.join(sorted(actions))}, e.g. "
                                f"{{\"{min(actions, default='create_work_order')}\": {{...}}}}.", param=f"args.{tool}")
        if not isinstance(change, dict):
            raise ApiError(422, f"args.{tool}: give the arguments to change as an object, e.g. "
                                f"{{\"priority\": \"high\"}}.", param=f"args.{tool}")
        try:
            brain.tools.get(tool).validate_args({**actions[tool], **change})
        except ToolRetry as exc:
            raise ApiError(422, f"args.{tool}: {exc}", param=f"args.{tool}") from None


def _resume_run(request: Request, store: RunStore, run: RunRecord, call_id: str,
                decision: dict[str, Any]) -> tuple[RunRecord, RunRecord] | None:
    """Resume the run owning the thread with ``decision``: (run before, run after); None when it moved on."""
    current = store.get_run(run.id)
    calls = [str(p.get("call_id") or p.get("tool")) for p in current.pending_approvals if isinstance(p, dict)]
    if current.status != "waiting_approval" or call_id not in calls:
        return None
    with run_worker(request.app) as worker_id:
        try:
            return current, resume_run(store, run.id, request.app.state.brain, worker_id=worker_id, decision=decision)
        except RunStateError:  # decided by another process meanwhile
            return None


@router.post("/{approval_id}", response_model=DecideResponse)
async def decide(
    body: DecideRequest, request: Request, brain: BrainDep, db: DBDep, store: StoreDep, settings: SettingsDep,
    who: EngineerDep, approval_id: str = ApprovalId,
) -> DecideResponse:
    """Approve, reject or edit a proposed action; the paused graph (or scheduled run) resumes."""
    ap = _require(db, approval_id, store=store)
    audit_detail(request, approval_id=ap.id, thread_id=ap.thread_id, tool=ap.tool, decision=body.decision,
                 comment=body.comment)
    if ap.status != "pending":
        raise ApiError(409, f"Approval {ap.id!r} is already {ap.status}.", param="approval_id", code="already_decided")
    _check_plan_fields(ap, body)
    if body.decision == "edit":
        if not body.args:
            raise ApiError(422, "args: an edit needs the arguments to change, e.g. {\"value\": 3}.", param="args")
        _check_edit(brain, ap, body.args)
        audit_detail(request, args=body.args)
    if not db.execute("UPDATE approvals SET status = 'deciding' WHERE id = ? AND status = 'pending'", (ap.id,)):
        raise ApiError(409, f"Approval {ap.id!r} is being decided by someone else.", param="approval_id",
                       code="already_decided")
    ctx = turn_context(brain, who, "auto")
    decision = {"decision": body.decision, "by": who.id, "comment": body.comment,
                **({"args": body.args} if body.decision == "edit" else {}), **({"tools": body.tools} if body.tools else {})}

    owner = store.find_by_thread(ap.thread_id)  # a scheduled run: resume through it (status, trace, report)

    def run() -> AskResult | tuple[RunRecord, RunRecord] | None:
        with request.app.state.thread_locks.hold(ap.thread_id):
            if owner is not None:
                return _resume_run(request, store, owner, ap.call_id, decision)
            waiting = pending_approvals(brain.graph, ap.thread_id)
            if not any(isinstance(w, dict) and w.get("call_id") == ap.call_id for w in waiting):
                return None
            return resume(brain.graph, ctx, ap.thread_id, decision)

    try:
        outcome = await run_in_threadpool(run)
    except BaseException:
        db.execute("UPDATE approvals SET status = 'pending' WHERE id = ? AND status = 'deciding'", (ap.id,))
        raise
    if outcome is None:
        db.execute("UPDATE approvals SET status = 'stale' WHERE id = ?", (ap.id,))
        raise ApiError(409, f"Thread {ap.thread_id!r} no longer waits for approval {ap.id!r} (decided elsewhere).",
                       param="approval_id", code="stale")
    db.execute(
        "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision = ? WHERE id = ?",
        (_DECIDED[body.decision], who.id, utc_now(), json.dumps(decision, default=str), ap.id),
    )
    request.app.state.metrics.decisions.labels(body.decision).inc()
    run_view = None
    if isinstance(outcome, tuple):
        before, done = outcome
        audit_detail(request, run_id=done.id, run_status=done.status)
        if done.trace is None or (done.status == "failed" and done.trace == before.trace):
            # the resumed turn raised: the run recorded the error; nothing to show as a turn
            raise ApiError(500, f"Run {done.id} failed while resuming: {done.error}; see GET /v1/runs/{done.id}.",
                           type="internal_error", param="approval_id", code="run_failed")
        sync_run_approvals(db, store)  # a further action the run now waits on, indexed as the run's
        result = AskResult.model_validate(done.trace)
        run_view = run_summary(done, settings)
    else:
        result = outcome
    aid = finish_turn(request, result, endpoint="approvals")
    if aid and result.pending_approval is not None:
        result.pending_approval = {**result.pending_approval, "approval_id": aid}
    return DecideResponse(approval=_require(db, ap.id), result=result, run=run_view)

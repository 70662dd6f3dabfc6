"""Scheduled autonomous runs over HTTP: ``/v1/schedules`` and ``/v1/runs`` (see docs/runs.md).

The routes are thin wrappers of :mod:`server.runs`. Runs started here (run-now, resume) execute in
the request's worker thread on the server's open brain, as the server's run worker (the in-server
scheduler's worker id, or a worker registered for the request when the scheduler is off), so other
processes on the same runs database never take them for orphans. Approvals that runs wait on are
indexed in the server DB (``requested_by = "run:<run id>"``) by :func:`sync_run_approvals`, so
``/v1/approvals`` lists them whichever process fired the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.context import ApprovalPolicy
from agents.state import AskResult
from server.auth import ServerDB
from server.brain import Brain
from server.deps import ApiError, BrainDep, DBDep, EngineerDep, SettingsDep, ViewerDep, audit_detail
from server.routes.turns import approval_id, check_message, track_approval, turn_context
from server.runs import (
    RunNotFound,
    RunRecord,
    RunStateError,
    RunStatus,
    RunStore,
    Schedule,
    SchedulerHandle,
    cancel_run,
    cancel_schedule,
    create_schedule,
    next_fire_time,
    resume_run,
    run_now,
)
from server.runs.scheduler import make_trigger, worker_session
from server.runs.store import LoopSpec, RunKind
from server.settings import Settings
from tools.errors import ConfigError

__all__ = [
    "RunDecision",
    "RunDetail",
    "RunLinks",
    "RunList",
    "RunSummary",
    "ScheduleCreate",
    "ScheduleDetail",
    "ScheduleList",
    "StoreDep",
    "router",
    "run_brain_factory",
    "run_summary",
    "run_worker",
    "schedules_router",
    "sync_run_approvals",
]

schedules_router = APIRouter(prefix="/v1/schedules", tags=["runs"])
router = APIRouter(prefix="/v1/runs", tags=["runs"])

ScheduleId = Path(..., min_length=5, max_length=64, pattern=r"^sch_[0-9a-f]+$", description="The schedule id.")
RunId = Path(..., min_length=5, max_length=64, pattern=r"^run_[0-9a-f]+$", description="The run id.")
RUN_REQUESTER = "run:"  # prefix of ``approvals.requested_by`` for approvals a run waits on


# -- models ---------------------------------------------------------------------------------------
class ScheduleCreate(BaseModel):
    """A goal the brain pursues on a trigger (exactly one of ``cron`` or ``every_s``), under a policy."""

    model_config = ConfigDict(extra="forbid")

    goal: str = Field("", max_length=20000, description="What each run should do, in words (a loop: optional label).")
    loop: LoopSpec | None = Field(None, description="Make it a closed-loop schedule: each run is one loop cycle on the "
                                  "KG (screen -> diagnose -> maintenance slot -> setpoints) instead of a goal.")
    cron: str | None = Field(None, min_length=1, max_length=120,
                             description="Five-field crontab 'minute hour day month weekday', evaluated in `tz`.")
    every_s: float | None = Field(None, ge=1, le=366 * 86400, allow_inf_nan=False,
                                  description="Or a fixed interval in seconds (at least 1).")
    policy: ApprovalPolicy = Field("require-approval", description="What a run may apply without a person.")
    model: str = Field("auto", min_length=1, max_length=120, description="auto | edge | cloud | a model name.")
    tz: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone of the cron expression.")

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                trigger = make_trigger(cron=v, every_s=None)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
            if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
                raise ValueError(f"The cron expression {v!r} never fires (e.g. 31 February); check day and month.")
        return v

    @field_validator("tz")
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"Unknown time zone {v!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'.") from None
        return v


class ScheduleList(BaseModel):
    """Schedules, oldest first."""

    data: list[Schedule]
    count: int


class RunLinks(BaseModel):
    """Where to look next: the run, its schedule, its thread, its reports, its pending approvals."""

    run: str
    schedule: str | None = None
    thread: str
    report_md: str | None = Field(None, description="The Markdown report (GET it with a viewer key).")
    report_html: str | None = Field(None, description="The standalone HTML report.")
    approvals: list[str] = Field(default_factory=list, description="Decide with POST on each (engineer).")


class RunSummary(BaseModel):
    """A run without its trace (lists)."""

    id: str
    schedule_id: str | None
    kind: RunKind = "goal"
    goal: str
    loop: LoopSpec | None = None
    policy: ApprovalPolicy
    model: str
    status: RunStatus
    trigger: Literal["schedule", "manual"]
    fire_time: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str | None
    thread_id: str
    answer: str | None = Field(None, description="The final answer of the run's last turn.")
    error: str | None
    resumable: bool
    attempts: int
    links: RunLinks


class RunDecision(BaseModel):
    """A mutating call of the run and how it was decided."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    decision: str
    ok: bool | None = None
    error: str | None = None


class RunDetail(RunSummary):
    """A run with its trace (the last turn), decisions and pending approvals."""

    trace: AskResult | None = None
    loop_result: dict[str, Any] | None = Field(None, description="A loop run: the cycle's LoopResult (screen, "
                                               "diagnosis, maintenance, plans, setpoints, actions, OPC UA writes).")
    decisions: list[RunDecision] = Field(default_factory=list)
    pending_approvals: list[dict[str, Any]] = Field(default_factory=list)


class RunList(BaseModel):
    """Runs, newest first."""

    data: list[RunSummary]
    count: int


class ScheduleDetail(Schedule):
    """A schedule with its latest runs."""

    runs: list[RunSummary] = Field(default_factory=list)


# -- shared with app.py and the approvals route ---------------------------------------------------
def _store(request: Request) -> RunStore:
    store: RunStore | None = request.app.state.run_store
    if store is None:
        raise ApiError(503, "The runs database is not open (the server is starting or stopping); retry.",
                       type="service_unavailable", code="runs_unavailable")
    return store


StoreDep = Annotated[RunStore, Depends(_store)]


def _call_ids(run: RunRecord) -> list[str]:
    return [str(p.get("call_id") or p.get("tool")) for p in run.pending_approvals if isinstance(p, dict)]


def sync_run_approvals(db: ServerDB, store: RunStore) -> None:
    """Index the approvals that runs wait on (fired by any worker) and retire those of runs that moved on.

    A run's approval is ``stale`` once the run no longer waits on that call (approved from the CLI,
    cancelled, superseded by a newer proposal of its schedule, or failed).
    """
    waiting = store.list_runs(status="waiting_approval", limit=1000)
    live: set[str] = set()
    for run in waiting:
        for payload in run.pending_approvals:
            aid = track_approval(db, run.thread_id, payload, requested_by=f"{RUN_REQUESTER}{run.id}")
            if aid:
                live.add(aid)
    rows = db.query("SELECT id, thread_id, call_id, requested_by FROM approvals WHERE status = 'pending' "
                    "AND requested_by LIKE ?", (f"{RUN_REQUESTER}%",))
    for row in rows:
        if row["id"] in live:
            continue
        owner: RunRecord | None
        try:  # re-read: the run may have started waiting since the list above
            owner = store.get_run(str(row["requested_by"]).removeprefix(RUN_REQUESTER))
        except RunNotFound:
            owner = None
        if owner is None or owner.status != "waiting_approval" or row["call_id"] not in _call_ids(owner):
            db.execute("UPDATE approvals SET status = 'stale' WHERE id = ? AND status = 'pending'", (row["id"],))


def run_brain_factory(app: FastAPI) -> Any:
    """The brain factory of runs executed in the server: the open brain; after each run, sync approvals."""

    @contextmanager
    def factory(_settings: Settings) -> Iterator[Brain]:
        try:
            yield app.state.brain
        finally:
            sync_run_approvals(app.state.db, app.state.run_store)

    return factory


@contextmanager
def run_worker(app: FastAPI) -> Iterator[str]:
    """The worker id that owns runs executed in this request (registered for it when no scheduler runs here)."""
    handle: SchedulerHandle | None = app.state.runs
    if handle is not None:
        yield handle.worker_id
        return
    with worker_session(app.state.run_store, app.state.settings) as worker_id:
        yield worker_id


def _report_url(path: str | None, settings: Settings) -> str | None:
    if not path:
        return None
    root = settings.reports_dir.resolve()
    target = FsPath(path).resolve()
    if root not in target.parents:
        return None
    return f"/v1/reports/{target.relative_to(root).as_posix()}"


def _links(run: RunRecord, settings: Settings) -> RunLinks:
    return RunLinks(
        run=f"/v1/runs/{run.id}",
        schedule=f"/v1/schedules/{run.schedule_id}" if run.schedule_id else None,
        thread=f"/v1/threads/{run.thread_id}",
        report_md=_report_url(run.report_md, settings),
        report_html=_report_url(run.report_html, settings),
        approvals=[f"/v1/approvals/{approval_id(run.thread_id, c)}" for c in _call_ids(run)]
        if run.status == "waiting_approval" else [],
    )


def run_summary(run: RunRecord, settings: Settings) -> RunSummary:
    """The list view of a run (no trace), with its links."""
    fields = run.model_dump(exclude={"trace", "decisions", "pending_approvals", "report_md", "report_html"})
    return RunSummary(**fields, answer=(run.trace or {}).get("answer"), links=_links(run, settings))


def _detail(run: RunRecord, settings: Settings) -> RunDetail:
    return RunDetail(**run_summary(run, settings).model_dump(),
                     trace=AskResult.model_validate(run.trace) if run.trace else None,
                     loop_result=(run.trace or {}).get("loop"),
                     decisions=[RunDecision.model_validate(d) for d in run.decisions],
                     pending_approvals=run.pending_approvals)


@contextmanager
def _run_errors(param: str) -> Iterator[None]:
    """Runs-package errors as 4xx naming ``param``: unknown id 404, wrong state 409."""
    try:
        yield
    except RunNotFound as exc:
        raise ApiError(404, str(exc).replace("'indagent runs list'", "GET /v1/schedules or GET /v1/runs"),
                       param=param, code="not_found") from None
    except RunStateError as exc:
        raise ApiError(409, str(exc), param=param, code="run_state") from None


def _with_next(store: RunStore, sched: Schedule) -> Schedule:
    return sched.model_copy(update={"next_fire_time": next_fire_time(store, sched.id) if sched.status == "active"
                                    else None})


# -- /v1/schedules ----------------------------------------------------------------------------------
@schedules_router.get("", response_model=ScheduleList)
def list_schedules(
    store: StoreDep, _who: ViewerDep,
    status: Literal["active", "cancelled", "all"] = Query("active", description="active (default), cancelled, all."),
) -> ScheduleList:
    """List schedules with their next fire time."""
    items = [_with_next(store, s) for s in store.list_schedules(include_cancelled=status != "active")
             if status == "all" or s.status == status]
    return ScheduleList(data=items, count=len(items))


@schedules_router.post("", response_model=Schedule, status_code=201)
def create(body: ScheduleCreate, request: Request, store: StoreDep, brain: BrainDep, settings: SettingsDep,
           who: EngineerDep) -> Schedule:
    """Create a schedule; every server or worker on the runs database fires it (exactly once per fire time)."""
    if not body.goal.strip() and body.loop is None:
        raise ApiError(422, "goal: give the `goal` in words, or a `loop` object for a closed-loop schedule.",
                       param="goal", code="validation_error")
    goal = check_message(body.goal, settings, param="goal") if body.goal.strip() else ""
    if (body.cron is None) == (body.every_s is None):
        raise ApiError(422, "cron: give exactly one of `cron` (e.g. '0 2 * * *') or `every_s` (seconds).",
                       param="cron", code="trigger")
    turn_context(brain, who, body.model)  # an unknown model is a 400 naming `model`
    handle: SchedulerHandle | None = request.app.state.runs
    opts: dict[str, Any] = {"goal": goal, "loop": body.loop, "cron": body.cron, "every_s": body.every_s,
                            "policy": body.policy, "model": body.model, "tz": body.tz, "created_by": who.id}
    sched = handle.add_schedule(**opts) if handle is not None else create_schedule(
        store, misfire_grace_s=settings.runs_misfire_grace_s, **opts)
    audit_detail(request, schedule_id=sched.id, goal=sched.goal, kind=sched.kind, policy=body.policy,
                 trigger=sched.describe_trigger())
    return sched


@schedules_router.get("/{schedule_id}", response_model=ScheduleDetail)
def get_schedule(store: StoreDep, settings: SettingsDep, _who: ViewerDep, schedule_id: str = ScheduleId,
                 runs: int = Query(20, ge=0, le=500, description="How many of its latest runs to include.")
                 ) -> ScheduleDetail:
    """One schedule with its latest runs."""
    with _run_errors("schedule_id"):
        sched = _with_next(store, store.get_schedule(schedule_id))
    latest = store.list_runs(schedule_id=schedule_id, limit=runs) if runs else []
    return ScheduleDetail(**sched.model_dump(), runs=[run_summary(r, settings) for r in latest])


@schedules_router.delete("/{schedule_id}", response_model=Schedule)
def cancel_schedule_(request: Request, store: StoreDep, _who: EngineerDep, schedule_id: str = ScheduleId) -> Schedule:
    """Cancel a schedule: no further firings (its runs are kept; a run in flight finishes)."""
    audit_detail(request, schedule_id=schedule_id)
    handle: SchedulerHandle | None = request.app.state.runs
    with _run_errors("schedule_id"):
        if store.get_schedule(schedule_id).status == "cancelled":
            raise ApiError(409, f"Schedule {schedule_id} is already cancelled.", param="schedule_id",
                           code="already_cancelled")
        return handle.cancel_schedule(schedule_id) if handle is not None else cancel_schedule(store, schedule_id)


@schedules_router.post("/{schedule_id}/run-now", response_model=RunDetail)
async def run_now_(request: Request, store: StoreDep, settings: SettingsDep, who: EngineerDep,
                   schedule_id: str = ScheduleId) -> RunDetail:
    """Run a schedule's goal now in this server (answers when the run ends: succeeded, waiting_approval...)."""
    audit_detail(request, schedule_id=schedule_id)
    app = request.app

    def go() -> RunRecord:
        with run_worker(app) as worker_id:
            return run_now(store, schedule_id, settings, run_brain_factory(app), worker_id=worker_id)

    with _run_errors("schedule_id"):
        run = await run_in_threadpool(go)
    audit_detail(request, run_id=run.id, status=run.status)
    return _detail(run, settings)


# -- /v1/runs -------------------------------------------------------------------------------------
@router.get("", response_model=RunList)
def list_runs(
    store: StoreDep, settings: SettingsDep, _who: ViewerDep,
    schedule_id: str | None = Query(None, max_length=64, pattern=r"^sch_[0-9a-f]+$"),
    status: RunStatus | None = Query(None, description="Only runs in this status."),
    limit: int = Query(50, ge=1, le=1000),
) -> RunList:
    """List runs, newest first."""
    items = [run_summary(r, settings) for r in store.list_runs(schedule_id=schedule_id, status=status, limit=limit)]
    return RunList(data=items, count=len(items))


@router.get("/{run_id}", response_model=RunDetail)
def get_run(store: StoreDep, settings: SettingsDep, _who: ViewerDep, run_id: str = RunId) -> RunDetail:
    """One run: trace, decisions, pending approvals and links to its reports."""
    with _run_errors("run_id"):
        return _detail(store.get_run(run_id), settings)


@router.post("/{run_id}/cancel", response_model=RunDetail)
def cancel(request: Request, store: StoreDep, db: DBDep, settings: SettingsDep, _who: EngineerDep,
           run_id: str = RunId) -> RunDetail:
    """Cancel a queued, waiting or failed run (its pending action is dropped, never applied)."""
    audit_detail(request, run_id=run_id)
    with _run_errors("run_id"):
        run = cancel_run(store, run_id)
    sync_run_approvals(db, store)
    return _detail(run, settings)


@router.post("/{run_id}/resume", response_model=RunDetail)
async def resume(request: Request, store: StoreDep, db: DBDep, settings: SettingsDep, who: EngineerDep,
                 run_id: str = RunId) -> RunDetail:
    """Continue a run interrupted by a crash (failed, resumable) from its checkpoint thread."""
    audit_detail(request, run_id=run_id)
    with _run_errors("run_id"):
        run = store.get_run(run_id)
    if run.status == "waiting_approval":
        sync_run_approvals(db, store)
        targets = ", ".join(f"POST {u}" for u in _links(run, settings).approvals)
        raise ApiError(409, f"Run {run_id} waits for approval; decide it with {targets}.", param="run_id",
                       code="run_state")
    app = request.app

    def go() -> RunRecord:
        with run_worker(app) as worker_id, app.state.thread_locks.hold(run.thread_id):
            return resume_run(store, run_id, app.state.brain, worker_id=worker_id)

    with _run_errors("run_id"):
        done = await run_in_threadpool(go)
    sync_run_approvals(db, store)
    audit_detail(request, status=done.status, by=who.id)
    return _detail(done, settings)

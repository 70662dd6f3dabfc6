"""APScheduler 3 with a persistent SQLAlchemy job store; exactly-once firings across processes.

Every process that should execute runs (``indagent serve`` or ``indagent runs worker``) calls
:func:`start_scheduler`; they may be several, on the same runs database. APScheduler keeps the
jobs (trigger + next fire time) in ``apscheduler_jobs``; ``coalesce=True`` folds missed firings
into one, ``max_instances=1`` and the store's per-schedule slot keep one run per schedule at a
time, and :meth:`RunStore.claim` makes sure only one process runs a given fire time. A heartbeat
(every ``runs_heartbeat_s``) keeps the worker's liveness fresh, wakes the scheduler so schedules
created by other processes are seen, and marks runs of dead workers failed (resumable).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from agents.context import ApprovalPolicy
from agents.runner import new_thread_id
from server.runs.executor import BrainFactory, RunStateError, apply_queued_decisions, execute_run
from server.runs.store import (
    LoopSpec,
    RunRecord,
    RunStore,
    Schedule,
    new_run_id,
    new_schedule_id,
    to_naive_utc,
    utcnow,
)
from server.settings import Settings
from tools.errors import ConfigError

__all__ = [
    "SchedulerHandle",
    "cancel_schedule",
    "create_schedule",
    "fire_job",
    "make_trigger",
    "new_run",
    "next_fire_time",
    "run_claimed",
    "run_now",
    "start_scheduler",
    "worker_session",
]

log = logging.getLogger("indagent.runs")
JOB_FUNC = "server.runs.scheduler:fire_job"
STALE_BEATS = 3.0  # a worker is dead after this many missed heartbeats


class _SharedJobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store on the runs database, safe to share between processes.

    Another process may already have advanced or removed a job (cancel, a one-off that fired):
    a lost update or delete is not an error here; the engine belongs to the :class:`RunStore`.
    """

    def update_job(self, job: Any) -> None:
        try:
            super().update_job(job)
        except JobLookupError:
            log.info("job %s was removed by another process", job.id)

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.info("job %s was already removed", job_id)

    def shutdown(self) -> None:
        """Keep the shared engine open (the RunStore disposes it)."""


def _jobstore(store: RunStore) -> _SharedJobStore:
    js = _SharedJobStore(engine=store.engine)
    js.jobs_t.create(store.engine, checkfirst=True)
    return js


def make_trigger(*, cron: str | None, every_s: float | None, tz: str = "UTC") -> CronTrigger | IntervalTrigger:
    """The APScheduler trigger of a schedule (exactly one of ``cron`` or ``every_s``)."""
    if (cron is None) == (every_s is None):
        raise ConfigError("Give exactly one trigger: --cron '0 2 * * *' (minute hour day month weekday) or --every SECONDS.")
    if every_s is not None:
        if every_s <= 0:
            raise ConfigError(f"--every must be a positive number of seconds, not {every_s:g}.")
        return IntervalTrigger(seconds=every_s, timezone=tz)
    try:
        return CronTrigger.from_crontab(cron, timezone=tz)
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"Invalid cron expression {cron!r} ({exc}); use five fields 'minute hour day month weekday', e.g. '0 2 * * *'."
        ) from None


def _add_job(store: RunStore, scheduler: BaseScheduler | None, sched_id: str, trigger: Any, **opts: Any) -> Any:
    """Store a schedule's job: through the running scheduler (wakes it), else straight into the job store.

    (A paused APScheduler must not be used for this: on shutdown it processes due jobs once,
    which would advance another worker's schedules.)
    """
    spec = {"func": JOB_FUNC, "trigger": trigger, "args": [sched_id], "kwargs": {}, "id": sched_id,
            "coalesce": True, "max_instances": 1, **opts}
    if scheduler is not None:
        return scheduler.add_job(jobstore="default", **spec)
    job = Job(BackgroundScheduler(timezone=UTC), executor="default",
              next_run_time=trigger.get_next_fire_time(None, datetime.now(UTC)), **spec)
    _jobstore(store).add_job(job)
    return job


def create_schedule(
    store: RunStore,
    *,
    goal: str = "",
    loop: LoopSpec | None = None,
    cron: str | None = None,
    every_s: float | None = None,
    policy: ApprovalPolicy = "require-approval",
    model: str = "auto",
    tz: str = "UTC",
    misfire_grace_s: int = 600,
    created_by: str = "cli",
    scheduler: BaseScheduler | None = None,
) -> Schedule:
    """Persist a schedule and its job; any worker on the same runs database will fire it.

    Args:
        store: The runs database.
        goal: What the brain should do, in words (the run's message); with ``loop`` an optional label.
        loop: Make it a closed-loop schedule: each firing runs one loop cycle on the KG (see
            :mod:`server.runs.loops`) instead of a goal through the agent graph.
        cron: Five-field crontab expression, evaluated in ``tz``.
        every_s: Or a fixed interval in seconds.
        policy: What the run may apply without a person.
        model: auto | edge | cloud | a model name.
        tz: Time zone of the cron expression (IANA name).
        misfire_grace_s: A firing later than this (all workers down) is skipped.
        created_by: Who created it.
        scheduler: A running scheduler in this process (its job is seen at once); None = the store only.
    """
    goal = " ".join((goal or "").split()) or (loop.describe() if loop is not None else "")
    if not goal:
        raise ConfigError("The goal is empty; say what the run should do, e.g. --goal 'optimize chiller plant for tomorrow' "
                          "(or --loop for the closed loop).")
    trigger = make_trigger(cron=cron, every_s=every_s, tz=tz)
    sched = Schedule(
        id=new_schedule_id(), kind="loop" if loop is not None else "goal", goal=goal, loop=loop,
        policy=policy, trigger="cron" if cron else "interval", cron=cron,
        every_s=every_s, model=model, tz=tz, created_at=utcnow(), created_by=created_by,
    )
    store.add_schedule(sched)
    try:
        nxt = _add_job(store, scheduler, sched.id, trigger, name=goal[:80], misfire_grace_time=misfire_grace_s
                       ).next_run_time
    except BaseException:
        store.delete_schedule(sched.id)  # no schedule row without its job
        raise
    return sched.model_copy(update={"next_fire_time": to_naive_utc(nxt) if nxt else None})


def cancel_schedule(store: RunStore, schedule_id: str, *, scheduler: BaseScheduler | None = None) -> Schedule:
    """Stop a schedule: its job leaves the store (runs already made are kept)."""
    sched = store.get_schedule(schedule_id)
    store.set_schedule_status(schedule_id, "cancelled")
    if scheduler is not None:
        try:
            scheduler.remove_job(schedule_id, jobstore="default")
        except JobLookupError:
            log.info("schedule %s had no job left", schedule_id)
    else:
        _jobstore(store).remove_job(schedule_id)
    return sched.model_copy(update={"status": "cancelled", "next_fire_time": None})


def next_fire_time(store: RunStore, schedule_id: str) -> datetime | None:
    """When the job store will fire ``schedule_id`` next (naive UTC; None when it has no job)."""
    job = _jobstore(store).lookup_job(schedule_id)
    return to_naive_utc(job.next_run_time) if job is not None and job.next_run_time else None


def fire_job(schedule_id: str, *, handle: SchedulerHandle | None = None,
             fire_time: datetime | None = None) -> RunRecord | None:
    """The job function stored for every schedule; a worker's executor adds ``handle`` and ``fire_time``."""
    if handle is None or fire_time is None:
        raise ConfigError("Schedules fire only inside a worker: run 'indagent runs worker' or 'indagent serve'.")
    return handle.fire(schedule_id, fire_time)


class _RunExecutor(ThreadPoolExecutor):
    """Thread pool that hands each firing its scheduled time and the owning handle."""

    def __init__(self, handle: SchedulerHandle, max_workers: int) -> None:
        super().__init__(max_workers)
        self._handle = handle

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        bound = copy.copy(job)  # in-memory only; the stored job keeps its plain args
        bound._scheduler, bound._jobstore_alias = job._scheduler, job._jobstore_alias
        bound.kwargs = {**job.kwargs, "handle": self._handle, "fire_time": run_times[-1]}
        super()._do_submit_job(bound, run_times[-1:])  # coalesced: one run per submission


class SchedulerHandle:
    """A started scheduler in this process; ``shutdown()`` stops it (waiting for runs in flight)."""

    def __init__(self, settings: Settings, brain_factory: BrainFactory, *, store: RunStore | None = None,
                 worker_id: str | None = None) -> None:
        """Prepare (not start) a scheduler; see :func:`start_scheduler`."""
        self.settings = settings
        self.brain_factory = brain_factory
        self._own_store = store is None
        self.store = store or RunStore(settings.runs_db_url)
        self._requested_id = worker_id
        self.worker_id = ""
        self.stale_after_s = STALE_BEATS * settings.runs_heartbeat_s
        self.recovered: list[RunRecord] = []
        self.stats = {"fired": 0, "claimed": 0}  # firings seen by this process / won by it
        self._stats_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": _jobstore(self.store), "local": MemoryJobStore()},
            executors={"default": _RunExecutor(self, settings.runs_max_workers), "local": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.runs_misfire_grace_s},
            timezone=UTC,
        )

    def start(self) -> SchedulerHandle:
        """Register the worker, fail runs orphaned by dead workers, start firing."""
        self.worker_id = self.store.register_worker(worker_id=self._requested_id).id
        self.recovered = self.store.recover_orphans(stale_after_s=self.stale_after_s)
        for run in self.recovered:
            log.warning("run %s was interrupted (worker %s died); marked failed, resumable", run.id, run.owner)
        self.scheduler.add_job(self.beat, "interval", seconds=self.settings.runs_heartbeat_s, id="heartbeat",
                               jobstore="local", executor="local", coalesce=True, max_instances=1)
        self.scheduler.start()
        return self

    def beat(self) -> None:
        """Heartbeat: refresh liveness, fail runs of workers that died since, apply queued loop decisions."""
        self.store.heartbeat(self.worker_id)
        self.recovered += self.store.recover_orphans(stale_after_s=self.stale_after_s)
        apply_queued_decisions(self.store, self.settings, self.brain_factory, worker_id=self.worker_id)

    def fire(self, schedule_id: str, fire_time: datetime) -> RunRecord | None:
        """Claim and execute one firing; None when another worker has it or the schedule is busy/cancelled."""
        sched = self.store.get_schedule(schedule_id)
        if sched.status != "active":
            return None
        run = new_run(sched, trigger="schedule", fire_time=to_naive_utc(fire_time))
        self._count("fired")
        if not self.store.claim(run, worker_id=self.worker_id):
            log.info("firing %s@%s taken by another worker or a run in progress", schedule_id, fire_time)
            return None
        self._count("claimed")
        return run_claimed(self.store, run.id, self.settings, self.brain_factory)

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def add_schedule(self, **kwargs: Any) -> Schedule:
        """:func:`create_schedule` on this running scheduler (seen at once)."""
        return create_schedule(self.store, scheduler=self.scheduler, misfire_grace_s=self.settings.runs_misfire_grace_s,
                               **kwargs)

    def cancel_schedule(self, schedule_id: str) -> Schedule:
        """:func:`cancel_schedule` on this running scheduler."""
        return cancel_schedule(self.store, schedule_id, scheduler=self.scheduler)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop firing; ``wait`` lets runs in flight finish first."""
        if self.scheduler.running:
            # Stop touching the shared store first: APScheduler processes due jobs once more while
            # shutting down, which would advance (and lose) firings other workers should run.
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default", shutdown=False)
            self.scheduler.shutdown(wait=wait)
        if self.worker_id:
            self.store.unregister_worker(self.worker_id)
        if self._own_store:
            self.store.close()


def new_run(sched: Schedule, *, trigger: Literal["schedule", "manual"], fire_time: datetime | None = None) -> RunRecord:
    """A queued run of ``sched`` (its goal or loop, policy and model), on a fresh thread."""
    return RunRecord(
        id=new_run_id(), schedule_id=sched.id, kind=sched.kind, goal=sched.goal, loop=sched.loop, policy=sched.policy,
        model=sched.model, status="queued", trigger=trigger, fire_time=fire_time, created_at=utcnow(),
        thread_id=new_thread_id(),
    )


def run_claimed(store: RunStore, run_id: str, settings: Settings, brain_factory: BrainFactory) -> RunRecord:
    """Execute a run already claimed (status running) with a freshly opened brain."""
    try:
        with brain_factory(settings) as brain:
            return execute_run(store, store.get_run(run_id), brain)
    except Exception as exc:  # opening/closing the brain failed: record it on the run
        log.exception("run %s: the brain failed to open or close", run_id)
        store.set_status_if(run_id, ("running",), status="failed", finished_at=utcnow(),
                            error=f"{type(exc).__name__}: {exc}")
        store.release(store.get_run(run_id).schedule_id, run_id)
        return store.get_run(run_id)


def run_now(store: RunStore, schedule_id: str, settings: Settings, brain_factory: BrainFactory, *,
            worker_id: str) -> RunRecord:
    """Run a schedule's goal now, in this process (its trigger is unchanged).

    Raises:
        RunStateError: the schedule is cancelled or already has a run in progress.
    """
    sched = store.get_schedule(schedule_id)
    if sched.status != "active":
        raise RunStateError(f"Schedule {schedule_id} is cancelled; create a new one with 'indagent runs schedule'.")
    run = new_run(sched, trigger="manual")
    if not store.claim(run, worker_id=worker_id):
        busy = store.get_schedule(schedule_id).running_run_id
        raise RunStateError(f"Schedule {schedule_id} has run {busy} in progress; wait for it ('indagent runs show {busy}').")
    return run_claimed(store, run.id, settings, brain_factory)


@contextmanager
def worker_session(store: RunStore, settings: Settings) -> Iterator[str]:
    """Register this process as a worker (heartbeat thread) for a foreground run; yields the worker id."""
    worker_id = store.register_worker().id
    stop = threading.Event()

    def _beat() -> None:
        while not stop.wait(settings.runs_heartbeat_s):
            store.heartbeat(worker_id)

    t = threading.Thread(target=_beat, name="runs-heartbeat", daemon=True)
    t.start()
    try:
        yield worker_id
    finally:
        stop.set()
        t.join(timeout=5)
        store.unregister_worker(worker_id)


def start_scheduler(settings: Settings, brain_factory: BrainFactory, *, worker_id: str | None = None,
                    store: RunStore | None = None) -> SchedulerHandle:
    """Start firing schedules in this process (``indagent serve`` lifespan or ``indagent runs worker``).

    Args:
        settings: Configuration (``runs_db_url``, ``runs_max_workers``, ``runs_heartbeat_s``...).
        brain_factory: ``factory(settings)`` -> context manager yielding an open Brain, entered per run
            (``open_brain``; in the server ``lambda s: contextlib.nullcontext(app.state.brain)``).
        worker_id: Stable id for this worker (default ``host:pid:random``).
        store: An open RunStore to share (default: opened here, closed by ``shutdown``).
    """
    return SchedulerHandle(settings, brain_factory, store=store, worker_id=worker_id).start()

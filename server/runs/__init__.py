"""Scheduled autonomous runs: schedules in a persistent job store, runs with traces, approvals and reports.

A schedule runs a goal through the agent graph, or (``kind="loop"``) one closed-loop cycle on the KG
(:mod:`server.runs.loops`).

``indagent runs ...`` (``server/cli_runs.py``) and the HTTP routes use these functions; a worker
process (``indagent serve`` or ``indagent runs worker``) calls :func:`start_scheduler`.
"""

from server.runs.executor import (
    BrainFactory,
    RunStateError,
    apply_queued_decisions,
    cancel_run,
    execute_run,
    queue_decision,
    resume_run,
)
from server.runs.scheduler import (
    SchedulerHandle,
    cancel_schedule,
    create_schedule,
    next_fire_time,
    run_now,
    start_scheduler,
)
from server.runs.store import LoopSpec, RunNotFound, RunRecord, RunStatus, RunStore, Schedule, WorkerInfo

__all__ = [
    "BrainFactory",
    "LoopSpec",
    "RunNotFound",
    "RunRecord",
    "RunStateError",
    "RunStatus",
    "RunStore",
    "Schedule",
    "SchedulerHandle",
    "WorkerInfo",
    "apply_queued_decisions",
    "cancel_run",
    "cancel_schedule",
    "create_schedule",
    "execute_run",
    "next_fire_time",
    "queue_decision",
    "resume_run",
    "run_now",
    "start_scheduler",
]

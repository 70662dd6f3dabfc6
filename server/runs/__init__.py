"""Scheduled autonomous runs: schedules in a persistent job store, runs with traces, approvals and reports.

``indagent runs ...`` (``server/cli_runs.py``) and the HTTP routes use these functions; a worker
process (``indagent serve`` or ``indagent runs worker``) calls :func:`start_scheduler`.
"""

from server.runs.executor import BrainFactory, RunStateError, cancel_run, execute_run, resume_run
from server.runs.scheduler import (
    SchedulerHandle,
    cancel_schedule,
    create_schedule,
    next_fire_time,
    run_now,
    start_scheduler,
)
from server.runs.store import RunNotFound, RunRecord, RunStatus, RunStore, Schedule, WorkerInfo

__all__ = [
    "BrainFactory",
    "RunNotFound",
    "RunRecord",
    "RunStateError",
    "RunStatus",
    "RunStore",
    "Schedule",
    "SchedulerHandle",
    "WorkerInfo",
    "cancel_run",
    "cancel_schedule",
    "create_schedule",
    "execute_run",
    "next_fire_time",
    "resume_run",
    "run_now",
    "start_scheduler",
]

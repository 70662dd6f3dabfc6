"""The records of the runs database: schedules (goal or closed loop), runs, workers; ids and clocks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.context import ApprovalPolicy
from tools.errors import IndagentError

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "LoopSpec",
    "RunKind",
    "RunNotFound",
    "RunRecord",
    "RunStatus",
    "Schedule",
    "ScheduleStatus",
    "TriggerKind",
    "WorkerInfo",
    "new_run_id",
    "new_schedule_id",
    "to_naive_utc",
    "utcnow",
]

RunStatus = Literal["queued", "running", "waiting_approval", "succeeded", "failed", "cancelled"]
ScheduleStatus = Literal["active", "cancelled"]
TriggerKind = Literal["cron", "interval"]
RunKind = Literal["goal", "loop"]
ACTIVE_RUN_STATUSES: tuple[RunStatus, ...] = ("queued", "running")


class RunNotFound(IndagentError):
    """An unknown schedule or run id (the message lists the nearest known ids)."""


def utcnow() -> datetime:
    """The current time as naive UTC (the project's timestamp convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(ts: datetime) -> datetime:
    """Naive UTC from an aware or naive (assumed UTC) datetime."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def new_schedule_id() -> str:
    """A fresh schedule id."""
    return f"sch_{uuid.uuid4().hex[:10]}"


def new_run_id() -> str:
    """A fresh run id."""
    return f"run_{uuid.uuid4().hex[:12]}"


class LoopSpec(BaseModel):
    """What a closed-loop cycle watches and where approved setpoints go (``kind="loop"``).

    Attributes:
        asset: Watch only this asset (its detectors run every cycle); None = every asset the screen flags.
        lookback_days: Anomalies must begin within this many days before the latest reading.
        endpoint: OPC UA endpoint for approved setpoints; None = ``INDAGENT_OPCUA_ENDPOINT`` of the
            worker when set, else the setpoints are only stored in the KG. Security and credentials
            always come from the worker's ``INDAGENT_OPCUA_*`` settings (never stored here).
        solver_s: CP-SAT time limit per production-schedule solve.
    """

    model_config = ConfigDict(extra="forbid")

    asset: str | None = Field(None, min_length=1, max_length=120)
    lookback_days: float = Field(7.0, gt=0, le=60)
    endpoint: str | None = Field(None, pattern=r"^opc\.tcp://", max_length=500)
    solver_s: float = Field(3.0, gt=0, le=120)

    def describe(self) -> str:
        """The goal text shown for a loop schedule."""
        where = f"OPC UA {self.endpoint}" if self.endpoint else "OPC UA from the worker's settings"
        return (f"closed loop on {self.asset or 'every asset'}: screen the last {self.lookback_days:g} days of readings, "
                f"diagnose -> maintenance slot -> re-optimized setpoints ({where})")


class Schedule(BaseModel):
    """A goal the brain pursues on a trigger, under an approval policy (or a closed-loop cycle)."""

    id: str
    kind: RunKind = "goal"
    goal: str
    loop: LoopSpec | None = Field(None, description="The cycle's options (kind loop).")
    policy: ApprovalPolicy
    trigger: TriggerKind
    cron: str | None = None
    every_s: float | None = None
    model: str = "auto"
    tz: str = "UTC"
    status: ScheduleStatus = "active"
    created_at: datetime
    created_by: str = "cli"
    running_run_id: str | None = None
    next_fire_time: datetime | None = Field(default=None, description="From the job store (None when cancelled).")

    def describe_trigger(self) -> str:
        """``cron 0 2 * * *`` or ``every 3600 s``."""
        return f"cron {self.cron}" if self.trigger == "cron" else f"every {self.every_s:g} s"


class RunRecord(BaseModel):
    """One autonomous run: its goal, outcome, trace, approvals and report."""

    id: str
    schedule_id: str | None = None
    kind: RunKind = "goal"
    goal: str
    loop: LoopSpec | None = None
    policy: ApprovalPolicy
    model: str = "auto"
    status: RunStatus
    trigger: Literal["schedule", "manual"] = "schedule"
    fire_time: datetime | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    owner: str | None = Field(default=None, description="Worker id that executes (or executed) it.")
    thread_id: str
    trace: dict[str, Any] | None = Field(default=None, description="The AskResult of the last turn (a loop run: "
                                         "AskResult-shaped, the cycle's LoopResult under 'loop').")
    decisions: list[dict[str, Any]] = Field(default_factory=list, description="Mutating calls and how they were decided.")
    pending_approvals: list[dict[str, Any]] = Field(default_factory=list)
    report_md: str | None = None
    report_html: str | None = None
    error: str | None = None
    resumable: bool = False
    attempts: int = 0


class WorkerInfo(BaseModel):
    """A scheduler process (or a CLI ``run-now``) that may own runs."""

    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime

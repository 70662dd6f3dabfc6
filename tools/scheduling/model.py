"""Typed scheduling data: instances (flexible job shop), schedules, violations.

Times are non-negative integers in the instance's own unit (minutes for plant data, the
benchmark files' unit otherwise). Jobs, operations and machines are 0-based, in file order.
A classic job shop is a flexible one whose operations each have exactly one alternative.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Alternative",
    "Downtime",
    "Instance",
    "Job",
    "Objective",
    "Operation",
    "ProgressPoint",
    "ScheduledOp",
    "Solution",
    "SolveStatus",
    "Violation",
    "ViolationKind",
]

Objective = Literal["makespan", "weighted_tardiness", "mix"]
SolveStatus = Literal["OPTIMAL", "FEASIBLE", "INFEASIBLE", "UNKNOWN"]
ViolationKind = Literal["missing", "duplicate", "duration", "eligibility", "precedence", "overlap", "downtime", "release"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Alternative(_Frozen):
    """One machine that can run an operation, and how long it takes there."""

    machine: int = Field(ge=0)
    duration: int = Field(ge=0)


class Operation(_Frozen):
    """A step of a job: runs on exactly one of its alternative machines."""

    alternatives: tuple[Alternative, ...] = Field(min_length=1)
    name: str | None = None

    def duration_on(self, machine: int) -> int | None:
        """Duration on ``machine``, or None when the machine is not eligible."""
        for alt in self.alternatives:
            if alt.machine == machine:
                return alt.duration
        return None

    @property
    def min_duration(self) -> int:
        """The shortest duration over the alternatives."""
        return min(a.duration for a in self.alternatives)

    @property
    def max_duration(self) -> int:
        """The longest duration over the alternatives."""
        return max(a.duration for a in self.alternatives)


class Job(_Frozen):
    """An ordered chain of operations (a production order's routing)."""

    operations: tuple[Operation, ...] = Field(min_length=1)
    release: int = Field(default=0, ge=0)
    due: int | None = Field(default=None, ge=0)
    weight: int = Field(default=1, ge=0)
    name: str | None = None


class Downtime(_Frozen):
    """A window [start, end) when a machine cannot work (maintenance, breakdown)."""

    machine: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Downtime:
        if self.end <= self.start:
            raise ValueError(f"downtime on machine {self.machine} must end after it starts ({self.start}..{self.end})")
        return self


class Instance(_Frozen):
    """A (flexible) job-shop instance with release dates, due dates and machine downtime."""

    name: str = ""
    n_machines: int = Field(ge=1)
    jobs: tuple[Job, ...] = Field(min_length=1)
    downtimes: tuple[Downtime, ...] = ()
    machine_names: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _machines_in_range(self) -> Instance:
        for j, job in enumerate(self.jobs):
            for o, op in enumerate(job.operations):
                for alt in op.alternatives:
                    if alt.machine >= self.n_machines:
                        raise ValueError(f"job {j} op {o}: machine {alt.machine} is out of range (n_machines={self.n_machines})")
        for d in self.downtimes:
            if d.machine >= self.n_machines:
                raise ValueError(f"downtime machine {d.machine} is out of range (n_machines={self.n_machines})")
        if self.machine_names is not None and len(self.machine_names) != self.n_machines:
            raise ValueError(f"machine_names has {len(self.machine_names)} names for {self.n_machines} machines")
        return self

    @property
    def n_jobs(self) -> int:
        """Number of jobs."""
        return len(self.jobs)

    @property
    def n_operations(self) -> int:
        """Number of operations over all jobs."""
        return sum(len(j.operations) for j in self.jobs)

    @property
    def is_flexible(self) -> bool:
        """True when some operation has more than one eligible machine."""
        return any(len(op.alternatives) > 1 for job in self.jobs for op in job.operations)

    def machine_label(self, m: int) -> str:
        """The machine's display name (its plant id when known)."""
        return self.machine_names[m] if self.machine_names else f"M{m}"

    def job_label(self, j: int) -> str:
        """The job's display name."""
        return self.jobs[j].name or f"J{j}"

    def with_downtimes(self, extra: list[Downtime] | tuple[Downtime, ...]) -> Instance:
        """A copy with more downtime windows."""
        return self.model_copy(update={"downtimes": (*self.downtimes, *extra)})


class ScheduledOp(_Frozen):
    """One operation placed on a machine at [start, end)."""

    job: int = Field(ge=0)
    op: int = Field(ge=0)
    machine: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class ProgressPoint(_Frozen):
    """An improving solution found during the search."""

    t: float
    objective: int
    makespan: int


class Solution(BaseModel):
    """A schedule and what the solver knows about it.

    ``lower_bound`` is the bound CP-SAT proved on the objective (for the makespan objective:
    on the makespan). ``source`` says where the schedule comes from: the CP-SAT search or,
    when the search found nothing in time, the dispatching-rule start solution.
    """

    model_config = ConfigDict(extra="forbid")

    status: SolveStatus
    makespan: int = 0
    lower_bound: int = 0
    objective: Objective = "makespan"
    objective_value: int = 0
    weighted_tardiness: int = 0
    solve_s: float = 0.0
    source: Literal["cpsat", "heuristic", "input"] = "cpsat"
    operations: list[ScheduledOp] = Field(default_factory=list)
    progress: list[ProgressPoint] = Field(default_factory=list)

    def by_key(self) -> dict[tuple[int, int], ScheduledOp]:
        """Operations keyed by (job, op)."""
        return {(s.job, s.op): s for s in self.operations}

    def contract(self) -> dict[str, object]:
        """The CLI JSON contract: makespan, lower_bound, status, solve_s, operations."""
        return {
            "makespan": self.makespan,
            "lower_bound": self.lower_bound,
            "status": self.status,
            "solve_s": round(self.solve_s, 3),
            "operations": [s.model_dump() for s in sorted(self.operations, key=lambda s: (s.job, s.op))],
        }


class Violation(_Frozen):
    """One way a schedule breaks the instance's rules."""

    kind: ViolationKind
    message: str
    job: int | None = None
    op: int | None = None
    machine: int | None = None

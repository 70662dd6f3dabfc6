"""Job-shop scheduling with CP-SAT over HTTP (``POST /v1/schedule/solve``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.deps import ApiError, EngineerDep, SettingsDep, audit_detail
from tools.errors import ToolRetry
from tools.scheduling import Instance, ScheduledOp, parse_instance, solve, write_gantt
from tools.scheduling.model import Objective
from tools.scheduling.parsers import InstanceFormat

__all__ = ["ScheduleSolveRequest", "ScheduleSolveResponse", "router"]

router = APIRouter(prefix="/v1/schedule", tags=["scheduling"])
MAX_OPERATIONS = 5000


class ScheduleSolveRequest(BaseModel):
    """A (flexible) job-shop instance, as JSON or as text in a standard format, and solver options."""

    model_config = ConfigDict(extra="forbid")

    instance: Instance | None = Field(None, description="The instance as JSON (0-based machines).")
    text: str | None = Field(None, min_length=1, max_length=500_000, description="The instance in `format`.")
    format: InstanceFormat | None = Field(None, description="orlib | taillard | brandimarte | json (with `text`).")
    time_limit_s: float = Field(5.0, gt=0, le=600, description="CP-SAT time limit (capped by the server).")
    objective: Objective = "makespan"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    gantt: bool = Field(False, description="Also write a Gantt chart (HTML) under /v1/reports.")

    @model_validator(mode="after")
    def _one_source(self) -> ScheduleSolveRequest:
        if (self.instance is None) == (self.text is None):
            raise ValueError("give exactly one of 'instance' (JSON) or 'text' (with 'format')")
        if self.text is not None and self.format is None:
            raise ValueError("'format' is required with 'text': orlib, taillard, brandimarte or json")
        return self


class ScheduleSolveResponse(BaseModel):
    """The schedule (the `indagent schedule solve --json` contract) and solver facts."""

    name: str
    makespan: int
    lower_bound: int
    status: str
    solve_s: float
    objective: str
    objective_value: int
    weighted_tardiness: int
    source: str
    operations: list[ScheduledOp]
    gantt_url: str | None = None


@router.post("/solve", response_model=ScheduleSolveResponse)
async def solve_schedule(
    body: ScheduleSolveRequest, request: Request, settings: SettingsDep, who: EngineerDep
) -> Any:
    """Solve a job-shop instance with CP-SAT (engineer role: it spends solver time)."""
    if body.time_limit_s > settings.http_solve_max_s:
        raise ApiError(422, f"time_limit_s: at most {settings.http_solve_max_s} s on this server "
                       "(INDAGENT_HTTP_SOLVE_MAX_S).", param="time_limit_s")
    if body.instance is not None:
        inst = body.instance
    else:
        try:
            inst = parse_instance(body.text or "", body.format or "json", name="http")
        except ToolRetry as exc:
            raise ApiError(422, f"text: {exc}", param="text") from None
    n_ops = sum(len(j.operations) for j in inst.jobs)
    if n_ops > MAX_OPERATIONS:
        raise ApiError(422, f"instance: {n_ops} operations; this endpoint takes at most {MAX_OPERATIONS} "
                       "(use 'indagent schedule solve' for larger ones).", param="instance")
    audit_detail(request, instance=inst.name, operations=n_ops, time_limit_s=body.time_limit_s)

    def run() -> ScheduleSolveResponse:
        sol = solve(inst, time_limit=body.time_limit_s, objective=body.objective, seed=body.seed, workers=2)
        url = None
        if body.gantt and sol.operations:
            name = f"gantt_{uuid.uuid4().hex[:10]}.html"
            settings.reports_dir.mkdir(parents=True, exist_ok=True)
            write_gantt(inst, sol, settings.reports_dir / name)
            url = f"/v1/reports/{name}"
        c = sol.contract()
        return ScheduleSolveResponse(
            name=inst.name, makespan=sol.makespan, lower_bound=sol.lower_bound, status=sol.status,
            solve_s=float(c["solve_s"]), objective=sol.objective, objective_value=sol.objective_value,  # type: ignore[arg-type]
            weighted_tardiness=sol.weighted_tardiness, source=sol.source,
            operations=sorted(sol.operations, key=lambda s: (s.job, s.op)), gantt_url=url,
        )

    return await run_in_threadpool(run)

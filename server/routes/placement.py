"""Compute placement across cloud / edge / device over HTTP (``POST /v1/placement/solve``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from server.deps import ApiError, EngineerDep, SettingsDep, audit_detail
from tools.errors import ToolRetry
from tools.placement import PlacementResult, Scenario, first_fit, solve

__all__ = ["PlacementSolveRequest", "router"]

router = APIRouter(prefix="/v1/placement", tags=["placement"])
MAX_EXACT_OPTIONS = 200_000
MAX_WORKLOADS = 20_000


class PlacementSolveRequest(BaseModel):
    """A placement scenario (nodes, links, workloads) and how to solve it."""

    model_config = ConfigDict(extra="forbid")

    scenario: Scenario
    method: Literal["auto", "heuristic", "exact", "first_fit"] = Field(
        "auto", description="auto (exact when small), heuristic (any size, with a lower bound), exact (CP-SAT), "
        "first_fit (baseline)."
    )
    time_limit_s: float = Field(5.0, gt=0, le=600, description="Solver time limit (capped by the server).")
    carbon_aware: bool = Field(True, description="Let deferrable jobs run at the greenest hour of their window.")


@router.post("/solve", response_model=PlacementResult)
async def solve_placement(
    body: PlacementSolveRequest, request: Request, settings: SettingsDep, who: EngineerDep
) -> Any:
    """Place workloads on nodes minimising SLO misses, energy, carbon and cost (engineer role)."""
    sc = body.scenario
    if body.time_limit_s > settings.http_solve_max_s:
        raise ApiError(422, f"time_limit_s: at most {settings.http_solve_max_s} s on this server "
                       "(INDAGENT_HTTP_SOLVE_MAX_S).", param="time_limit_s")
    if not sc.workloads:
        raise ApiError(422, "scenario.workloads: give at least one workload.", param="scenario.workloads")
    if len(sc.workloads) > MAX_WORKLOADS:
        raise ApiError(422, f"scenario.workloads: at most {MAX_WORKLOADS} over HTTP.", param="scenario.workloads")
    if body.method == "exact" and len(sc.workloads) * len(sc.nodes) > MAX_EXACT_OPTIONS:
        raise ApiError(422, f"method: exact is limited to {MAX_EXACT_OPTIONS} workload x node pairs; "
                       "use method=heuristic.", param="method")
    audit_detail(request, scenario=sc.name, method=body.method, workloads=len(sc.workloads), nodes=len(sc.nodes))

    def run() -> PlacementResult:
        if body.method == "first_fit":
            return first_fit(sc, carbon_aware=body.carbon_aware)
        return solve(sc, method=body.method, time_limit_s=body.time_limit_s, carbon_aware=body.carbon_aware)

    try:
        return await run_in_threadpool(run)
    except (ToolRetry, ValueError) as exc:
        raise ApiError(422, f"scenario: {exc}", param="scenario") from None

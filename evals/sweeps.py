"""Parameter sweeps of the placement and scheduling solvers, fanned out on an executor (local or Ray).

A sweep is a list of points (solver inputs); each point is solved independently by
:func:`run_point` in a worker and becomes one :class:`SweepRow`. Rows come back in point order,
so a sweep's results do not depend on the executor; with exact solvers that prove optimality
within the time limit (and one CP-SAT worker per point) they are identical run to run.

    from evals.sweeps import placement_grid, run_sweep
    res = run_sweep(placement_grid(nodes=[6, 8], workloads=[10, 20], seeds=[0, 1]), executor="ray", jobs=2)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from evals.executors import Executor, ExecutorKind, open_executor

__all__ = [
    "PlacementPoint",
    "SchedulingPoint",
    "SweepPoint",
    "SweepResult",
    "SweepRow",
    "placement_grid",
    "run_point",
    "run_sweep",
    "scheduling_grid",
]


class PlacementPoint(BaseModel):
    """Generate a placement scenario and solve it."""

    kind: Literal["placement"] = "placement"
    nodes: int = Field(ge=3)
    workloads: int = Field(ge=0)
    seed: int = 0
    profile: Literal["factory", "campus", "national"] = "factory"
    method: Literal["exact", "heuristic", "auto"] = "exact"
    time_limit_s: float = Field(10.0, gt=0)


class SchedulingPoint(BaseModel):
    """Solve a job-shop instance file with CP-SAT."""

    kind: Literal["scheduling"] = "scheduling"
    instance: str = Field(description="Instance file (orlib, taillard, brandimarte or json).")
    seed: int = 0
    time_limit_s: float = Field(10.0, gt=0)
    workers: int = Field(1, ge=1, description="CP-SAT workers per point (1: reproducible, no oversubscription).")


SweepPoint = Annotated[PlacementPoint | SchedulingPoint, Field(discriminator="kind")]


class SweepRow(BaseModel):
    """One solved point: status, objective and bound, metrics, time, or the error."""

    index: int
    point: SweepPoint
    status: str
    objective: float | None = None
    bound: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    solve_s: float = 0.0
    error: str | None = None

    def stable(self) -> dict[str, Any]:
        """The row without timings (what must not depend on the executor)."""
        return self.model_dump(exclude={"solve_s"})


class SweepResult(BaseModel):
    """All rows of a sweep, in point order, and how it ran."""

    executor: ExecutorKind
    jobs: int
    wall_s: float
    rows: list[SweepRow]

    @property
    def points_per_s(self) -> float:
        """Throughput of the sweep."""
        return len(self.rows) / self.wall_s if self.wall_s > 0 else 0.0


def placement_grid(*, nodes: Sequence[int], workloads: Sequence[int], seeds: Sequence[int] = (0,),
                   method: Literal["exact", "heuristic", "auto"] = "exact", time_limit_s: float = 10.0,
                   profile: Literal["factory", "campus", "national"] = "factory") -> list[PlacementPoint]:
    """Every combination of node count, workload count and seed.

    Args:
        nodes: Node counts (>= 3).
        workloads: Workload counts.
        seeds: Scenario seeds.
        method: Placement method for every point.
        time_limit_s: Solver budget per point.
        profile: Scenario profile.
    """
    return [PlacementPoint(nodes=n, workloads=w, seed=s, method=method, time_limit_s=time_limit_s, profile=profile)
            for n, w, s in itertools.product(nodes, workloads, seeds)]


def scheduling_grid(instances: Sequence[Path], *, seeds: Sequence[int] = (0,), time_limit_s: float = 10.0,
                    workers: int = 1) -> list[SchedulingPoint]:
    """Every combination of instance file and CP-SAT seed.

    Args:
        instances: Instance files.
        seeds: CP-SAT seeds.
        time_limit_s: Solver budget per point.
        workers: CP-SAT workers per point.
    """
    return [SchedulingPoint(instance=str(p), seed=s, time_limit_s=time_limit_s, workers=workers)
            for p, s in itertools.product(instances, seeds)]


def _placement(point: PlacementPoint) -> dict[str, Any]:
    from tools.placement import generate_scenario, solve

    res = solve(generate_scenario(point.nodes, point.workloads, seed=point.seed, profile=point.profile),
                method=point.method, time_limit_s=point.time_limit_s)
    return {"status": res.status, "objective": res.objective, "bound": res.lower_bound, "metrics": {
        "gap": res.gap, "slo_hit_rate": res.slo_hit_rate, "energy_kwh": res.energy_kwh, "carbon_kg": res.carbon_kg,
        "cost": res.cost, "slo_violations": float(res.slo_violations), "infeasible": float(len(res.infeasible_workloads)),
    }}


def _scheduling(point: SchedulingPoint) -> dict[str, Any]:
    from tools.scheduling import load_instance, solve

    sol = solve(load_instance(point.instance), time_limit=point.time_limit_s, workers=point.workers, seed=point.seed)
    return {"status": sol.status, "objective": float(sol.objective_value), "bound": float(sol.lower_bound),
            "metrics": {"makespan": float(sol.makespan), "lower_bound": float(sol.lower_bound)}}


def run_point(task: tuple[int, PlacementPoint | SchedulingPoint]) -> SweepRow:
    """Solve one point (in a worker); a solver error becomes a row with ``status='error'``."""
    index, point = task
    t0 = time.perf_counter()
    try:
        out = _placement(point) if isinstance(point, PlacementPoint) else _scheduling(point)
    except Exception as exc:  # one failing point must not sink the sweep: recorded on its row
        return SweepRow(index=index, point=point, status="error", error=f"{type(exc).__name__}: {exc}",
                        solve_s=round(time.perf_counter() - t0, 4))
    return SweepRow(index=index, point=point, solve_s=round(time.perf_counter() - t0, 4), **out)


def run_sweep(points: Sequence[PlacementPoint | SchedulingPoint], *, executor: ExecutorKind | Executor = "local",
              jobs: int = 1, ray_address: str | None = None) -> SweepResult:
    """Solve every point on ``jobs`` workers of ``executor``; rows in point order.

    Args:
        points: The sweep (see :func:`placement_grid`, :func:`scheduling_grid`).
        executor: local (this process / a process pool), ray, or an open executor to reuse (its own jobs).
        jobs: Workers (with an executor kind).
        ray_address: Ray cluster address (None: a private local Ray instance).
    """
    t0 = time.perf_counter()
    rows: list[SweepRow | None] = [None] * len(points)
    with ExitStack() as stack:
        ex = executor if not isinstance(executor, str) else stack.enter_context(
            open_executor(executor, jobs=jobs, address=ray_address))
        for index, row in ex.map_unordered(run_point, list(enumerate(points))):
            rows[index] = row
    return SweepResult(executor=ex.kind, jobs=ex.jobs, wall_s=round(time.perf_counter() - t0, 3),
                       rows=[r for r in rows if r is not None])

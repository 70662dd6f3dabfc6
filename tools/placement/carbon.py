"""Carbon-aware time and region shifting of deferrable batch jobs.

Solvers treat each start hour of a deferrable job as a separate option priced with the hourly
grid intensity of the node's region (``Node.carbon_hourly``), so jobs move to low-carbon hours
(solar noon) and low-carbon regions (hydro north) when capacity and sovereignty allow.
``carbon_aware=False`` pins every job to its ``earliest_h`` ("run now") and is the baseline.

This module measures what shifting buys: :func:`time_shift_saving` (same nodes, earliest start
vs chosen start) and :func:`compare_carbon` (carbon-blind solve vs carbon-aware solve).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from tools.placement.costs import Compiled
from tools.placement.model import PlacementResult, Scenario

__all__ = ["CarbonReport", "carbon_blind", "compare_carbon", "time_shift_saving"]


class CarbonReport(BaseModel):
    """Carbon of a carbon-blind plan vs the carbon-aware plan of the same scenario."""

    blind_carbon_kg: float
    aware_carbon_kg: float
    saved_kg: float
    saved_share: float
    time_shift_saved_kg: float
    jobs_shifted: int
    jobs_moved_region: int
    blind_objective: float
    aware_objective: float


def time_shift_saving(cp: Compiled, n: np.ndarray, s: np.ndarray) -> float:
    """CO2 (kg) saved by the chosen start hours vs starting every placed job at ``earliest_h``.

    Args:
        cp: The compiled scenario.
        n: Node index per workload (-1 unplaced).
        s: Start hour per workload.
    """
    jobs = np.nonzero((n >= 0) & cp.is_job)[0]
    if len(jobs) == 0:
        return 0.0
    chosen = cp.terms(jobs, n[jobs], s[jobs]).carbon_kg
    now = cp.terms(jobs, n[jobs], cp.earliest[jobs]).carbon_kg
    return float((now - chosen).sum())


def carbon_blind(sc: Scenario) -> Scenario:
    """The same scenario with a zero carbon weight (the baseline planner ignores carbon)."""
    return sc.model_copy(update={"weights": sc.weights.model_copy(update={"carbon_kg": 0.0})})


def compare_carbon(sc: Scenario, blind: PlacementResult, aware: PlacementResult) -> CarbonReport:
    """Compare a carbon-blind result (no shifting, zero carbon weight) with a carbon-aware one.

    Args:
        sc: The scenario both results solve.
        blind: Result of ``carbon_blind(sc)`` solved with ``carbon_aware=False``.
        aware: Result of ``sc`` solved with ``carbon_aware=True``.
    """
    region = {n.id: n.region for n in sc.nodes}
    jobs = {w.id: w.deferrable.earliest_h for w in sc.workloads if w.deferrable is not None}
    before = {a.workload: a for a in blind.assignments}
    shifted = moved = 0
    for a in aware.assignments:
        if a.workload not in jobs:
            continue
        shifted += int(a.start_hour is not None and a.start_hour != jobs[a.workload])
        b = before.get(a.workload)
        moved += int(b is not None and region[b.node] != region[a.node])
    saved = blind.carbon_kg - aware.carbon_kg
    return CarbonReport(
        blind_carbon_kg=blind.carbon_kg,
        aware_carbon_kg=aware.carbon_kg,
        saved_kg=round(saved, 6),
        saved_share=round(saved / blind.carbon_kg, 6) if blind.carbon_kg > 0 else 0.0,
        time_shift_saved_kg=aware.carbon_saved_kg or 0.0,
        jobs_shifted=shifted,
        jobs_moved_region=moved,
        blind_objective=blind.objective,
        aware_objective=aware.objective,
    )

"""Turn a solver's raw answer (node and start per workload) into a :class:`PlacementResult`.

The objective counts every workload that has at least one eligible node: placed ones by their
option cost, unplaced ones by ``weights.unplaced x priority``. Workloads with no eligible node at
all are infeasible by the data (sovereignty, memory, accelerator...): they are reported with
their reason and left out of the objective and of the bound (a constant for every solver).
"""

from __future__ import annotations

import numpy as np

from tools.placement.carbon import time_shift_saving
from tools.placement.costs import Compiled
from tools.placement.model import Assignment, InfeasibleWorkload, NodeUsage, PlacementResult
from tools.placement.validate import validate_placement

__all__ = ["infeasible_reason", "loads", "objective_of", "summarize"]


def infeasible_reason(cp: Compiled, j: int) -> str:
    """Why workload ``j`` has no eligible node: the first hard constraint that empties the set."""
    w = cp.sc.workloads[j]
    ok = np.ones(cp.N, dtype=bool)
    checks: list[tuple[np.ndarray, str]] = []
    if w.stay_on_site:
        checks.append((cp.n_site == cp.w_site[j], f"stay_on_site: no node at site {w.site!r}"))
    if w.allowed_regions is not None:
        checks.append((cp.region_masks[cp.w_mask[j], cp.n_region],
                       f"sovereignty: no node in allowed regions {sorted(w.allowed_regions)}"))
    if w.needs_accelerator:
        checks.append((cp.acc, "accelerator: no allowed node has a GPU/NPU"))
    if w.min_availability > 0:
        checks.append((cp.avail >= w.min_availability, f"availability: no allowed node reaches {w.min_availability}"))
    src = cp.w_src[j]
    checks.append((np.isfinite(cp.lat[src]), f"network: no allowed node is reachable from {w.source!r}"))
    for mask, msg in checks:
        if not (ok & mask).any():
            return msg
        ok &= mask
    largest_m = float(cp.cap_m[ok].max())
    if cp.m[j] > largest_m:
        return f"memory: needs {cp.m[j]:.4g} GB, the largest allowed node has {largest_m:.4g} GB"
    largest_c = float(cp.cap_c[ok].max())
    if cp.d[j] > largest_c:
        return f"compute: needs {cp.d[j]:.4g} TFLOP/s, the largest allowed node offers {largest_c:.4g} usable"
    return "no eligible node"


def loads(cp: Compiled, n: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compute and memory load per (node, hour) of a raw solution (n = -1: unplaced)."""
    lc = np.zeros((cp.N, cp.H + 1))
    lm = np.zeros((cp.N, cp.H + 1))
    placed = np.nonzero(n >= 0)[0]
    end = s[placed] + cp.dur[placed]
    for arr, val in ((lc, cp.d), (lm, cp.m)):
        np.add.at(arr, (n[placed], s[placed]), val[placed])
        np.add.at(arr, (n[placed], end), -val[placed])
    return np.cumsum(lc, axis=1)[:, : cp.H], np.cumsum(lm, axis=1)[:, : cp.H]


def objective_of(cp: Compiled, best: np.ndarray, n: np.ndarray, s: np.ndarray) -> float:
    """Objective of a raw solution (placed option costs + unplaced penalties of placeable ones)."""
    placed = np.nonzero(n >= 0)[0]
    unplaced = np.isfinite(best) & (n < 0)
    return float(cp.terms(placed, n[placed], s[placed]).objective.sum() + cp.unplaced[unplaced].sum())


def summarize(
    cp: Compiled,
    best: np.ndarray,
    n: np.ndarray,
    s: np.ndarray,
    *,
    method: str,
    status: str,
    lower_bound: float,
    solve_s: float,
) -> PlacementResult:
    """Metrics, reasons, validation and per-node usage of a raw solution.

    Args:
        cp: The compiled scenario.
        best: Cheapest eligible option per workload (inf: infeasible by the data).
        n: Node index per workload, -1 when unplaced.
        s: Start hour per workload (0 for services).
        method: Solver name for the result.
        status: Solver status ("optimal", "feasible", "no_solution").
        lower_bound: A proven lower bound of the objective.
        solve_s: Wall time of the solve.
    """
    sc = cp.sc
    placed = np.nonzero(n >= 0)[0]
    t = cp.terms(placed, n[placed], s[placed])
    placeable = np.isfinite(best)
    unplaced = placeable & (n < 0)
    objective = float(t.objective.sum() + cp.unplaced[unplaced].sum())
    has_slo = np.isfinite(cp.slo)
    hits = int((~t.slo_miss & has_slo[placed]).sum())
    n_slo = int(has_slo.sum())
    reasons: list[InfeasibleWorkload] = []
    for j in np.nonzero(n < 0)[0]:
        if not placeable[j]:
            why = infeasible_reason(cp, int(j))
        elif best[j] >= cp.unplaced[j]:
            why = f"cost: its cheapest eligible option ({best[j]:.4g}) costs more than leaving it unplaced"
        else:
            why = "capacity: every eligible node is full for its demand (it was left unplaced)"
        reasons.append(InfeasibleWorkload(workload=cp.wl_ids[j], reason=why))
    assignments = [
        Assignment(workload=cp.wl_ids[j], node=cp.node_ids[n[j]], start_hour=int(s[j]) if cp.is_job[j] else None)
        for j in placed
    ]
    lb = min(float(lower_bound), objective)
    gap = max(0.0, (objective - lb) / max(abs(objective), 1e-9)) if objective > 0 else 0.0
    lc, lm = loads(cp, n, s)
    count = np.bincount(n[placed], minlength=cp.N)
    usage = [
        NodeUsage(node=cp.node_ids[i], tier=sc.nodes[i].tier, compute_util=round(float(lc[i].max() / cp.cap_c[i]), 4),
                  memory_util=round(float(lm[i].max() / cp.cap_m[i]), 4), workloads=int(count[i]))
        for i in range(cp.N)
    ]
    return PlacementResult(
        method=method,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        objective=round(objective, 6),
        lower_bound=round(lb, 6),
        gap=round(gap, 6),
        solve_s=round(solve_s, 4),
        slo_hit_rate=round(hits / n_slo, 6) if n_slo else 1.0,
        energy_kwh=round(float(t.energy_kwh.sum()), 6),
        carbon_kg=round(float(t.carbon_kg.sum()), 6),
        cost=round(float(t.cost.sum()), 6),
        slo_violations=int(t.slo_miss.sum()),
        infeasible_workloads=[r.workload for r in reasons],
        infeasible_reasons=reasons,
        assignments=assignments,
        violations=validate_placement(sc, assignments),
        usage=usage,
        carbon_saved_kg=round(time_shift_saving(cp, n, s), 6),
    )

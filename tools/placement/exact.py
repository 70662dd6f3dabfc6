"""Exact placement with CP-SAT: one Boolean per (workload, node, start) option, proven bound.

Scaling to integers is done so that the reported bound stays valid for the float problem:
option costs are rounded DOWN (``floor(cost * scale)``), so CP-SAT's best bound on the integer
objective, divided by ``scale``, never exceeds the true float optimum. Demands are expressed in
1e-9 of each node's capacity and rounded to the nearest unit, so a plan may overshoot a capacity
by at most (options on the node) x 0.5e-9 relative: well inside the validator's 1e-6 relative
tolerance, which re-checks every plan. The objective of the returned plan is recomputed in floats.
"""

from __future__ import annotations

import math
import time

import numpy as np
from ortools.sat.python import cp_model

from tools.placement.bound import capacity_free_bound
from tools.placement.costs import Compiled, build_options, compile_scenario
from tools.placement.evaluate import summarize
from tools.placement.heuristic import heuristic_raw
from tools.placement.model import PlacementResult, Scenario

__all__ = ["solve_exact"]

_COST_SCALE_MAX = 1e8  # the largest objective coefficient after scaling
_CAP_UNITS = 1_000_000_000  # capacity resolution per node and resource (1e-9)


def solve_exact(
    sc: Scenario,
    *,
    time_limit_s: float = 10.0,
    carbon_aware: bool = True,
    workers: int = 2,
    cp: Compiled | None = None,
) -> PlacementResult:
    """Solve with CP-SAT (warm-started by the heuristic); returns the plan and a proven bound.

    Args:
        sc: The scenario (small/medium: up to a few thousand workload x node options).
        time_limit_s: CP-SAT wall-clock limit; the status is "feasible" when it runs out.
        carbon_aware: Let deferrable jobs start at any hour of their window.
        workers: CP-SAT search workers.
        cp: An already compiled scenario.
    """
    t0 = time.perf_counter()
    cp = cp or compile_scenario(sc)
    opts = build_options(cp, k=None, carbon_aware=carbon_aware)
    placeable = np.nonzero(np.isfinite(opts.best))[0]
    top = max(float(opts.cost.max(initial=0.0)), float(cp.unplaced[placeable].max(initial=0.0)), 1e-9)
    scale = _COST_SCALE_MAX / top
    model = cp_model.CpModel()
    xs = [model.new_bool_var(f"x{o}") for o in range(len(opts.w))]
    us: dict[int, cp_model.IntVar] = {}
    for j in placeable.tolist():
        a, c = int(opts.starts[j]), int(opts.counts[j])
        us[j] = model.new_bool_var(f"u{j}")
        model.add_exactly_one([*xs[a : a + c], us[j]])
    dur = cp.dur[opts.w]
    span = np.arange(cp.H)
    for node in range(cp.N):
        on_n = np.nonzero(opts.n == node)[0]
        if len(on_n) == 0:
            continue
        cover = (span[None, :] >= opts.s[on_n, None]) & (span[None, :] < (opts.s[on_n] + dur[on_n])[:, None])
        patterns = np.unique(cover, axis=1)  # identical hours give identical rows
        for dem, cap in ((cp.d, cp.cap_c[node]), (cp.m, cp.cap_m[node])):
            vals = dem[opts.w[on_n]]
            if cover.any() and (vals[:, None] * cover).sum(axis=0).max() <= cap * (1 - 1e-9):
                continue  # this resource can never bind on this node
            unit = cap / _CAP_UNITS
            ints = [round(v / unit) for v in vals.tolist()]
            for col in patterns.T:
                idx = np.nonzero(col)[0].tolist()
                if idx:
                    model.add(sum(ints[i] * xs[on_n[i]] for i in idx) <= _CAP_UNITS)
    cost_int = np.floor(opts.cost * scale).astype(np.int64).tolist()
    unplaced_int = {j: math.floor(float(cp.unplaced[j]) * scale) for j in us}
    model.minimize(sum(c * x for c, x in zip(cost_int, xs, strict=True)) + sum(unplaced_int[j] * u for j, u in us.items()))
    # warm start from the heuristic (no LP: it is small)
    hn, hs = heuristic_raw(cp, opts, carbon_aware=carbon_aware, deadline=time.perf_counter() + min(1.0, time_limit_s / 4))
    hint_opt = {}
    for j in placeable.tolist():
        if hn[j] >= 0:
            a, c = int(opts.starts[j]), int(opts.counts[j])
            for o in range(a, a + c):
                if opts.n[o] == hn[j] and opts.s[o] == hs[j]:
                    hint_opt[j] = o
                    break
    for j, u in us.items():
        model.add_hint(u, j not in hint_opt)
    chosen_hint = set(hint_opt.values())
    for o, x in enumerate(xs):
        model.add_hint(x, o in chosen_hint)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_s - (time.perf_counter() - t0))
    solver.parameters.num_search_workers = max(1, workers)
    solver.parameters.random_seed = 0
    status = solver.solve(model)
    n = np.full(cp.W, -1, dtype=np.int64)
    s = np.zeros(cp.W, dtype=np.int64)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for o, x in enumerate(xs):
            if solver.boolean_value(x):
                n[opts.w[o]], s[opts.w[o]] = opts.n[o], opts.s[o]
        lb = max(solver.best_objective_bound / scale, 0.0)
        state = "optimal" if status == cp_model.OPTIMAL else "feasible"
    else:  # no CP-SAT answer in time: keep the heuristic plan, bound without capacity
        n, s = hn, hs
        lb, state = 0.0, "feasible"
    lb = max(lb, capacity_free_bound(cp, opts))
    return summarize(cp, opts.best, n, s, method="exact", status=state, lower_bound=lb,
                     solve_s=time.perf_counter() - t0)

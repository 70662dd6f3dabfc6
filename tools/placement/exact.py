"""Exact placement: LP bound, Lagrangian reduced-cost fixing, then CP-SAT (or HiGHS) on what is left.

The model has one binary per (workload, node, start) option plus an "unplaced" binary per
workload; capacity rows are per node, hour and resource, normalised by the node's capacity.

1. A heuristic plan gives an upper bound ``UB`` (and the plan returned if nothing beats it).
2. The LP relaxation (HiGHS) gives capacity prices ``lam >= 0``. The Lagrangian bound ``L(lam)``
   is then evaluated over every option (:func:`tools.placement.bound.lagrangian_bound`), so the
   reported bound never relies on LP tolerances.
3. Reduced-cost fixing: with ``red_o`` the option's cost plus the price of the capacity it uses
   and ``m_j`` the cheapest reduced cost of its workload, any plan that uses option ``o`` costs at
   least ``L - m_j + red_o`` (the Lagrangian relaxation with that option forced). Options and
   "unplaced" choices above ``UB`` cannot be in a plan better than the heuristic's, so they are
   dropped: the reduced model keeps every plan of cost <= UB, hence the optimum.
4. Dominated choices go (:func:`drop_dominated`), and so do capacity rows that can never bind.
5. CP-SAT (default) solves the reduced model: costs and normalised capacity coefficients are
   integers rounded *down* at 1e-9 (a relaxation, so its proved bound is valid), the objective's
   domain starts at the Lagrangian bound (without it CP-SAT did not close the 20 x 100 gap in
   20 s; with it, 0.3-0.5 s), the heuristic plan is the hint, and ``linearization_level=2``
   keeps the full LP with cuts at every node. ``backend="highs"`` runs HiGHS branch-and-cut
   (``scipy.optimize.milp``, relative gap 0) instead: the former solver, kept as the baseline
   of the bench. Either plan goes through the validator, and its objective is recomputed in floats.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix, csr_matrix

from tools.placement.bound import capacity_free_bound, lagrangian_bound
from tools.placement.costs import Compiled, Options, build_options, compile_scenario
from tools.placement.evaluate import objective_of, summarize
from tools.placement.heuristic import construct, heuristic_raw
from tools.placement.model import PlacementResult, Scenario

__all__ = ["Backend", "Reduction", "drop_dominated", "reduce_options", "solve_exact"]

Backend = Literal["cpsat", "highs"]

_REL_TOL = 1e-9  # fixing keeps options within UB + this x max(1, |UB|)
#: capacity rows are scaled up so that HiGHS's absolute feasibility tolerance (1e-6) is 1e-9 of
#: a node's capacity, well inside the validator's 1e-6 relative tolerance
_ROW_SCALE = 1000.0
#: CP-SAT capacity rows: floor(demand / capacity x this) <= this
_CAP_SCALE = 1e9


@dataclass
class _Model:
    """Sparse MILP over the options ``x`` (len O) followed by the unplaced binaries ``u`` (len W)."""

    c: np.ndarray
    a_eq: csr_matrix
    b_eq: np.ndarray
    a_ub: csr_matrix  # rows: resource x node x hour, coefficients demand / capacity, rhs 1


def _model(cp: Compiled, opts: Options) -> _Model:
    n_opt, W, N, H = len(opts.w), cp.W, cp.N, cp.H
    placeable = np.isfinite(opts.best)
    c = np.r_[opts.cost, np.where(placeable, cp.unplaced, 0.0)]
    rows = np.r_[opts.w, np.arange(W)]
    a_eq = coo_matrix((np.ones(n_opt + W), (rows, np.arange(n_opt + W))), shape=(W, n_opt + W)).tocsr()
    end = opts.s + cp.dur[opts.w]
    hours = np.arange(H)
    o_idx, h_idx = np.nonzero((opts.s[:, None] <= hours[None, :]) & (end[:, None] > hours[None, :]))
    node = opts.n[o_idx]
    r = np.r_[node * H + h_idx, N * H + node * H + h_idx]
    v = np.r_[cp.d[opts.w[o_idx]] / cp.cap_c[node], cp.m[opts.w[o_idx]] / cp.cap_m[node]]
    a_ub = coo_matrix((v, (r, np.r_[o_idx, o_idx])), shape=(2 * N * H, n_opt + W)).tocsr()
    return _Model(c, a_eq, placeable.astype(float), a_ub)


@dataclass
class Reduction:
    """Outcome of LP pricing and reduced-cost fixing."""

    bound: float  # Lagrangian bound at the LP prices (valid whatever the LP's accuracy)
    keep_x: np.ndarray  # bool per option
    keep_u: np.ndarray  # bool per workload: may stay unplaced
    lam_c: np.ndarray
    lam_m: np.ndarray


def _lp_prices(cp: Compiled, mdl: _Model) -> tuple[np.ndarray, np.ndarray]:
    """Capacity prices (per unit of capacity) from the LP relaxation's duals; zero when it fails."""
    N, H = cp.N, cp.H
    lp = linprog(mdl.c, A_ub=mdl.a_ub, b_ub=np.ones(mdl.a_ub.shape[0]), A_eq=mdl.a_eq, b_eq=mdl.b_eq,
                 bounds=(0.0, 1.0), method="highs")
    if lp.status == 0 and lp.ineqlin is not None:
        pi = np.maximum(-np.asarray(lp.ineqlin.marginals), 0.0)
        lam_c = pi[: N * H].reshape(N, H) / cp.cap_c[:, None]
        lam_m = pi[N * H :].reshape(N, H) / cp.cap_m[:, None]
    else:  # no LP answer: price nothing (the capacity-free bound)
        lam_c, lam_m = np.zeros((N, H)), np.zeros((N, H))
    return lam_c, lam_m


def reduce_options(
    cp: Compiled,
    opts: Options,
    upper: float,
    *,
    carbon_aware: bool = True,
    prices: tuple[np.ndarray, np.ndarray] | None = None,
) -> Reduction:
    """LP prices, the Lagrangian bound they give, and the options that can be in a plan <= ``upper``.

    Args:
        cp: The compiled scenario.
        opts: Every option (``build_options(cp, k=None)``).
        upper: Objective of a feasible plan.
        carbon_aware: Whether jobs may start at any hour of their window.
        prices: Capacity multipliers (N, H) for compute and memory; None: from the LP relaxation.
    """
    N = cp.N
    lam_c, lam_m = prices if prices is not None else _lp_prices(cp, _model(cp, opts))
    bound, _, _ = lagrangian_bound(cp, lam_c, lam_m, carbon_aware=carbon_aware)
    cum_c = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_c, axis=1)], axis=1)
    cum_m = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_m, axis=1)], axis=1)
    end = opts.s + cp.dur[opts.w]
    red = opts.cost + cp.d[opts.w] * (cum_c[opts.n, end] - cum_c[opts.n, opts.s]) + cp.m[opts.w] * (
        cum_m[opts.n, end] - cum_m[opts.n, opts.s])
    low = cp.unplaced.copy()
    np.minimum.at(low, opts.w, red)
    limit = upper + _REL_TOL * max(1.0, abs(upper))
    keep_x = bound - low[opts.w] + red <= limit
    keep_u = np.isfinite(opts.best) & (bound - low + cp.unplaced <= limit)
    return Reduction(bound, keep_x, keep_u, lam_c, lam_m)


def drop_dominated(cp: Compiled, opts: Options, a_ub: csr_matrix, keep_x: np.ndarray, keep_u: np.ndarray) -> None:
    """Exact presolve, in place: keep one cheapest "free" choice per workload, drop costlier ones.

    A capacity row can bind only if the kept options on it could together exceed it. An option
    that touches no such row is *free*: any plan can switch a workload to it without breaking
    a constraint. So every option (or the unplaced choice) of a workload costing at least its
    cheapest free option is dominated and dropped; dropping shrinks row sums, which can free more
    rows, so this repeats to a fixed point. Tiny control loops and anomaly models, which fit
    anywhere at almost no cost, fall out of the model this way.
    """
    n_opt = len(opts.w)
    touch = a_ub[:, :n_opt].tocsc()
    while True:
        cols = np.r_[np.nonzero(keep_x)[0], n_opt + np.nonzero(keep_u)[0]]
        binding = np.asarray(a_ub[:, cols].sum(axis=1)).ravel() > 1.0 + 1e-12
        hits = np.asarray(touch[binding].getnnz(axis=0)).ravel() > 0 if binding.any() else np.zeros(n_opt, bool)
        free = keep_x & ~hits
        cheapest = np.full(cp.W, np.inf)
        np.minimum.at(cheapest, opts.w[free], opts.cost[free])
        # the first free option at the cheapest cost stays, every choice at >= that cost goes
        first = np.full(cp.W, n_opt)
        at_min = np.nonzero(free & (opts.cost <= cheapest[opts.w]))[0]
        np.minimum.at(first, opts.w[at_min], at_min)
        drop = keep_x & (opts.cost >= cheapest[opts.w]) & (np.arange(n_opt) != first[opts.w])
        drop_u = keep_u & (cp.unplaced >= cheapest)
        if not drop.any() and not drop_u.any():
            return
        keep_x &= ~drop
        keep_u &= ~drop_u


def _cpsat(
    c: np.ndarray,
    a_eq: csr_matrix,
    a_ub: csr_matrix,
    *,
    hint: np.ndarray,
    lower: float,
    upper: float,
    time_limit_s: float,
    workers: int,
) -> tuple[np.ndarray | None, bool, float]:
    """CP-SAT on the reduced model (a relaxation: costs and capacity coefficients rounded down).

    Costs become integers in units of 1/``scale`` (``scale`` = 1e9 unless the total would get
    near 2^53) and the normalised capacity rows get ``floor(demand/capacity x 1e9) <= 1e9``. Both
    roundings go down, so every plan of the float model is feasible here and costs at least as
    much: the proved integer bound divided by ``scale`` is a valid lower bound. A plan it returns
    overfills a row by at most (items on it) x 1e-9 of the node, inside the validator's 1e-6.
    The objective domain starts at the Lagrangian bound, which is what lets CP-SAT close the gap.

    Returns the 0/1 column values (None when no plan was found), whether optimality was proved,
    and the lower bound.
    """
    scale = min(1e9, 2.0**53 / max(1.0, float(np.abs(c).sum())))
    cost = np.floor(c * scale).astype(np.int64)
    mdl = cp_model.CpModel()
    proto = mdl.Proto()
    for _ in range(len(c)):
        proto.variables.add().domain.extend((0, 1))
    for r in range(a_eq.shape[0]):
        lits = a_eq.indices[a_eq.indptr[r] : a_eq.indptr[r + 1]]
        if len(lits):
            proto.constraints.add().exactly_one.literals.extend(lits.tolist())
    coef = np.floor(a_ub.data * _CAP_SCALE).astype(np.int64)
    for r in range(a_ub.shape[0]):
        lo, hi = a_ub.indptr[r], a_ub.indptr[r + 1]
        lin = proto.constraints.add().linear
        lin.vars.extend(a_ub.indices[lo:hi].tolist())
        lin.coeffs.extend(coef[lo:hi].tolist())
        lin.domain.extend((-(2**62), int(_CAP_SCALE)))
    nz = np.nonzero(cost)[0]
    proto.objective.vars.extend(nz.tolist())
    proto.objective.coeffs.extend(cost[nz].tolist())
    # a plan of float cost v has integer cost in (v x scale - rows, v x scale]: keep the window
    # [lower, upper] of the float costs, widened by the rounding
    low_int = int(np.floor(lower * scale)) - a_eq.shape[0] - 1
    proto.objective.domain.extend((low_int, int(np.floor(upper * scale)) + 1))
    hinted = np.nonzero(hint >= 0)[0]
    proto.solution_hint.vars.extend(hinted.tolist())
    proto.solution_hint.values.extend(hint[hinted].tolist())
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = max(1, workers)
    # full LP relaxation with cuts at every node: about the same CPU as the default on the factory
    # 20 x 100 seeds 1 and 2, 6x less on seed 5 (where the default sometimes ran out of time)
    solver.parameters.linearization_level = 2
    status = solver.solve(mdl)
    bound = float(solver.best_objective_bound) / scale if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else -np.inf
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, False, bound
    return np.asarray(solver.response_proto.solution, dtype=np.int64), status == cp_model.OPTIMAL, bound


def _highs(
    c: np.ndarray, a_eq: csr_matrix, b_eq: np.ndarray, a_ub: csr_matrix, *, time_limit_s: float
) -> tuple[np.ndarray | None, bool, float]:
    """HiGHS branch-and-cut (``scipy.optimize.milp``, relative gap 0) on the reduced model."""
    res = milp(c, integrality=np.ones(len(c)), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(a_eq, b_eq, b_eq), LinearConstraint(_ROW_SCALE * a_ub, -np.inf, _ROW_SCALE)],
               options={"time_limit": max(0.05, time_limit_s), "mip_rel_gap": 0.0})
    dual = getattr(res, "mip_dual_bound", None)
    bound = float(dual) if dual is not None and np.isfinite(dual) else -np.inf
    return (None if res.x is None else (res.x > 0.5).astype(np.int64)), res.status == 0, bound


def solve_exact(
    sc: Scenario,
    *,
    time_limit_s: float = 10.0,
    carbon_aware: bool = True,
    workers: int = 1,
    cp: Compiled | None = None,
    backend: Backend = "cpsat",
) -> PlacementResult:
    """Solve to proven optimality (CP-SAT, or HiGHS branch-and-cut, after reduced-cost fixing).

    Args:
        sc: The scenario (small/medium: up to a few thousand workload x node options).
        time_limit_s: Wall-clock limit; the status is "feasible" (with the proven gap) when it runs out.
        carbon_aware: Let deferrable jobs start at any hour of their window.
        workers: CP-SAT search workers (HiGHS runs single-threaded).
        cp: An already compiled scenario.
        backend: "cpsat" (default) or "highs" (``scipy.optimize.milp``) for the reduced model.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    cp = cp or compile_scenario(sc)
    opts = build_options(cp, k=None, carbon_aware=carbon_aware)
    hn, hs = heuristic_raw(cp, opts, carbon_aware=carbon_aware, deadline=t0 + min(0.05, time_limit_s / 10))
    upper = objective_of(cp, opts.best, hn, hs)
    if not np.isfinite(opts.best).any():
        return summarize(cp, opts.best, hn, hs, method="exact", status="optimal", lower_bound=0.0,
                         solve_s=time.perf_counter() - t0)
    mdl = _model(cp, opts)
    red = reduce_options(cp, opts, upper, carbon_aware=carbon_aware, prices=_lp_prices(cp, mdl))
    priced = construct(cp, opts, carbon_aware=carbon_aware, prices=(red.lam_c, red.lam_m))
    pn, ps = priced.raw()
    if objective_of(cp, opts.best, pn, ps) < upper - _REL_TOL * max(1.0, abs(upper)):
        hn, hs, upper = pn, ps, objective_of(cp, opts.best, pn, ps)
        red = reduce_options(cp, opts, upper, carbon_aware=carbon_aware, prices=(red.lam_c, red.lam_m))
    lb = max(red.bound, capacity_free_bound(cp, opts))
    state, n, s = "feasible", hn, hs
    if upper - lb <= 1e-9 * max(1.0, abs(upper)):
        state = "optimal"
    else:
        drop_dominated(cp, opts, mdl.a_ub, red.keep_x, red.keep_u)
        cols = np.r_[np.nonzero(red.keep_x)[0], len(opts.w) + np.nonzero(red.keep_u)[0]]
        a_ub = mdl.a_ub[:, cols]
        binding = np.asarray(a_ub.sum(axis=1)).ravel() > 1.0 + 1e-12  # rows that can never bind are left out
        a_eq, a_ub = mdl.a_eq[:, cols].tocsr(), a_ub[binding].tocsr()
        left = deadline - time.perf_counter()
        if backend == "highs":
            x, proved, bound = _highs(mdl.c[cols], a_eq, mdl.b_eq, a_ub, time_limit_s=left)
        else:
            is_x, cx = cols < len(opts.w), np.minimum(cols, len(opts.w) - 1)
            col_w = np.where(is_x, opts.w[cx], cols - len(opts.w))
            # the column of each workload's plan choice (node and slot, or unplaced)
            match = np.where(is_x, (opts.n[cx] == hn[col_w]) & (opts.s[cx] == hs[col_w]), hn[col_w] < 0)
            covered = np.zeros(cp.W, dtype=bool)
            covered[col_w[match]] = True
            hint = np.where(covered[col_w], match.astype(np.int64), -1)  # plan choice reduced away: no hint
            x, proved, bound = _cpsat(mdl.c[cols], a_eq, a_ub, hint=hint, lower=lb, upper=upper, time_limit_s=left,
                                      workers=workers)
        if np.isfinite(bound):
            lb = max(lb, min(bound, upper))  # the reduced model holds every plan <= UB
        if x is not None:
            chosen = cols[(x > 0) & (cols < len(opts.w))]
            mn = np.full(cp.W, -1, dtype=np.int64)
            ms = np.zeros(cp.W, dtype=np.int64)
            mn[opts.w[chosen]], ms[opts.w[chosen]] = opts.n[chosen], opts.s[chosen]
            value = objective_of(cp, opts.best, mn, ms)
            if value <= upper:
                n, s, upper = mn, ms, value
            if proved:
                state = "optimal"
    out = summarize(cp, opts.best, n, s, method="exact", status=state, lower_bound=lb,
                    solve_s=time.perf_counter() - t0)
    if out.violations and (n is not hn):  # a tolerance slip of the MILP: return the heuristic plan
        out = summarize(cp, opts.best, hn, hs, method="exact", status="feasible", lower_bound=lb,
                        solve_s=time.perf_counter() - t0)
    return out

"""Lower bounds: capacity-free bound and the Lagrangian relaxation (class-tied for large instances).

Relaxing the capacity rows (node n, hour h, compute/memory) with multipliers ``lam >= 0``::

    L(lam) = sum_j min(unplaced_j, min_o cost_o + d_j * sum_{h in o} lam_c[n,h] + m_j * sum lam_m[n,h])
             - sum_{n,h} lam_c[n,h] * cap_c[n] + lam_m[n,h] * cap_m[n]

is a valid lower bound for ANY ``lam >= 0`` (``lam = 0`` gives the capacity-free bound), and it is
evaluated over every node and start hour, not only the heuristic's candidates. Its maximum
equals the LP-relaxation bound (the subproblem has the integrality property). A per-node
subgradient on 100 x 10k (2 x 100 x 24 multipliers) only reached 592.7 in 5 s.

Large instances (:func:`class_bound`): nodes with the same compute and memory capacity form a
class, and the multipliers are tied within a class (``lam[n, h] = mu[class(n), h] / cap``).
Tying is a restriction of ``lam``, so the bound stays valid, and it turns the problem into the
Lagrangian of the *aggregated* problem (one capacity row per class and hour, ``|class|`` times the
node capacity; each workload keeps, per class and start hour, its cheapest member). That dual has
2 x classes x hours multipliers instead of 2 x nodes x hours, and the subgradient converges in a
few hundred cheap steps: on the 100 x 10k factory scenario it reaches the aggregated LP optimum
(712.41, HiGHS needs 35-45 s for that LP here) to 0.01 % in about 2 s. The reported value is the
full Lagrangian (every node and start hour) at the expanded multipliers when the option costs
are held in memory; on larger instances it is the class value, which is the same number (with
tied multipliers a workload's cheapest reduced cost in a class is its cheapest member's), so a
1,000 x 100k solve prices its 376M options once. The class minima are recorded during the
heuristic's candidate pass (:meth:`tools.placement.costs.Compiled.track_classes`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import csr_matrix, vstack

from tools.placement.costs import Compiled, Options

__all__ = ["Bound", "ShortageBound", "capacity_free_bound", "class_bound", "lagrangian_bound", "node_classes",
           "shortage_bound"]


@dataclass
class Bound:
    """A lower bound, the capacity multipliers that gave it and how it was obtained."""

    value: float
    lam_c: np.ndarray
    lam_m: np.ndarray
    iterations: int
    seconds: float
    source: str
    #: multipliers for pricing a heuristic (the coarse class phase: tied prices give steadier
    #: reduced-cost rankings than the last fine steps); ``lam_c, lam_m`` when not set
    prices: tuple[np.ndarray, np.ndarray] | None = None


def capacity_free_bound(cp: Compiled, opts: Options) -> float:
    """Every placeable workload on its cheapest eligible option (or unplaced), ignoring capacity."""
    return _cheapest_total(cp, opts.best)


def _cheapest_total(cp: Compiled, best: np.ndarray) -> float:
    ok = np.isfinite(best)
    return float(np.minimum(best[ok], cp.unplaced[ok]).sum())


def lagrangian_bound(
    cp: Compiled, lam_c: np.ndarray, lam_m: np.ndarray, *, carbon_aware: bool = True
) -> tuple[float, np.ndarray, np.ndarray]:
    """Lagrangian lower bound of the full problem for capacity multipliers ``lam >= 0``.

    Returns the bound and the (N, H) compute and memory loads of the relaxed solution (each
    workload on its cheapest reduced-cost option), i.e. the subgradient plus capacity.

    Args:
        cp: The compiled scenario.
        lam_c: (N, H) multipliers of the compute rows.
        lam_m: (N, H) multipliers of the memory rows.
        carbon_aware: Whether jobs may start at any hour of their window.
    """
    N, H = cp.N, cp.H
    cum_c = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_c, axis=1)], axis=1)
    cum_m = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_m, axis=1)], axis=1)
    total = -float((lam_c * cp.cap_c[:, None]).sum() + (lam_m * cp.cap_m[:, None]).sum())
    dl_c = np.zeros((N, H + 1))
    dl_m = np.zeros((N, H + 1))
    for w, cost3 in cp.dense_iter(carbon_aware=carbon_aware):
        S = cost3.shape[2]
        d, m = cp.d[w], cp.m[w]
        if S == 1:
            red = cost3[:, :, 0] + d[:, None] * cum_c[None, :, H] + m[:, None] * cum_m[None, :, H]
            s_best = np.zeros(len(w), dtype=np.int64)
            n_best = red.argmin(axis=1)
        else:
            s = np.minimum(np.arange(S)[None, :], cp.latest[w][:, None])  # (w, S)
            end = s + cp.dur[w][:, None]
            pen_c = (cum_c[:, end] - cum_c[:, s]).transpose(1, 0, 2)  # (w, N, S)
            pen_m = (cum_m[:, end] - cum_m[:, s]).transpose(1, 0, 2)
            red = (cost3 + d[:, None, None] * pen_c + m[:, None, None] * pen_m).reshape(len(w), -1)
            flat = red.argmin(axis=1)
            n_best, s_best = flat // S, flat % S
        best = red[np.arange(len(w)), n_best if S == 1 else flat]
        take = np.isfinite(best) & (best < cp.unplaced[w])
        total += float(np.where(take, best, cp.unplaced[w])[np.isfinite(cost3.reshape(len(w), -1).min(axis=1))].sum())
        ww, nb, sb = w[take], n_best[take], s_best[take]
        for arr, val in ((dl_c, cp.d[ww]), (dl_m, cp.m[ww])):
            np.add.at(arr, (nb, sb), val)
            np.add.at(arr, (nb, sb + cp.dur[ww]), -val)
    return total, np.cumsum(dl_c, axis=1)[:, :H], np.cumsum(dl_m, axis=1)[:, :H]


def node_classes(cp: Compiled, *, fine: bool = False) -> np.ndarray:
    """Class id per node: equal compute and memory capacity (``fine``: also power, PUE, price, region).

    Only equal capacities are needed for a valid bound; the finer key keeps the members' costs
    equal up to the links, so the cheapest member stands for its class with less loss.
    """
    cols = [cp.cap_c, cp.cap_m] + ([cp.idle, cp.peak, cp.pue, cp.price, cp.n_region] if fine else [])
    sig: dict[tuple[float, ...], int] = {}
    return np.array([sig.setdefault(key, len(sig)) for key in zip(*(c.tolist() for c in cols), strict=True)],
                    dtype=np.int64)


@dataclass
class _ClassColumns:
    """Aggregated options: (workload, class, start) with the cheapest member's cost, sorted by workload."""

    w: np.ndarray
    k: np.ndarray
    s: np.ndarray
    end: np.ndarray
    cost: np.ndarray
    coef_c: np.ndarray  # compute demand / class member capacity
    coef_m: np.ndarray
    at_s: np.ndarray  # flat index of (class, start) in a (K, H + 1) array
    at_e: np.ndarray  # flat index of (class, end)
    seg: np.ndarray  # first column of each workload segment
    pen: np.ndarray  # unplaced penalty per segment
    size: np.ndarray  # members per class
    #: unplaced penalties of the placeable workloads none of whose options beats leaving them unplaced
    const: float = 0.0


def _class_columns(cp: Compiled, cls: np.ndarray, *, carbon_aware: bool) -> _ClassColumns:
    K = int(cls.max()) + 1
    first = np.array([np.nonzero(cls == k)[0][0] for k in range(K)])
    cap_c, cap_m = cp.cap_c[first], cp.cap_m[first]
    parts: list[tuple[np.ndarray, ...]] = []
    const = 0.0
    for w, ck in cp.class_minima(cls, carbon_aware=carbon_aware):  # (w, K, S), one pass shared with the options
        placeable = np.isfinite(ck.reshape(len(w), -1).min(axis=1))
        ck = np.where(ck >= cp.unplaced[w][:, None, None], np.inf, ck)
        a, b, s = np.nonzero(np.isfinite(ck))
        parts.append((w[a], b, s, ck[a, b, s]))
        const += float(cp.unplaced[w][placeable & ~np.isfinite(ck.reshape(len(w), -1)).any(axis=1)].sum())
    if parts:
        ow, ok, os_, oc = (np.concatenate([p[i] for p in parts]) for i in range(4))
    else:
        ow = ok = os_ = np.zeros(0, dtype=np.int64)
        oc = np.zeros(0)
    order = np.lexsort((oc, ow))
    ow, ok, os_, oc = ow[order], ok[order], os_[order], oc[order]
    seg = np.flatnonzero(np.r_[True, ow[1:] != ow[:-1]]) if len(ow) else np.zeros(0, dtype=np.int64)
    end = os_ + cp.dur[ow]
    return _ClassColumns(ow, ok, os_, end, oc, cp.d[ow] / cap_c[ok], cp.m[ow] / cap_m[ok], ok * (cp.H + 1) + os_,
                         ok * (cp.H + 1) + end, seg, cp.unplaced[ow[seg]], np.bincount(cls, minlength=K).astype(float),
                         const)


def _class_lagrangian(col: _ClassColumns, mu_c: np.ndarray, mu_m: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Aggregated Lagrangian value and its subgradient (class load minus class capacity, per hour)."""
    K, H = mu_c.shape
    cum_c = np.concatenate([np.zeros((K, 1)), np.cumsum(mu_c, axis=1)], axis=1)
    cum_m = np.concatenate([np.zeros((K, 1)), np.cumsum(mu_m, axis=1)], axis=1)
    fc, fm = cum_c.ravel(), cum_m.ravel()
    red = col.cost + col.coef_c * (fc.take(col.at_e) - fc.take(col.at_s)) + col.coef_m * (
        fm.take(col.at_e) - fm.take(col.at_s))
    g_c, g_m = -np.repeat(col.size[:, None], H, axis=1), -np.repeat(col.size[:, None], H, axis=1)
    if len(red) == 0:
        return col.const - float(col.size @ mu_c.sum(axis=1) + col.size @ mu_m.sum(axis=1)), g_c, g_m
    low = np.minimum.reduceat(red, col.seg)
    value = col.const + float(np.minimum(low, col.pen).sum() - col.size @ mu_c.sum(axis=1) - col.size @ mu_m.sum(axis=1))
    pos = np.where(red <= np.repeat(low, np.diff(np.r_[col.seg, len(red)])), np.arange(len(red)), len(red))
    first = np.minimum.reduceat(pos, col.seg)[low < col.pen]
    at_s, at_e = col.at_s[first], col.at_e[first]
    for g, coef in ((g_c, col.coef_c[first]), (g_m, col.coef_m[first])):
        delta = np.bincount(at_s, coef, minlength=K * (H + 1)) - np.bincount(at_e, coef, minlength=K * (H + 1))
        g += np.cumsum(delta.reshape(K, H + 1), axis=1)[:, :H]
    return value, g_c, g_m


def _ascent(
    col: _ClassColumns, upper: float | None, mu_c: np.ndarray, mu_m: np.ndarray, *, theta: float, deadline: float, max_iter: int
) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Projected subgradient ascent; best value and multipliers.

    Polyak steps towards ``upper`` (a feasible objective) or, when None, towards a target 10 %
    above the best value so far (the variable target level method).
    """
    best, best_c, best_m = -np.inf, mu_c, mu_m
    stall, it = 0, 0
    while it < max_iter and (it == 0 or time.perf_counter() < deadline):  # at least one evaluation
        it += 1
        val, g_c, g_m = _class_lagrangian(col, mu_c, mu_m)
        if val > best + 1e-12 * max(1.0, abs(val)):
            best, best_c, best_m, stall = val, mu_c, mu_m, 0
        else:
            stall += 1
            if stall >= 20:  # halve the step and restart from the best point
                theta, stall, mu_c, mu_m = theta / 2, 0, best_c, best_m
                continue
        g_c[(mu_c <= 0) & (g_c < 0)] = 0.0
        g_m[(mu_m <= 0) & (g_m < 0)] = 0.0
        norm = float((g_c**2).sum() + (g_m**2).sum())
        if norm <= 1e-18 or theta < 1e-6:
            break
        target = upper if upper is not None else best + 0.1 * abs(best)  # variable target level
        step = theta * max(target - val, 1e-9 * max(1.0, abs(target))) / norm
        mu_c = np.maximum(0.0, mu_c + step * g_c)
        mu_m = np.maximum(0.0, mu_m + step * g_m)
    return best, best_c, best_m, it


def class_bound(
    cp: Compiled,
    upper: float | None = None,
    *,
    carbon_aware: bool = True,
    time_limit_s: float = 3.0,
    max_iter: int = 1500,
) -> Bound:
    """Lagrangian bound with multipliers tied per node class, maximised by subgradient steps.

    Two phases: coarse classes (equal capacities) for about 70 % of the budget, then fine classes
    (also equal power, PUE, price and region) started from the coarse multipliers. Valid for any
    multipliers (see the module docstring); the value returned is the full Lagrangian over every
    node and start hour at the best multipliers found.

    Args:
        cp: The compiled scenario.
        upper: Objective of a known feasible plan (the Polyak step target); None: a variable target.
        carbon_aware: Whether jobs may start at any hour of their window.
        time_limit_s: Wall-clock budget of the ascent.
        max_iter: Iteration cap per phase.
    """
    t0 = time.perf_counter()
    coarse = node_classes(cp)
    fine = node_classes(cp, fine=True)
    cp.track_classes(fine)  # the coarse pass records the fine minima too: one pass over the costs
    # with the costs in memory the bound is re-evaluated over every node and start hour; else
    # the class value is used, which is the same number (tied multipliers: each workload's
    # cheapest member of a class is its cheapest reduced cost there) at no extra pass
    full = cp.is_cached(carbon_aware=carbon_aware)
    col = _class_columns(cp, coarse, carbon_aware=carbon_aware)
    K, H = len(col.size), cp.H
    value, mu_c, mu_m, iters = _ascent(col, upper, np.zeros((K, H)), np.zeros((K, H)), theta=1.0,
                                   deadline=t0 + 0.7 * time_limit_s, max_iter=max_iter)
    lam_c, lam_m = mu_c[coarse] / cp.cap_c[:, None], mu_m[coarse] / cp.cap_m[:, None]
    best = lagrangian_bound(cp, lam_c, lam_m, carbon_aware=carbon_aware)[0] if full else value
    prices = (lam_c, lam_m)
    if fine.max() > coarse.max() and time.perf_counter() - t0 < time_limit_s:
        first = np.array([np.nonzero(fine == f)[0][0] for f in range(int(fine.max()) + 1)])
        col = _class_columns(cp, fine, carbon_aware=carbon_aware)
        value, fc, fm, more = _ascent(col, upper, mu_c[coarse[first]], mu_m[coarse[first]], theta=0.05,
                                  deadline=t0 + time_limit_s, max_iter=max_iter)
        iters += more
        f_c, f_m = fc[fine] / cp.cap_c[:, None], fm[fine] / cp.cap_m[:, None]
        if full:
            value = lagrangian_bound(cp, f_c, f_m, carbon_aware=carbon_aware)[0]
        if value > best:
            best, lam_c, lam_m = value, f_c, f_m
    return Bound(best, lam_c, lam_m, iters, time.perf_counter() - t0, "lagrangian-class-subgradient", prices)


@dataclass
class ShortageBound:
    """What capacity forces out of any plan: a lower bound on the unplaced workloads' extra cost and count."""

    #: lower bound on the sum, over the workloads any plan must leave unplaced, of penalty minus
    #: cheapest option (0 when the aggregated capacity has room for everyone)
    extra: float
    #: lower bound on how many workloads any plan leaves unplaced for lack of capacity
    must_unplace: int
    #: capacity-free bound + ``extra``: a valid lower bound on the objective
    value: float
    status: Literal["optimal", "time_limit"]
    node_groups: int
    seconds: float


def _eligibility_groups(cp: Compiled, chunk: int = 8_192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group per node (same eligibility and capacities), each group's first node, the (W, G) eligibility."""
    packed = []
    for a in range(0, cp.W, chunk):
        w = np.arange(a, min(cp.W, a + chunk))
        packed.append(np.packbits(cp.eligible(w[:, None], np.arange(cp.N)[None, :]), axis=0))
    cols = np.concatenate(packed, axis=0).T if packed else np.zeros((cp.N, 0), dtype=np.uint8)
    keys: dict[tuple[bytes, float, float], int] = {}
    grp = np.array([keys.setdefault((cols[n].tobytes(), float(cp.cap_c[n]), float(cp.cap_m[n])), len(keys))
                    for n in range(cp.N)], dtype=np.int64)
    first = np.array([np.flatnonzero(grp == g)[0] for g in range(len(keys))], dtype=np.int64)
    elig = np.concatenate([cp.eligible(np.arange(a, min(cp.W, a + chunk))[:, None], first[None, :])
                           for a in range(0, cp.W, chunk)], axis=0) if cp.W else np.zeros((0, len(first)), bool)
    return grp, first, elig


def shortage_bound(cp: Compiled, best: np.ndarray | None = None, *, time_limit_s: float = 60.0) -> ShortageBound:
    """Lower bound on the penalty that capacity forces on every plan (an aggregated LP, HiGHS).

    Nodes with the same capacities that are eligible for exactly the same workloads form a group,
    and each group's compute and memory are pooled over its members and over the horizon (the sum
    of the per-node, per-hour capacity rows, so a relaxation). The LP places fractions of each
    workload on its eligible groups and maximises the placed weight, with weight = penalty minus
    the workload's cheapest option. Any plan costs at least the capacity-free bound plus the
    weight of the workloads it leaves unplaced, so the capacity-free bound plus (total weight - LP
    optimum) is a valid lower bound; :attr:`ShortageBound.must_unplace` divides that extra by the
    largest weight. The bound respects sovereignty, memory, accelerator and availability exactly
    (they define the groups), but not bin packing inside a node. When HiGHS does not prove the LP
    optimum within the limit, nothing is claimed (``extra`` 0).

    Args:
        cp: The compiled scenario.
        best: Each workload's cheapest eligible option over every node (``Options.best``; inf: none).
            None: every option is taken to cost 0 (no pricing pass; ``extra`` then bounds the
            unplaced penalty itself, and ``value`` is a weaker objective bound).
        time_limit_s: HiGHS time limit for the LP.
    """
    t0 = time.perf_counter()
    best = np.zeros(cp.W) if best is None else best
    ok = np.isfinite(best)
    base = _cheapest_total(cp, best)
    weight = np.where(ok, np.maximum(cp.unplaced - np.where(ok, best, 0.0), 0.0), 0.0)
    grp, first, elig = _eligibility_groups(cp)
    G = elig.shape[1]
    size = np.bincount(grp, minlength=G).astype(float)
    wj, gg = np.nonzero(elig & (weight > 0)[:, None])
    if not len(wj):
        return ShortageBound(0.0, 0, base, "optimal", G, time.perf_counter() - t0)
    rows = np.unique(wj, return_inverse=True)[1]
    nv, cols = len(wj), np.arange(len(wj))
    hours = cp.dur[wj].astype(float)
    A = vstack([csr_matrix((cp.d[wj] * hours, (gg, cols)), shape=(G, nv)),
                csr_matrix((cp.m[wj] * hours, (gg, cols)), shape=(G, nv)),
                csr_matrix((np.ones(nv), (rows, cols)), shape=(int(rows.max()) + 1, nv))]).tocsr()
    b = np.concatenate([size * cp.cap_c[first] * cp.H, size * cp.cap_m[first] * cp.H, np.ones(int(rows.max()) + 1)])
    res = linprog(-weight[wj], A_ub=A, b_ub=b, bounds=(0.0, 1.0), method="highs",
                  options={"time_limit": max(0.1, time_limit_s)})
    if res.status != 0:
        return ShortageBound(0.0, 0, base, "time_limit", G, time.perf_counter() - t0)
    total = float(weight[np.unique(wj)].sum())
    # HiGHS's optimum may overstate the placed weight by its tolerances: give that slack back
    extra = max(0.0, total + float(res.fun) - 1e-7 * total - 1e-9)
    must = int(np.ceil(extra / float(weight.max()) - 1e-9)) if extra > 0 else 0
    return ShortageBound(extra, must, base + extra, "optimal", G, time.perf_counter() - t0)

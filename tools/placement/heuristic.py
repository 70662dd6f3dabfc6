"""Large-scale placement: Lagrangian-priced regret greedy + local search, with a proven lower bound.

1. Candidates: the ``k`` cheapest eligible (node, start) options per workload (vectorised).
2. Construction: regret greedy (second-best minus best cost, the classic GAP rule): workloads by
   decreasing regret, each on its cheapest option that fits in every hour it runs.
3. Bound: the class-tied Lagrangian (:func:`tools.placement.bound.class_bound`), valid over the
   full problem; its capacity prices re-rank the options by reduced cost for a second greedy
   plan, so that scarce capacity goes to the workloads that lose most without it.
4. Improvement until the time limit: move a workload to a cheaper option that fits; ejection:
   an unplaced or expensive workload evicts occupants of its preferred node when moving them
   elsewhere costs less than it gains (a depth-1 ejection chain, i.e. a small LNS step); a still
   unplaced workload gets :func:`_make_room`: occupants of its least-short nodes move one by one
   to other nodes until it fits (1,213 unplaced -> 4 at 1,000 x 100k in 300 s).

:func:`first_fit` is the baseline: workloads in input order, first eligible node in input order.
"""

from __future__ import annotations

import time

import numpy as np

from tools.placement.bound import capacity_free_bound, class_bound, node_classes
from tools.placement.costs import Compiled, Options, build_options, compile_scenario, tie_break
from tools.placement.evaluate import objective_of, summarize
from tools.placement.model import PlacementResult, Scenario

__all__ = ["first_fit", "heuristic_raw", "solve_heuristic"]

_TOL = 1e-9


class _State:
    """Residual capacity per (node, hour) and the current (node, start, cost) of each workload."""

    def __init__(self, cp: Compiled, opts: Options, *, carbon_aware: bool = True) -> None:
        self.cp, self.o, self.carbon_aware = cp, opts, carbon_aware
        self.H = cp.H
        self.rc = [[c] * cp.H for c in cp.cap_c.tolist()]  # residual compute per node and hour
        self.rm = [[c] * cp.H for c in cp.cap_m.tolist()]
        self.rc_min = cp.cap_c.tolist()
        self.rm_min = cp.cap_m.tolist()
        # the same residuals as arrays, for scanning the long candidate lists of widened workloads
        self.rc_np = np.repeat(cp.cap_c[:, None], cp.H, axis=1)
        self.rm_np = np.repeat(cp.cap_m[:, None], cp.H, axis=1)
        self.rc_min_np, self.rm_min_np = cp.cap_c.copy(), cp.cap_m.copy()
        self.cur_n = [-1] * cp.W
        self.cur_s = [0] * cp.W
        self.cur_c = cp.unplaced.tolist()
        self.on_node: list[set[int]] = [set() for _ in range(cp.N)]
        self.dur = cp.dur.tolist()
        self.d = cp.d.tolist()
        self.m = cp.m.tolist()
        self.on = opts.n.tolist()
        self.os = opts.s.tolist()
        self.oc = opts.cost.tolist()
        self.first = opts.starts.tolist()
        self.count = opts.counts.tolist()
        self.wide: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # j: every eligible option

    def cands(self, j: int, limit: int | None = None) -> tuple[list[int], list[int], list[float]]:
        """Options of j (node, start, cost lists, cheapest first), the first ``limit`` of them if given."""
        if j in self.wide:
            ns, ss, cs = (x[:limit] for x in self.wide[j])
            return ns.tolist(), ss.tolist(), cs.tolist()
        a = self.first[j]
        b = a + (self.count[j] if limit is None else min(limit, self.count[j]))
        return self.on[a:b], self.os[a:b], self.oc[a:b]

    def widen(self, j: int) -> bool:
        """Replace j's candidates by every eligible option (repair when the k best are full); False if done.

        The lists are kept as numpy arrays (14 bytes an option, against about 80 as Python
        lists: at 1,000 x 100k most workloads widen, several GB as lists) and scanned vectorised.
        """
        if j in self.wide:
            return False
        cost3 = self.cp.dense_row(j, carbon_aware=self.carbon_aware)
        flat = np.where(cost3 >= self.cp.unplaced[j], np.inf, cost3).ravel()
        idx = np.nonzero(np.isfinite(flat))[0]
        idx = idx[np.argsort(tie_break(flat[None, :], np.array([j]))[0, idx], kind="stable")]
        S = cost3.shape[1]
        self.wide[j] = ((idx // S).astype(np.int32), (idx % S).astype(np.int16), flat[idx])
        return True

    def fits(self, j: int, n: int, s: int) -> bool:
        d, m, e = self.d[j] - _TOL, self.m[j] - _TOL, s + self.dur[j]
        if e - s == self.H:
            return self.rc_min[n] >= d and self.rm_min[n] >= m
        return min(self.rc[n][s:e]) >= d and min(self.rm[n][s:e]) >= m

    def _add(self, j: int, n: int, s: int, sign: float) -> None:
        d, m = sign * self.d[j], sign * self.m[j]
        rc, rm = self.rc[n], self.rm[n]
        for h in range(s, s + self.dur[j]):
            rc[h] -= d
            rm[h] -= m
        self.rc_min[n] = self.rc_min_np[n] = min(rc)
        self.rm_min[n] = self.rm_min_np[n] = min(rm)
        self.rc_np[n, s : s + self.dur[j]] = rc[s : s + self.dur[j]]
        self.rm_np[n, s : s + self.dur[j]] = rm[s : s + self.dur[j]]

    def put(self, j: int, n: int, s: int, c: float) -> None:
        self._add(j, n, s, 1.0)
        self.cur_n[j], self.cur_s[j], self.cur_c[j] = n, s, c
        self.on_node[n].add(j)

    def take(self, j: int) -> tuple[int, int, float]:
        """Unplace j; returns its previous (node, start, cost), node -1 if it was unplaced."""
        prev = (self.cur_n[j], self.cur_s[j], self.cur_c[j])
        n, s = prev[0], prev[1]
        if n >= 0:
            self._add(j, n, s, -1.0)
            self.on_node[n].discard(j)
            self.cur_n[j], self.cur_s[j], self.cur_c[j] = -1, 0, float(self.cp.unplaced[j])
        return prev

    def restore(self, j: int, prev: tuple[int, int, float]) -> None:
        self.take(j)
        if prev[0] >= 0:
            self.put(j, *prev)

    def place_best(self, j: int, *, below: float = np.inf, skip_node: int = -1) -> bool:
        """Put j on its cheapest fitting option costing < below; False if none."""
        if j in self.wide:
            return self._place_wide(j, below, skip_node)
        ns, ss, cs = self.cands(j)
        for n, s, c in zip(ns, ss, cs, strict=True):
            if c >= below - _TOL:
                return False
            if n != skip_node and self.fits(j, n, s):
                self.put(j, n, s, c)
                return True
        return False

    def _place_wide(self, j: int, below: float, skip_node: int) -> bool:
        """:meth:`place_best` over a widened list, vectorised (it can hold every node and hour)."""
        ns, ss, cs = self.wide[j]
        d, m, dur = self.d[j] - _TOL, self.m[j] - _TOL, self.dur[j]
        free_c, free_m = self.window_free(ns, ss, dur)
        hit = np.flatnonzero((cs < below - _TOL) & (ns != skip_node) & (free_c >= d) & (free_m >= m))
        if not len(hit):
            return False
        i = int(hit[0])
        self.put(j, int(ns[i]), int(ss[i]), float(cs[i]))
        return True

    def window_free(self, ns: np.ndarray, ss: np.ndarray, dur: int) -> tuple[np.ndarray, np.ndarray]:
        """Free compute and memory of each option (node, start) over its ``dur`` hours (the tightest hour)."""
        if dur == self.H:
            return self.rc_min_np[ns], self.rm_min_np[ns]
        return (np.min([self.rc_np[ns, ss + h] for h in range(dur)], axis=0),
                np.min([self.rm_np[ns, ss + h] for h in range(dur)], axis=0))  # fmt: skip

    def place_widening(self, j: int) -> bool:
        """:meth:`place_best`, widening j's candidates while none of them fits; False if nothing does."""
        while not self.place_best(j):
            if not self.widen(j):
                return False
        return True

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.cur_n, dtype=np.int64), np.array(self.cur_s, dtype=np.int64)


def _regret_order(cp: Compiled, opts: Options, idx: np.ndarray) -> np.ndarray:
    first = opts.cost[np.minimum(opts.starts[idx], max(len(opts.cost) - 1, 0))]
    first = np.where(opts.counts[idx] > 0, first, cp.unplaced[idx])
    second_pos = np.minimum(opts.starts[idx] + 1, max(len(opts.cost) - 1, 0))
    second = np.where(opts.counts[idx] > 1, opts.cost[second_pos], cp.unplaced[idx])
    regret = second - first
    return idx[np.lexsort((-cp.d[idx], -regret))]


def _eject(st: _State, j: int, deadline: float, *, tries: int = 4, max_evict: int = 24) -> bool:
    """Insert-evict-reinsert (a small LNS step); keeps the move only if the total cost drops.

    j goes to one of its cheaper options; the occupants that overlap it in time are evicted
    (largest first) until it fits, then re-placed on their best fitting options; else undo.
    """
    ns, ss, cs = st.cands(j, tries)
    old = st.take(j)
    for n, s, c in zip(ns, ss, cs, strict=True):
        if time.perf_counter() > deadline or c >= old[2] - _TOL:
            break
        e = s + st.dur[j]
        victims = [v for v in st.on_node[n] if st.cur_s[v] < e and st.cur_s[v] + st.dur[v] > s]
        victims.sort(key=lambda v: -st.d[v] * st.dur[v])
        evicted: list[tuple[int, tuple[int, int, float]]] = []
        for v in victims[:max_evict]:
            if st.fits(j, n, s):
                break
            evicted.append((v, st.take(v)))
        if not st.fits(j, n, s):
            for v, prev in reversed(evicted):
                st.restore(v, prev)
            continue
        st.put(j, n, s, c)
        delta = c - old[2]
        for v, prev in evicted:
            if not st.place_best(v, below=prev[2] + (old[2] - c)):
                st.widen(v)  # also when its k best still fit: a wider neighbourhood for later moves
                st.place_best(v)
            delta += st.cur_c[v] - prev[2]
        if delta < -_TOL:
            return True
        st.take(j)
        for v, _ in evicted:
            st.take(v)
        for v, prev in evicted:
            st.restore(v, prev)
    st.restore(j, old)
    return False


def _make_room(st: _State, j: int, deadline: float, *, nodes: int = 6, max_try: int = 24) -> bool:
    """Repair for an unplaced workload: free room on a node by moving occupants elsewhere (ejection chain).

    Among j's eligible options (every node and start) those with the smallest capacity deficit
    (what j lacks there, as a fraction of the node, compute plus memory) are tried. On each, the
    occupants overlapping j in time, those that cover the binding deficit best first, are moved
    one by one to their cheapest fitting option on another node (an occupant with no room
    elsewhere stays), until j fits. The moves are kept only if the total cost drops.
    """
    if st.cur_n[j] >= 0:
        return False
    st.widen(j)
    ns, ss, cs = st.wide[j]
    if not len(ns):
        return False
    cp, dur = st.cp, st.dur[j]
    free_c, free_m = st.window_free(ns, ss, dur)
    lack = np.maximum(0.0, st.d[j] - free_c) / cp.cap_c[ns] + np.maximum(0.0, st.m[j] - free_m) / cp.cap_m[ns]
    seen: set[int] = set()
    pen = float(cp.unplaced[j])
    for i in np.lexsort((cs, lack)).tolist():
        if len(seen) >= nodes or time.perf_counter() > deadline:
            break
        n, s, c = int(ns[i]), int(ss[i]), float(cs[i])
        if n in seen:
            continue
        seen.add(n)
        e = s + dur
        need_c, need_m = max(0.0, st.d[j] - float(free_c[i])), max(0.0, st.m[j] - float(free_m[i]))
        victims = [v for v in st.on_node[n] if st.cur_s[v] < e and st.cur_s[v] + st.dur[v] > s]
        victims.sort(key=lambda v: -((min(st.d[v], need_c) / need_c if need_c > 0 else 0.0)
                                     + (min(st.m[v], need_m) / need_m if need_m > 0 else 0.0)))
        moved: list[tuple[int, tuple[int, int, float]]] = []
        delta = c - pen
        for v in victims[:max_try]:
            if st.fits(j, n, s):
                break
            prev = st.take(v)
            st.widen(v)
            if st.place_best(v, skip_node=n):
                moved.append((v, prev))
                delta += st.cur_c[v] - prev[2]
            else:
                st.restore(v, prev)
        if st.fits(j, n, s) and delta < -_TOL:
            st.put(j, n, s, c)
            return True
        for v, prev in reversed(moved):
            st.restore(v, prev)
    return False


def _reduced(cp: Compiled, opts: Options, lam_c: np.ndarray, lam_m: np.ndarray) -> Options:
    """The same options re-sorted by Lagrangian reduced cost (cost + price of the capacity used)."""
    N = cp.N
    cum_c = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_c, axis=1)], axis=1)
    cum_m = np.concatenate([np.zeros((N, 1)), np.cumsum(lam_m, axis=1)], axis=1)
    end = opts.s + cp.dur[opts.w]
    red = opts.cost + cp.d[opts.w] * (cum_c[opts.n, end] - cum_c[opts.n, opts.s]) + cp.m[opts.w] * (
        cum_m[opts.n, end] - cum_m[opts.n, opts.s])
    order = np.lexsort((red, opts.w))
    return Options(opts.w[order], opts.n[order], opts.s[order], red[order], opts.best, opts.starts, opts.counts)


def construct(
    cp: Compiled, opts: Options, *, carbon_aware: bool = True, prices: tuple[np.ndarray, np.ndarray] | None = None
) -> _State:
    """Regret greedy: workloads by decreasing regret, each on its cheapest fitting option.

    With ``prices`` (Lagrangian multipliers) options are ranked by reduced cost, so scarce
    capacity goes to the workloads that lose most without it; the state keeps true costs.
    """
    ranked = _reduced(cp, opts, *prices) if prices is not None else opts
    st = _State(cp, ranked, carbon_aware=carbon_aware)
    placeable = np.nonzero(np.isfinite(opts.best) & (opts.best < cp.unplaced))[0]
    for j in _regret_order(cp, ranked, placeable).tolist():
        st.place_widening(j)
    if prices is None:
        return st
    true = _State(cp, opts, carbon_aware=carbon_aware)
    n, s_ = st.raw()
    placed = np.nonzero(n >= 0)[0]
    costs = cp.terms(placed, n[placed], s_[placed]).objective  # true costs, in one vectorised call
    for j, c in zip(placed.tolist(), costs.tolist(), strict=True):
        true.put(j, st.cur_n[j], st.cur_s[j], c)
    return true


def improve(st: _State, *, deadline: float, passes: int = 20) -> None:
    """Local search: cheaper moves, then insert-evict-reinsert, until no gain or the deadline."""
    cp, best = st.cp, st.o.best
    placeable = np.nonzero(np.isfinite(best) & (best < cp.unplaced))[0]
    for _ in range(passes):
        if time.perf_counter() > deadline:
            break
        improved = False
        excess = np.array(st.cur_c)[placeable] - best[placeable]
        order = np.argsort(-excess, kind="stable")
        for j in placeable[order][excess[order] > _TOL].tolist():
            if time.perf_counter() > deadline:
                break
            old = st.take(j)
            if st.place_best(j, below=old[2]):
                improved = True
                continue
            st.restore(j, old)
            if _eject(st, j, deadline) or _make_room(st, j, deadline):
                improved = True
        if not improved:
            break


def heuristic_raw(
    cp: Compiled, opts: Options, *, deadline: float, carbon_aware: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Regret greedy + local search; returns node index (-1 unplaced) and start per workload."""
    st = construct(cp, opts, carbon_aware=carbon_aware)
    improve(st, deadline=deadline)
    return st.raw()


def solve_heuristic(
    sc: Scenario,
    *,
    time_limit_s: float = 10.0,
    k: int = 16,
    carbon_aware: bool = True,
    with_bound: bool = True,
    cp: Compiled | None = None,
) -> PlacementResult:
    """Solve any size with the Lagrangian-priced heuristic; the result carries a proven lower bound.

    Args:
        sc: The scenario.
        time_limit_s: Wall-clock budget for the whole solve (bound included).
        k: Candidate options kept per workload.
        carbon_aware: Let deferrable jobs start at any hour of their window.
        with_bound: Compute the class-tied Lagrangian bound and price a second plan with it (else
            the capacity-free bound and the plain greedy plan).
        cp: An already compiled scenario (reused by callers that solve twice).
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    cp = cp or compile_scenario(sc)
    if with_bound:  # the candidate pass also records the class minima the bound needs
        cp.track_classes(node_classes(cp))
        cp.track_classes(node_classes(cp, fine=True))
    opts = build_options(cp, k=k, carbon_aware=carbon_aware)
    c0 = time.perf_counter()
    st = construct(cp, opts, carbon_aware=carbon_aware)
    construct_s = time.perf_counter() - c0
    n, s = st.raw()
    upper = objective_of(cp, opts.best, n, s)
    lb = capacity_free_bound(cp, opts)
    if with_bound:
        # 40 % of what is left, and at least 15 % of the budget: on 1,000 x 100k the candidate
        # pass and the greedy alone can outlast the limit, and a bound after one step is useless
        bound = class_bound(cp, upper, carbon_aware=carbon_aware,
                            time_limit_s=max(0.2, 0.4 * (deadline - time.perf_counter()), 0.15 * time_limit_s))
        lb = bound.value
        pricings = [bound.prices] if bound.prices is not None else []
        if bound.prices is None or bound.prices[0] is not bound.lam_c:
            pricings.append((bound.lam_c, bound.lam_m))
        for i, prices in enumerate(pricings):
            if i and time.perf_counter() - t0 > 0.6 * time_limit_s:
                break  # a second pricing only while most of the budget is left for local search
            if time.perf_counter() + 2 * construct_s > deadline:
                # a priced greedy must leave local search at least as long again: at 1,000 x 100k
                # (75-105 s a greedy) it gained 1 % where 31 s of local search gained 50 %
                break
            priced = construct(cp, opts, carbon_aware=carbon_aware, prices=prices)
            pn, ps = priced.raw()
            value = objective_of(cp, opts.best, pn, ps)
            if value < upper:
                st, upper = priced, value
    improve(st, deadline=deadline)
    n, s = st.raw()
    return summarize(cp, opts.best, n, s, method="heuristic", status="feasible", lower_bound=lb,
                     solve_s=time.perf_counter() - t0)


def first_fit(
    sc: Scenario, *, carbon_aware: bool = False, k: int | None = 64, cp: Compiled | None = None
) -> PlacementResult:
    """Baseline: workloads in input order, each on the first eligible node (input order) that fits.

    Args:
        sc: The scenario.
        carbon_aware: Let jobs start later than earliest_h (first fitting hour); False = run now.
        k: Eligible options looked at per workload, in node order (None: all).
        cp: An already compiled scenario.
    """
    t0 = time.perf_counter()
    cp = cp or compile_scenario(sc)
    opts = build_options(cp, k=k, carbon_aware=carbon_aware, by_index=True)
    # re-sort each workload's options by (node index, start) instead of cost
    order = np.lexsort((opts.s, opts.n, opts.w))
    ff = Options(opts.w[order], opts.n[order], opts.s[order], opts.cost[order], opts.best, opts.starts, opts.counts)
    st = _State(cp, ff, carbon_aware=carbon_aware)
    for j in np.nonzero(ff.counts > 0)[0].tolist():
        st.place_best(j)
    n, s = st.raw()
    return summarize(cp, opts.best, n, s, method="first_fit", status="feasible",
                     lower_bound=capacity_free_bound(cp, opts), solve_s=time.perf_counter() - t0)

"""Compile a :class:`Scenario` into arrays and price every (workload, node, start) option.

One elementwise function, :meth:`Compiled.terms`, is the single source of truth for latency,
energy, carbon, cost and SLO misses; the cost matrices the solvers use, the metrics of a
solution and the validator all go through it, so they can never disagree.

Cost model (per option; nodes are on anyway, a workload is charged its share):

- latency p99 = 2 x one-way path latency + (input+output) x 8 x sum(1/bandwidth) + compute ms x
  (1 + tail_factor), compute ms = GFLOP / TFLOP/s;
- share = max(demand / compute, memory / node memory); energy per hour (kWh) = (demand/compute x
  (peak - idle) + share x idle) x PUE / 1000; carbon = energy x hourly grid intensity;
  cost = share x cost_per_h; services run the whole horizon, batch jobs ``duration_h`` hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from tools.placement.model import Scenario

__all__ = ["Compiled", "Options", "Terms", "build_options", "compile_scenario", "tie_break"]

_BIG = np.inf


@dataclass
class Terms:
    """Per-option physical terms (arrays broadcast from the inputs)."""

    latency_ms: np.ndarray
    energy_kwh: np.ndarray
    carbon_kg: np.ndarray
    cost: np.ndarray
    slo_miss: np.ndarray
    eligible: np.ndarray
    objective: np.ndarray


@dataclass
class Options:
    """Flat list of candidate options, sorted by (workload, objective).

    ``w``/``n``/``s`` are workload index, node index and start hour (0 for services), ``cost``
    the option's objective term. ``best`` is each workload's cheapest eligible option over ALL
    nodes (capacity-free), ``inf`` when it has none (the workload is infeasible).
    """

    w: np.ndarray
    n: np.ndarray
    s: np.ndarray
    cost: np.ndarray
    best: np.ndarray
    starts: np.ndarray  # per workload: index of its first option in the flat arrays
    counts: np.ndarray  # per workload: number of options kept


def _flat_options(W: int, parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Concatenate (w, n, s, cost) parts, sort by (w, cost); with per-workload starts and counts."""
    if parts:
        ow, on, os_, oc = (np.concatenate([p[i] for p in parts]) for i in range(4))
    else:
        ow, on, os_, oc = np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    order = np.lexsort((oc, ow))
    ow, on, os_, oc = ow[order], on[order], os_[order], oc[order]
    counts = np.bincount(ow, minlength=W)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if W else np.zeros(0, np.int64)
    return ow, on, os_, oc, starts.astype(np.int64), counts.astype(np.int64)


class Compiled:
    """A scenario as numpy arrays (nodes N, workloads W, horizon H)."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        nodes, wls, H = sc.nodes, sc.workloads, sc.horizon_h
        self.H = H
        self.node_ids = [n.id for n in nodes]
        self.node_index = {nid: i for i, nid in enumerate(self.node_ids)}
        self.wl_ids = [w.id for w in wls]
        self.wl_index = {wid: i for i, wid in enumerate(self.wl_ids)}
        f = np.asarray
        self.tier = np.array([n.tier for n in nodes])
        self.C = f([n.compute_tflops for n in nodes], dtype=float)
        self.cap_c = self.C * sc.max_utilisation
        self.cap_m = f([n.memory_gb for n in nodes], dtype=float)
        self.idle = f([n.power_idle_w for n in nodes], dtype=float)
        self.peak = f([n.power_peak_w for n in nodes], dtype=float)
        self.pue = f([n.pue for n in nodes], dtype=float)
        self.price = f([n.cost_per_h for n in nodes], dtype=float)
        self.acc = f([n.accelerator is not None for n in nodes], dtype=bool)
        self.avail = f([n.availability for n in nodes], dtype=float)
        regions = sorted({n.region for n in nodes})
        sites = sorted({n.site for n in nodes} | {w.site for w in wls})
        reg_i = {r: i for i, r in enumerate(regions)}
        site_i = {s: i for i, s in enumerate(sites)}
        self.n_region = f([reg_i[n.region] for n in nodes], dtype=np.int32)
        self.n_site = f([site_i[n.site] for n in nodes], dtype=np.int32)
        inten = np.empty((len(nodes), H))
        for i, n in enumerate(nodes):
            inten[i] = n.carbon_hourly[:H] if n.carbon_hourly is not None else n.carbon_g_per_kwh
        self.intensity = inten
        self.cum_int = np.concatenate([np.zeros((len(nodes), 1)), np.cumsum(inten, axis=1)], axis=1)
        # workloads
        self.d = f([w.demand_tflops for w in wls], dtype=float)
        self.m = f([w.mem_gb for w in wls], dtype=float)
        self.gflop = f([w.gflop for w in wls], dtype=float)
        self.io_kbit = f([(w.input_kb + w.output_kb) * 8.0 for w in wls], dtype=float)
        self.slo = f([w.latency_slo_ms if w.latency_slo_ms is not None else np.inf for w in wls], dtype=float)
        self.prio = f([w.priority for w in wls], dtype=float)
        self.need_acc = f([w.needs_accelerator for w in wls], dtype=bool)
        self.min_avail = f([w.min_availability for w in wls], dtype=float)
        self.stay = f([w.stay_on_site for w in wls], dtype=bool)
        self.w_site = f([site_i[w.site] for w in wls], dtype=np.int32)
        self.is_job = f([w.deferrable is not None for w in wls], dtype=bool)
        self.dur = f([w.deferrable.duration_h if w.deferrable else H for w in wls], dtype=np.int32)
        self.earliest = f([w.deferrable.earliest_h if w.deferrable else 0 for w in wls], dtype=np.int32)
        self.latest = f([w.deferrable.deadline_h - w.deferrable.duration_h if w.deferrable else 0 for w in wls],
                        dtype=np.int32)
        # sovereignty: allowed-region mask per distinct list
        masks: dict[tuple[str, ...] | None, int] = {None: 0}
        mask_rows = [np.ones(len(regions), dtype=bool)]
        self.w_mask = np.zeros(len(wls), dtype=np.int32)
        for j, w in enumerate(wls):
            key = tuple(sorted(w.allowed_regions)) if w.allowed_regions is not None else None
            if key not in masks:
                masks[key] = len(mask_rows)
                mask_rows.append(np.array([r in key for r in regions], dtype=bool))  # type: ignore[operator]
            self.w_mask[j] = masks[key]
        self.region_masks = np.array(mask_rows)
        self.unplaced = sc.weights.unplaced * self.prio
        self._dense: dict[bool, list[tuple[np.ndarray, np.ndarray]]] = {}
        #: node partitions whose per-class minima the next full pass records (see class_minima)
        self._tracked: dict[bytes, np.ndarray] = {}
        self._class_min: dict[tuple[bytes, bool], list[tuple[np.ndarray, np.ndarray]]] = {}
        self._latency_tables(sc)

    def _latency_tables(self, sc: Scenario) -> None:
        N = len(sc.nodes)
        src_ids = sorted({w.source for w in sc.workloads})
        self.src_row = {s: i for i, s in enumerate(src_ids)}
        self.w_src = np.array([self.src_row[w.source] for w in sc.workloads], dtype=np.int32)
        src_idx = np.array([self.node_index[s] for s in src_ids], dtype=np.int64)
        lat = np.full((N, N), np.inf)
        inv_bw = np.zeros((N, N))
        for link in sc.links:
            a, b = self.node_index[link.src], self.node_index[link.dst]
            if link.latency_ms < lat[a, b]:
                lat[a, b] = lat[b, a] = link.latency_ms
                inv_bw[a, b] = inv_bw[b, a] = 1.0 / link.bandwidth_mbps
        if len(src_idx) == 0:
            self.lat = np.zeros((0, N))
            self.inv_bw = np.zeros((0, N))
            return
        rows, cols = np.nonzero(np.isfinite(lat))
        graph = csr_matrix((lat[rows, cols] + 1e-9, (rows, cols)), shape=(N, N))
        dist, pred = dijkstra(graph, directed=True, indices=src_idx, return_predecessors=True)
        dist = np.where(np.isfinite(dist), np.maximum(dist - 1e-9 * N, 0.0), np.inf)
        dist[np.arange(len(src_idx)), src_idx] = 0.0
        # sum of 1/bandwidth along each shortest path, filled breadth-first from the sources
        ib = np.full(dist.shape, np.nan)
        ib[np.arange(len(src_idx)), src_idx] = 0.0
        has_pred = pred >= 0
        r_idx, c_idx = np.nonzero(has_pred)
        p_idx = pred[r_idx, c_idx]
        for _ in range(N):
            todo = np.isnan(ib[r_idx, c_idx]) & ~np.isnan(ib[r_idx, p_idx])
            if not todo.any():
                break
            rr, cc, pp = r_idx[todo], c_idx[todo], p_idx[todo]
            ib[rr, cc] = ib[rr, pp] + inv_bw[pp, cc]
        self.lat = dist
        self.inv_bw = np.nan_to_num(ib, nan=0.0)

    @property
    def N(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def W(self) -> int:
        """Number of workloads."""
        return len(self.wl_ids)

    def terms(self, w: np.ndarray, n: np.ndarray, s: np.ndarray) -> Terms:
        """Terms of options (workload w on node n starting at hour s); arrays broadcast."""
        wt = self.sc.weights
        d, m = self.d[w], self.m[w]
        C, M = self.C[n], self.cap_m[n]
        src = self.w_src[w]
        lat = 2.0 * self.lat[src, n] + self.io_kbit[w] * self.inv_bw[src, n] + (self.gflop[w] / C) * (
            1.0 + self.sc.tail_factor
        )
        share = np.maximum(d / C, m / M)
        e_h = (d / C * (self.peak[n] - self.idle[n]) + share * self.idle[n]) * self.pue[n] / 1000.0
        dur = self.dur[w]
        energy = e_h * dur
        carbon = e_h * (self.cum_int[n, s + dur] - self.cum_int[n, s]) / 1000.0
        cost = share * self.price[n] * dur
        miss = lat > self.slo[w]
        eligible = self.eligible(w, n, lat=lat)
        obj = (
            wt.slo_violation * self.prio[w] * miss
            + wt.energy_kwh * energy
            + wt.carbon_kg * carbon
            + wt.cost * cost
        )
        return Terms(lat, energy, carbon, cost, miss, eligible, obj)

    def eligible(self, w: np.ndarray, n: np.ndarray, *, lat: np.ndarray | None = None) -> np.ndarray:
        """Hard constraints of options (workload w on node n; arrays broadcast); ``lat``: their latency if known.

        The latency is finite exactly when the path latency is (the other terms are finite).
        """
        return (
            (self.m[w] <= self.cap_m[n])
            & (self.d[w] <= self.cap_c[n])
            & (self.acc[n] | ~self.need_acc[w])
            & (self.avail[n] >= self.min_avail[w])
            & self.region_masks[self.w_mask[w], self.n_region[n]]
            & (~self.stay[w] | (self.n_site[n] == self.w_site[w]))
            & np.isfinite(self.lat[self.w_src[w], n] if lat is None else lat)
        )

    def dense_costs(self, w: np.ndarray, *, carbon_aware: bool) -> np.ndarray:
        """Option costs of workloads ``w`` as a (len(w), N, S) array (inf = not an option).

        S is 1 when every workload in ``w`` is a service (start 0), else H start slots; a job
        that is not shifted (``carbon_aware=False``) only gets its ``earliest_h`` slot.
        """
        N, H = self.N, self.H
        S = H if self.is_job[w].any() else 1
        s = np.arange(S)
        if S == 1:
            t = self.terms(w[:, None, None], np.arange(N)[None, :, None], np.zeros((1, 1, 1), dtype=np.int64))
            return np.where(t.eligible, t.objective, _BIG)
        # jobs: price the eligible (workload, node) pairs only (about 1 in 10 on the factory
        # profile, whose jobs need a GPU-class node); the same terms, element by element
        wi, ni = np.nonzero(self.eligible(w[:, None], np.arange(N)[None, :]))
        cost = np.full((len(w), N, S), _BIG)
        if len(wi):
            t = self.terms(w[wi][:, None], ni[:, None], np.minimum(s[None, :], self.latest[w[wi]][:, None]))
            cost[wi, ni] = np.where(t.eligible, t.objective, _BIG)
        lo = self.earliest[w][:, None, None]
        hi = (self.latest[w] if carbon_aware else self.earliest[w])[:, None, None]
        ok = (s[None, None, :] >= lo) & (s[None, None, :] <= hi)
        return np.where(ok, cost, _BIG)

    def dense_iter(self, *, carbon_aware: bool, cache_elems: int = 30_000_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(w, costs)`` chunks over every workload; cached when the total is small.

        A pass that runs to the end also records the per-class minima of the partitions passed
        to :meth:`track_classes`, so that large instances need a single pass over the costs.
        """
        key = bool(carbon_aware)
        todo = {k: cls for k, cls in self._tracked.items() if (k, key) not in self._class_min}
        acc: dict[bytes, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in todo}
        if key in self._dense:
            chunks: Iterator[tuple[np.ndarray, np.ndarray]] = iter(self._dense[key])
        else:
            chunks = ((w, self.dense_costs(w, carbon_aware=carbon_aware)) for w in self.groups())
        total = int((~self.is_job).sum()) * self.N + int(self.is_job.sum()) * self.N * self.H
        keep: list[tuple[np.ndarray, np.ndarray]] = []
        for item in chunks:
            for k, cls in todo.items():
                acc[k].append((item[0], _class_min(item[1], cls)))
            if key not in self._dense and total <= cache_elems:
                keep.append(item)
            yield item
        if key not in self._dense and total <= cache_elems:
            self._dense[key] = keep
        for k in todo:
            self._class_min[(k, key)] = acc[k]

    def is_cached(self, *, carbon_aware: bool) -> bool:
        """Whether the dense costs are held in memory (small instances), so another pass is cheap."""
        return bool(carbon_aware) in self._dense

    def track_classes(self, cls: np.ndarray) -> None:
        """Record the per-class minima of the node partition ``cls`` during the next full pass."""
        self._tracked[np.ascontiguousarray(cls, dtype=np.int64).tobytes()] = np.asarray(cls, dtype=np.int64)

    def class_minima(self, cls: np.ndarray, *, carbon_aware: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """Chunks ``(w, (len(w), K, S) cheapest option cost over the members of each class)``.

        Args:
            cls: Class id (0..K-1) per node.
            carbon_aware: Whether jobs may start at any hour of their window.
        """
        k = np.ascontiguousarray(cls, dtype=np.int64).tobytes()
        if (k, bool(carbon_aware)) not in self._class_min:
            self.track_classes(cls)
            for _ in self.dense_iter(carbon_aware=carbon_aware):
                pass
        return self._class_min[(k, bool(carbon_aware))]

    def tier_best(self, cost: np.ndarray) -> np.ndarray:
        """Column of the cheapest node of each tier per row of a (w, N) cost matrix."""
        cols = []
        for tier in ("device", "edge", "cloud"):
            mask = self.tier == tier
            if mask.any():
                cols.append(np.where(mask[None, :], cost, np.inf).argmin(axis=1))
        return np.stack(cols, axis=1)

    def dense_row(self, j: int, *, carbon_aware: bool) -> np.ndarray:
        """Option costs (N, S) of one workload, from the dense cache when it is there."""
        for w, cost3 in self._dense.get(bool(carbon_aware), []):
            if w[0] <= j <= w[-1]:
                pos = np.searchsorted(w, j)
                if pos < len(w) and w[pos] == j:
                    return cost3[pos]
        return self.dense_costs(np.array([j]), carbon_aware=carbon_aware)[0]

    def groups(self, chunk_elems: int = 1_500_000) -> Iterator[np.ndarray]:
        """Workload indices in chunks: services and jobs apart, about ``chunk_elems`` options each."""
        for sel, width in ((~self.is_job, self.N), (self.is_job, self.N * self.H)):
            idx = np.nonzero(sel)[0]
            size = max(1, chunk_elems // max(1, width))
            for a in range(0, len(idx), size):
                yield idx[a : a + size]


def _class_min(cost3: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """(w, K, S) minimum of a (w, N, S) cost chunk over the nodes of each class."""
    order = np.argsort(cls, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(cls[order]) != 0])
    return np.minimum.reduceat(cost3[:, order, :], starts, axis=1)


def compile_scenario(sc: Scenario) -> Compiled:
    """Compile a scenario into arrays (done once per solve)."""
    return Compiled(sc)


def tie_break(cost: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Ranking key: ``cost`` scaled up by less than 1e-12, by a hash of (workload, column).

    Identical devices give exactly equal costs; ranked by index, every workload would pick the
    same few of them and overfill them (at 1,000 x 10k, 56 % of the workloads then fell back to
    a full option scan). The hash spreads equal-cost choices over the tied nodes, deterministically.
    Only rankings use it; costs stay exact.

    Args:
        cost: (len(w), ...) option costs of the workloads ``w`` (the trailing axes are flattened).
        w: Workload indices of the rows.
    """
    cols = np.arange(int(np.prod(cost.shape[1:])), dtype=np.uint64).reshape(cost.shape[1:])
    rows = w.astype(np.uint64).reshape((-1,) + (1,) * (cost.ndim - 1))
    h = (rows * np.uint64(0x9E3779B1) + cols * np.uint64(0x85EBCA77)) % np.uint64(1021)
    return cost * (1.0 + h.astype(np.float64) * (1e-12 / 1021))  # steps of 1e-15, above the float epsilon


def _top_nodes_starts(
    cost3: np.ndarray, k: int, k_starts: int, tier_best: Callable[[np.ndarray], np.ndarray] | None,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices and costs of the ``k_starts`` best starts on each of the ``k`` best nodes."""
    nw, N, S = cost3.shape
    ks = min(k_starts, S)
    s_idx = np.argpartition(cost3, ks - 1, axis=2)[:, :, :ks] if ks < S else np.broadcast_to(np.arange(S), cost3.shape)
    s_cost = np.take_along_axis(cost3, s_idx, axis=2)
    kn = min(k, N)
    node_cost = s_cost.min(axis=2)
    if kn < N:
        n_idx = np.argpartition(node_cost if w is None else tie_break(node_cost, w), kn - 1, axis=1)[:, :kn]
        if tier_best is not None:
            n_idx = np.concatenate([n_idx, tier_best(node_cost)], axis=1)
        n_idx.sort(axis=1)
    else:
        n_idx = np.broadcast_to(np.arange(N), (nw, N)).copy()
    rows = np.arange(nw)[:, None]
    flat = (n_idx[:, :, None] * S + s_idx[rows, n_idx]).reshape(nw, -1)
    sel = s_cost[rows, n_idx]
    sel[:, 1:][n_idx[:, 1:] == n_idx[:, :-1]] = np.inf  # drop duplicate nodes
    return flat, sel.reshape(nw, -1)


def build_options(
    cp: Compiled, *, k: int | None = None, carbon_aware: bool = True, by_index: bool = False, k_starts: int = 6,
    diverse: bool = False,
) -> Options:
    """Enumerate the eligible options, keeping the ``k`` cheapest per workload (all if None).

    Options costing at least the workload's unplaced penalty are dropped (leaving it unplaced is
    never worse and uses no capacity). ``best`` is the cheapest eligible option over every node
    whatever ``k`` (inf: no eligible node at all, the workload is infeasible). ``by_index`` keeps
    the first ``k`` eligible options in node order instead of the cheapest (first-fit baseline).
    A deferrable job keeps its ``k`` cheapest nodes with their ``k_starts`` cheapest start hours
    each, so that its candidates are not all start-hour variants of one node. ``diverse`` adds
    the cheapest node of each tier to every workload's candidates.
    """
    parts_w, parts_n, parts_s, parts_c = [], [], [], []
    best = np.full(cp.W, np.inf)
    for w, cost3 in cp.dense_iter(carbon_aware=carbon_aware):
        S = cost3.shape[2]
        best[w] = cost3.reshape(len(w), -1).min(axis=1)
        cost3 = np.where(cost3 >= cp.unplaced[w][:, None, None], np.inf, cost3)
        cost = cost3.reshape(len(w), -1)
        if k is not None and k < cost.shape[1] and by_index:
            idx = np.argsort(~np.isfinite(cost), axis=1, kind="stable")[:, :k]
            sel = np.take_along_axis(cost, idx, axis=1)
        elif k is not None and S > 1:  # jobs: the k best nodes, each with its k_starts best hours
            idx, sel = _top_nodes_starts(cost3, k, k_starts, cp.tier_best if diverse else None, w)
        elif k is not None and k < cost.shape[1]:
            idx = np.argpartition(tie_break(cost, w), k - 1, axis=1)[:, :k]
            if diverse:
                idx = np.concatenate([idx, cp.tier_best(cost)], axis=1)  # keep every tier in reach
            idx.sort(axis=1)
            sel = np.take_along_axis(cost, idx, axis=1)
            sel[:, 1:][idx[:, 1:] == idx[:, :-1]] = np.inf  # drop duplicates
        else:
            idx = np.broadcast_to(np.arange(cost.shape[1]), cost.shape)
            sel = cost
        rows, cols = np.nonzero(np.isfinite(sel))
        flat = idx[rows, cols]
        parts_w.append(w[rows].astype(np.int32))
        parts_n.append((flat // S).astype(np.int32))
        parts_s.append((flat % S).astype(np.int32))
        parts_c.append(sel[rows, cols])
    ow, on, os_, oc, starts, counts = _flat_options(cp.W, list(zip(parts_w, parts_n, parts_s, parts_c, strict=True)))
    return Options(ow, on, os_, oc, best, starts, counts)

"""Independent checker of a placement: every hard constraint, written without the solver code.

It re-derives everything from the pydantic scenario (not from the compiled arrays the solvers
use), so a bug in the cost compiler cannot hide itself. Checks: unknown ids, duplicates,
sovereignty (allowed regions, stay on site), accelerator, availability, defer window, memory and
compute capacity per node and hour.
"""

from __future__ import annotations

from collections import Counter

from tools.placement.model import Assignment, Scenario, Violation

__all__ = ["validate_placement"]

_EPS = 1e-6  # relative tolerance on capacities (solvers work to 1e-9)


def validate_placement(sc: Scenario, assignments: list[Assignment]) -> list[Violation]:
    """Return every hard-constraint violation of ``assignments`` (empty list: valid).

    Args:
        sc: The scenario.
        assignments: Workload -> node (and start hour for deferrable jobs).
    """
    nodes = {n.id: n for n in sc.nodes}
    wls = {w.id: w for w in sc.workloads}
    H = sc.horizon_h
    out: list[Violation] = []
    comp: dict[str, list[float]] = {}
    mem: dict[str, list[float]] = {}
    counts = Counter(a.workload for a in assignments)
    for wid, c in counts.items():
        if c > 1:
            out.append(Violation(kind="duplicate", workload=wid, detail=f"workload {wid} is assigned {c} times"))
    for a in assignments:
        w, node = wls.get(a.workload), nodes.get(a.node)
        if w is None or node is None:
            what = f"workload {a.workload!r}" if w is None else f"node {a.node!r}"
            out.append(Violation(kind="unknown", workload=a.workload, node=a.node, detail=f"unknown {what}"))
            continue
        if w.stay_on_site and node.site != w.site:
            out.append(Violation(kind="sovereignty", workload=w.id, node=node.id,
                                 detail=f"must stay on site {w.site!r} but runs at {node.site!r}"))
        if w.allowed_regions is not None and node.region not in w.allowed_regions:
            out.append(Violation(kind="sovereignty", workload=w.id, node=node.id,
                                 detail=f"region {node.region!r} not in allowed {sorted(w.allowed_regions)}"))
        if w.needs_accelerator and node.accelerator is None:
            out.append(Violation(kind="accelerator", workload=w.id, node=node.id, detail="needs a GPU/NPU"))
        if node.availability < w.min_availability:
            out.append(Violation(kind="availability", workload=w.id, node=node.id,
                                 detail=f"node availability {node.availability} < {w.min_availability}"))
        if w.deferrable is None:
            if a.start_hour not in (None, 0):
                out.append(Violation(kind="window", workload=w.id, node=node.id,
                                     detail="a service runs the whole horizon; start_hour must be null"))
            hours = range(H)
        else:
            win = w.deferrable
            st = a.start_hour
            if st is None or st < win.earliest_h or st + win.duration_h > win.deadline_h:
                out.append(Violation(kind="window", workload=w.id, node=node.id,
                                     detail=f"start {st} outside [{win.earliest_h}, {win.deadline_h - win.duration_h}]"))
                st = win.earliest_h if st is None else max(0, min(st, H - win.duration_h))
            hours = range(st, st + win.duration_h)
        c_row = comp.setdefault(node.id, [0.0] * H)
        m_row = mem.setdefault(node.id, [0.0] * H)
        for h in hours:
            c_row[h] += w.demand_tflops
            m_row[h] += w.mem_gb
    for nid, c_row in comp.items():
        node = nodes[nid]
        cap = node.compute_tflops * sc.max_utilisation
        for kind, row, limit, unit in (("capacity", c_row, cap, "TFLOP/s"), ("memory", mem[nid], node.memory_gb, "GB")):
            worst = max(range(H), key=row.__getitem__)
            if row[worst] > limit * (1 + _EPS) + 1e-12:
                out.append(Violation(kind=kind, node=nid, hour=worst,  # type: ignore[arg-type]
                                     detail=f"{row[worst]:.6g} {unit} > {limit:.6g} {unit} at hour {worst}"))
    return out

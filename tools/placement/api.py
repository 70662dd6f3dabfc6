"""Placement entry points and the read-only tools the agents call.

- :func:`solve` picks the solver (``auto``: MILP (HiGHS) with a proven bound up to ``EXACT_MAX_OPTIONS`` workload x node
  pairs, the heuristic above) and always returns a validated :class:`PlacementResult`.
- ``solve_placement`` / ``where_to_run`` / ``carbon_shift`` are the ``@tool`` wrappers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from tools.errors import ToolRetry
from tools.placement.carbon import CarbonReport, carbon_blind, compare_carbon
from tools.placement.costs import compile_scenario
from tools.placement.exact import solve_exact
from tools.placement.heuristic import solve_heuristic
from tools.placement.model import Link, Node, PlacementResult, Quantization, Scenario, Tier, Workload
from tools.registry import ToolContext, tool

__all__ = [
    "EXACT_MAX_OPTIONS",
    "Method",
    "TierOption",
    "WhereToRun",
    "carbon_shift",
    "reference_nodes",
    "solve",
    "solve_placement",
    "where_to_run",
]

Method = Literal["exact", "heuristic", "auto"]
METHODS: tuple[str, ...] = ("exact", "heuristic", "auto")
#: ``auto`` uses MILP (HiGHS) with a proven bound when workloads x nodes is at most this.
EXACT_MAX_OPTIONS = 4000


def solve(
    sc: Scenario, *, method: Method = "auto", time_limit_s: float = 10.0, carbon_aware: bool = True
) -> PlacementResult:
    """Place the scenario's workloads; every result is validated (``result.violations``).

    Args:
        sc: The scenario.
        method: exact (MILP via HiGHS, proven bound), heuristic (any size) or auto (by size).
        time_limit_s: Wall-clock budget.
        carbon_aware: Let deferrable jobs start at any hour of their window.
    """
    if method not in METHODS:
        raise ToolRetry(f"Unknown method {method!r}; valid: {', '.join(repr(m) for m in METHODS)}")
    if time_limit_s <= 0:
        raise ToolRetry(f"time_limit_s must be > 0; got {time_limit_s}")
    if method == "auto":
        method = "exact" if len(sc.nodes) * len(sc.workloads) <= EXACT_MAX_OPTIONS else "heuristic"
    if method == "exact":
        return solve_exact(sc, time_limit_s=time_limit_s, carbon_aware=carbon_aware)
    return solve_heuristic(sc, time_limit_s=time_limit_s, carbon_aware=carbon_aware)


@tool(mutating=False, tags=("placement", "optimization"))
def solve_placement(
    ctx: ToolContext, scenario: Scenario, *, method: Method = "auto", time_limit_s: float = 10.0
) -> PlacementResult:
    """Place workloads (models) on device/edge/cloud nodes minimising SLO misses, energy, carbon and cost.

    Args:
        ctx: Tool dependencies (unused: the scenario carries all data).
        scenario: Nodes, links and workloads (see docs/placement.md for the fields).
        method: "exact" (MILP (HiGHS) with a proven bound with proven bound, small instances), "heuristic" (large) or "auto".
        time_limit_s: Solver wall-clock budget in seconds.
    """
    return solve(scenario, method=method, time_limit_s=time_limit_s)


@tool(mutating=False, tags=("placement", "optimization"))
def carbon_shift(ctx: ToolContext, scenario: Scenario, *, time_limit_s: float = 10.0) -> CarbonReport:
    """Compare a carbon-blind plan with a carbon-aware one (deferrable jobs shifted in time/region).

    Args:
        ctx: Tool dependencies (unused: the scenario carries all data).
        scenario: The scenario; jobs with a ``deferrable`` window may move.
        time_limit_s: Budget per solve (two solves are run).
    """
    blind = solve(carbon_blind(scenario), time_limit_s=time_limit_s, carbon_aware=False)
    aware = solve(scenario, time_limit_s=time_limit_s, carbon_aware=True)
    return compare_carbon(scenario, blind, aware)


class TierOption(BaseModel):
    """How one reference node would serve the model."""

    tier: Tier
    node: str
    eligible: bool
    latency_ms: float | None
    meets_slo: bool
    score: float | None
    why_not: str | None = None


class WhereToRun(BaseModel):
    """Recommendation for one model, with the reason and the alternatives considered."""

    tier: Tier | None
    node: str | None
    latency_ms: float | None
    meets_slo: bool
    memory_gb: float
    reason: str
    alternatives: list[TierOption]


def reference_nodes(region: str = "eu-central") -> tuple[list[Node], list[Link]]:
    """A typical line: a Jetson-class device, an edge GPU server, cloud pools here and in the hydro north."""
    from tools.placement.generate import REGIONS

    grid = REGIONS.get(region, REGIONS["eu-central"])[0]
    nodes = [
        Node(id="device", tier="device", site="plant", region=region, compute_tflops=20.0, memory_gb=16.0,
             accelerator="gpu", power_idle_w=10.0, power_peak_w=40.0, carbon_g_per_kwh=grid),
        Node(id="edge", tier="edge", site="plant", region=region, compute_tflops=120.0, memory_gb=512.0,
             accelerator="gpu", power_idle_w=250.0, power_peak_w=900.0, pue=1.5, carbon_g_per_kwh=grid, cost_per_h=1.5),
        Node(id=f"cloud-{region}", tier="cloud", site=region, region=region, compute_tflops=4000.0, memory_gb=2048.0,
             accelerator="gpu", power_idle_w=2000.0, power_peak_w=12000.0, pue=1.15, carbon_g_per_kwh=grid,
             cost_per_h=60.0),
        Node(id="cloud-eu-north", tier="cloud", site="eu-north", region="eu-north", compute_tflops=4000.0,
             memory_gb=2048.0, accelerator="gpu", power_idle_w=2000.0, power_peak_w=12000.0, pue=1.1,
             carbon_g_per_kwh=35.0, cost_per_h=60.0),
    ]
    links = [
        Link(src="device", dst="edge", latency_ms=0.5, bandwidth_mbps=1000.0),
        Link(src="edge", dst=f"cloud-{region}", latency_ms=10.0, bandwidth_mbps=1000.0),
        Link(src="edge", dst="cloud-eu-north", latency_ms=25.0, bandwidth_mbps=1000.0),
    ]
    if region == "eu-north":  # the local cloud pool is the hydro one: keep one node and one link
        nodes = [n for n in nodes if not (n.id == "cloud-eu-north" and n.pue == 1.15)]
        nodes = list({n.id: n for n in reversed(nodes)}.values())[::-1]
        links = list({(ln.src, ln.dst): ln for ln in links}.values())
    return nodes, links


@tool(mutating=False, tags=("placement",))
def where_to_run(
    ctx: ToolContext,
    model_params_b: float,
    latency_slo_ms: float,
    sovereign: bool,
    *,
    quantization: Quantization = "int4",
    tokens_per_request: int = 256,
    requests_per_s: float = 0.1,
    region: str = "eu-central",
) -> WhereToRun:
    """Answer "where should this model run?": device, edge or cloud, with the reason.

    Args:
        ctx: Tool dependencies (unused: reference nodes are built in).
        model_params_b: Model size in billions of parameters (e.g. 8 for an 8B LLM, 0.025 for ResNet-50).
        latency_slo_ms: p99 latency target per request in milliseconds.
        sovereign: True when the data must stay on site (rules out the cloud).
        quantization: Weight format: fp32, fp16, bf16, int8 or int4.
        tokens_per_request: Tokens processed per request (compute = 2 x params x tokens).
        requests_per_s: Sustained request rate.
        region: Grid/jurisdiction region of the plant.
    """
    if model_params_b <= 0 or latency_slo_ms <= 0:
        raise ToolRetry("model_params_b and latency_slo_ms must be > 0")
    nodes, links = reference_nodes(region)
    wl = Workload(id="model", source="device", site="plant", model_params_b=model_params_b, quantization=quantization,
                  tokens_per_request=tokens_per_request, requests_per_s=requests_per_s,
                  latency_slo_ms=latency_slo_ms, stay_on_site=sovereign)
    cp = compile_scenario(Scenario(nodes=nodes, links=links, workloads=[wl]))
    t = cp.terms(np.zeros(len(nodes), dtype=np.int64), np.arange(len(nodes)), np.zeros(len(nodes), dtype=np.int64))
    alts: list[TierOption] = []
    for i, node in enumerate(nodes):
        why = None
        if sovereign and node.site != "plant":
            why = "sovereign data must stay on site"
        elif wl.mem_gb > node.memory_gb:
            why = f"needs {wl.mem_gb:.3g} GB, has {node.memory_gb:.3g} GB"
        elif wl.demand_tflops > node.compute_tflops * cp.sc.max_utilisation:
            why = f"needs {wl.demand_tflops:.3g} TFLOP/s, has {node.compute_tflops * cp.sc.max_utilisation:.3g} usable"
        ok = bool(t.eligible[i]) and why is None
        alts.append(TierOption(tier=node.tier, node=node.id, eligible=ok, latency_ms=round(float(t.latency_ms[i]), 3),
                               meets_slo=ok and not bool(t.slo_miss[i]),
                               score=round(float(t.objective[i]), 6) if ok else None, why_not=why))
    ranked = sorted((a for a in alts if a.eligible), key=lambda a: (not a.meets_slo, a.score))
    if not ranked:
        reasons = "; ".join(f"{a.tier}: {a.why_not}" for a in alts)
        return WhereToRun(tier=None, node=None, latency_ms=None, meets_slo=False, memory_gb=round(wl.mem_gb, 4),
                          reason=f"nowhere: {reasons}", alternatives=alts)
    pick = ranked[0]
    others = "; ".join(
        f"{a.node}: {a.why_not or ('misses the SLO' if not a.meets_slo else f'scores {a.score:.3g}')}"
        for a in alts if a.node != pick.node
    )
    slo = "meets" if pick.meets_slo else "cannot meet (best effort)"
    reason = (f"{pick.tier} ({pick.node}): {model_params_b:g}B {quantization} needs {wl.mem_gb:.3g} GB and "
              f"{slo} the {latency_slo_ms:g} ms SLO (est. {pick.latency_ms:.3g} ms) at the lowest "
              f"energy/carbon/cost score {pick.score:.3g}. Others: {others}.")
    return WhereToRun(tier=pick.tier, node=pick.node, latency_ms=pick.latency_ms, meets_slo=pick.meets_slo,
                      memory_gb=round(wl.mem_gb, 4), reason=reason, alternatives=alts)

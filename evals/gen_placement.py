"""The ``placement`` suite's data: solver metrics on small generated scenarios and "where should it run?" cases.

- :func:`placement_report` (metrics part): seeded factory scenarios solved exactly (CP-SAT, proven
  bound), by the heuristic and by first-fit (the baseline) in the same run; every plan is checked
  by the validator written from the scenario (not from the solver arrays). Reported: the gap of
  each solver to the best proven bound, feasibility, SLO hit rates, unplaced workloads and the
  first-fit / ours objective ratio.
- :func:`generate` (question part): questions that state a model size, latency target and
  sovereignty in words; the expected tier is ``where_to_run`` called directly with those numbers,
  and sovereign questions must never be answered with the cloud.
"""

from __future__ import annotations

import time
from statistics import mean
from typing import Any

from pydantic import BaseModel

from knowledge.store import KnowledgeStore
from tools.placement import first_fit, generate_scenario, solve, validate_placement, where_to_run
from tools.registry import ToolContext

__all__ = ["PlacementReport", "PlacementRow", "generate", "placement_report"]

Case = dict[str, Any]


class PlacementRow(BaseModel):
    """One scenario: objectives, the best proven bound and validity of each plan."""

    seed: int
    nodes: int
    workloads: int
    exact: float
    heuristic: float
    first_fit: float
    bound: float
    exact_status: str
    gap_exact: float
    gap_heuristic: float
    violations: int
    unplaced_ours: int
    unplaced_first_fit: int
    slo_hit_ours: float
    slo_hit_first_fit: float


class PlacementReport(BaseModel):
    """Summary over the scenarios (the thresholded metrics) and the rows."""

    scenarios: int
    all_valid: bool
    max_gap_exact: float
    max_gap_heuristic: float
    min_first_fit_ratio: float
    mean_first_fit_ratio: float
    min_slo_hit_ours: float
    mean_slo_hit_first_fit: float
    unplaced_ours: int
    unplaced_first_fit: int
    wall_s: float
    rows: list[PlacementRow]


def _gap(obj: float, bound: float) -> float:
    return max(0.0, (obj - bound) / obj) if obj > 1e-12 else 0.0


def placement_report(*, scenarios: int = 4, nodes: int = 15, workloads: int = 60, seed: int = 0,
                     time_limit_s: float = 2.0, profile: str = "factory") -> PlacementReport:
    """Solve ``scenarios`` generated instances three ways and grade the plans.

    Args:
        scenarios: How many instances (seeds ``seed``, ``seed + 1``...).
        nodes: Nodes per instance.
        workloads: Workloads per instance.
        seed: First generator seed.
        time_limit_s: Budget per solver and instance.
        profile: Generator profile (factory, campus, national).
    """
    t0 = time.perf_counter()
    rows = []
    for i in range(scenarios):
        sc = generate_scenario(nodes, workloads, seed=seed + i, profile=profile)  # type: ignore[arg-type]
        ex = solve(sc, method="exact", time_limit_s=time_limit_s)
        he = solve(sc, method="heuristic", time_limit_s=time_limit_s)
        ff = first_fit(sc)
        bound = max(ex.lower_bound, he.lower_bound)
        bad = sum(len(validate_placement(sc, r.assignments)) for r in (ex, he, ff))
        rows.append(PlacementRow(
            seed=seed + i, nodes=nodes, workloads=workloads, exact=ex.objective, heuristic=he.objective,
            first_fit=ff.objective, bound=bound, exact_status=ex.status, gap_exact=_gap(ex.objective, bound),
            gap_heuristic=_gap(he.objective, bound), violations=bad,
            unplaced_ours=len(ex.infeasible_workloads if ex.objective <= he.objective else he.infeasible_workloads),
            unplaced_first_fit=len(ff.infeasible_workloads), slo_hit_ours=min(ex.slo_hit_rate, he.slo_hit_rate),
            slo_hit_first_fit=ff.slo_hit_rate))
    ratios = [r.first_fit / min(r.exact, r.heuristic) for r in rows if min(r.exact, r.heuristic) > 1e-12]
    return PlacementReport(
        scenarios=len(rows), all_valid=all(r.violations == 0 for r in rows),
        max_gap_exact=max(r.gap_exact for r in rows), max_gap_heuristic=max(r.gap_heuristic for r in rows),
        min_first_fit_ratio=min(ratios, default=1.0), mean_first_fit_ratio=mean(ratios) if ratios else 1.0,
        min_slo_hit_ours=min(r.slo_hit_ours for r in rows), mean_slo_hit_first_fit=mean(r.slo_hit_first_fit for r in rows),
        unplaced_ours=sum(r.unplaced_ours for r in rows), unplaced_first_fit=sum(r.unplaced_first_fit for r in rows),
        wall_s=round(time.perf_counter() - t0, 3), rows=rows)


#: (question, where_to_run arguments the words state)
_QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("Where should a 7B model with a 50 ms SLO run if the data must stay on site?",
     {"model_params_b": 7, "latency_slo_ms": 50, "sovereign": True}),
    ("Where should the 135M classifier run for a 5 ms control loop?",
     {"model_params_b": 0.135, "latency_slo_ms": 5, "sovereign": False, "tokens_per_request": 1, "requests_per_s": 200}),
    ("Where should a 7B model with a 50 ms SLO run? The data may go to the cloud.",
     {"model_params_b": 7, "latency_slo_ms": 50, "sovereign": False}),
    ("Should a 70 billion parameter LLM run on the edge or in the cloud? 2 s latency is fine and the data is confidential.",
     {"model_params_b": 70, "latency_slo_ms": 2000, "sovereign": True}),
    ("Where should we deploy a 3B model in int8 with 20 requests/s and a 500 ms p99 in us-east?",
     {"model_params_b": 3, "latency_slo_ms": 500, "sovereign": False, "quantization": "int8", "requests_per_s": 20,
      "region": "us-east"}),
    ("Which tier should run an 8B assistant with a 3 s SLO if the data must stay on site?",
     {"model_params_b": 8, "latency_slo_ms": 3000, "sovereign": True}),
    ("Where should a 25M vision model run with a 10 ms latency target?",
     {"model_params_b": 0.025, "latency_slo_ms": 10, "sovereign": False, "tokens_per_request": 1}),
]


def generate(store: KnowledgeStore | None = None) -> list[Case]:
    """The where-to-run question cases (the knowledge graph is not needed).

    Args:
        store: The suite's knowledge graph (unused: the tool's reference nodes are built in).
    """
    out: list[Case] = []
    for i, (text, args) in enumerate(_QUESTIONS):
        res = where_to_run(ToolContext(), **args)
        expected = res.tier or "nowhere"
        if args["sovereign"] and expected == "cloud":
            raise AssertionError(f"where_to_run put sovereign data in the cloud for {args}")
        out.append({"id": f"where-{i}", "group": "sovereign" if args["sovereign"] else "open", "text": text,
                    "expected": expected, "check": "exact", "expect_tools": ["where_to_run"], "expect_agent": "placement",
                    "metadata": {"args": args, "node": res.node, "meets_slo": res.meets_slo}})
    return out

"""Compute placement across device / edge / cloud: model, solvers, validator, carbon shifting.

Public API (see docs/placement.md)::

    from tools.placement import generate_scenario, solve, validate_placement
    sc = generate_scenario(20, 100, seed=1, profile="factory")
    res = solve(sc, method="auto", time_limit_s=10)      # PlacementResult
    res.contract()                                        # the CLI --json document
"""

from tools.placement.api import (
    EXACT_MAX_OPTIONS,
    Method,
    TierOption,
    WhereToRun,
    carbon_shift,
    reference_nodes,
    solve,
    solve_placement,
    where_to_run,
)
from tools.placement.carbon import CarbonReport, carbon_blind, compare_carbon
from tools.placement.exact import solve_exact
from tools.placement.generate import PROFILES, Profile, generate_scenario
from tools.placement.heuristic import first_fit, solve_heuristic
from tools.placement.llm_cost import LlmCallEstimate, TierProfile, estimate_llm_call
from tools.placement.model import (
    Assignment,
    DeferWindow,
    InfeasibleWorkload,
    Link,
    Node,
    NodeUsage,
    PlacementResult,
    Scenario,
    Violation,
    Weights,
    Workload,
)
from tools.placement.plot import plot_placement
from tools.placement.validate import validate_placement

#: The ``@tool`` functions of this package (the registry reads this list).
TOOLS = [solve_placement, where_to_run, carbon_shift]

__all__ = [
    "EXACT_MAX_OPTIONS",
    "PROFILES",
    "TOOLS",
    "Assignment",
    "CarbonReport",
    "DeferWindow",
    "InfeasibleWorkload",
    "Link",
    "LlmCallEstimate",
    "Method",
    "Node",
    "NodeUsage",
    "PlacementResult",
    "Profile",
    "Scenario",
    "TierOption",
    "TierProfile",
    "Violation",
    "Weights",
    "WhereToRun",
    "Workload",
    "carbon_blind",
    "carbon_shift",
    "compare_carbon",
    "estimate_llm_call",
    "first_fit",
    "generate_scenario",
    "plot_placement",
    "reference_nodes",
    "solve",
    "solve_exact",
    "solve_heuristic",
    "solve_placement",
    "validate_placement",
    "where_to_run",
]

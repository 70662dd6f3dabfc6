"""Generate the optimization question cases (``evals/suites/optimization/questions.yaml``).

Ground truth is computed here, never typed:

- compressed air: the true optimal header pressure is the lowest one that keeps the furthest user
  at its minimum (power and leaks rise with pressure for any compressor split; see
  :mod:`evals.optimization_regret`), found by root bracketing on the station model built from the
  knowledge graph's compressors;
- chiller plant: the optimizer called directly with the inputs the question states (its regret
  against the exhaustive true optimum is graded by the regret part of the suite);
- savings so far: ``optimization_savings`` over the window worked out here from the clock;
- applying setpoints must pause for approval (nothing written without a person).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from scipy.optimize import brentq

from agents.state import AskResult
from knowledge.store import KnowledgeStore
from tools.optimization import optimization_savings, optimize_chiller_plant
from tools.optimization.compressed_air import user_pressure_bar
from tools.optimization.kg import air_station_from_kg
from tools.registry import ToolContext

__all__ = ["check_chiller", "generate"]

Case = dict[str, Any]


def _air_cases(store: KnowledgeStore, demands: list[float], minimums: list[float]) -> list[Case]:
    st, _ = air_station_from_kg(store)
    out = []
    templates = ["What pressure setpoint minimizes compressor power while keeping {p} bar at the furthest user at "
                 "{d} m3/min demand?",
                 "Which header pressure should the compressors run at for {d} m³/min if the furthest user needs {p} bar?"]
    for i, (d, p) in enumerate(zip(demands, minimums, strict=True)):
        best = brentq(lambda x, d=d, p=p: user_pressure_bar(st, d, x) - p, 0.0, 20.0)
        out.append({"id": f"air-{i}", "group": "air", "text": templates[i % 2].format(p=f"{p:g}", d=f"{d:g}"),
                    "expected": round(best, 4), "check": "number_within:0.01", "expect_tools": ["optimize_compressed_air"],
                    "expect_agent": "optimization",
                    "metadata": {"source": "lowest header pressure with user_pressure_bar(station, demand, p) = minimum"}})
    return out


def _chiller_cases(store: KnowledgeStore, points: list[list[float]]) -> list[Case]:
    out = []
    for i, (load, wb) in enumerate(points):
        res = optimize_chiller_plant(ToolContext(kg=store), load, wb)
        out.append({"id": f"chiller-{i}", "group": "chiller",
                    "text": f"How can we cut chiller energy at {load:g} kW cooling load and {wb:g} °C wet bulb?",
                    "expected": {"optimized_kw": round(res.optimized_kw, 3), "saving_kwh": round(res.saving.kwh, 3)},
                    "check": "call:evals.gen_optimization:check_chiller", "expect_tools": ["optimize_chiller_plant"],
                    "metadata": {"source": "optimize_chiller_plant called with the stated load and wet bulb"}})
    return out


def _savings_cases(store: KnowledgeStore, now: datetime) -> list[Case]:
    monday = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=now.weekday())
    start, end = monday - timedelta(days=7), monday
    rep = optimization_savings(ToolContext(kg=store, now=now), start, end)
    return [{"id": "savings-last-week", "group": "savings", "setup": {"now": now.isoformat()},
             "text": "What did last week's optimization save?", "expected": round(rep.total_kwh, 3),
             "check": "number_within:0.01", "expect_tools": ["optimization_savings"],
             "metadata": {"window": [start.isoformat(), end.isoformat()]}}]


def generate(store: KnowledgeStore, *, now: str, air: list[list[float]] | None = None,
             chiller: list[list[float]] | None = None) -> list[Case]:
    """The optimization question cases for the open knowledge graph.

    Args:
        store: The suite's knowledge graph (read-only).
        now: The clock for "last week" (ISO).
        air: ``[demand m³/min, minimum bar at the furthest user]`` pairs.
        chiller: ``[load kW, wet bulb °C]`` pairs.
    """
    clock = datetime.fromisoformat(now)
    pairs = air or [[35.0, 6.2]]
    cases = _air_cases(store, [float(a) for a, _ in pairs], [float(b) for _, b in pairs])
    cases += _chiller_cases(store, chiller or [])
    cases += _savings_cases(store, clock)
    cases.append({"id": "apply", "group": "apply", "setup": {"now": clock.isoformat()},
                  "text": "Apply the recommended chiller setpoints", "expected": "Waiting for approval: write_setpoints",
                  "check": "text_contains", "expect_agent": "optimization"})
    return cases


def check_chiller(expected: dict[str, Any], result: AskResult) -> tuple[bool, str]:
    """The agent's chiller recommendation has the optimizer's power (±0.5 %) and saving (±1 %)."""
    v = result.result.value
    if not isinstance(v, dict) or "optimized_kw" not in v:
        return False, f"expected a table with optimized_kw, got {result.result.type}: {str(v)[:80]}"
    kw, want = float(v["optimized_kw"]), float(expected["optimized_kw"])
    if abs(kw - want) > 0.005 * want:
        return False, f"optimized power {kw} kW vs {want} kW"
    s, ws = float(v.get("saving_kwh", 0.0)), float(expected["saving_kwh"])
    if abs(s - ws) > 0.01 * max(abs(ws), 1.0):
        return False, f"saving {s} kWh vs {ws} kWh"
    return True, f"optimized {kw} kW, saving {s} kWh"

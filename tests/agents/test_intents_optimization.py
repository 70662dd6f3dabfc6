"""Optimization intents: horizons, inputs from readings, planner matches, answers vs the models, approval of setpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from scipy.optimize import brentq

from agents.context import AgentContext
from agents.graph import build_graph
from agents.intents.optimization import DEFAULT_LOAD_FRACTION, DEFAULT_WET_BULB_C, forecast_inputs, horizon_hours
from agents.planner import Planner, default_planner
from agents.runner import ask, resume
from knowledge.store import KnowledgeStore
from tests.agents.intents_kit import agent_context, demo_store
from tools.optimization import optimize_chiller_plant
from tools.optimization.chiller import default_chiller_plant
from tools.optimization.compressed_air import user_pressure_bar
from tools.optimization.kg import air_station_from_kg
from tools.registry import ToolContext

NOW = datetime(2024, 2, 20, 15, 0)  # inside the tiny demo's readings (Jan-Feb 2024)


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeStore]:
    yield from demo_store(tmp_path_factory, "tiny")


@pytest.fixture(scope="module")
def planner() -> Planner:
    return default_planner()


@pytest.fixture
def ctx(kg: KnowledgeStore, planner: Planner, tmp_path: Path) -> AgentContext:
    return agent_context(kg, planner, tmp_path, NOW)


@pytest.mark.parametrize(("text", "now", "first", "n"), [
    ("cut chiller energy tonight", NOW, datetime(2024, 2, 20, 22), 8),
    ("cut chiller energy tonight", datetime(2024, 2, 20, 23, 30), datetime(2024, 2, 20, 23), 7),
    ("optimize the chillers for tomorrow's tariff", NOW, datetime(2024, 2, 21), 24),
    ("optimize the chillers for the next 3 hours", NOW, NOW, 3),
    ("optimize the chillers", NOW, NOW, 1),
])
def test_horizons(text: str, now: datetime, first: datetime, n: int) -> None:
    hours, _ = horizon_hours(text, now)
    assert hours[0] == first and len(hours) == n and hours[-1] - hours[0] == timedelta(hours=n - 1)


def test_inputs_from_readings_or_defaults(ctx: AgentContext, kg: KnowledgeStore) -> None:
    inputs, notes = forecast_inputs(ctx, "chiller", [NOW], NOW)
    # independent: mean of CHL-01 power at 15:00 over the 7 days before NOW, times the default COP 5.5
    rows = kg.query("SELECT date_trunc('hour', ts) AS t, avg(value) AS v FROM readings WHERE sensor_id = 'CHL-01.power' "
                    "AND ts >= ? AND ts < ? AND hour(ts) = 15 GROUP BY 1", [NOW - timedelta(days=7), NOW])
    want = sum(r["v"] for r in rows) / len(rows) * 5.5
    assert inputs["load_kw"][0] == pytest.approx(want, abs=0.1)
    assert "metered chiller power x COP" in notes[0] and "default" in notes[1]
    assert inputs["wet_bulb_c"] == [DEFAULT_WET_BULB_C]
    bare = AgentContext(models=ctx.models, tools=ctx.tools, kg=None, now=NOW)
    inputs, notes = forecast_inputs(bare, "chiller", [NOW], NOW)
    cap = sum(c.capacity_kw for c in default_chiller_plant().chillers)
    assert inputs["load_kw"] == [DEFAULT_LOAD_FRACTION * cap] and "default" in notes[0]
    inputs, notes = forecast_inputs(ctx, "compressed_air", [NOW], NOW)
    assert inputs["demand_m3min"][0] > 0 and "metered compressor power" in notes[0]


@pytest.mark.parametrize(("text", "intent"), [
    ("how can we cut chiller energy tonight?", "optimize_chiller"),
    ("what chilled water setpoint is best at 1500 kW load and 22 C wet bulb?", "optimize_chiller"),
    ("what pressure setpoint minimizes compressor power while keeping 6.2 bar at the furthest user?", "optimize_air"),
    ("what did last week's optimization save?", "optimization_savings"),
    ("how much have the optimized setpoints saved since 2024-02-01?", "optimization_savings"),
    ("apply the recommended setpoints", "apply_setpoints"),
    ("go ahead and write the compressor setpoints", "apply_setpoints"),
])
def test_planner_matches(ctx: AgentContext, text: str, intent: str) -> None:
    plan = ctx.planner.plan(text, ctx)  # type: ignore[union-attr]
    assert (plan.agent, plan.intent) == ("optimization", intent)


@pytest.mark.parametrize("text", [
    "what was the mean power of CHL-01 in February 2024?",
    "what are the failure modes of a chiller?",
    "is anything wrong with CMP-01?",
    "list the work orders of CHL-01 in 2023",
])
def test_other_agents_keep_their_questions(ctx: AgentContext, text: str) -> None:
    assert ctx.planner.plan(text, ctx).agent != "optimization"  # type: ignore[union-attr]


def test_pressure_setpoint_is_the_true_optimum(ctx: AgentContext, kg: KnowledgeStore) -> None:
    res = ask(build_graph(), ctx, "What pressure setpoint minimizes compressor power while keeping 6.2 bar at the furthest "
              "user at 12 m3/min?")
    st, _ = air_station_from_kg(kg)
    best = brentq(lambda p: user_pressure_bar(st, 12.0, p) - 6.2, 0.0, 20.0)
    assert res.route.agent == "optimization" and [t.name for t in res.tool_calls] == ["optimize_compressed_air"]
    assert res.result.type == "number" and res.result.value == pytest.approx(best, abs=0.01)
    assert "12 m³/min (given)" in res.answer and "6.2 bar (given)" in res.answer


def test_chiller_recommendation_apply_and_savings(ctx: AgentContext, kg: KnowledgeStore) -> None:
    g = build_graph(checkpointer=InMemorySaver())
    rec = ask(g, ctx, "how can we cut chiller energy at 700 kW cooling load and 18 °C wet bulb?")
    direct = optimize_chiller_plant(ToolContext(kg=kg, now=NOW), 700.0, 18.0)
    v = rec.result.value
    assert rec.result.type == "table" and v["optimized_kw"] == pytest.approx(direct.optimized_kw, abs=1e-3)
    assert v["saving_kwh"] == pytest.approx(direct.saving.kwh, abs=1e-3) and "700 kW (given)" in rec.answer
    paused = ask(g, ctx, "apply the recommended setpoints")
    req = paused.pending_approval
    assert req is not None and req["tool"] == "write_setpoints"
    chws = next(s for s in req["args"]["setpoints"] if s["tag"] == "chws_setpoint")
    assert chws["value"] == pytest.approx(v["chws_setpoint_c"], abs=1e-3)
    assert not kg.query("SELECT id FROM setpoints")
    done = resume(g, ctx, paused.thread_id, {"decision": "approve", "by": "energy-manager"})
    rows = kg.query("SELECT tag, value, run_id FROM setpoints ORDER BY tag")
    assert done.result.value == rows[0]["run_id"] and len(rows) == len(req["args"]["setpoints"])
    later = AgentContext(models=ctx.models, tools=ctx.tools, kg=kg, planner=ctx.planner, data_dir=ctx.data_dir,
                         now=NOW + timedelta(days=7))
    saved = ask(build_graph(), later, "what did last week's optimization save?")
    # applied at NOW (Tue 15:00), in effect until the end of "last week" (Monday 00:00, six days later)
    hours = (datetime(2024, 2, 26) - NOW) / timedelta(hours=1)
    assert saved.result.value == pytest.approx(req["args"]["predicted_saving_kw"] * hours, abs=1e-3)


def test_apply_without_a_recommendation_recomputes_and_can_be_rejected(ctx: AgentContext, kg: KnowledgeStore) -> None:
    g = build_graph(checkpointer=InMemorySaver())
    before = kg.scalar("SELECT count(*) FROM setpoints")
    paused = ask(g, ctx, "apply the recommended compressor setpoints")
    assert paused.pending_approval is not None and "Re-computed" in paused.pending_approval["args"]["reason"]
    out = resume(g, ctx, paused.thread_id, {"decision": "reject", "by": "energy-manager"})
    assert "Rejected" in out.answer and kg.scalar("SELECT count(*) FROM setpoints") == before

"""Scheduling intents: time words, planner matches, and end-to-end answers checked against the solver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.context import AgentContext
from agents.graph import build_graph
from agents.intents.scheduling import parse_clock, parse_deadline, parse_hours
from agents.planner import Planner, default_planner
from agents.runner import ask, resume
from knowledge.store import KnowledgeStore
from tests.agents.intents_kit import agent_context, demo_store
from tools.registry import ToolContext
from tools.scheduling import earliest_maintenance_slot, instance_from_kg, plan_from_solution, solve, validate

NOW = datetime(2025, 1, 7, 3, 0)  # a Tuesday inside the small demo's order window


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeStore]:
    yield from demo_store(tmp_path_factory, "small")


@pytest.fixture(scope="module")
def planner() -> Planner:
    return default_planner()


@pytest.fixture
def ctx(kg: KnowledgeStore, planner: Planner, tmp_path: Path) -> AgentContext:
    return agent_context(kg, planner, tmp_path, NOW)


@pytest.mark.parametrize(("text", "want"), [
    ("before friday", datetime(2025, 1, 10)),
    ("by friday", datetime(2025, 1, 11)),
    ("before friday 14:00", datetime(2025, 1, 10, 14)),
    ("before tuesday", datetime(2025, 1, 14)),  # today is Tuesday: the next one
    ("by tomorrow", datetime(2025, 1, 9)),
    ("before 2025-01-09 12:30", datetime(2025, 1, 9, 12, 30)),
    ("by 2025-01-09", datetime(2025, 1, 10)),
    ("within 2 days", datetime(2025, 1, 9, 3)),
    ("before the weekend", datetime(2025, 1, 11)),
])
def test_deadlines(text: str, want: datetime) -> None:
    got = parse_deadline(text, NOW)
    assert got is not None and got[0] == want


def test_durations_and_clock_times() -> None:
    assert [parse_hours(t) for t in ("4 h", "2.5 hours", "90 min", "half an hour", "an hour", "a shift", "soon")] == \
        [4.0, 2.5, 1.5, 0.5, 1.0, 8.0, None]
    assert [parse_clock(t) for t in ("14:00", "2pm", "2:30 pm", "12am", "noon", "14h", "14")] == \
        [(14, 0), (14, 0), (14, 30), (0, 0), (12, 0), (14, 0), None]


@pytest.mark.parametrize(("text", "intent", "params"), [
    ("reschedule line 2, press PRS-03 is down until 14:00", "reschedule_downtime",
     {"line": "L2", "machine": "PRS-03", "end": "2025-01-07T14:00:00"}),
    ("press P3 is down for 3 hours", "reschedule_downtime", {"line": "L2", "machine": "PRS-03", "end": "2025-01-07T06:00:00"}),
    ("CNC-07 broke down, back at 01:30", "reschedule_downtime", {"line": "L1", "end": "2025-01-08T01:30:00"}),
    ("PRS-02 is out of service from 10:00 to 12:30", "reschedule_downtime",
     {"start": "2025-01-07T10:00:00", "end": "2025-01-07T12:30:00"}),
    ("when is the earliest slot for 4 h of maintenance on CNC-07 before Friday?", "maintenance_slot",
     {"machine": "CNC-07", "hours": 4.0, "before": "2025-01-10T00:00:00"}),
    ("can we fit a 90 min inspection on PRS-01 by tomorrow?", "maintenance_slot",
     {"hours": 1.5, "before": "2025-01-09T00:00:00"}),
    ("which orders will be late?", "late_orders", {"line": None, "mode": "list"}),
    ("how many orders in the press shop will miss their due date?", "late_orders", {"line": "L2", "mode": "count"}),
    ("will any orders on line L3 be late?", "late_orders", {"line": "L3", "mode": "bool"}),
    ("make a production schedule for line L1", "production_plan", {"line": "L1"}),
    ("what is the bottleneck of the press shop?", "production_plan", {"line": "L2", "bottleneck": True}),
    ("publish draft sch-0123456789ab", "schedule_publish", {"draft_id": "sch-0123456789ab"}),
])
def test_planner_matches(ctx: AgentContext, text: str, intent: str, params: dict) -> None:
    plan = ctx.planner.plan(text, ctx)  # type: ignore[union-attr]
    assert (plan.agent, plan.intent) == ("scheduling", intent)
    flat = dict(plan.params)
    if "downtime" in flat:
        flat.update({k: v for k, v in flat["downtime"][0].items() if k in ("start", "end")})
    assert {k: flat.get(k) for k in params} == params


@pytest.mark.parametrize("text", [
    "list the work orders of CHL-01 in June 2024",
    "summarise the maintenance history of compressor C-1 in 2024",
    "how many corrective work orders did CNC-07 have in 2023?",
    "which assets are downstream of CMP-01?",
])
def test_other_agents_keep_their_questions(ctx: AgentContext, text: str) -> None:
    assert ctx.planner.plan(text, ctx).agent != "scheduling"  # type: ignore[union-attr]


def _solver_plan(kg: KnowledgeStore, line: str | None):
    ki = instance_from_kg(kg, line=line, origin=NOW)
    sol = solve(ki.instance, time_limit=6, objective="mix")
    assert validate(ki.instance, sol) == [] and sol.status == "OPTIMAL"
    return plan_from_solution(ki, sol)


def test_late_orders_match_the_solver(ctx: AgentContext, kg: KnowledgeStore) -> None:
    g = build_graph()
    res = ask(g, ctx, "Which orders on line L3 will be late?")
    assert res.route.agent == "scheduling" and [t.name for t in res.tool_calls] == ["schedule_production"]
    assert res.result.type == "list" and sorted(res.result.value) == sorted(_solver_plan(kg, "L3").late_orders)
    assert res.result.value and all(o in res.answer for o in res.result.value)
    n = ask(g, ctx, "how many orders will be late?")
    assert n.result.type == "count" and n.result.value == len(_solver_plan(kg, None).late_orders)


def test_earliest_maintenance_slot(ctx: AgentContext, kg: KnowledgeStore) -> None:
    res = ask(build_graph(), ctx, "When is the earliest slot for 4 h of maintenance on CNC-07 before Friday?")
    direct = earliest_maintenance_slot(ToolContext(kg=kg, now=NOW), "CNC-07", 4, datetime(2025, 1, 10), time_limit_s=12)
    assert res.result.value == direct.start.isoformat()
    assert res.tool_calls[0].args["before"] == "2025-01-10T00:00:00"
    assert "CNC-07" in res.answer and "before Friday" in res.answer


def test_reschedule_after_breakdown(ctx: AgentContext, tmp_path: Path) -> None:
    res = ask(build_graph(), ctx, "reschedule line 2, press PRS-03 is down until 14:00")
    v = res.result.value
    assert res.result.type == "table" and v["machine"] == "PRS-03" and v["down_until"] == "2025-01-07T14:00:00"
    assert [t.name for t in res.tool_calls] == ["schedule_production", "schedule_production"]
    assert Path(v["gantt_html"]).is_file() and Path(v["gantt_png"]).is_file() and v["gantt_html"] in res.answer
    draft = json.loads((tmp_path / "schedules" / f"{v['draft_id']}.json").read_text())
    on_press = [o for o in draft["operations"] if o["machine_id"] == "PRS-03"]
    assert on_press and all(o["start"] >= "2025-01-07T14:00:00" for o in on_press)  # nothing in the breakdown window


def test_publish_needs_approval(ctx: AgentContext, kg: KnowledgeStore) -> None:
    g = build_graph(checkpointer=InMemorySaver())
    made = ask(g, ctx, "make a production schedule for line L2")
    draft = made.result.value["draft_id"]
    assert f"publish draft {draft}" in made.answer and made.result.value["gantt_html"] in made.answer
    paused = ask(g, ctx, "publish the schedule")
    assert paused.pending_approval is not None
    assert paused.pending_approval["tool"] == "publish_schedule" and paused.pending_approval["args"]["draft_id"] == draft
    assert not kg.query("SELECT id FROM schedules WHERE id = ?", [draft])
    done = resume(g, ctx, paused.thread_id, {"decision": "approve", "by": "shift-lead"})
    assert done.result.value == draft
    assert kg.query("SELECT status, line_id FROM schedules WHERE id = ?", [draft]) == [{"status": "published", "line_id": "L2"}]
    paused = ask(g, ctx, f"publish draft {draft} again")
    rejected = resume(g, ctx, paused.thread_id, {"decision": "reject", "by": "shift-lead", "comment": "not now"})
    assert "Rejected" in rejected.answer

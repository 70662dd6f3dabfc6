"""Placement intents: reading model questions, and "where should it run?" end to end without a plant graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.context import AgentContext
from agents.graph import build_graph
from agents.intents.placement import DEFAULT_SLO_MS, parse_model_question
from agents.models.scripted import scripted_registry
from agents.planner import default_planner
from agents.runner import ask
from tools.placement import where_to_run
from tools.registry import ToolContext, default_registry


@pytest.fixture
def ctx(tmp_path: Path) -> AgentContext:
    return AgentContext(models=scripted_registry()[0], tools=default_registry(), kg=None, planner=default_planner(),
                        data_dir=tmp_path)


@pytest.mark.parametrize(("text", "args"), [
    ("where should a 7B model with a 50 ms SLO run if the data must stay on site?",
     {"model_params_b": 7.0, "latency_slo_ms": 50.0, "sovereign": True}),
    ("where should the 135M classifier run for a 5 ms control loop?",
     {"model_params_b": 0.135, "latency_slo_ms": 5.0, "sovereign": False, "tokens_per_request": 1, "requests_per_s": 200.0}),
    ("a 70 billion parameter LLM, 2 s latency, confidential data: edge or cloud?",
     {"model_params_b": 70.0, "latency_slo_ms": 2000.0, "sovereign": True}),
    ("deploy a 3B model in int8 at 20 requests/s with 500 ms p99 in us-east: where?",
     {"model_params_b": 3.0, "quantization": "int8", "requests_per_s": 20.0, "region": "us-east"}),
    ("where should a 1.5B model with 64 tokens per request run at 10 Hz?",
     {"model_params_b": 1.5, "tokens_per_request": 64, "requests_per_s": 10.0, "latency_slo_ms": DEFAULT_SLO_MS}),
])
def test_reads_the_question(text: str, args: dict) -> None:
    p = parse_model_question(text)
    assert p is not None and {k: p["args"].get(k) for k in args} == args


def test_assumptions_are_stated() -> None:
    p = parse_model_question("where should an 8B model run?")
    assert p is not None and len(p["assumed"]) == 3  # SLO, sovereignty, quantization
    assert parse_model_question("where should the model run?") is None  # no size: not guessed


@pytest.mark.parametrize("text", [
    "where should a 7B model with a 50 ms SLO run if the data must stay on site?",
    "where should the 135M classifier run for a 5 ms control loop?",
    "where should a 7B model with a 50 ms SLO run? the data may go to the cloud",
])
def test_answers_with_the_tools_tier(ctx: AgentContext, text: str) -> None:
    res = ask(build_graph(), ctx, text)
    p = parse_model_question(text)
    assert p is not None
    direct = where_to_run(ToolContext(), **p["args"])
    assert res.route.agent == "placement" and [t.name for t in res.tool_calls] == ["where_to_run"]
    assert res.result.value == direct.tier and direct.reason in res.answer


def test_sovereign_data_never_goes_to_the_cloud(ctx: AgentContext) -> None:
    g = build_graph()
    for size in ("135M", "7B", "70B"):
        for slo in ("5 ms", "50 ms", "3 s"):
            res = ask(g, ctx, f"where should a {size} model with a {slo} SLO run? the data must stay on site")
            assert res.result.value in ("device", "edge", "nowhere"), (size, slo, res.answer)


def test_best_effort_is_said_when_no_tier_meets_the_slo(ctx: AgentContext) -> None:
    res = ask(build_graph(), ctx, "where should a 7B model with a 50 ms SLO run if the data must stay on site?")
    assert res.result.value == "device" and res.answer.startswith("No tier meets the 50 ms target")


def test_not_a_placement_question(ctx: AgentContext) -> None:
    assert ctx.planner.plan("where is the 5 m conveyor?", ctx).agent != "placement"  # type: ignore[union-attr]
    assert ctx.planner.plan("how do I run the 3B model?", ctx).agent != "placement"  # type: ignore[union-attr]

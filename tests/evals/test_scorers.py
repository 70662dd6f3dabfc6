"""Scorer tables: every check, the yes/no and number parsing, trajectory checks, crash handling."""

from __future__ import annotations

from typing import Any

import pytest

from agents.state import AskResult, ResultValue, RouteInfo, ToolCallTrace
from evals.cases import Case
from evals.scorers import (
    AgentCheck,
    DegradedCheck,
    Outcome,
    TierCheck,
    ToolsCheck,
    ValueCheck,
    evaluators_for,
    grade,
    to_bool,
    to_number,
)


def res(value: Any, *, type_: str = "text", answer: str = "", tools: tuple[str, ...] = (), tier: str = "edge",
        agent: str = "knowledge", degraded: bool = False) -> AskResult:
    return AskResult(
        answer=answer or str(value), thread_id="t_test", result=ResultValue(type=type_, value=value),
        route=RouteInfo(agent=agent, model="m", tier=tier, reason="r", degraded=degraded),
        tool_calls=[ToolCallTrace(name=t) for t in tools],
    )


VALUE_TABLE = [
    # check, expected, actual value, passes
    ("exact", "CNC-07", "cnc-07 ", True),
    ("exact", "CNC-07", "CNC-08", False),
    ("exact", 3, 3.0, True),
    ("exact", 3, "3", True),
    ("exact", 3, 4, False),
    ("exact", ["a", "B"], ["A", "b"], True),
    ("exact", ["a", "B"], ["b", "a"], False),
    ("exact", {"id": "CNC-07"}, {"id": "cnc-07", "name": "CNC 7"}, True),
    ("exact_count", 3, 3, True),
    ("exact_count", 3, ["x", "y", "z"], True),
    ("exact_count", 3, ["x", "y"], False),
    ("exact_count", 2, "2 work orders", True),
    ("set_equal", ["RBT-01", "CNC-01"], ["cnc-01", "rbt-01"], True),
    ("set_equal", ["RBT-01", "CNC-01"], [{"id": "CNC-01"}, {"id": "RBT-01", "name": "Robot"}], True),
    ("set_equal", ["RBT-01", "CNC-01"], ["CNC-01"], False),
    ("set_equal", ["RBT-01"], ["RBT-01", "P-4"], False),
    ("contains_all", ["a", "b"], ["c", "b", "a"], True),
    ("contains_all", ["a", "d"], ["c", "b", "a"], False),
    ("contains_all", ["bearing", "coolant"], "Spindle bearing wear, coolant supply failure", True),
    ("number_within:0.5", 10.0, 10.4, True),
    ("number_within:0.5", 10.0, 10.6, False),
    ("number_within:1%", 200.0, 201.9, True),
    ("number_within:1%", 200.0, 202.1, False),
    ("number_within:0", 5, 5, True),
    ("number_within:0.1", 12.5, "12.55 kW", True),
    ("number_within:0.1", 3.0, {"mean": 3.05, "unit": "bar"}, True),
    ("yes_no", True, True, True),
    ("yes_no", "yes", "Yes, CNC-01 feeds RBT-01.", True),
    ("yes_no", "no", "Yes, it does.", False),
    ("yes_no", False, "no", True),
    ("yes_no", False, False, True),
    ("yes_no", True, 0, False),
]


@pytest.mark.parametrize(("check", "expected", "actual", "passes"), VALUE_TABLE)
def test_value_checks(check: str, expected: Any, actual: Any, passes: bool) -> None:
    out = ValueCheck(check, expected).evaluate(res(actual))
    assert out.passed is passes, out.reason
    assert out.score == float(passes)
    assert out.reason


def test_text_contains_reads_the_answer() -> None:
    r = res({"rows": []}, type_="table", answer="CNC-01 has 3 open work orders")
    assert ValueCheck("text_contains", "3 open").evaluate(r).passed
    assert ValueCheck("text_contains", ["cnc-01", "work orders"]).evaluate(r).passed
    out = ValueCheck("text_contains", ["CNC-02"]).evaluate(r)
    assert not out.passed and "cnc-02" in out.reason


@pytest.mark.parametrize(("text", "value"), [("Yes", True), ("no.", False), ("TRUE", True), ("None of them", False),
                                             (1, True), (0.0, False)])
def test_to_bool(text: Any, value: bool) -> None:
    assert to_bool(text) is value


@pytest.mark.parametrize("text", ["maybe", "", "It depends", None])
def test_to_bool_refuses_non_answers(text: Any) -> None:
    with pytest.raises(ValueError, match="yes/no"):
        to_bool(text)


def test_to_number() -> None:
    assert to_number("-1,5 bar") == -1.5
    assert to_number({"count": 4}) == 4.0
    with pytest.raises(ValueError, match="not a number"):
        to_number("no numbers here")


def test_ungradable_value_is_a_failed_outcome_not_an_exception() -> None:
    outs = grade([ValueCheck("number_within:1", 5.0)], res("I can't answer that yet"))
    assert len(outs) == 1 and not outs[0].passed
    assert "evaluator crashed: ValueError" in outs[0].reason


def test_tools_check_subset_and_order() -> None:
    r = res(None, tools=("find_assets", "search_work_orders", "summarize"))
    assert ToolsCheck(("search_work_orders",)).evaluate(r).passed
    assert ToolsCheck(("find_assets", "summarize"), ordered=True).evaluate(r).passed
    bad_order = ToolsCheck(("summarize", "find_assets"), ordered=True).evaluate(r)
    assert not bad_order.passed and "out of order" in bad_order.reason
    assert ToolsCheck(("summarize", "find_assets")).evaluate(r).passed  # unordered: any order
    missing = ToolsCheck(("create_work_order",)).evaluate(r)
    assert not missing.passed and "create_work_order" in missing.reason


def test_route_checks() -> None:
    r = res(None, tier="cloud", agent="general", degraded=True)
    assert TierCheck("cloud").evaluate(r).passed and not TierCheck("edge").evaluate(r).passed
    assert AgentCheck("general").evaluate(r).passed and not AgentCheck("diagnosis").evaluate(r).passed
    assert DegradedCheck(True).evaluate(r).passed and not DegradedCheck(False).evaluate(r).passed


def test_evaluators_for_a_case() -> None:
    case = Case(id="c", text="q", expected=2, check="exact_count", expect_tools=["a"], expect_tier="edge",
                expect_agent="knowledge", expect_degraded=False)
    names = [e.name for e in evaluators_for(case)]
    assert names == ["exact_count", "expect_tools", "expect_tier", "expect_agent", "expect_degraded"]
    outs = grade(evaluators_for(case), res(2, tools=("a",)))
    assert all(o.passed for o in outs)


class Exploding:
    name = "exploding"

    def evaluate(self, result: AskResult) -> Outcome:
        raise RuntimeError("scorer bug")


def test_crashing_evaluator_becomes_failed_outcome_and_others_still_run() -> None:
    outs = grade([Exploding(), TierCheck("edge")], res(None))
    assert [o.passed for o in outs] == [False, True]
    assert outs[0].evaluator == "exploding" and "RuntimeError: scorer bug" in outs[0].reason


def custom_check(expected: Any, result: AskResult) -> tuple[bool, str]:
    return result.result.value == expected * 2, "doubled"


def test_call_check_uses_a_function_by_reference() -> None:
    assert ValueCheck("call:tests.evals.test_scorers:custom_check", 2).evaluate(res(4)).passed
    assert not ValueCheck("call:tests.evals.test_scorers:custom_check", 2).evaluate(res(5)).passed

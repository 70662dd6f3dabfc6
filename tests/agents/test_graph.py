"""Graph logic driven by the scripted model: routing, threads across processes, approvals, native tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from agents.checkpoint import open_checkpointer
from agents.context import AgentContext
from agents.graph import build_graph, route_after_agent, route_from_supervisor
from agents.models.scripted import scripted_registry
from agents.plan import Composed, PlannedCall
from agents.planner import Intent, Planner
from agents.runner import BadInput, ask, pending_approvals, resume
from agents.state import ResultValue
from tools.registry import ToolContext, ToolRegistry, tool


class Counter(BaseModel):
    value: int


LEDGER: list[int] = []


@tool(tags=("knowledge",))
def add_numbers(ctx: ToolContext, a: int, b: int) -> Counter:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return Counter(value=a + b)


@tool(mutating=True, tags=("knowledge",), within_bounds=lambda args: args.get("value", 0) <= 10)
def write_ledger(ctx: ToolContext, value: int) -> Counter:
    """Append a value to the ledger (a stand-in plant action).

    Args:
        value: The value to write.
    """
    LEDGER.append(value)
    return Counter(value=value)


def _tools() -> ToolRegistry:
    reg = ToolRegistry()
    reg.add(add_numbers)
    reg.add(write_ledger)
    return reg


def _planner() -> Planner:
    def match_add(text: str, ctx: AgentContext) -> dict | None:
        if text.startswith("add "):
            a, b = text.split()[1:3]
            return {"a": int(a), "b": int(b)}
        return None

    def match_write(text: str, ctx: AgentContext) -> dict | None:
        return {"value": int(text.split()[1])} if text.startswith("write ") else None

    def compose(params: dict, results: list[dict]) -> Composed:
        r = results[-1]
        if not r["ok"]:
            return Composed(result=ResultValue(type="text", value=r["error"]), answer=r["error"])
        v = r["data"]["value"]
        return Composed(result=ResultValue(type="number", value=v), answer=f"The result is {v}.")

    return Planner([
        Intent("add", "knowledge", match_add, lambda p: [PlannedCall(name="add_numbers", args=p)], compose, needs_kg=False),
        Intent("write", "knowledge", match_write, lambda p: [PlannedCall(name="write_ledger", args=p)], compose,
               needs_kg=False),
    ])


def _ctx(policy: str = "require-approval", script=None, supports_tools: bool = False) -> AgentContext:
    models, _ = scripted_registry(script, supports_tools=supports_tools)
    return AgentContext(models=models, tools=_tools(), planner=_planner(), approval_policy=policy)  # type: ignore[arg-type]


def test_routing_functions_are_pure() -> None:
    assert route_from_supervisor({"agent": "diagnosis"}) == "diagnosis"
    assert route_from_supervisor({"agent": "nonsense"}) == "general"
    assert route_after_agent({"handoffs": ["scheduling"]}) == "scheduling"
    assert route_after_agent({"handoffs": []}) == "__end__"


def test_topology_snapshot() -> None:
    mermaid = build_graph().get_graph().draw_mermaid()
    for node in ("supervisor", "general", "knowledge", "diagnosis", "scheduling", "optimization", "placement"):
        assert node in mermaid


def test_planned_tool_call_gives_typed_result() -> None:
    res = ask(build_graph(), _ctx(), "add 2 40")
    assert res.result.type == "number" and res.result.value == 42
    assert [t.name for t in res.tool_calls] == ["add_numbers"] and res.tool_calls[0].ok
    assert res.route.agent == "knowledge"
    assert res.answer == "The result is 42."


def test_general_chat_uses_routed_model() -> None:
    res = ask(build_graph(), _ctx(script=["Hello engineer."]), "good morning")
    assert res.answer.startswith("Hello engineer.")
    assert res.route.agent == "general" and res.route.tier == "edge" and res.route.model == "scripted"
    assert res.usage.completion_tokens > 0


def test_empty_message_is_bad_input() -> None:
    with pytest.raises(BadInput, match="empty"):
        ask(build_graph(), _ctx(), "   ")


def test_thread_continues_across_graph_instances(tmp_path: Path) -> None:
    """Two processes' worth of graphs on the same SQLite file share the thread."""
    db = tmp_path / "checkpoints.sqlite"

    def script(messages, tools):
        humans = [m.content for m in messages if m.type == "human"]
        return f"I have seen {len(humans)} messages: {' | '.join(humans)}"

    with open_checkpointer(path=db) as saver:
        r1 = ask(build_graph(checkpointer=saver), _ctx(script=script), "first question")
    with open_checkpointer(path=db) as saver:
        r2 = ask(build_graph(checkpointer=saver), _ctx(script=script), "second question", thread_id=r1.thread_id)
    assert r2.thread_id == r1.thread_id
    assert "I have seen 2 messages: first question | second question" in r2.answer


@pytest.mark.parametrize(("decision", "ledger", "ok"), [
    ({"decision": "approve", "by": "alice"}, [7], True),
    ({"decision": "reject", "by": "bob", "comment": "not now"}, [], False),
    ({"decision": "edit", "args": {"value": 3}, "by": "carol"}, [3], True),
])
def test_mutating_tool_waits_for_approval_inside_subagent(tmp_path: Path, decision, ledger, ok) -> None:
    LEDGER.clear()
    with open_checkpointer(path=tmp_path / "c.sqlite") as saver:
        graph, ctx = build_graph(checkpointer=saver), _ctx()
        res = ask(graph, ctx, "write 7")
        assert res.pending_approval and res.pending_approval["tool"] == "write_ledger"
        assert res.pending_approval["args"] == {"value": 7}
        assert LEDGER == []  # nothing applied while waiting
    with open_checkpointer(path=tmp_path / "c.sqlite") as saver:  # resume in a "new process"
        graph = build_graph(checkpointer=saver)
        assert pending_approvals(graph, res.thread_id)
        done = resume(graph, ctx, res.thread_id, decision)
    assert LEDGER == ledger
    assert done.tool_calls[0].ok is ok
    assert done.pending_approval is None
    if not ok:
        assert "not now" in done.answer


def test_policy_auto_approves_within_bounds_only() -> None:
    LEDGER.clear()
    graph = build_graph(checkpointer=__import__("langgraph.checkpoint.memory", fromlist=["InMemorySaver"]).InMemorySaver())
    ctx = _ctx(policy="auto-approve-within-bounds")
    res = ask(graph, ctx, "write 5")
    assert res.pending_approval is None and LEDGER == [5] and res.tool_calls[0].approval == "auto"
    res = ask(graph, ctx, "write 50")
    assert res.pending_approval is not None and LEDGER == [5]


def test_native_tool_calling_with_a_tool_capable_model() -> None:
    """A tool-capable routed model (on site) calls tools itself; the trace has the same shape."""

    def script(messages, tools):
        if messages[-1].type == "tool":
            return f"The sum is {messages[-1].content}."
        assert any(t["function"]["name"] == "add_numbers" for t in tools)
        return AIMessage(content="", tool_calls=[{"name": "add_numbers", "args": {"a": 1, "b": 2}, "id": "c1"}])

    ctx = _ctx(script=script, supports_tools=True)
    ctx.planner = Planner([i for i in _planner().intents if i.name == "add"])
    # a question the planner routes to the agent but without planned calls -> native mode
    ctx.planner.intents[0] = Intent("add", "knowledge", lambda t, c: {} if "sum" in t else None, lambda p: [],
                                    ctx.planner.intents[0].compose, needs_kg=False)
    res = ask(build_graph(), ctx, "what is the sum of one and two?")
    assert [t.name for t in res.tool_calls] == ["add_numbers"]
    assert res.answer == 'The sum is {"value": 3}.'
    assert res.route.model == "scripted"

"""Executing the loop's proposed actions through the approval interrupt of ``agents.approvals``.

Each proposed mutating call (create a work order, publish a schedule, write setpoints) is one node
of a small LangGraph graph that runs it with :func:`agents.toolexec.execute_tool_calls`: the tool
call pauses the graph with ``interrupt`` unless the policy approves it, and the caller answers
with ``Command(resume={"decision": ...})``, the same contract the API and the CLI use. One call per
node means an approved call never runs twice when a later one is resumed.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from pydantic import BaseModel

from agents.context import AgentContext
from agents.toolexec import execute_tool_calls

__all__ = ["ActionOutcome", "ProposedAction", "run_actions"]

#: Answers an approval request (the ``ApprovalRequest`` dict) with a decision dict.
Approver = Callable[[dict[str, Any]], dict[str, Any]]


class ProposedAction(BaseModel):
    """A mutating tool call an agent proposes."""

    agent: str
    tool: str
    args: dict[str, Any]
    why: str


class ActionOutcome(BaseModel):
    """What happened to a proposed action."""

    agent: str
    tool: str
    args: dict[str, Any]
    approval: str
    ok: bool
    error: str | None = None
    data: Any = None


class _State(TypedDict, total=False):
    outcomes: Annotated[list[dict[str, Any]], operator.add]


def _node(i: int, action: ProposedAction, ctx: AgentContext) -> Callable[[_State], dict[str, Any]]:
    def run(_state: _State) -> dict[str, Any]:
        msg = AIMessage(content="", tool_calls=[{"name": action.tool, "args": action.args, "id": f"loop-{i}-{action.tool}"}])
        out = execute_tool_calls(ctx, msg, agent=action.agent)
        trace, result = out["traces"][0], out["results"][0]
        return {"outcomes": [ActionOutcome(agent=action.agent, tool=action.tool, args=trace["args"],
                                           approval=trace.get("approval") or "not reached", ok=bool(trace["ok"]),
                                           error=trace.get("error"), data=result.get("data")).model_dump(mode="json")]}

    return run


def run_actions(ctx: AgentContext, actions: list[ProposedAction], approver: Approver) -> list[ActionOutcome]:
    """Run ``actions`` in order, each through the approval interrupt; ``approver`` answers the pauses.

    Args:
        ctx: The run context (its ``approval_policy`` decides what needs a person).
        actions: The proposed mutating calls.
        approver: Called with each pending approval request; returns ``{"decision": ..., "by": ...}``.
    """
    g: StateGraph = StateGraph(_State)
    prev = START
    for i, a in enumerate(actions):
        name = f"{i}_{a.tool}"
        g.add_node(name, _node(i, a, ctx))  # type: ignore[call-overload]
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    graph = g.compile(checkpointer=InMemorySaver())
    config: dict[str, Any] = {"configurable": {"thread_id": "plant-loop"}}
    values: dict[str, Any] = graph.invoke({"outcomes": []}, config)  # type: ignore[arg-type]
    while values.get("__interrupt__"):
        request = values["__interrupt__"][0].value
        values = graph.invoke(Command(resume=approver(request)), config)  # type: ignore[arg-type]
    return [ActionOutcome.model_validate(o) for o in values.get("outcomes", [])]

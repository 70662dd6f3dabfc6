"""Executing the loop's proposed actions through the approval interrupt of ``agents.approvals``.

The proposed mutating calls (create a work order, publish a schedule, write setpoints) run in a
small LangGraph graph of fixed shape: one ``act`` node runs the next action with
:func:`agents.toolexec.execute_tool_calls` and loops until the list is done. The actions travel in
the graph state, so the graph can be rebuilt in any process and resumed from its checkpoint
thread (the runs' SQLite or Postgres checkpointer): a scheduled loop cycle pauses on the first
call its policy does not allow, and ``indagent runs approve`` answers it later, from another
process. One call per super-step means an approved call never runs twice when a later one is
resumed.

A person's decision on a paused plan covers every action still to run (see :func:`plan_decision`):
``approve`` or ``reject`` all, with optional per-tool exceptions.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from agents.approvals import PLAN_TOOL, policy_allows
from agents.context import AgentContext
from agents.toolexec import execute_tool_calls

__all__ = [
    "ActionOutcome",
    "ActionsRun",
    "Approver",
    "ProposedAction",
    "plan_approval",
    "plan_decision",
    "resume_actions",
    "run_actions",
]

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


class ActionsRun(BaseModel):
    """Where the actions graph stands: outcomes so far and, when paused, what waits for a person."""

    outcomes: list[ActionOutcome] = Field(default_factory=list)
    pending: dict[str, Any] | None = Field(None, description="The interrupt payload of the action waiting.")
    remaining: list[ProposedAction] = Field(default_factory=list, description="Actions not run yet (waiting one first).")

    @property
    def paused(self) -> bool:
        """Whether a person must decide before the rest runs."""
        return self.pending is not None


class _State(TypedDict, total=False):
    actions: list[dict[str, Any]]
    index: int
    outcomes: Annotated[list[dict[str, Any]], operator.add]


def _act(state: _State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    i = state.get("index", 0)
    action = ProposedAction.model_validate(state["actions"][i])
    msg = AIMessage(content="", tool_calls=[{"name": action.tool, "args": action.args, "id": f"loop-{i}-{action.tool}"}])
    out = execute_tool_calls(runtime.context, msg, agent=action.agent)
    trace, result = out["traces"][0], out["results"][0]
    outcome = ActionOutcome(agent=action.agent, tool=action.tool, args=trace["args"],
                            approval=trace.get("approval") or "not reached", ok=bool(trace["ok"]),
                            error=trace.get("error"), data=result.get("data"))
    return {"outcomes": [outcome.model_dump(mode="json")], "index": i + 1}


def _next(state: _State) -> str:
    return "act" if state.get("index", 0) < len(state.get("actions", [])) else END


def _graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    g: StateGraph = StateGraph(_State, context_schema=AgentContext)  # type: ignore[arg-type]
    g.add_node("act", _act)  # type: ignore[call-overload]
    g.add_conditional_edges(START, _next, ["act", END])
    g.add_conditional_edges("act", _next, ["act", END])
    return g.compile(checkpointer=checkpointer)


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 50}


def _drive(graph: CompiledStateGraph, ctx: AgentContext, thread_id: str, first: Any,
           approver: Approver | None) -> ActionsRun:
    values: dict[str, Any] = graph.invoke(first, _config(thread_id), context=ctx)  # type: ignore[call-overload]
    while values.get("__interrupt__") and approver is not None:
        request = values["__interrupt__"][0].value
        values = graph.invoke(Command(resume=approver(request)), _config(thread_id), context=ctx)  # type: ignore[call-overload]
    outcomes = [ActionOutcome.model_validate(o) for o in values.get("outcomes", [])]
    if not values.get("__interrupt__"):
        return ActionsRun(outcomes=outcomes)
    state = graph.get_state(_config(thread_id)).values
    remaining = [ProposedAction.model_validate(a) for a in state["actions"][state.get("index", 0):]]
    return ActionsRun(outcomes=outcomes, pending=values["__interrupt__"][0].value, remaining=remaining)


def run_actions(ctx: AgentContext, actions: list[ProposedAction], approver: Approver | None, *,
                checkpointer: BaseCheckpointSaver | None = None, thread_id: str = "plant-loop") -> ActionsRun:
    """Run ``actions`` in order, each through the approval interrupt.

    Args:
        ctx: The run context (its ``approval_policy`` decides what needs a person).
        actions: The proposed mutating calls.
        approver: Answers each pause (``{"decision": ..., "by": ...}``); None stops at the first pause
            (the result is ``paused``; continue with :func:`resume_actions`).
        checkpointer: Where the graph's state is kept (default: in memory, this call only).
        thread_id: The checkpoint thread (unique per loop cycle when the checkpointer is shared).
    """
    graph = _graph(checkpointer or InMemorySaver())
    first = {"actions": [a.model_dump(mode="json") for a in actions], "index": 0, "outcomes": []}
    return _drive(graph, ctx, thread_id, first, approver)


def resume_actions(ctx: AgentContext, checkpointer: BaseCheckpointSaver, thread_id: str,
                   approver: Approver) -> ActionsRun:
    """Continue a paused actions graph from its checkpoint thread (any process).

    Args:
        ctx: The run context (same policy as when it paused).
        checkpointer: The checkpointer the graph paused in.
        thread_id: Its thread.
        approver: Answers the pauses (e.g. ``plan_decision(...)`` for a person's decision on the plan).
    """
    graph = _graph(checkpointer)
    snap = graph.get_state(_config(thread_id))
    if not snap.values:
        raise LookupError(f"No actions checkpoint on thread {thread_id!r}.")
    if not snap.next:  # finished already (e.g. a crash after the last action)
        return ActionsRun(outcomes=[ActionOutcome.model_validate(o) for o in snap.values.get("outcomes", [])])
    first: Any = None
    if any(t.interrupts for t in snap.tasks):
        first = Command(resume=approver(snap.tasks[0].interrupts[0].value))
    return _drive(graph, ctx, thread_id, first, approver)


def plan_approval(run: ActionsRun, ctx: AgentContext, *, call_id: str, summary: str) -> dict[str, Any]:
    """The one approval request of a paused plan: every action still to run, and whether the policy allows it.

    Args:
        run: A paused actions run.
        ctx: The run context (tools and policy).
        call_id: Stable id of this approval (e.g. the run's thread).
        summary: One line saying what the plan is for.
    """
    items = []
    for a in run.remaining:
        allowed = policy_allows(ctx.tools.get(a.tool), a.args, ctx.approval_policy)
        items.append({"tool": a.tool, "agent": a.agent, "why": a.why, "args": a.args,
                      "needs_approval": not allowed})
    return {"kind": "approval", "call_id": call_id, "tool": PLAN_TOOL, "args": {"actions": items},
            "agent": "loop", "description": summary, "policy": ctx.approval_policy}


def plan_decision(decision: dict[str, Any]) -> Approver:
    """An approver that answers every pause of a plan with one person's ``decision``.

    ``{"decision": "approve"|"reject"|"edit", "by"?, "comment"?, "args"?, "tools"?}``: ``tools``
    (``{"write_setpoints": "reject"}``) overrides the decision per tool; an ``edit`` takes ``args``
    keyed by tool (``{"create_work_order": {"priority": "medium"}}``) and approves the others.
    """
    base = {k: decision[k] for k in ("by", "comment") if decision.get(k) is not None}
    per_tool: dict[str, str] = dict(decision.get("tools") or {})
    edits: dict[str, Any] = dict(decision.get("args") or {}) if decision.get("decision") == "edit" else {}

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        tool = str(request.get("tool"))
        if tool in edits and isinstance(edits[tool], dict):
            return {**base, "decision": "edit", "args": edits[tool]}
        verdict = per_tool.get(tool) or decision.get("decision", "reject")
        return {**base, "decision": "approve" if verdict == "edit" else verdict}

    return answer

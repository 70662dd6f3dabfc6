"""Run one user turn through the graph and return the ``indagent ask`` JSON contract."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, Durability

from agents.context import AgentContext
from agents.state import AskResult, ResultValue, RouteInfo, ToolCallTrace, Usage
from tools.errors import IndagentError

__all__ = [
    "CHAT_DURABILITY", "BadInput", "ask", "continue_thread", "new_thread_id", "pending_approvals", "resume", "stream_ask",
    "thread_messages",
]

MAX_MESSAGE_CHARS = 8000

#: How often a turn writes its checkpoint. ``exit`` (chat turns): once, when the turn ends, pauses for an
#: approval or fails; a process that dies mid-turn loses only that turn (its request failed anyway), and a
#: turn costs ~40 % less CPU than with a write per step. Autonomous runs pass ``async`` (a write per step,
#: in the background) so that a run whose worker died continues after its last finished node.
CHAT_DURABILITY: Durability = "exit"


class BadInput(IndagentError):
    """The request itself is wrong (empty message, unknown thread...)."""


def new_thread_id() -> str:
    """A fresh thread id."""
    return f"t_{uuid.uuid4().hex[:16]}"


def _durable(graph: CompiledStateGraph, durability: Durability) -> dict[str, Any]:
    """The ``durability`` keyword, for a graph with a checkpointer only (LangGraph warns otherwise)."""
    return {"durability": durability} if graph.checkpointer else {}


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 40}


def _check_message(text: str, *, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    text = (text or "").strip()
    if not text:
        raise BadInput("The message is empty; ask a question, e.g. 'which assets are downstream of CMP-01?'.")
    if len(text) > max_chars:
        raise BadInput(f"The message has {len(text)} characters; the limit is {max_chars}.")
    return text


def _result(values: dict[str, Any], thread_id: str, t0: float) -> AskResult:
    """Build the contract JSON from the final state values returned by ``invoke``."""
    pending = [i.value for i in values.get("__interrupt__", ())]
    answer = ""
    for m in reversed(values.get("messages", [])):
        if isinstance(m, AIMessage) and str(m.content).strip():
            answer = str(m.content).strip()
            break
        if isinstance(m, HumanMessage):
            break
    result = ResultValue.model_validate(values.get("result") or {"type": "text", "value": answer})
    if pending:
        p = pending[0]
        answer = f"Waiting for approval: {p.get('tool')} {p.get('args')}" if isinstance(p, dict) else str(p)
        result = ResultValue(type="text", value=answer)
    return AskResult(
        answer=answer,
        thread_id=thread_id,
        result=result,
        route=RouteInfo.model_validate(values.get("route") or {}),
        tool_calls=[ToolCallTrace.model_validate(t) for t in values.get("turn_tool_calls") or []],
        usage=Usage.model_validate(values.get("turn_usage") or {}),
        latency_ms=round((time.perf_counter() - t0) * 1000, 3),
        pending_approval=pending[0] if pending else None,
    )


def ask(
    graph: CompiledStateGraph,
    ctx: AgentContext,
    text: str,
    *,
    thread_id: str | None = None,
    max_chars: int = MAX_MESSAGE_CHARS,
    durability: Durability = CHAT_DURABILITY,
) -> AskResult:
    """Ask one question (a new turn of ``thread_id``, or of a new thread).

    Args:
        graph: The compiled graph (with a checkpointer for thread continuity).
        ctx: Run context.
        text: The engineer's message.
        thread_id: Continue this thread; None starts a new one.
        max_chars: Longest accepted message.
        durability: When the checkpoint is written (see :data:`CHAT_DURABILITY`).
    """
    text = _check_message(text, max_chars=max_chars)
    thread_id = thread_id or new_thread_id()
    t0 = time.perf_counter()
    values = graph.invoke({"messages": [HumanMessage(text)]}, _config(thread_id), context=ctx, **_durable(graph, durability))
    return _result(values, thread_id, t0)


def resume(graph: CompiledStateGraph, ctx: AgentContext, thread_id: str, decision: dict[str, Any], *,
           durability: Durability = CHAT_DURABILITY) -> AskResult:
    """Resume a thread paused for approval with ``{"decision": "approve|reject|edit", ...}``."""
    if not pending_approvals(graph, thread_id):
        raise BadInput(f"Thread {thread_id!r} has no pending approval.")
    t0 = time.perf_counter()
    values = graph.invoke(Command(resume=decision), _config(thread_id), context=ctx, **_durable(graph, durability))
    return _result(values, thread_id, t0)


def continue_thread(graph: CompiledStateGraph, ctx: AgentContext, thread_id: str, *,
                    durability: Durability = CHAT_DURABILITY) -> AskResult | None:
    """Continue a turn interrupted by a crash from its last checkpoint (None when nothing is pending)."""
    snap = graph.get_state(_config(thread_id))
    if not snap.values or not snap.next:
        return None
    t0 = time.perf_counter()
    values = graph.invoke(None, _config(thread_id), context=ctx, **_durable(graph, durability))
    return _result(values, thread_id, t0)


def pending_approvals(graph: CompiledStateGraph, thread_id: str) -> list[dict[str, Any]]:
    """The approval requests a thread is waiting on."""
    snap = graph.get_state(_config(thread_id))
    return [i.value for task in snap.tasks for i in task.interrupts] if snap.tasks else []


def thread_messages(graph: CompiledStateGraph, thread_id: str) -> list[dict[str, Any]]:
    """The messages of a thread as ``{role, content}`` dicts (empty for an unknown thread)."""
    snap = graph.get_state(_config(thread_id))
    out = []
    for m in (snap.values or {}).get("messages", []):
        out.append({"role": m.type, "content": str(m.content), "name": getattr(m, "name", None)})
    return out


def stream_ask(
    graph: CompiledStateGraph, ctx: AgentContext, text: str, *, thread_id: str | None = None,
    resume_with: dict[str, Any] | None = None, max_chars: int = MAX_MESSAGE_CHARS,
    durability: Durability = CHAT_DURABILITY,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Run a turn and yield ``(event, data)``: route, tool_call, tool_result, token, approval_required, final."""
    thread_id = thread_id or new_thread_id()
    t0 = time.perf_counter()
    payload: Any = Command(resume=resume_with) if resume_with is not None else {
        "messages": [HumanMessage(_check_message(text, max_chars=max_chars))]
    }
    seen_route = None
    for mode, chunk in graph.stream(
        payload, _config(thread_id), context=ctx, stream_mode=["updates", "messages"], subgraphs=False,
        **_durable(graph, durability),
    ):
        if mode == "messages":
            msg, _meta = chunk
            if isinstance(msg, AIMessageChunk) and msg.content:
                yield "token", {"text": str(msg.content)}
            continue
        for node, update in (chunk or {}).items():
            if node == "__interrupt__":
                for it in update:
                    yield "approval_required", {"thread_id": thread_id, **(it.value if isinstance(it.value, dict) else {})}
                continue
            if not isinstance(update, dict):
                continue
            route = update.get("route")
            if route and route != seen_route:
                seen_route = route
                yield "route", route
            for tc in update.get("turn_tool_calls") or []:
                yield "tool_call", {"name": tc["name"], "args": tc["args"]}
                yield "tool_result", {"name": tc["name"], "ok": tc["ok"], "error": tc.get("error")}
    snap = graph.get_state(_config(thread_id))
    values = dict(snap.values or {})
    values["__interrupt__"] = [i for task in snap.tasks for i in task.interrupts]
    yield "final", _result(values, thread_id, t0).model_dump(mode="json")

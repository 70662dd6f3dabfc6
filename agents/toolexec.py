"""Execute tool calls: validate, ask for approval when mutating, run, trace.

Used by every specialist agent. Errors are data here: ``ToolRetry`` / ``ToolFailed`` become a
failed trace entry and a tool message telling the model (or the composer) what went wrong.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from pydantic import BaseModel

from agents.approvals import decide
from agents.context import AgentContext
from tools.errors import IndagentError, ToolFailed, ToolRetry

__all__ = ["execute_tool_calls", "result_to_jsonable"]

_MAX_TOOL_MESSAGE = 4000


def result_to_jsonable(value: Any) -> Any:
    """Tool results (pydantic models, lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [result_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: result_to_jsonable(v) for k, v in value.items()}
    return value


def execute_tool_calls(ctx: AgentContext, message: AIMessage, *, agent: str) -> dict[str, Any]:
    """Run every tool call of ``message``; returns state updates (messages, trace, results).

    Mutating tools pause the graph with an approval interrupt unless policy allows them; on
    resume the node re-runs, read-only calls are repeated (they are pure) and the approved
    call proceeds with the (possibly edited) arguments.
    """
    tool_messages: list[ToolMessage] = []
    traces: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for call in message.tool_calls:
        name, args = call["name"], dict(call.get("args") or {})
        call_id = call.get("id") or name
        trace: dict[str, Any] = {"name": name, "args": args, "ok": False, "error": None, "mutating": False}
        try:
            tool = ctx.tools.get(name)
            trace["mutating"] = tool.mutating
            tool.validate_args(args)
            if tool.mutating:
                verdict = decide(tool, args, call_id=call_id, agent=agent, policy=ctx.approval_policy)
                if verdict.decision == "reject":
                    trace["approval"] = "rejected"
                    raise ToolFailed(f"Rejected by {verdict.by}" + (f": {verdict.comment}" if verdict.comment else ""))
                if verdict.decision == "edit" and verdict.args:
                    args = {**args, **verdict.args}
                    trace["args"] = args
                    trace["approval"] = "edited"
                else:
                    trace["approval"] = "auto" if verdict.by.startswith("policy:") else "approved"
            value = tool(ctx.tool_context(), **args)
            data = result_to_jsonable(value)
            trace["ok"] = True
            results.append({"call_id": call_id, "name": name, "args": args, "ok": True, "data": data})
            content = json.dumps(data, default=str)
        except (ToolRetry, ToolFailed, IndagentError) as exc:
            trace["error"] = str(exc)
            results.append({"call_id": call_id, "name": name, "args": args, "ok": False, "error": str(exc)})
            content = f"ERROR: {exc}"
        traces.append(trace)
        if len(content) > _MAX_TOOL_MESSAGE:
            content = content[:_MAX_TOOL_MESSAGE] + " ...(truncated)"
        tool_messages.append(ToolMessage(content=content, tool_call_id=call_id, name=name))
    return {"messages": tool_messages, "traces": traces, "results": results}

"""Graph state (per thread, checkpointed) and the typed trace/answer models."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field

__all__ = [
    "AgentName",
    "AgentState",
    "AskResult",
    "ResultType",
    "ResultValue",
    "RouteInfo",
    "ToolCallTrace",
    "Usage",
]

AgentName = Literal["general", "knowledge", "diagnosis", "scheduling", "optimization", "placement"]
ResultType = Literal["text", "count", "number", "boolean", "list", "table"]


class ResultValue(BaseModel):
    """The typed final answer (what evals grade)."""

    type: ResultType = "text"
    value: Any = None


class RouteInfo(BaseModel):
    """Which agent and which model answered, and why."""

    agent: str = "general"
    model: str = ""
    tier: str = ""
    reason: str = ""
    degraded: bool = False


class ToolCallTrace(BaseModel):
    """One tool call of a turn."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    error: str | None = None
    mutating: bool = False
    approval: Literal["approved", "rejected", "edited", "auto"] | None = None


class Usage(BaseModel):
    """Token counts of a turn (all model calls summed)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class AskResult(BaseModel):
    """The JSON contract of ``indagent ask --json`` and ``POST /v1/chat``."""

    answer: str
    thread_id: str
    result: ResultValue = Field(default_factory=ResultValue)
    route: RouteInfo = Field(default_factory=RouteInfo)
    tool_calls: list[ToolCallTrace] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    pending_approval: dict[str, Any] | None = None


def _replace(_old: Any, new: Any) -> Any:
    return new


class AgentState(TypedDict, total=False):
    """Per-thread state; everything here is checkpointed.

    ``turn_*`` keys are reset by the supervisor at the start of every user turn.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    agent: str
    handoffs: list[str]
    route: dict[str, Any]
    result: dict[str, Any]
    turn_tool_calls: list[dict[str, Any]]
    turn_usage: dict[str, int]
    plan: dict[str, Any] | None
    context: dict[str, Any]

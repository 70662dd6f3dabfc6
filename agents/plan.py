"""Plan data: what the supervisor decided for one turn (serializable, checkpointed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agents.state import ResultValue

__all__ = ["Composed", "Plan", "PlannedCall"]


class PlannedCall(BaseModel):
    """A tool call chosen by the offline planner."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Plan(BaseModel):
    """The supervisor's plan for a turn: which agent, which intent, which tool calls."""

    agent: str = "general"
    intent: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    calls: list[PlannedCall] = Field(default_factory=list)
    handoff: list[str] = Field(default_factory=list, description="Agents to run after this one.")
    note: str | None = None


class Composed(BaseModel):
    """A typed answer composed from tool results."""

    result: ResultValue
    answer: str

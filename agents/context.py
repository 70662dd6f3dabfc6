"""Runtime context of a graph run: immutable dependencies, not checkpointed state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agents.models.base import ModelRegistry
from agents.models.health import CircuitBreaker
from tools.registry import ToolContext, ToolRegistry

if TYPE_CHECKING:
    from agents.planner import Planner
    from knowledge.store import KnowledgeStore

__all__ = ["AgentContext", "ApprovalPolicy"]

ApprovalPolicy = Literal["require-approval", "auto-approve-within-bounds", "auto-approve"]


@dataclass
class AgentContext:
    """What every node may use: models, tools, the knowledge graph, policy.

    Attributes:
        models: Registered chat models.
        tools: Registered tools.
        breaker: Cloud health (circuit breaker), shared across runs.
        kg: The knowledge store, or None (then KG questions get an honest "no data").
        data_dir: Where plots and reports are written.
        now: The clock for relative dates ("last week"); None = latest data time.
        requested_model: auto | edge | cloud | a model name, from the caller.
        latency_budget_ms: Budget for one model call.
        site_region: Region of this plant; sovereign data stays here.
        approval_policy: What mutating tools may do without a person.
        actor: Who is asking (API key id, "cli", "scheduler").
        phrase_answers: Let the routed model rephrase planner answers (numbers are kept).
        planner: The offline planner (None = every turn goes to the general assistant).
    """

    models: ModelRegistry
    tools: ToolRegistry
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    kg: KnowledgeStore | None = None
    data_dir: Path | None = None
    now: datetime | None = None
    requested_model: str = "auto"
    latency_budget_ms: float = 15000.0
    site_region: str = "site"
    approval_policy: ApprovalPolicy = "require-approval"
    actor: str = "cli"
    phrase_answers: bool = False
    planner: Planner | None = None

    def tool_context(self) -> ToolContext:
        """The dependencies handed to tools."""
        return ToolContext(kg=self.kg, now=self.now, data_dir=self.data_dir, actor=self.actor)

"""Offline planner: recognise an engineer's intent, link entities against the KG, plan tool calls.

Works with no capable model at all: intents are small pattern-and-linking rules
(:class:`Intent`) registered per agent in ``agents/intents/``; each one produces the tool calls
and, after they ran, composes the typed result and a plain answer from the tool results. A
capable tool-calling model (when routed) is used instead by the agents; both paths produce the
same trace shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.context import AgentContext
from agents.plan import Composed, Plan, PlannedCall
from agents.state import ResultValue

__all__ = ["INTENT_MODULES", "Intent", "Planner", "default_planner"]

#: Modules defining ``INTENTS: list[Intent]`` (missing modules are skipped).
INTENT_MODULES: tuple[str, ...] = (
    "agents.intents.diagnosis",
    "agents.intents.scheduling",
    "agents.intents.optimization",
    "agents.intents.placement",
    "agents.intents.workorders",
    "agents.intents.kg",
)

MatchFn = Callable[[str, AgentContext], "dict[str, Any] | None"]
CallsFn = Callable[[dict[str, Any]], list[PlannedCall]]
ComposeFn = Callable[[dict[str, Any], list[dict[str, Any]]], Composed]


@dataclass(frozen=True)
class Intent:
    """One kind of question the planner can answer without a capable model.

    Attributes:
        name: Stable id (shows in traces and evals).
        agent: Which specialist agent handles it.
        match: Returns the linked parameters when the text is this intent, else None.
        calls: The tool calls for those parameters.
        compose: The typed result and answer from the tool results.
        example: A question it answers (used in "I can ..." suggestions).
    """

    name: str
    agent: str
    match: MatchFn
    calls: CallsFn
    compose: ComposeFn
    example: str = ""
    needs_kg: bool = True


@dataclass
class Planner:
    """Ordered intents; the first that matches wins."""

    intents: list[Intent] = field(default_factory=list)

    def plan(self, text: str, ctx: AgentContext) -> Plan:
        """Plan one user turn (agent ``general`` when no intent matches)."""
        for intent in self.intents:
            if intent.needs_kg and ctx.kg is None:
                continue
            params = intent.match(text, ctx)
            if params is not None:
                return Plan(agent=intent.agent, intent=intent.name, params=params, calls=intent.calls(params))
        return Plan(agent="general")

    def compose(self, plan: Plan, results: list[dict[str, Any]]) -> Composed:
        """The typed answer of a planned turn."""
        intent = self.get(plan.intent)
        if intent is None:
            return Composed(result=ResultValue(type="text", value=""), answer="")
        failed = [r for r in results if not r.get("ok")]
        if failed and len(failed) == len(results):
            msg = "; ".join(str(r.get("error")) for r in failed)
            return Composed(result=ResultValue(type="text", value=msg), answer=msg)
        return intent.compose(plan.params, results)

    def get(self, name: str | None) -> Intent | None:
        """The intent called ``name``."""
        return next((i for i in self.intents if i.name == name), None)

    def suggestions(self, *, limit: int = 6) -> list[str]:
        """Example questions the planner can answer."""
        seen: list[str] = []
        for i in self.intents:
            if i.example and i.example not in seen:
                seen.append(i.example)
        return seen[:limit]


def default_planner(modules: tuple[str, ...] = INTENT_MODULES) -> Planner:
    """The planner with every intent module that exists."""
    from tools.registry import import_present

    intents: list[Intent] = []
    for mod in import_present(modules):
        intents.extend(getattr(mod, "INTENTS", []))
    return Planner(intents)

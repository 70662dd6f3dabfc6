"""Routed model calls with fallback: a failing cloud call opens the breaker and the edge answers."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from agents.context import AgentContext
from agents.models.router import RouteDecision, RouteRequest, TaskClass, route

__all__ = ["call_model", "estimate_tokens", "task_class_of"]

_LARGE_HINTS = ("plan", "why", "explain", "compare", "strategy", "trade-off", "tradeoff", "step by step", "analy")


def estimate_tokens(messages: list[BaseMessage]) -> int:
    """A cheap token estimate (about 4 characters per token) for routing."""
    return sum(len(str(m.content)) for m in messages) // 4 + 8 * len(messages)


def task_class_of(text: str, prompt_tokens: int) -> TaskClass:
    """Classify a request as ``small`` (classify/extract/short answer) or ``large`` (reasoning, long context)."""
    low = text.lower()
    if prompt_tokens > 1500 or len(low) > 600 or any(h in low for h in _LARGE_HINTS):
        return "large"
    return "small"


def _cloud_errors() -> tuple[type[BaseException], ...]:
    import openai

    return (openai.APIConnectionError, openai.APITimeoutError, openai.InternalServerError, openai.RateLimitError)


def call_model(
    ctx: AgentContext,
    messages: list[BaseMessage],
    *,
    task: TaskClass,
    sensitivity: str = "internal",
    output_tokens: int = 128,
    tools: list[dict[str, Any]] | None = None,
) -> tuple[RouteDecision, AIMessage]:
    """Route, call and fall back: the edge answers (``degraded``) when the cloud fails.

    Args:
        ctx: Run context (models, breaker, requested model, budget).
        messages: The prompt.
        task: small or large.
        sensitivity: public | internal | sovereign (sovereign never goes to a cloud model).
        output_tokens: Expected answer length.
        tools: OpenAI tool specs to bind when the chosen model supports tools.
    """
    req = RouteRequest(
        task=task,
        prompt_tokens=estimate_tokens(messages),
        output_tokens=output_tokens,
        sensitivity=sensitivity,  # type: ignore[arg-type]
        latency_budget_ms=ctx.latency_budget_ms,
        requested=ctx.requested_model,
        site_region=ctx.site_region,
    )
    decision = route(req, ctx.models, ctx.breaker)
    spec = ctx.models.spec(decision.model)
    model: Any = ctx.models.get(decision.model)
    if tools and spec.supports_tools:
        model = model.bind_tools(tools)
    if spec.tier != "cloud":
        return decision, model.invoke(messages)
    if not ctx.breaker.begin():
        return _fallback(ctx, req, messages, decision, "cloud circuit breaker open")
    try:
        msg = model.invoke(messages)
    except _cloud_errors() as exc:
        ctx.breaker.record_failure()
        return _fallback(ctx, req, messages, decision, f"cloud call failed: {type(exc).__name__}")
    ctx.breaker.record_success()
    return decision, msg


def _fallback(
    ctx: AgentContext, req: RouteRequest, messages: list[BaseMessage], failed: RouteDecision, why: str
) -> tuple[RouteDecision, AIMessage]:
    local = route(req.model_copy(update={"requested": "auto"}), ctx.models, ctx.breaker)
    if local.tier == "cloud":  # breaker still closed after one failure: force a local model
        local = route(req.model_copy(update={"requested": "edge"}), ctx.models, None)
    decision = local.model_copy(update={"degraded": True, "reason": f"{why}; {failed.model} -> {local.model} ({local.reason})"})
    return decision, ctx.models.get(local.model).invoke(messages)

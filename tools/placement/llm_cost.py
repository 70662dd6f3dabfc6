"""Cost of one LLM call on a tier: the pure function the model router scores candidates with.

Kept tiny and allocation-light (a frozen slotted dataclass in, one out; no pydantic, no numpy):
the router calls it once per candidate model per request (< 10 us each).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LlmCallEstimate", "TierProfile", "estimate_llm_call"]


@dataclass(frozen=True, slots=True)
class TierProfile:
    """Measured/declared figures of one model on one tier.

    Attributes:
        tokens_per_s: Measured generation speed (output tokens/s).
        prompt_tokens_per_s: Measured prompt-processing speed (tokens/s).
        link_latency_ms: Network round trip to the serving node (0 on device).
        power_w: Power drawn while serving (W), the node's share.
        grid_g_per_kwh: Grid carbon intensity where it runs (gCO2/kWh).
        pue: Power usage effectiveness of the site (1.0 on a device).
        cost_per_1k_tokens: Price per 1,000 tokens (prompt + output), any currency.
    """

    tokens_per_s: float
    prompt_tokens_per_s: float
    link_latency_ms: float = 0.0
    power_w: float = 0.0
    grid_g_per_kwh: float = 0.0
    pue: float = 1.0
    cost_per_1k_tokens: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens_per_s <= 0 or self.prompt_tokens_per_s <= 0:
            raise ValueError("tokens_per_s and prompt_tokens_per_s must be > 0 (measure them first)")


@dataclass(frozen=True, slots=True)
class LlmCallEstimate:
    """Expected latency, energy, carbon and cost of one call."""

    latency_ms: float
    energy_wh: float
    carbon_g: float
    cost: float


def estimate_llm_call(profile: TierProfile, prompt_tokens: int, output_tokens: int) -> LlmCallEstimate:
    """Estimate one call: latency = link + prompt/pp_speed + output/speed; energy = power x busy time x PUE.

    Args:
        profile: The tier/model figures.
        prompt_tokens: Tokens in the prompt.
        output_tokens: Tokens expected in the answer.
    """
    busy_s = prompt_tokens / profile.prompt_tokens_per_s + output_tokens / profile.tokens_per_s
    energy_wh = profile.power_w * busy_s / 3600.0 * profile.pue
    return LlmCallEstimate(
        latency_ms=profile.link_latency_ms + busy_s * 1000.0,
        energy_wh=energy_wh,
        carbon_g=energy_wh / 1000.0 * profile.grid_g_per_kwh,
        cost=(prompt_tokens + output_tokens) / 1000.0 * profile.cost_per_1k_tokens,
    )

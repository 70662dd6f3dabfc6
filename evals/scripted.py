"""Scripted model registries for suites that assert routing without real models (CI, tests).

``scripted``: a scripted edge model (SmolLM2-sized, on site, no tool calling) and a scripted
cloud model (large, off site, tool calling) — the shape of a real edge + cloud deployment, so the
real router decides between them. ``scripted-cloud-down``: the same, but every cloud call fails
with a connection error, so the fallback path (circuit breaker, degraded edge answer) runs.
The scripts answer deterministically and say which model spoke.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage

from agents.models.base import ModelRegistry, ModelSpec
from agents.models.scripted import ScriptedChatModel
from evals.cases import ModelsKind
from tools.errors import ConfigError

__all__ = ["CLOUD_NAME", "EDGE_NAME", "scripted_models"]

EDGE_NAME = "scripted-edge"
CLOUD_NAME = "scripted-cloud"


def _speaker(name: str):
    def script(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        last = next((m for m in reversed(messages) if m.type == "human"), None)
        words = str(last.content).split() if last is not None else []
        return AIMessage(content=f"[{name}] noted: {' '.join(words[:12])}")

    return script


def _unreachable(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    raise openai.APIConnectionError(request=request)  # type: ignore[arg-type]


def scripted_models(kind: ModelsKind) -> ModelRegistry:
    """A registry of deterministic scripted models (``scripted`` or ``scripted-cloud-down``).

    Args:
        kind: Which scripted deployment.
    """
    if kind not in ("scripted", "scripted-cloud-down"):
        raise ConfigError(f"No scripted registry {kind!r}; use 'scripted' or 'scripted-cloud-down'.")
    reg = ModelRegistry()
    edge = ScriptedChatModel(fn=_speaker(EDGE_NAME))
    cloud = ScriptedChatModel(fn=_unreachable if kind == "scripted-cloud-down" else _speaker(CLOUD_NAME))
    reg.register(
        ModelSpec(name=EDGE_NAME, backend="scripted", tier="edge", params_b=0.135, context=2048, region="site",
                  cost_per_1k_tokens=0.0, tokens_per_s=60.0, prompt_tokens_per_s=480.0, link_latency_ms=0.5),
        lambda: edge,
        aliases=("edge",),
    )
    reg.register(
        ModelSpec(name=CLOUD_NAME, backend="scripted", tier="cloud", params_b=70.0, context=128000,
                  supports_tools=True, supports_json=True, cost_per_1k_tokens=0.002, region="cloud",
                  tokens_per_s=60.0, prompt_tokens_per_s=1200.0, link_latency_ms=80.0),
        lambda: cloud,
        aliases=("cloud",),
    )
    return reg

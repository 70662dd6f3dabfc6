"""Model specs, the model registry (like simonw/llm's) and shared message helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from pydantic import BaseModel, Field

from tools.errors import ConfigError, IndagentError

__all__ = [
    "Backend",
    "ModelRegistry",
    "ModelSpec",
    "Tier",
    "UnknownModelError",
    "openai_tool_specs",
    "to_openai_messages",
    "usage_of",
]

Tier = Literal["device", "edge", "cloud"]
Backend = Literal["llamacpp", "openai", "scripted"]


class UnknownModelError(IndagentError):
    """A model name that is not registered; the message lists the known ones."""


class ModelSpec(BaseModel):
    """What the router needs to know about a model (declared, or measured at start-up)."""

    name: str
    backend: Backend
    tier: Tier
    params_b: float = Field(0.0, ge=0, description="Parameter count in billions.")
    context: int = Field(2048, ge=1, description="Context window in tokens.")
    supports_tools: bool = False
    supports_json: bool = False
    cost_per_1k_tokens: float = Field(0.0, ge=0)
    region: str = "site"
    tokens_per_s: float = Field(50.0, gt=0, description="Decode speed (measured when possible).")
    prompt_tokens_per_s: float = Field(500.0, gt=0, description="Prompt processing speed.")
    link_latency_ms: float = Field(0.0, ge=0, description="Network round trip to reach the model.")
    power_w: float = Field(0.0, ge=0, description="Power drawn while serving (W), for energy/carbon estimates.")
    grid_g_per_kwh: float = Field(0.0, ge=0, description="Grid carbon intensity where it runs (gCO2/kWh).")
    pue: float = Field(1.0, ge=1.0, description="Power usage effectiveness of the site.")
    aliases: tuple[str, ...] = ()


@dataclass
class _Entry:
    spec: ModelSpec
    factory: Callable[[], BaseChatModel]
    instance: BaseChatModel | None = None


@dataclass
class ModelRegistry:
    """Registered models by name and alias; instances are built lazily and shared."""

    _entries: dict[str, _Entry] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(
        self, spec: ModelSpec, factory: Callable[[], BaseChatModel], *, aliases: Iterable[str] = ()
    ) -> ModelSpec:
        """Register a model under its name and aliases.

        Args:
            spec: The model's declared attributes.
            factory: Builds the chat model on first use.
            aliases: Extra names (e.g. ``edge``, ``cloud``).
        """
        if spec.name in self._entries:
            raise ConfigError(f"Model {spec.name!r} is registered twice; give each model a unique name.")
        self._entries[spec.name] = _Entry(spec, factory)
        for alias in (*spec.aliases, *aliases):
            self._aliases[alias] = spec.name
        return spec

    def resolve(self, name: str) -> str:
        """The canonical model name of ``name`` (a name or an alias)."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted({*self._entries, *self._aliases})
        raise UnknownModelError(f"Unknown model {name!r}; known models: {', '.join(known) or '(none)'}")

    def spec(self, name: str) -> ModelSpec:
        """The spec of a model by name or alias."""
        return self._entries[self.resolve(name)].spec

    def update_spec(self, name: str, **fields: object) -> ModelSpec:
        """Replace declared attributes with measured ones (e.g. ``tokens_per_s``) for the router."""
        entry = self._entries[self.resolve(name)]
        entry.spec = entry.spec.model_copy(update=fields)
        return entry.spec

    def specs(self, *, tier: Tier | None = None) -> list[ModelSpec]:
        """All specs, optionally of one tier."""
        return [e.spec for e in self._entries.values() if tier is None or e.spec.tier == tier]

    def get(self, name: str) -> BaseChatModel:
        """The (shared, lazily built) chat model for ``name``."""
        entry = self._entries[self.resolve(name)]
        with self._lock:
            if entry.instance is None:
                entry.instance = entry.factory()
            return entry.instance

    def names(self) -> list[str]:
        """Canonical names of all registered models."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._aliases)


def openai_tool_specs(tools: Sequence[Any]) -> list[dict[str, Any]]:
    """Tool definitions (OpenAI dicts, pydantic models, functions, LangChain tools) as OpenAI tool specs."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return [t if isinstance(t, dict) and "function" in t else convert_to_openai_tool(t) for t in tools]


def to_openai_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages -> OpenAI chat dicts (tool calls and tool results included)."""
    out = convert_to_openai_messages(messages)
    return out if isinstance(out, list) else [out]


def usage_of(message: BaseMessage) -> tuple[int, int]:
    """(prompt_tokens, completion_tokens) reported on an AI message, or (0, 0)."""
    if isinstance(message, AIMessage) and message.usage_metadata:
        return int(message.usage_metadata.get("input_tokens", 0)), int(message.usage_metadata.get("output_tokens", 0))
    return 0, 0

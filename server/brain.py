"""Wiring: settings -> models, tools, knowledge store, planner, checkpointer, graph.

The CLI and the FastAPI lifespan both open a :class:`Brain`; nothing below reads settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from langgraph.graph.state import CompiledStateGraph

from agents.context import AgentContext, ApprovalPolicy
from agents.graph import build_graph
from agents.models import CircuitBreaker, CloudConfig, EdgeConfig, ModelRegistry, build_registry
from agents.planner import Planner, default_planner
from knowledge.store import KnowledgeStore
from server.settings import Settings
from tools.errors import ConfigError
from tools.registry import ToolRegistry, default_registry

__all__ = ["Brain", "cloud_config", "edge_config", "measure_edge_speed", "open_brain", "open_kg"]


def edge_config(settings: Settings) -> EdgeConfig:
    """The edge model from settings (speed: settings, else the measured file, else a default)."""
    speed = settings.edge_tokens_per_s or _cached_speed(settings) or 85.0
    return EdgeConfig(
        name=settings.edge_model_name,
        path=settings.edge_model_path,
        n_ctx=settings.edge_n_ctx,
        threads=settings.edge_threads,
        max_tokens=settings.edge_max_tokens,
        tokens_per_s=speed,
        region=settings.site_region,
    )


def cloud_config(settings: Settings) -> CloudConfig | None:
    """The cloud model, when INDAGENT_CLOUD_BASE_URL and INDAGENT_CLOUD_MODEL are set."""
    if not settings.cloud_base_url or not settings.cloud_model:
        return None
    return CloudConfig(
        base_url=settings.cloud_base_url,
        model=settings.cloud_model,
        **({"api_key": settings.cloud_api_key} if settings.cloud_api_key else {}),
        region=settings.cloud_region,
        timeout_s=settings.cloud_timeout_s,
        max_retries=settings.cloud_max_retries,
        context=settings.cloud_context,
        cost_per_1k_tokens=settings.cloud_cost_per_1k_tokens,
        tokens_per_s=settings.cloud_tokens_per_s,
    )


def _speed_file(settings: Settings) -> Path:
    return settings.data_dir / "model_speed.json"


def _cached_speed(settings: Settings) -> float | None:
    f = _speed_file(settings)
    try:
        data = json.loads(f.read_text())
        return float(data[settings.edge_model_name]["tokens_per_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def measure_edge_speed(settings: Settings, models: ModelRegistry, *, tokens: int = 24) -> float:
    """Measure the edge model's decode speed (tokens/s), give it to the router and cache it under the data dir."""
    model = models.get("edge")
    t0 = time.perf_counter()
    msg = model.invoke("Count from one to twenty in words.", max_tokens=tokens, temperature=0.0)
    dt = max(time.perf_counter() - t0, 1e-6)
    n = (msg.usage_metadata or {}).get("output_tokens", 0) or tokens
    speed = round(n / dt, 2)
    f = _speed_file(settings)
    f.parent.mkdir(parents=True, exist_ok=True)
    data = {}
    if f.exists():
        try:
            data = json.loads(f.read_text())
        except ValueError:
            data = {}
    data[settings.edge_model_name] = {"tokens_per_s": speed, "measured_at": time.time()}
    f.write_text(json.dumps(data, indent=2))
    models.update_spec("edge", tokens_per_s=speed, prompt_tokens_per_s=speed * 8)
    return speed


def open_kg(settings: Settings, *, read_only: bool = False, required: bool = False) -> KnowledgeStore | None:
    """Open the knowledge graph file (None when it does not exist and is not required)."""
    path = settings.kg_path
    if not path.exists():
        if required:
            raise ConfigError(f"No knowledge graph at {path}; run 'indagent kg demo' or 'indagent kg init'.")
        if read_only:
            return None
    try:
        return KnowledgeStore(path, read_only=read_only)
    except ConfigError:
        if read_only:
            raise
        return KnowledgeStore(path, read_only=True)  # another process is the writer


@dataclass
class Brain:
    """Everything a turn needs, opened once per process."""

    settings: Settings
    graph: CompiledStateGraph
    models: ModelRegistry
    tools: ToolRegistry
    planner: Planner
    kg: KnowledgeStore | None
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)

    def context(
        self, *, requested_model: str = "auto", actor: str = "cli", approval_policy: ApprovalPolicy | None = None
    ) -> AgentContext:
        """A run context for one request (``approval_policy`` None = the configured one)."""
        if requested_model not in ("auto", "edge", "cloud", "device"):
            self.models.resolve(requested_model)  # raises UnknownModelError listing the known ones
        return AgentContext(
            models=self.models,
            tools=self.tools,
            breaker=self.breaker,
            kg=self.kg,
            data_dir=self.settings.reports_dir,
            requested_model=requested_model,
            latency_budget_ms=self.settings.latency_budget_ms,
            site_region=self.settings.site_region,
            approval_policy=approval_policy or self.settings.approval_policy,
            actor=actor,
            planner=self.planner,
        )


@contextmanager
def open_brain(
    settings: Settings,
    *,
    models: ModelRegistry | None = None,
    kg: KnowledgeStore | None = None,
    kg_read_only: bool = False,
) -> Iterator[Brain]:
    """Open models, tools, the KG and the checkpointer; close them on exit.

    Args:
        settings: The configuration.
        models: Use this registry instead of the one from settings (tests, evals).
        kg: Use this open store instead of opening the configured file.
        kg_read_only: Open the configured KG read-only.
    """
    from agents.checkpoint import open_checkpointer

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if models is None:
            models = build_registry(edge_config(settings), cloud_config(settings))
        store = kg if kg is not None else open_kg(settings, read_only=kg_read_only)
        if kg is None and store is not None:
            stack.callback(store.close)
        saver = stack.enter_context(open_checkpointer(path=settings.checkpoint_path, url=settings.checkpoint_url))
        breaker = CircuitBreaker(failures=settings.breaker_failures, reset_s=settings.breaker_reset_s)
        yield Brain(
            settings=settings,
            graph=build_graph(checkpointer=saver),
            models=models,
            tools=default_registry(),
            planner=default_planner(),
            kg=store,
            breaker=breaker,
        )

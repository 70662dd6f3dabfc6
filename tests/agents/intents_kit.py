"""Helpers for the intent tests: a demo plant per test module and an agent context on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Literal

import pytest

from agents.context import AgentContext
from agents.models.scripted import scripted_registry
from agents.planner import Planner
from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from tools.registry import default_registry

__all__ = ["agent_context", "demo_store"]


def demo_store(factory: pytest.TempPathFactory, scale: Literal["tiny", "small"]) -> Iterator[KnowledgeStore]:
    """A writable store holding the seed-0 demo plant (for a module-scoped fixture)."""
    with KnowledgeStore(factory.mktemp(f"demo-{scale}") / "kg.duckdb") as store:
        build_demo(store, seed=0, scale=scale)
        yield store


def agent_context(kg: KnowledgeStore | None, planner: Planner, data_dir: Path, now: datetime | None) -> AgentContext:
    """The context `indagent ask` would build: scripted edge model, every tool, the offline planner."""
    return AgentContext(models=scripted_registry()[0], tools=default_registry(), kg=kg, planner=planner,
                        data_dir=data_dir, now=now)

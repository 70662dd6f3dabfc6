"""Shared helpers for the knowledge-graph tests: a tiny demo plant built once per module."""

from __future__ import annotations

from pathlib import Path

from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kg"


def build_tiny(path: Path, seed: int = 0) -> Path:
    """Build the tiny demo plant into a DuckDB file and close it."""
    with KnowledgeStore(path) as kg:
        build_demo(kg, seed=seed, scale="tiny")
    return path

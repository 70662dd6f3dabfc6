"""Prompts live in Markdown files next to this module."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["load_prompt"]


@cache
def load_prompt(name: str) -> str:
    """The text of ``agents/prompts/<name>.md``."""
    return (resources.files("agents.prompts") / f"{name}.md").read_text(encoding="utf-8").strip()

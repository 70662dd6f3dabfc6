"""What the server test helpers share: a real brain around the scripted model and a test planner.

``tests/server/conftest_api.py`` (HTTP tests) and ``tests/server/conftest_runs.py`` (scheduled
runs) each define their own test-only tools and planner intents; both compose answers and open
the brain the same way, here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agents.checkpoint import open_checkpointer
from agents.graph import build_graph
from agents.models.scripted import scripted_registry
from agents.plan import Composed
from agents.planner import Planner
from agents.state import ResultValue
from knowledge.store import KnowledgeStore
from server.brain import Brain
from server.settings import Settings
from tools.registry import ToolRegistry

__all__ = ["compose_value", "open_scripted_brain"]


def compose_value(params: dict[str, Any], results: list[dict[str, Any]]) -> Composed:
    """Answer with the last tool result's ``value`` ("The result is 42."), or its error."""
    r = results[-1]
    if not r["ok"]:
        return Composed(result=ResultValue(type="text", value=r["error"]), answer=r["error"])
    v = r["data"]["value"]
    return Composed(result=ResultValue(type="number", value=v), answer=f"The result is {v}.")


@contextmanager
def open_scripted_brain(settings: Settings, *, script: Any, tools: ToolRegistry, planner: Planner,
                        kg: KnowledgeStore | None) -> Iterator[Brain]:
    """A real brain: the graph on the SQLite checkpointer under the data dir, the scripted model.

    Args:
        settings: Where the checkpoints live (``settings.checkpoint_path``).
        script: The scripted model's turns or ``(messages, tools) -> reply`` function.
        tools: The test tools.
        planner: The test planner (its intents call ``tools``).
        kg: The knowledge graph handle (the caller opens and closes it).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    models, _ = scripted_registry(script)
    with open_checkpointer(path=settings.checkpoint_path) as saver:
        yield Brain(settings=settings, graph=build_graph(checkpointer=saver), models=models, tools=tools,
                    planner=planner, kg=kg)

"""Helpers for the scheduled-run tests: a scripted brain with a test-only planner and a mutating tool.

``scripted_brain`` is a real brain (SQLite checkpointer under the data dir, real graph) whose
planner knows three goals: ``write N`` (mutating: appends N to ``<reports>/ledger.txt``; within
bounds when N <= 10), ``add A B`` (read-only) and ``block`` (read-only; waits until the file
``<reports>/release`` exists, so a test can kill a worker mid-run). It is importable by worker
subprocesses: ``--brain-factory tests.server.conftest_runs:scripted_brain``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agents.context import AgentContext
from agents.plan import PlannedCall
from agents.planner import Intent, Planner
from knowledge.store import KnowledgeStore
from server.brain import Brain
from server.settings import Settings
from tests.server.scripted_plant import compose_value, open_scripted_brain
from tools.errors import ToolFailed
from tools.registry import ToolContext, ToolRegistry, tool

ROOT = Path(__file__).resolve().parents[2]


class Value(BaseModel):
    value: int


def _reports(ctx: ToolContext) -> Path:
    if ctx.data_dir is None:
        raise ToolFailed("no data dir")
    ctx.data_dir.mkdir(parents=True, exist_ok=True)
    return ctx.data_dir


@tool(mutating=True, tags=("knowledge",), within_bounds=lambda args: args.get("value", 0) <= 10)
def write_ledger(ctx: ToolContext, value: int) -> Value:
    """Append a value to the plant ledger (a stand-in for writing a setpoint).

    Args:
        value: The value to write.
    """
    with (_reports(ctx) / "ledger.txt").open("a") as f:
        f.write(f"{value}\n")
    return Value(value=value)


@tool(tags=("knowledge",))
def add_numbers(ctx: ToolContext, a: int, b: int) -> Value:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return Value(value=a + b)


@tool(tags=("knowledge",))
def wait_for_release(ctx: ToolContext, timeout_s: float = 60.0) -> Value:
    """Wait until the file ``release`` appears in the data dir (a long-running analysis).

    Args:
        timeout_s: Give up after this many seconds.
    """
    flag = _reports(ctx) / "release"
    (_reports(ctx) / "blocked").write_text(str(os.getpid()))
    deadline = time.monotonic() + timeout_s
    while not flag.exists():
        if time.monotonic() > deadline:
            raise ToolFailed("never released")
        time.sleep(0.05)
    return Value(value=1)


def ledger(settings: Settings) -> list[int]:
    """What the mutating tool has applied so far."""
    f = settings.reports_dir / "ledger.txt"
    return [int(x) for x in f.read_text().split()] if f.exists() else []


def runs_planner() -> Planner:
    def match(prefix: str, parse: Callable[[list[str]], dict[str, Any]]) -> Callable[[str, AgentContext], Any]:
        return lambda text, ctx: parse(text.split()[1:]) if text.split()[0] == prefix else None

    return Planner([
        Intent("write", "knowledge", match("write", lambda w: {"value": int(w[0])}),
               lambda p: [PlannedCall(name="write_ledger", args=p)], compose_value, needs_kg=False),
        Intent("add", "knowledge", match("add", lambda w: {"a": int(w[0]), "b": int(w[1])}),
               lambda p: [PlannedCall(name="add_numbers", args=p)], compose_value, needs_kg=False),
        Intent("block", "knowledge", match("block", lambda w: {}),
               lambda p: [PlannedCall(name="wait_for_release", args={})], compose_value, needs_kg=False),
    ])


def runs_tools() -> ToolRegistry:
    reg = ToolRegistry()
    for fn in (write_ledger, add_numbers, wait_for_release):
        reg.add(fn)
    return reg


@contextmanager
def scripted_brain(settings: Settings) -> Iterator[Brain]:
    """A real brain (graph, SQLite checkpointer) with the scripted model, the test planner and tools, an in-memory KG."""
    with KnowledgeStore(":memory:") as kg, open_scripted_brain(
        settings, script=lambda messages, tools: "Nothing to do.", tools=runs_tools(), planner=runs_planner(), kg=kg,
    ) as brain:
        yield brain


def worker_process(data_dir: Path, *, max_seconds: float, heartbeat_s: float = 0.3) -> subprocess.Popen:
    """``python -m server.cli_runs worker`` in its own process, on the same data dir."""
    env = {**os.environ, "INDAGENT_DATA_DIR": str(data_dir), "INDAGENT_RUNS_HEARTBEAT_S": str(heartbeat_s),
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli_runs", "worker", "--max-seconds", str(max_seconds),
         "--brain-factory", "tests.server.conftest_runs:scripted_brain"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_until(cond: Callable[[], Any], *, timeout_s: float, what: str) -> Any:
    """Poll ``cond`` until it returns something truthy (bounded by a deadline)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout_s} s")


# -- closed-loop runs ------------------------------------------------------------------------------
def loop_brain_on(settings: Settings, kg: KnowledgeStore) -> Any:
    """A real brain (graph, SQLite checkpointer, scripted model) with the default tools and planner on an open KG."""
    from agents.planner import default_planner
    from tools.registry import default_registry

    return open_scripted_brain(settings, script=lambda messages, tools: "Nothing to do.", tools=default_registry(),
                               planner=default_planner(), kg=kg)


@contextmanager
def loop_brain(settings: Settings) -> Iterator[Brain]:
    """:func:`loop_brain_on` the configured KG file, opened for writing here.

    Importable by other processes: ``--brain-factory tests.server.conftest_runs:loop_brain``.
    """
    with KnowledgeStore(settings.kg_path) as kg, loop_brain_on(settings, kg) as brain:
        yield brain


def live_scenario(*, degrading: bool) -> Any:
    """The demo's live scenario (small plant): the spindle bearing wear on CNC-07 starts at the live start,
    or (``degrading=False``) only after the streamed days."""
    from server.plant.loop import default_live_start
    from server.plant.model import LiveScenario, build_plant_model

    start = default_live_start(build_plant_model(LiveScenario(days=1)).start)
    return build_plant_model(LiveScenario(start=start, days=5, fault_onset_h=0.0 if degrading else 240.0))


def prepare_live_kg(path: Path, model: Any) -> None:
    """The demo's live KG (history until the live start, order book moved, live fault recorded)."""
    from server.plant.loop import prepare_kg

    with KnowledgeStore(path) as kg:
        prepare_kg(kg, model, seed=0, scale="small", progress=lambda _s, _m: None)


def stream_days(path: Path, model: Any, days: float) -> int:
    """Append the live model's first ``days`` of samples to the KG, as the connector would; returns rows."""
    from datetime import timedelta

    from server.plant.connector import insert_readings

    n = model.tick_of(model.start + timedelta(days=days))
    rows = [(s, model.time_of(k), float(model.values[i, k])) for i, s in enumerate(model.sensors) for k in range(n)]
    with KnowledgeStore(path) as kg:
        return insert_readings(kg, rows)

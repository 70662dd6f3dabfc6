"""Helpers for the API tests: a scripted brain (deterministic model, a test-only mutating tool, a
small planner) and the real app served by uvicorn on a free 127.0.0.1 port (in a thread or a process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import BaseModel

from agents.context import AgentContext
from agents.plan import PlannedCall
from agents.planner import Intent, Planner
from knowledge.store import KnowledgeStore
from server.app import create_app
from server.auth import ServerDB
from server.brain import Brain
from server.settings import Settings
from tests.conftest import free_port, wait_http
from tests.server.scripted_plant import compose_value, open_scripted_brain
from tools.registry import ToolContext, ToolRegistry, tool

ROOT = Path(__file__).resolve().parents[2]
#: What the test-only mutating tool has written (per process).
LEDGER: list[int] = []


class LedgerEntry(BaseModel):
    value: int
    actor: str


@tool(tags=("knowledge",))
def api_add(ctx: ToolContext, a: int, b: int) -> LedgerEntry:
    """Add two numbers.

    Args:
        a: First number.
        b: Second number.
    """
    return LedgerEntry(value=a + b, actor=ctx.actor)


@tool(mutating=True, tags=("diagnosis",))
def api_write_ledger(ctx: ToolContext, value: int) -> LedgerEntry:
    """Write a value to the plant ledger (a stand-in for a mutating plant action).

    Args:
        value: The value to write (0..1000).
    """
    if not 0 <= value <= 1000:
        from tools.errors import ToolRetry

        raise ToolRetry(f"value {value} out of range 0..1000")
    LEDGER.append(value)
    return LedgerEntry(value=value, actor=ctx.actor)


def _match_add(text: str, ctx: AgentContext) -> dict[str, Any] | None:
    words = text.split()
    if len(words) == 3 and words[0] == "add" and all(w.lstrip("-").isdigit() for w in words[1:]):
        return {"a": int(words[1]), "b": int(words[2])}
    return None


def _match_write(text: str, ctx: AgentContext) -> dict[str, Any] | None:
    words = text.split()
    if len(words) == 2 and words[0] == "write" and words[1].isdigit():
        return {"value": int(words[1])}
    return None


def api_planner() -> Planner:
    """`add A B` (knowledge agent, read-only) and `write N` (diagnosis sub-agent, mutating)."""
    return Planner([
        Intent("add", "knowledge", _match_add, lambda p: [PlannedCall(name="api_add", args=p)], compose_value,
               example="add 2 40", needs_kg=False),
        Intent("write", "diagnosis", _match_write, lambda p: [PlannedCall(name="api_write_ledger", args=p)],
               compose_value, example="write 7", needs_kg=False),
    ])


def api_tools() -> ToolRegistry:
    """The registry of the test tools."""
    reg = ToolRegistry()
    reg.add(api_add)
    reg.add(api_write_ledger)
    return reg


def memory_script(messages: list[Any], tools: list[Any]) -> str:
    """Answers with every human message it has seen in the thread (proves history survives)."""
    humans = [str(m.content) for m in messages if m.type == "human"]
    return f"I have seen {len(humans)} messages: {' | '.join(humans)}"


@contextmanager
def scripted_brain(settings: Settings, *, script: Any = memory_script, kg_path: Path | None = None) -> Iterator[Brain]:
    """A brain with the scripted model, the test tools and planner, the SQLite checkpointer, a read-only KG."""
    with ExitStack() as stack:
        kg = stack.enter_context(KnowledgeStore(kg_path, read_only=True)) if kg_path else None
        yield stack.enter_context(open_scripted_brain(settings, script=script, tools=api_tools(),
                                                      planner=api_planner(), kg=kg))


def build_demo_kg(path: Path) -> Path:
    """The seeded demo plant (small scale) in a DuckDB file."""
    from knowledge.demo import build_demo

    with KnowledgeStore(path) as store:
        store.migrate()
        build_demo(store, seed=0, scale="small")
    return path


def subprocess_app() -> Any:
    """``uvicorn --factory`` entry point: settings from the environment, scripted brain."""
    return create_app(Settings(), brain_factory=scripted_brain)


def make_settings(data_dir: Path, **kw: Any) -> Settings:
    """Test settings: loopback, high rate limit, no run scheduler in the server (``runs_in_server=True`` to test it)."""
    return Settings(data_dir=data_dir, **{"rate_limit_per_min": 100000, "runs_in_server": False, **kw})


def create_keys(settings: Settings) -> dict[str, str]:
    """One key per role, created in the server DB before the server starts."""
    with ServerDB(settings.server_db_path) as db:
        return {role: db.create_key(role, label=f"test {role}").key for role in ("viewer", "engineer", "admin")}


class LiveServer:
    """The real app under uvicorn in a background thread on 127.0.0.1."""

    def __init__(self, settings: Settings, *, brain_factory: Any = scripted_brain) -> None:
        self.settings = settings
        self.app = create_app(settings, brain_factory=brain_factory)
        self.port = free_port()
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def client(self, key: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 30), **kw)


@contextmanager
def server_process(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """The scripted app in its own uvicorn process (for restart tests)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tests.server.conftest_api:subprocess_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "INDAGENT_DATA_DIR": str(data_dir), **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc=proc, timeout_s=60)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

"""Scale-out test processes: API workers sharing Postgres (checkpoints and the run job store).

Each process opens its own brain with the deterministic scripted model and the test planner of
``tests/server`` (a read-only ``add A B`` and a mutating ``write N``), and the checkpointer the
settings name (``INDAGENT_CHECKPOINT_URL``), exactly as ``server.brain.open_brain`` does. They are
real OS processes: ``uvicorn --factory tests.scaleout.apps:api_app``, one port each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents.checkpoint import open_checkpointer
from agents.graph import build_graph
from agents.models.scripted import scripted_registry
from server.app import create_app
from server.auth import ServerDB
from server.brain import Brain
from server.settings import Settings
from tests.conftest import free_port, wait_http
from tests.server.conftest_api import api_planner, api_tools, memory_script

__all__ = ["ROOT", "api_app", "api_brain", "api_workers", "stop"]

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def api_brain(settings: Settings) -> Iterator[Brain]:
    """The API test brain (scripted model that echoes the thread's history) on the configured checkpointer."""
    with open_checkpointer(path=settings.checkpoint_path, url=settings.checkpoint_url) as saver:
        models, _ = scripted_registry(memory_script)
        yield Brain(settings=settings, graph=build_graph(checkpointer=saver), models=models, tools=api_tools(),
                    planner=api_planner(), kg=None)


def api_app() -> Any:
    """``uvicorn --factory`` entry point: settings from the environment, :func:`api_brain`."""
    return create_app(Settings(), brain_factory=api_brain)


def _env(data_dir: Path, pg_url: str, extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "INDAGENT_DATA_DIR": str(data_dir), "INDAGENT_CHECKPOINT_URL": pg_url,
            "INDAGENT_JOBSTORE_URL": pg_url, "PYTHONPATH": str(ROOT), **(extra or {})}


def stop(proc: subprocess.Popen[Any], *, timeout_s: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def api_workers(data_dir: Path, pg_url: str, *, n: int = 2, env: dict[str, str] | None = None,
                log_dir: Path | None = None) -> Iterator[list[str]]:
    """``n`` API worker processes (uvicorn, one port each) on one data dir and one Postgres; yields base URLs.

    They are started together, so they also run the checkpointer's schema setup concurrently.
    """
    # The server DB (keys, audit, approval index: SQLite under the data dir) is migrated here first:
    # ServerDB.migrate() reads the applied set outside its transaction, so two workers migrating a
    # blank file at the same instant collide on _migrations (reported to the lead).
    with ServerDB(Settings(data_dir=data_dir).server_db_path):
        pass
    procs: list[subprocess.Popen[Any]] = []
    bases: list[str] = []
    try:
        for i in range(n):
            port = free_port()
            log = open(log_dir / f"api{i}.log", "wb") if log_dir else subprocess.DEVNULL  # noqa: SIM115
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "tests.scaleout.apps:api_app", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning"],
                cwd=ROOT, env=_env(data_dir, pg_url, {"INDAGENT_RATE_LIMIT_PER_MIN": "1000000", **(env or {})}),
                stdout=subprocess.DEVNULL, stderr=log,
            ))
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            wait_http(f"{base}/healthz", proc=proc, timeout_s=90)
        yield bases
    finally:
        for proc in procs:
            stop(proc)

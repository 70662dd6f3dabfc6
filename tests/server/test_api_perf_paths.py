"""The request path's performance choices keep behaviour, and the bench's load generator measures correctly.

* dependencies are ``async`` (no thread-pool hop per dependency) and still authenticate;
* the server DB runs WAL + ``synchronous=NORMAL`` (no fsync on the event loop per audit insert)
  and still audits every mutating request under concurrency;
* ``benches/bench_api.py``'s raw-asyncio client: keep-alive, reconnect after the server closed an
  idle connection, closed-loop and paced phases with zero errors against the real app.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uvicorn

from server import deps
from server.auth import ServerDB
from tests.conftest import free_port
from tests.server.conftest_api import LiveServer, create_keys, make_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_api_under_test", ROOT / "benches" / "bench_api.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_dependencies_run_on_the_event_loop() -> None:
    for dep in (deps.require("viewer"), deps.require("admin"), deps._brain, deps._settings, deps._db):
        assert inspect.iscoroutinefunction(dep), dep


def test_sqlite_checkpointer_is_wal_with_normal_sync(tmp_path: Path) -> None:
    from agents.checkpoint import open_checkpointer

    with open_checkpointer(path=tmp_path / "cp.sqlite") as saver:
        assert saver.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # type: ignore[attr-defined]
        assert saver.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # type: ignore[attr-defined]


def test_served_app_freezes_the_startup_heap(tmp_path: Path) -> None:
    """`indagent serve` builds the app with freeze_gc; tests build it without (no frozen heap in pytest)."""
    import subprocess

    probe = (
        "import gc\n"
        "from fastapi.testclient import TestClient\n"
        "from agents.models.scripted import scripted_registry\n"
        "from server.app import create_app\n"
        "from server.brain import open_brain\n"
        "from server.settings import Settings\n"
        "models, _ = scripted_registry()\n"
        "app = create_app(Settings(), brain_factory=lambda s: open_brain(s, models=models), freeze_gc=True)\n"
        "with TestClient(app) as c:\n"
        "    assert c.get('/healthz').status_code == 200\n"
        "    print(gc.get_freeze_count())\n"
    )
    env = {**os.environ, "INDAGENT_DATA_DIR": str(tmp_path), "INDAGENT_AUTH": "off"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().splitlines()[-1]) > 10_000


def test_server_db_is_wal_with_normal_sync(tmp_path: Path) -> None:
    with ServerDB(tmp_path / "server.sqlite") as db:
        assert db.query("PRAGMA journal_mode")[0][0] == "wal"
        assert db.query("PRAGMA synchronous")[0][0] == 1  # NORMAL
        key = db.create_key("viewer")
        assert db.verify(key.key).role == "viewer"
    with ServerDB(tmp_path / "server.sqlite") as db:  # committed rows are there after a reopen
        assert db.verify(key.key).id == key.id


@pytest.fixture()
def live(data_dir: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    settings = make_settings(data_dir, auth="on")
    keys = create_keys(settings)
    with LiveServer(settings) as server:
        yield server, keys


def _server(bench: ModuleType, port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    return bench.Server("test", os.getpid(), port, path, headers or {})


def test_bench_client_against_the_real_app(bench: ModuleType, live: tuple[LiveServer, dict[str, str]]) -> None:
    server, keys = live
    target = _server(bench, server.port, "/v1/chat", {"Authorization": f"Bearer {keys['viewer']}"})
    closed = asyncio.run(bench._drive(target, clients=6, duration_s=1.0, warmup_s=0.3, rate=None))
    assert closed["errors"] == 0 and closed["requests"] > 0, closed
    assert closed["p50_ms"] <= closed["p99_ms"] <= closed["max_ms"]
    paced = asyncio.run(bench._drive(target, clients=6, duration_s=1.5, warmup_s=0.2, rate=8.0))
    assert paced["errors"] == 0 and paced["offered_rps"] == 8.0 and paced["requests"] > 0, paced
    assert paced["service_p50_ms"] <= paced["p99_ms"]
    # every chat request (warm-up included) was audited with its outcome, none lost under concurrency
    db: ServerDB = server.app.state.db
    chats = db.query("SELECT outcome, count(*) FROM audit WHERE path = '/v1/chat' GROUP BY outcome")
    assert {r[0]: r[1] for r in chats}.get("ok", 0) >= closed["requests"] + paced["requests"]
    assert [r[0] for r in chats] == ["ok"]
    # auth still refuses a bad key through the async dependency
    bad = _server(bench, server.port, "/v1/chat", {"Authorization": "Bearer ik_nope_nope"})
    refused = asyncio.run(bench._drive(bad, clients=2, duration_s=0.3, warmup_s=0.0, rate=None))
    assert refused["requests"] == 0 and set(refused["error_kinds"]) == {"401"}


def test_bench_connection_survives_server_idle_close(bench: ModuleType) -> None:
    app = bench.echo_app()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=1)
    userver = uvicorn.Server(config)
    thread = threading.Thread(target=userver.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not userver.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        request = bench._request_bytes("/echo", {"message": "hi"}, {})

        async def scenario(max_idle_s: float) -> list[int]:
            conn = bench.Connection(port, request, max_idle_s=max_idle_s)
            first = await conn.send()
            kept = conn.writer
            second = await conn.send()
            assert conn.writer is kept  # keep-alive: the same connection
            await asyncio.sleep(1.6)  # the server closes the idle connection after 1 s
            third = await conn.send()
            assert conn.writer is not kept  # a fresh connection, no error
            conn.close()
            return [first, second, third]

        assert asyncio.run(scenario(max_idle_s=30.0)) == [200, 200, 200]  # noticed by EOF
        assert asyncio.run(scenario(max_idle_s=0.5)) == [200, 200, 200]  # replaced by idle age
    finally:
        userver.should_exit = True
        thread.join(timeout=10)


def test_bench_summary_percentiles(bench: ModuleType) -> None:
    out = bench._summary([float(i) for i in range(1, 101)], {"500": 2}, 2.0)
    assert out["requests"] == 100 and out["rps"] == 50.0
    assert (out["p50_ms"], out["p90_ms"], out["p99_ms"], out["max_ms"]) == (51.0, 91.0, 100.0, 100.0)
    assert out["errors"] == 2 and out["error_kinds"] == {"500": 2}
    assert bench._summary([], {}, 0.0)["rps"] is None

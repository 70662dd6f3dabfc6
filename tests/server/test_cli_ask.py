"""`indagent ask` end to end through the installed console entry point (real process, real GGUF)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=Path(__file__).resolve().parents[2],
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert fragment in lines[0]
    assert proc.stdout == ""


def test_empty_message_exit_2() -> None:
    assert_one_line_error(run_cli("ask", "  ", "--json"), "empty")


def test_unknown_model_exit_2() -> None:
    assert_one_line_error(run_cli("ask", "hello", "--model", "gpt-9"), "known models")


def test_missing_gguf_exit_2(tmp_path: Path) -> None:
    proc = run_cli("ask", "hello", env={"INDAGENT_EDGE_MODEL_PATH": str(tmp_path / "missing.gguf")})
    assert_one_line_error(proc, "INDAGENT_EDGE_MODEL_PATH")


def test_bad_setting_exit_2() -> None:
    assert_one_line_error(run_cli("ask", "hello", env={"INDAGENT_EDGE_N_CTX": "-5"}), "edge_n_ctx")


@pytest.mark.model
def test_ask_json_contract_with_edge_model(data_dir: Path) -> None:
    proc = run_cli("ask", "Hello, who are you?", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"answer", "thread_id", "result", "route", "tool_calls", "usage", "latency_ms"}
    assert doc["result"]["type"] == "text" and doc["answer"]
    assert doc["route"] == {**doc["route"], "agent": "general", "tier": "edge", "degraded": False}
    assert doc["usage"]["completion_tokens"] > 0
    # the thread continues in a second process
    proc2 = run_cli("ask", "And what did I just ask?", "--thread", doc["thread_id"], "--json")
    assert proc2.returncode == 0, proc2.stderr
    assert json.loads(proc2.stdout)["thread_id"] == doc["thread_id"]
    assert (data_dir / "checkpoints.sqlite").exists()

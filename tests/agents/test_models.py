"""Real model backends: the SmolLM2 GGUF through llama.cpp and the openai client against llama_cpp.server."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from agents.calls import call_model
from agents.context import AgentContext
from agents.models import CloudConfig, EdgeConfig, build_registry
from agents.models.health import CircuitBreaker
from agents.models.llamacpp import LlamaCppChatModel, load_llama
from agents.models.openai_compat import OpenAIChatModel
from agents.models.scripted import ScriptedChatModel
from tools.errors import ConfigError
from tools.registry import ToolRegistry

pytestmark = pytest.mark.model


def test_llamacpp_generates_with_usage(gguf_path: Path) -> None:
    m = LlamaCppChatModel(model_path=gguf_path, max_tokens=8, temperature=0.0)
    msg = m.invoke([HumanMessage("Name one industrial machine.")])
    assert isinstance(msg, AIMessage) and msg.content
    assert msg.usage_metadata["output_tokens"] > 0 and msg.usage_metadata["input_tokens"] > 0
    chunks = list(m.stream("Say hello."))
    assert "".join(str(c.content) for c in chunks).strip()
    full = chunks[0]
    for c in chunks[1:]:
        full += c
    assert full.usage_metadata["output_tokens"] > 0


def test_llama_instance_shared(gguf_path: Path) -> None:
    a = load_llama(gguf_path, n_ctx=2048, n_threads=2)
    b = load_llama(gguf_path, n_ctx=2048, n_threads=2)
    assert a is b


def test_missing_gguf_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="INDAGENT_EDGE_MODEL_PATH"):
        build_registry(EdgeConfig(path=tmp_path / "nope.gguf"))


def test_openai_client_against_llama_server(llama_server) -> None:
    m = OpenAIChatModel(base_url=llama_server.base_url, model="smollm2-server", max_tokens=8, timeout_s=60)
    msg = m.invoke([HumanMessage("Name one pump type.")])
    assert msg.content and msg.usage_metadata["output_tokens"] > 0
    parts = list(m.stream([HumanMessage("Say hi.")]))
    assert "".join(str(p.content) for p in parts).strip()


def test_cloud_down_falls_back_to_edge_degraded(llama_server, gguf_path: Path) -> None:
    """The routed cloud model answers; then its server stops and the edge answers, degraded."""
    reg = build_registry(
        EdgeConfig(path=gguf_path, max_tokens=8),
        CloudConfig(base_url=llama_server.base_url, model="smollm2-server", timeout_s=180, max_retries=0),
    )
    ctx = AgentContext(models=reg, tools=ToolRegistry(), breaker=CircuitBreaker(failures=1, reset_s=60),
                       requested_model="cloud")
    prompt = [HumanMessage("Explain why a pump cavitates.")]
    d1, m1 = call_model(ctx, prompt, task="large", output_tokens=8)
    assert d1.tier == "cloud" and not d1.degraded and m1.content, d1.reason
    llama_server.stop()
    try:
        d2, m2 = call_model(ctx, prompt, task="large", output_tokens=8)
        assert d2.tier == "edge" and d2.degraded and "cloud call failed" in d2.reason and m2.content
        assert ctx.breaker.state == "open"
        d3, _ = call_model(ctx, prompt, task="large", output_tokens=8)  # breaker open: no cloud attempt
        assert d3.tier == "edge" and d3.degraded and "breaker open" in d3.reason
    finally:
        llama_server.start()


def test_scripted_model_records_history_and_tool_calls() -> None:
    call = {"name": "kg_stats", "args": {}, "id": "c1", "type": "tool_call"}
    m = ScriptedChatModel(turns=[AIMessage(content="", tool_calls=[call]), "done"])
    first = m.invoke("hi")
    assert first.tool_calls[0]["name"] == "kg_stats"
    assert m.invoke("again").content == "done"
    assert len(m.history) == 2


def test_edge_speed_is_measured_and_routed(gguf_path: Path, data_dir: Path) -> None:
    from server.brain import edge_config, measure_edge_speed
    from server.settings import Settings

    settings = Settings(edge_model_path=gguf_path, edge_max_tokens=16)
    reg = build_registry(edge_config(settings))
    speed = measure_edge_speed(settings, reg, tokens=12)
    assert speed > 0 and reg.spec("edge").tokens_per_s == speed
    assert (data_dir / "model_speed.json").exists()
    assert edge_config(Settings(edge_model_path=gguf_path)).tokens_per_s == speed  # cached for the next process

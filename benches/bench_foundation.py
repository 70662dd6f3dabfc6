"""Foundation benchmarks (one JSON object on stdout).

- edge tokens/s through indagent's LlamaCppChatModel / raw llama-cpp-python, same prompt and
  settings, same run (target >= 0.95);
- graph turn overhead with the scripted model / a bare two-node LangGraph graph (target <= 2.0)
  and the absolute p50 overhead (target < 20 ms);
- router decision latency (target < 1 ms).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph

from agents.context import AgentContext
from agents.graph import build_graph
from agents.models.base import ModelSpec
from agents.models.llamacpp import LlamaCppChatModel, default_gguf_path, load_llama
from agents.models.router import RouteRequest, route
from agents.models.scripted import scripted_registry
from agents.runner import ask
from tools.registry import ToolRegistry

PROMPT = "List three maintenance tasks for a centrifugal pump."
N_TOKENS = 48


def tokens_per_s() -> dict[str, float]:
    path = default_gguf_path()
    loaded = load_llama(path, n_ctx=2048, n_threads=2)
    ours = LlamaCppChatModel(model_path=path, max_tokens=N_TOKENS, temperature=0.0, n_ctx=2048, n_threads=2)
    params = {"max_tokens": N_TOKENS, "temperature": 0.0, "repeat_penalty": 1.15, "seed": 0}
    raw_speeds, our_speeds = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        out = loaded.llama.create_chat_completion(messages=[{"role": "user", "content": PROMPT}], **params)
        raw_speeds.append(out["usage"]["completion_tokens"] / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        msg = ours.invoke([HumanMessage(PROMPT)])
        our_speeds.append(msg.usage_metadata["output_tokens"] / (time.perf_counter() - t0))
    raw, our = statistics.median(raw_speeds), statistics.median(our_speeds)
    return {"raw_tokens_per_s": round(raw, 1), "indagent_tokens_per_s": round(our, 1), "ratio": round(our / raw, 3),
            "target_ratio_min": 0.95}


class _S(TypedDict):
    messages: list


def graph_overhead(n: int = 200) -> dict[str, float]:
    models, model = scripted_registry(["ok"])
    model.cycle = True
    ctx = AgentContext(models=models, tools=ToolRegistry())
    graph = build_graph()
    bare_model = scripted_registry(["ok"])[1]
    bare_model.cycle = True

    def n1(s: _S) -> dict:
        return {"messages": [*s["messages"], bare_model.invoke(s["messages"])]}

    def n2(s: _S) -> dict:
        return {"messages": [*s["messages"], AIMessage(content=str(s["messages"][-1].content))]}

    g = StateGraph(_S)
    g.add_node("a", n1)
    g.add_node("b", n2)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    bare = g.compile()
    ours_t, bare_t = [], []
    for _ in range(20):  # warm-up
        ask(graph, ctx, "hello")
        bare.invoke({"messages": [HumanMessage("hello")]})
    for _ in range(n):
        t0 = time.perf_counter()
        ask(graph, ctx, "hello")
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare.invoke({"messages": [HumanMessage("hello")]})
        bare_t.append(time.perf_counter() - t0)
    p50o, p50b = statistics.median(ours_t) * 1000, statistics.median(bare_t) * 1000
    return {"indagent_p50_ms": round(p50o, 3), "bare_p50_ms": round(p50b, 3), "ratio": round(p50o / p50b, 3),
            "overhead_p50_ms": round(p50o - p50b, 3), "target_ratio_max": 2.0, "target_overhead_ms_max": 20.0}


def router_latency(n: int = 20000) -> dict[str, float]:
    reg, _ = scripted_registry(["x"])
    reg.register(ModelSpec(name="big", backend="openai", tier="cloud", params_b=70, context=128000, region="cloud"),
                 lambda: None)  # type: ignore[arg-type,return-value]
    req = RouteRequest(task="large", sensitivity="sovereign", prompt_tokens=600)
    t0 = time.perf_counter()
    for _ in range(n):
        route(req, reg, None)
    us = (time.perf_counter() - t0) / n * 1e6
    return {"decision_us": round(us, 2), "target_us_max": 1000.0}


if __name__ == "__main__":
    print(json.dumps({"edge_speed": tokens_per_s(), "graph_overhead": graph_overhead(),
                      "router": router_latency()}))

"""Placement-agent intents: "where should this model run?" (device, edge or cloud), without the plant graph.

The question gives the model size ("7B", "135M", "70 billion parameters"), the latency target
("50 ms SLO", "5 ms control loop", "within 2 s"), whether the data must stay on site, and
optionally quantization ("int8", "4-bit"), tokens per request, request rate ("10 requests/s",
"200 Hz") and region ("eu-north"). What it leaves out is assumed and said in the answer:

- no latency target: :data:`DEFAULT_SLO_MS`;
- sovereignty not stated: the data may leave the site;
- tokens per request: 1 (one forward pass) for classifiers, detectors, regressors, vision and
  control models; the tool's 256 for language models;
- request rate: a control loop of period T ms runs at 1000/T requests per second; else 0.1/s.
"""

from __future__ import annotations

import re
from typing import Any

from agents.context import AgentContext
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["DEFAULT_SLO_MS", "INTENTS", "parse_model_question"]

Params = dict[str, Any]
DEFAULT_SLO_MS = 1000.0

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-\s*)?(k|m|b|t|thousand|million|billion|trillion)\b(?:\s*(?:param(?:eter)?s?))?")
_SCALE = {"k": 1e-6, "thousand": 1e-6, "m": 1e-3, "million": 1e-3, "b": 1.0, "billion": 1.0, "t": 1e3, "trillion": 1e3}
_SOVEREIGN = (r"stay(?:s)? on[- ]?(?:site|prem(?:ise)?s?)|on[- ]prem|sovereign|must not leave|can(?:'|no)?t leave|"
              r"cannot leave|never leave|confidential|keep (?:the )?data (?:on|in)|data residency|no cloud|"
              r"not (?:go )?to the cloud")
_PUBLIC = r"may (?:go|leave)|can (?:go|leave) (?:to )?(?:the )?cloud|public data|not sensitive|cloud is (?:fine|ok|allowed)"
_ONE_PASS = r"\b(classifier|classification|detector|detection|regressor|regression|vision|cnn|resnet|yolo|control|anomaly)\b"
_QUANT = (("int4", r"\bint4\b|\b4[- ]?bit\b"), ("int8", r"\bint8\b|\b8[- ]?bit\b"), ("bf16", r"\bbf16\b"),
          ("fp16", r"\bfp16\b|\b16[- ]?bit\b|half precision"), ("fp32", r"\bfp32\b|\b32[- ]?bit\b|full precision"))


def parse_model_question(text: str) -> Params | None:
    """The ``where_to_run`` arguments a question states, plus what was assumed (None without a model size)."""
    low = text.lower()
    size = None
    for m in _SIZE.finditer(low):
        unit = m.group(2)
        tail = low[m.end():m.end() + 30]
        if unit == "m" and re.match(r"\s*(in|from|away|of cable)\b", tail):  # "5 m away" is a distance
            continue
        size = float(m.group(1)) * _SCALE[unit]
        break
    if size is None or size <= 0:
        return None
    assumed: list[str] = []
    slo = None
    m_slo = re.search(r"(\d+(?:\.\d+)?)\s*(ms|milliseconds?|msec|s|secs?|seconds?)\b", low)
    if m_slo:
        slo = float(m_slo.group(1)) * (1.0 if m_slo.group(2).startswith("m") else 1000.0)
    if slo is None:
        slo = DEFAULT_SLO_MS
        assumed.append(f"p99 latency target {DEFAULT_SLO_MS:g} ms (none given)")
    if re.search(_SOVEREIGN, low):
        sovereign = True
    else:
        sovereign = False
        if not re.search(_PUBLIC, low):
            assumed.append("the data may leave the site (say 'data must stay on site' if not)")
    args: Params = {"model_params_b": size, "latency_slo_ms": slo, "sovereign": sovereign}
    quant = next((q for q, rx in _QUANT if re.search(rx, low)), None)
    if quant:
        args["quantization"] = quant
    else:
        assumed.append("int4 weights")
    m_tok = re.search(r"(\d+)\s*tokens?\b", low)
    if m_tok:
        args["tokens_per_request"] = int(m_tok.group(1))
    elif re.search(_ONE_PASS, low):
        args["tokens_per_request"] = 1
        assumed.append("one forward pass per request")
    m_rate = re.search(r"(\d+(?:\.\d+)?)\s*(?:requests?|req|inferences?|calls?|queries|predictions?)\s*(?:/|per|a)\s*"
                       r"(s|sec|second|min|minute|h|hour)\b", low)
    m_hz = re.search(r"(\d+(?:\.\d+)?)\s*(k?hz)\b", low)
    if m_rate:
        per = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}[m_rate.group(2)]
        args["requests_per_s"] = float(m_rate.group(1)) / per
    elif m_hz:
        args["requests_per_s"] = float(m_hz.group(1)) * (1000.0 if m_hz.group(2) == "khz" else 1.0)
    elif re.search(r"\bcontrol loop\b", low) and m_slo:
        args["requests_per_s"] = round(1000.0 / slo, 3)
        assumed.append(f"the loop runs every {slo:g} ms ({1000.0 / slo:g} requests/s)")
    from tools.placement.generate import REGIONS

    region = next((r for r in REGIONS if r in low), None)
    if region == "eu-north":  # where_to_run's reference nodes already hold a cloud-eu-north pool (duplicate id)
        assumed.append("grid and jurisdiction of eu-central (where_to_run cannot place the plant in eu-north yet)")
    elif region:
        args["region"] = region
    return {"args": args, "assumed": assumed}


def _match_where(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"\bwhere\b.*\b(run|deploy|host|place|serve|put|live|go)\b|\bwhich tier\b|"
                     r"\b(device|edge|cloud)\b.*\bor\b.*\b(device|edge|cloud)\b|\bshould .* run on\b", low):
        return None
    if not re.search(r"\b(model|llm|classifier|detector|network|transformer|assistant|gpt|llama|mistral|smollm|"
                     r"params?|parameters?|workload|inference|vision|regressor)\b|\d\s*[bm]\b", low):
        return None
    return parse_model_question(text)


def _where_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="where_to_run", args=p["args"])]


def _where_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    from agents.intents.common import composed

    d = next((r["data"] for r in results if r.get("ok")), None)
    if d is None:
        err = "; ".join(str(r.get("error")) for r in results)
        return composed("text", err, f"I could not place the model: {err}")
    note = f" Assumed: {'; '.join(p['assumed'])}." if p["assumed"] else ""
    if d["tier"] is None:
        return composed("text", "nowhere", f"No tier can run it: {d['reason'].removeprefix('nowhere: ')}.{note}")
    head = (f"Run it on the {d['tier']}" if d["meets_slo"] else
            f"No tier meets the {p['args']['latency_slo_ms']:g} ms target; the best effort is the {d['tier']}")
    return composed("text", d["tier"], f"{head}. {d['reason']}{note}")


INTENTS: list[Intent] = [
    Intent("where_to_run", "placement", _match_where, _where_calls, _where_compose,
           "where should a 7B model with a 50 ms SLO run if the data must stay on site?", needs_kg=False),
]

"""Diagnosis-agent intents: health, likely failure modes and remedies, days to the alarm limit.

Also: assets with anomalies in a period, and opening a work order (mutating: goes through approval).
"""

from __future__ import annotations

import re
from typing import Any

from agents.context import AgentContext
from agents.intents.analysis import analyze, has
from agents.intents.common import composed, first_ok, fmt_list, fmt_num, iso
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["INTENTS"]

Params = dict[str, Any]


def _window(text: str, ctx: AgentContext) -> dict[str, Any]:
    p = analyze(text, ctx).period
    return {"since": iso(p.start), "until": iso(p.end), "label": p.label} if p else {}


def _args(p: Params, *keys: str) -> dict[str, Any]:
    return {k: p[k] for k in keys if p.get(k) is not None}


# "is anything wrong with CHL-02?" / "diagnose CNC-07" ------------------------------------------------
def _match_health(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.asset:
        return None
    if not re.search(r"anything wrong|something wrong|what'?s wrong|\bdiagnos|health|\bok\b|okay|problem|issue|"
                     r"\bhealthy\b|condition of", a.low):
        return None
    return {"asset": a.asset, **_window(text, ctx)}


def _health_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="diagnose_asset", args={"asset": p["asset"], **_args(p, "since", "until")})]


def _health_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = first_ok(results) or {}
    anomalies = d.get("anomalies") or []
    active = [x for x in anomalies if x.get("ongoing") or x.get("severity") == "alarm"]
    if not active:
        past = f" ({len(anomalies)} earlier warnings, now cleared)" if anomalies else ""
        return composed("boolean", False, f"No: nothing abnormal on {p['asset']}{_when(p)}{past}. "
                        f"{d.get('message') or ''}".strip())
    anomalies = active
    fms = d.get("failure_modes") or []
    top = fms[0] if fms else None
    sensors = sorted({x["sensor"] for x in anomalies})
    dtt = d.get("days_to_threshold") or {}
    eta = (f" The alarm limit is about {fmt_num(dtt.get('estimate'))} days away ({fmt_num(dtt.get('low'))}-"
           f"{fmt_num(dtt.get('high'))})." if dtt.get("estimate") is not None else "")
    cause = f" Most likely {top['name']} (p={top['probability']:.2f})." if top else ""
    rem = d.get("remedies") or []
    fix = f" Recommended: {rem[0]['name']}." if rem else ""
    return composed("boolean", True, f"Yes: {len(anomalies)} anomalies on {p['asset']}{_when(p)} "
                    f"({fmt_list(sensors)}).{cause}{eta}{fix}")


def _when(p: Params) -> str:
    return f" in {p['label']}" if p.get("label") else ""


# "why is the vibration on CNC-07 rising?" / "most likely failure mode of P-3 and what to do?" --------------
def _match_cause(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.asset:
        return None
    why = re.search(r"\bwhy\b.*\b(ris|increas|climb|drop|fall|decreas|high|low|going up|going down|abnormal)", a.low)
    likely = re.search(r"(most )?likely (failure|fault|cause)|root cause|what is causing|what's causing|which failure mode",
                       a.low)
    if not (why or likely):
        return None
    return {"asset": a.asset, "what_to_do": bool(re.search(r"what should|what to do|how (?:do|to|can) we fix|remed", a.low)),
            **_window(text, ctx)}


def _cause_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="rank_failure_modes", args={"asset": p["asset"], "top": 3, **_args(p, "since", "until")})]


def _cause_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = first_ok(results) or {}
    cands = d.get("candidates") or []
    if not cands:
        return composed("text", "none", f"I found no evidence for a failure mode on {p['asset']}: {d.get('message') or ''}")
    top = cands[0]
    why = "; ".join((top.get("evidence") or {}).get("supporting", [])[:3])
    path = " -> ".join(top.get("path") or [])
    others = ", ".join(f"{c['name']} ({c['probability']:.2f})" for c in cands[1:3])
    rem = top.get("remedies") or []
    todo = ""
    if rem:
        r = rem[0]
        todo = (f" What to do: {r['name']}" + (f", about {fmt_num(r.get('duration_h'))} h" if r.get("duration_h") else "")
                + (f", parts {', '.join(r.get('parts') or [])}" if r.get("parts") else "") + ".")
    return composed("text", top["name"], f"Most likely {top['name']} on {p['asset']} (p={top['probability']:.2f}); "
                    f"evidence: {why}. Path: {path}. Other candidates: {others or 'none'}.{todo}")


# "how many days until bearing wear on CNC-07 reaches the alarm limit?" -------------------------------------
def _match_days(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.asset or not re.search(r"how (many|long)|days? (until|to|before|left)|when will|time to|remaining", a.low):
        return None
    if not re.search(r"alarm|limit|threshold|fail|trip|reach|break", a.low):
        return None
    return {"asset": a.asset, "sensor": a.sensors[0] if a.sensors else (
        f"{a.asset}.{a.sensor_type}" if a.sensor_type else None), "until": _window(text, ctx).get("until")}


def _days_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="days_to_threshold", args={"asset": p["asset"], **_args(p, "sensor", "until")})]


def _days_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = first_ok(results) or {}
    if d.get("estimate") is None:
        msg = d.get("message") or d.get("status") or "not enough data"
        return composed("text", d.get("status") or "not_enough_data", f"No estimate for {p['asset']}: {msg}")
    return composed("number", round(float(d["estimate"]), 1),
                    f"{d.get('sensor')} reaches its {d.get('threshold_kind') or 'alarm'} limit "
                    f"{fmt_num(d.get('threshold'))} in about {fmt_num(d['estimate'])} days "
                    f"(10-90 %: {fmt_num(d.get('low'))}-{fmt_num(d.get('high'))}; {d.get('model')} trend, "
                    f"{fmt_num(d.get('slope_per_day'))}/day).")


# "which assets had anomalies last week?" -------------------------------------------------------------
def _match_fleet(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if a.asset or not has(a.low, "anomaly", "anomalies", "anomalous", "abnormal", "alarms", "alerts"):
        return None
    if not re.search(r"\b(which|what|list|any)\b.*\b(assets?|machines?|equipment)\b", a.low):
        return None
    p = a.period
    return {"start": iso(p.start) if p else None, "end": iso(p.end) if p else None, "label": p.label if p else None}


def _fleet_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="assets_with_anomalies", args=_args(p, "start", "end"))]


def _fleet_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = first_ok(results) or {}
    items = d.get("assets") or []
    ids = [i["asset"] for i in items]
    detail = "; ".join(f"{i['asset']} ({i['anomalies']} on {', '.join(i['sensors'][:3])})" for i in items[:10])
    return composed("list", ids, f"{len(ids)} of {d.get('scanned', '?')} assets had anomalies{_when(p)}"
                    + (f": {detail}." if ids else "."))


# "open a work order for the spindle bearing on CNC-07" (mutating) ------------------------------------
def _match_open_wo(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.asset or not re.search(r"\b(open|create|raise|log|file|make)\b.*\b(work ?order|wo|ticket|job)\b", a.low):
        return None
    fm = a.failure_modes[0] if a.failure_modes else None
    comp = re.search(r"\bfor (?:the )?([a-z][a-z \-]{2,40}?) (?:on|of|at) ", a.low)
    what = comp.group(1).strip() if comp else None
    prio = next((w for w in ("urgent", "high", "low") if has(a.low, w)), "medium")
    return {"asset_id": a.asset, "failure_mode_id": fm, "component": what, "priority": prio,
            "description": f"{text.strip()} (requested via indagent)"}


def _open_wo_calls(p: Params) -> list[PlannedCall]:
    args = {"asset_id": p["asset_id"], "description": p["description"], "priority": p["priority"],
            **_args(p, "failure_mode_id", "component")}
    return [PlannedCall(name="create_work_order", args=args)]


def _open_wo_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    r = results[-1] if results else {}
    if not r.get("ok"):
        return composed("text", str(r.get("error")), f"No work order was created: {r.get('error')}")
    wo = r["data"]
    return composed("text", wo["id"], f"Created work order {wo['id']} on {wo['asset_id']} ({wo['type']}, "
                    f"{wo['status']}) by {wo.get('created_by')}.")


INTENTS: list[Intent] = [
    Intent("open_work_order", "diagnosis", _match_open_wo, _open_wo_calls, _open_wo_compose,
           "open a work order for the spindle bearing on CNC-07"),
    Intent("days_to_threshold", "diagnosis", _match_days, _days_calls, _days_compose,
           "how many days until the vibration on CNC-08 reaches the alarm limit?"),
    Intent("likely_cause", "diagnosis", _match_cause, _cause_calls, _cause_compose,
           "what is the most likely failure mode of pump P-3 and what should we do?"),
    Intent("health", "diagnosis", _match_health, _health_calls, _health_compose, "is anything wrong with CHL-02?"),
    Intent("fleet_anomalies", "diagnosis", _match_fleet, _fleet_calls, _fleet_compose,
           "which assets had anomalies last week?"),
]

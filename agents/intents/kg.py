"""Knowledge-agent intents: plant structure, FMEA, sensors and readings, alerts."""

from __future__ import annotations

import re
from typing import Any

from agents.context import AgentContext
from agents.intents.analysis import Analysis, analyze, has
from agents.intents.common import composed, first_ok, fmt_list, fmt_num, is_yes_no, iso
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["INTENTS"]

Params = dict[str, Any]


def _calls(name: str, **args: Any) -> list[PlannedCall]:
    return [PlannedCall(name=name, args={k: v for k, v in args.items() if v is not None})]


# -- impact: downstream / upstream -------------------------------------------------------------
_DOWN = ("downstream", "affected", "impacted", "feeds into", "fed by it", "stops", "goes down", "trips")
_UP = ("upstream", "feeds", "feed", "supplies", "supply", "depends on", "depend on")


def _match_impact(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    nodes = a.assets + a.lines
    if not nodes or not (has(a.low, *_DOWN) or has(a.low, *_UP)):
        return None
    if has(a.low, "downstream"):
        direction = "downstream"
    elif has(a.low, "upstream"):
        direction = "upstream"
    elif re.search(r"what (?:does|do) .* (?:feed|supply)\b", a.low) or has(a.low, *_DOWN):
        direction = "downstream"
    else:  # "what feeds CNC-01?", "which assets supply P-4?"
        direction = "upstream"
    if is_yes_no(a.low) and len(a.assets) >= 2:  # "is CNC-07 downstream of CMP-01?"
        return {"direction": direction, "source": a.assets[1], "probe": a.assets[0]}
    return {"direction": direction, "source": nodes[0], "probe": None}


def _impact_calls(p: Params) -> list[PlannedCall]:
    return _calls(f"{p['direction']}_assets", node_id=p["source"])


def _impact_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    assets = list(data.get("assets", []))
    if p.get("probe"):
        yes = p["probe"] in assets
        return composed("boolean", yes, f"{'Yes' if yes else 'No'}: {p['probe']} is {'' if yes else 'not '}"
                        f"{p['direction']} of {p['source']}.")
    if not assets:
        return composed("list", [], f"Nothing is {p['direction']} of {p['source']}.")
    lines = data.get("lines_affected") or []
    tail = f" (lines {', '.join(lines)})" if lines else ""
    return composed("list", assets, f"{len(assets)} assets are {p['direction']} of {p['source']}{tail}: {fmt_list(assets)}.")


# -- FMEA: failure modes of an asset or class ----------------------------------------------------
def _fm_words(low: str) -> bool:
    return bool(re.search(r"failure modes?|fault modes?|ways? .*fail|how (?:can|could|does|do|might) .* fail|"
                          r"go(?:es)? wrong|can fail|could fail|fail(?:s)? by", low))


def _class_fms(ctx: AgentContext, target: str) -> list[dict[str, Any]]:
    from knowledge.graph import resolve_asset_class

    assert ctx.kg is not None
    cls, _ = resolve_asset_class(ctx.kg, target)
    return ctx.kg.query(
        "SELECT n.id, n.name, n.props->>'code' AS code FROM edges e JOIN nodes n ON n.id = e.dst "
        "WHERE e.src = ? AND e.rel = 'may_fail_by'", [f"class:{cls}"])


def _mentioned_fm(a: Analysis, ctx: AgentContext, target: str | None) -> str | None:
    """A failure mode named in the text, resolved within the target's class when there is one."""
    if target is not None:
        fms = sorted(_class_fms(ctx, target), key=lambda r: -len(r["name"] or ""))
        for r in fms:
            name = (r["name"] or "").lower()
            if (name and name in a.low) or (r["code"] and has(a.low, r["code"].lower())):
                return str(r["id"])
            short = name.split(" ", 1)[-1] if " " in name else name  # "spindle bearing wear" ~ "bearing wear"
            if " " in short and short in a.low and len([x for x in fms if short in (x["name"] or "").lower()]) == 1:
                return str(r["id"])
    return a.failure_modes[0] if a.failure_modes else None


def _match_failure_modes(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    target = a.asset or (a.classes[0] if a.classes else None)
    if target is None or not _fm_words(a.low) or has(a.low, "sensor", "sensors", "detect", "detects"):
        return None
    probe = _mentioned_fm(a, ctx, target) if is_yes_no(a.low) else None
    probe_name = None
    if probe is not None and ctx.kg is not None:
        probe_name = ctx.kg.scalar("SELECT name FROM nodes WHERE id = ?", [probe])
    return {"target": target, "probe": probe, "probe_name": probe_name or probe}


def _fm_calls(p: Params) -> list[PlannedCall]:
    return _calls("list_failure_modes", target=p["target"])


def _fm_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    items = data.get("items", [])
    names = [i["name"] for i in items]
    if p.get("probe"):
        hit = next((i for i in items if i["id"] == p["probe"]), None)
        return composed("boolean", hit is not None,
                        f"{'Yes' if hit else 'No'}: {p.get('probe_name') or p['probe']} is {'' if hit else 'not '}"
                        f"a failure mode of {_who(data, p)}.")
    detail = "; ".join(f"{i['name']} (RPN {i.get('rpn')})" for i in items[:10])
    return composed("list", names, f"{_who(data, p)} can fail by {len(names)} modes, highest risk first: {detail}.")


def _who(data: dict[str, Any], p: Params) -> str:
    target = str(data.get("target", p["target"]))
    cls = data.get("asset_class")
    return f"the {cls} class" if target.startswith("class:") else f"{target} ({cls})"


# -- which sensors detect a failure mode ----------------------------------------------------------
def _match_fm_sensors(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not has(a.low, "sensor", "sensors", "detect", "detects", "indicate", "indicates", "monitor", "signal", "signals"):
        return None
    target = a.asset or (a.classes[0] if a.classes else None)
    fm = _mentioned_fm(a, ctx, target)
    if fm is None:
        return None
    return {"failure_mode": fm, "asset_id": a.asset}


def _fm_sensors_calls(p: Params) -> list[PlannedCall]:
    return _calls("sensors_for_failure_mode", failure_mode=p["failure_mode"], asset_id=p.get("asset_id"))


def _fm_sensors_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    sensors = data.get("sensors", [])
    if p.get("asset_id"):
        ids = [s["sensor_id"] for s in sensors if s.get("sensor_id")]
        how = "; ".join(f"{s['sensor_id']} {s['direction']}" for s in sensors if s.get("sensor_id"))
        missing = data.get("missing_types") or []
        extra = f" It has no sensor for: {', '.join(missing)}." if missing else ""
        return composed("list", ids, f"{data.get('failure_mode_name')} on {p['asset_id']} shows on {how}.{extra}")
    types = [s["sensor_type"] for s in sensors]
    how = "; ".join(f"{s['sensor_type']} {s['direction']} (likelihood {s['likelihood']})" for s in sensors)
    return composed("list", types, f"{data.get('failure_mode_name')} shows as: {how}.")


# -- sensors of an asset; assets of a line ---------------------------------------------------------
def _match_asset_sensors(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.assets or not has(a.low, "sensor", "sensors", "instrumented", "measured", "measure"):
        return None
    if re.search(r"\b(mean|average|max|maximum|min|minimum|latest|value|reading)\b", a.low):
        return None
    probe = a.sensor_types[0] if is_yes_no(a.low) and a.sensor_types else None
    return {"asset": a.assets[0], "probe": probe, "count": has(a.low, "how many")}


def _asset_sensors_calls(p: Params) -> list[PlannedCall]:
    return _calls("neighbors", node_id=p["asset"], rels=["has_sensor"], direction="out")


def _members_of(data: dict[str, Any], kind: str) -> list[str]:
    return sorted(n["id"] for n in data.get("nodes", []) if n.get("kind") == kind and n.get("depth", 1) >= 1)


def _asset_sensors_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    ids = _members_of(first_ok(results) or {}, "sensor")
    if p.get("probe"):
        hit = f"{p['asset']}.{p['probe']}" in ids
        return composed("boolean", hit, f"{'Yes' if hit else 'No'}: {p['asset']} has {'a' if hit else 'no'} {p['probe']} sensor.")
    if p.get("count"):
        return composed("count", len(ids), f"{p['asset']} has {len(ids)} sensors: {fmt_list(ids)}.")
    return composed("list", ids, f"{p['asset']} has {len(ids)} sensors: {fmt_list(ids)}.")


def _match_line_assets(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not a.lines or a.assets or not re.search(r"\b(assets?|machines?|equipment|what is on|what's on|in|on)\b", a.low):
        return None
    if has(a.low, "downstream", "upstream", "work order", "work orders", "alert", "alerts"):
        return None
    return {"line": a.lines[0], "count": has(a.low, "how many")}


def _line_assets_calls(p: Params) -> list[PlannedCall]:
    return _calls("neighbors", node_id=p["line"], rels=["part_of"], direction="in")


def _line_assets_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    ids = _members_of(first_ok(results) or {}, "asset")
    if p.get("count"):
        return composed("count", len(ids), f"Line {p['line']} has {len(ids)} assets: {fmt_list(ids)}.")
    return composed("list", ids, f"Line {p['line']} has {len(ids)} assets: {fmt_list(ids)}.")


# -- readings: latest / mean / max / min, threshold yes-no -----------------------------------------
_MEASURES = (("max", r"\b(max|maximum|peak|highest)\b"), ("min", r"\b(min|minimum|lowest)\b"),
             ("mean", r"\b(mean|average|avg|typical)\b"), ("latest", r"\b(latest|current|last|most recent|now)\b"))


def _match_sensor_stat(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    target = a.sensors[0] if a.sensors else a.asset
    if target is None or not (a.sensors or a.sensor_types):
        return None
    if has(a.low, "alert", "alerts", "alarm", "alarms", "anomaly", "anomalies", "work order", "work orders"):
        return None
    over = re.search(r"\b(?:exceed(?:ed)?|above|over|higher than|more than|reach(?:ed)?)\s+(-?\d+(?:\.\d+)?)", a.low)
    under = re.search(r"\b(?:below|under|lower than|less than|drop(?:ped)? below)\s+(-?\d+(?:\.\d+)?)", a.low)
    low = a.low
    if a.sensor_type == "current" and not re.search(r"\bcurrent\W+current\b", low):
        low = re.sub(r"\bcurrent\b", " ", low)  # "current" names the sensor type, not "now"
    measure = next((m for m, rx in _MEASURES if re.search(rx, low)), None)
    if over:
        measure, threshold, cmp = "max", float(over.group(1)), "gt"
    elif under:
        measure, threshold, cmp = "min", float(under.group(1)), "lt"
    else:
        threshold, cmp = None, None
    if measure is None:
        return None
    p = a.period
    return {"target": target, "sensor_type": None if a.sensors else a.sensor_type, "measure": measure,
            "start": iso(p.start) if p else None, "end": iso(p.end) if p else None, "label": p.label if p else None,
            "threshold": threshold, "cmp": cmp}


def _sensor_stat_calls(p: Params) -> list[PlannedCall]:
    return _calls("sensor_stats", target=p["target"], sensor_type=p.get("sensor_type"), start=p.get("start"),
                  end=p.get("end"))


def _sensor_stat_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    sensors = data.get("sensors", [])
    if not sensors or not sensors[0].get("count"):
        where = f" in {p['label']}" if p.get("label") else ""
        return composed("text", "no data", f"There are no readings for {p['target']}{where}.")
    s = sensors[0]
    key = {"latest": "latest_value", "max": "max", "min": "min", "mean": "mean"}[p["measure"]]
    value = s.get(key)
    value = round(float(value), 3) if value is not None else None
    when = f" in {p['label']}" if p.get("label") else (f" at {s.get('last_ts')}" if p["measure"] == "latest" else "")
    if p.get("cmp"):
        yes = value is not None and (value > p["threshold"] if p["cmp"] == "gt" else value < p["threshold"])
        word = "above" if p["cmp"] == "gt" else "below"
        return composed("boolean", yes, f"{'Yes' if yes else 'No'}: the {p['measure']} of {s['sensor_id']}{when} was "
                        f"{fmt_num(value, s.get('unit'))}, {'' if yes else 'not '}{word} {fmt_num(p['threshold'])}.")
    label = {"latest": "latest value", "max": "maximum", "min": "minimum", "mean": "mean"}[p["measure"]]
    return composed("number", value, f"The {label} of {s['sensor_id']}{when} is {fmt_num(value, s.get('unit'))} "
                    f"({s['count']} readings).")


# -- alerts ------------------------------------------------------------------------------------------
def _match_alerts(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not has(a.low, "alert", "alerts", "alarm", "alarms", "anomaly", "anomalies", "anomalous"):
        return None
    if not (a.assets or a.sensors):
        return None
    p = a.period
    mode = "bool" if is_yes_no(a.low) else "count" if has(a.low, "how many", "number of") else "list"
    return {"asset_id": None if a.sensors else a.asset, "sensor_id": a.sensors[0] if a.sensors else None,
            "start": iso(p.start) if p else None, "end": iso(p.end) if p else None, "label": p.label if p else None,
            "mode": mode}


def _alerts_calls(p: Params) -> list[PlannedCall]:
    return _calls("list_alerts", asset_id=p.get("asset_id"), sensor_id=p.get("sensor_id"), start=p.get("start"),
                  end=p.get("end"), limit=200)


def _alerts_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    items = data.get("items", [])
    total = int(data.get("total", len(items)))
    who = p.get("sensor_id") or p.get("asset_id")
    when = f" in {p['label']}" if p.get("label") else ""
    if p["mode"] == "bool":
        return composed("boolean", total > 0, f"{'Yes' if total else 'No'}: {total} alerts on {who}{when}.")
    if p["mode"] == "count":
        return composed("count", total, f"{total} alerts on {who}{when}.")
    ids = [i["id"] for i in items]
    desc = "; ".join(f"{i['id']} {i['start_ts']} {i['detector']}" for i in items[:10])
    return composed("list", ids, f"{total} alerts on {who}{when}" + (f": {desc}." if items else "."))


INTENTS: list[Intent] = [
    Intent("fm_sensors", "knowledge", _match_fm_sensors, _fm_sensors_calls, _fm_sensors_compose,
           "which sensors detect spindle bearing wear on CNC-07?"),
    Intent("failure_modes", "knowledge", _match_failure_modes, _fm_calls, _fm_compose,
           "what are the failure modes of a chiller?"),
    Intent("impact", "knowledge", _match_impact, _impact_calls, _impact_compose,
           "which assets are downstream of CMP-01?"),
    Intent("alerts", "knowledge", _match_alerts, _alerts_calls, _alerts_compose,
           "how many alerts did CNC-07 have in June 2024?"),
    Intent("sensor_stat", "knowledge", _match_sensor_stat, _sensor_stat_calls, _sensor_stat_compose,
           "what was the mean temperature of CHL-02 in June 2024?"),
    Intent("asset_sensors", "knowledge", _match_asset_sensors, _asset_sensors_calls, _asset_sensors_compose,
           "which sensors does CNC-07 have?"),
    Intent("line_assets", "knowledge", _match_line_assets, _line_assets_calls, _line_assets_compose,
           "which assets are on line L2?"),
]

"""Optimization-agent intents: chiller-plant and compressed-air setpoints, savings so far, applying setpoints.

Inputs come from the question when it states them ("at 1500 kW load and 22 °C wet bulb",
"35 m³/min", "6.2 bar at the furthest user"), else from the knowledge graph's readings, else
from documented defaults, and the answer says which:

- cooling load per hour: the chillers' ``load`` sensors, else their metered power x COP
  (``props.cop``, default 5.5); demand for compressed air: ``flow`` sensors, else metered power /
  full-load specific power (rated kW / capacity m³/min). Each horizon hour gets the mean of the
  same hour of day over the last :data:`HISTORY_DAYS` days of readings before "now" (or before
  the last reading when the data ends earlier);
- wet bulb: a site sensor whose id contains ``wet_bulb``, else :data:`DEFAULT_WET_BULB_C`;
- no readings: :data:`DEFAULT_LOAD_FRACTION` of the chiller capacity, :data:`DEFAULT_AIR_FRACTION`
  of the compressor capacity.

Horizons: "tonight" (22:00-06:00), "tomorrow" (24 h), "next N hours", "today" (until midnight),
else the current hour. The last recommendation per system is kept under
``<data_dir>/optimization/recommendations/<system>.json`` so that "apply the recommended setpoints"
writes exactly what was shown (through ``write_setpoints``, which needs approval); without one,
the optimizer is re-run for the current hour (deterministic) and the answer says so.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from agents.context import AgentContext
from agents.intents.analysis import analyze, has, reference_now
from agents.intents.common import composed, fmt_num, iso
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["DEFAULT_AIR_FRACTION", "DEFAULT_LOAD_FRACTION", "DEFAULT_WET_BULB_C", "HISTORY_DAYS", "INTENTS",
           "forecast_inputs", "horizon_hours"]

Params = dict[str, Any]
System = Literal["chiller", "compressed_air"]
DEFAULT_LOAD_FRACTION = 0.5
DEFAULT_AIR_FRACTION = 0.6
DEFAULT_WET_BULB_C = 20.0
DEFAULT_COP = 5.5
HISTORY_DAYS = 7
_REC_DIR = ("optimization", "recommendations")

_CHILLER = r"\b(chillers?|chilled[- ]water|chw|chws|cooling plant|chiller plant|cooling towers?)\b"
_AIR = r"\b(compressors?|compressed[- ]air|air station|air system|header pressure|air pressure)\b"
_ACTION = (r"\b(cut|reduce|save|saving|lower|optimi[sz]e|optimi[sz]ation|minimi[sz]e|minimum power|improve|"
           r"recommend(?:ed|ation)?|best|optimal|efficien(?:t|cy)|setpoints?)\b")


# -- horizon and inputs -------------------------------------------------------------------------------
def horizon_hours(low: str, ref: datetime) -> tuple[list[datetime], str]:
    """The hours a question covers (start of each hour) and a label."""
    h0 = ref.replace(minute=0, second=0, microsecond=0)
    if has(low, "tonight", "overnight", "this night"):
        start = h0 if (h0.hour >= 22 or h0.hour < 6) else h0.replace(hour=22)
        end = start.replace(hour=6) + timedelta(days=1 if start.hour >= 22 else 0)
        return _range(start, end), f"tonight ({start:%Y-%m-%d %H:%M}-{end:%H:%M})"
    if has(low, "tomorrow"):
        start = h0.replace(hour=0) + timedelta(days=1)
        return _range(start, start + timedelta(days=1)), f"tomorrow ({start:%Y-%m-%d}, 24 h)"
    m = re.search(r"\b(?:next|coming)\s+(\d{1,2})\s*(?:h|hours?)\b", low)
    if m:
        n = max(1, min(48, int(m.group(1))))
        return _range(h0, h0 + timedelta(hours=n)), f"the next {n} h from {h0:%Y-%m-%d %H:%M}"
    if has(low, "today", "rest of the day"):
        end = h0.replace(hour=0) + timedelta(days=1)
        return _range(h0, end), f"the rest of today ({h0:%H:%M}-24:00)"
    return [h0], f"the hour from {h0:%Y-%m-%d %H:%M}"


def _range(a: datetime, b: datetime) -> list[datetime]:
    return [a + timedelta(hours=i) for i in range(max(1, int((b - a) / timedelta(hours=1))))]


def _num(rx: str, low: str) -> float | None:
    m = re.search(rx, low)
    return float(m.group(1).replace(",", "")) if m else None


def _profile(ctx: AgentContext, factors: dict[str, float], ref: datetime) -> tuple[dict[int, float], str] | None:
    """Mean by hour of day of sum(sensor x factor) over the last HISTORY_DAYS days of readings before ``ref``."""
    if ctx.kg is None or not factors:
        return None
    ids = sorted(factors)
    last = ctx.kg.scalar("SELECT max(ts) FROM readings WHERE sensor_id IN (SELECT unnest(?::VARCHAR[])) AND ts < ?",
                         [ids, ref])
    if last is None:
        return None
    end = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=HISTORY_DAYS)
    rows = ctx.kg.query("SELECT sensor_id, date_trunc('hour', ts) AS t, avg(value) AS v FROM readings "
                        "WHERE sensor_id IN (SELECT unnest(?::VARCHAR[])) AND ts >= ? AND ts < ? GROUP BY 1, 2",
                        [ids, start, end])
    per_t: dict[datetime, float] = {}
    for r in rows:
        per_t[r["t"]] = per_t.get(r["t"], 0.0) + float(r["v"]) * factors[r["sensor_id"]]
    by_hour: dict[int, list[float]] = {}
    for t, v in per_t.items():
        by_hour.setdefault(t.hour, []).append(v)
    prof = {h: sum(vs) / len(vs) for h, vs in by_hour.items()}
    return prof, f"{start:%Y-%m-%d} to {end - timedelta(hours=1):%Y-%m-%d %H:00}"


def _series(prof: dict[int, float], hours: list[datetime]) -> list[float]:
    mean = sum(prof.values()) / len(prof)
    return [prof.get(h.hour, mean) for h in hours]


def forecast_inputs(
    ctx: AgentContext, system: System, hours: list[datetime], ref: datetime
) -> tuple[dict[str, list[float]], list[str]]:
    """Per-hour load (kW) and wet bulb (°C), or air demand (m³/min), from readings or defaults, with notes.

    Args:
        ctx: The agent context (its knowledge graph).
        system: chiller or compressed_air.
        hours: The horizon hours.
        ref: "Now" (readings before it are used).
    """
    from tools.optimization.kg import WET_BULB, air_station_from_kg, assets_of_class, chiller_plant_from_kg, sensor_roles

    notes: list[str] = []
    if system == "chiller":
        plant, _ = chiller_plant_from_kg(ctx.kg)
        cap = sum(c.capacity_kw for c in plant.chillers)
        assets = assets_of_class(ctx.kg, "chiller") if ctx.kg is not None else []
        roles = {a["id"]: sensor_roles(ctx.kg, a["id"], "chiller") for a in assets} if ctx.kg is not None else {}
        load, how = None, ""
        if assets and all("load_kw" in r for r in roles.values()):
            load, how = _profile(ctx, {r["load_kw"]: 1.0 for r in roles.values()}, ref), "load sensors"
        elif assets and all("power_kw" in r for r in roles.values()):
            factors = {roles[a["id"]]["power_kw"]: float(a["props"].get("cop", DEFAULT_COP)) for a in assets}
            load, how = _profile(ctx, factors, ref), "metered chiller power x COP"
        if load and load[0]:
            vals = [min(max(v, 0.05 * cap), 0.95 * cap) for v in _series(load[0], hours)]
            notes.append(f"cooling load {fmt_num(sum(vals) / len(vals), 'kW')} (mean) from {how}, same hours of "
                         f"{load[1]}")
        else:
            vals = [DEFAULT_LOAD_FRACTION * cap] * len(hours)
            notes.append(f"cooling load {fmt_num(vals[0], 'kW')}: default {DEFAULT_LOAD_FRACTION:.0%} of the "
                         f"{fmt_num(cap, 'kW')} plant (no readings to estimate it)")
        wb_ids = [r["id"] for r in ctx.kg.query("SELECT id FROM nodes WHERE kind = 'sensor' ORDER BY id")
                  if WET_BULB.search(r["id"])][:1] if ctx.kg is not None else []
        wb = _profile(ctx, {wb_ids[0]: 1.0}, ref) if wb_ids else None
        if wb and wb[0]:
            wbs = _series(wb[0], hours)
            notes.append(f"wet bulb {fmt_num(sum(wbs) / len(wbs), '°C')} (mean) from {wb_ids[0]}, {wb[1]}")
        else:
            wbs = [DEFAULT_WET_BULB_C] * len(hours)
            notes.append(f"wet bulb {DEFAULT_WET_BULB_C:g} °C: default (no wet-bulb sensor readings)")
        return {"load_kw": [round(v, 1) for v in vals], "wet_bulb_c": [round(v, 2) for v in wbs]}, notes
    st, _ = air_station_from_kg(ctx.kg)
    cap = sum(c.capacity_m3min for c in st.compressors)
    assets = assets_of_class(ctx.kg, "compressor") if ctx.kg is not None else []
    roles = {a["id"]: sensor_roles(ctx.kg, a["id"], "compressor") for a in assets} if ctx.kg is not None else {}
    spec = {c.asset_id: c for c in st.compressors}
    demand, how = None, ""
    if assets and all("flow_m3min" in r for r in roles.values()):
        demand, how = _profile(ctx, {r["flow_m3min"]: 1.0 for r in roles.values()}, ref), "flow sensors"
    elif assets and all("power_kw" in r for r in roles.values()):
        factors = {roles[a]["power_kw"]: spec[a].capacity_m3min / spec[a].rated_power_kw for a in roles}
        demand, how = _profile(ctx, factors, ref), "metered compressor power / full-load specific power"
    if demand and demand[0]:
        vals = [min(max(v, 0.05 * cap), 0.9 * cap) for v in _series(demand[0], hours)]
        notes.append(f"air demand {fmt_num(sum(vals) / len(vals), 'm³/min')} (mean) from {how}, same hours of {demand[1]}")
    else:
        vals = [DEFAULT_AIR_FRACTION * cap] * len(hours)
        notes.append(f"air demand {fmt_num(vals[0], 'm³/min')}: default {DEFAULT_AIR_FRACTION:.0%} of the "
                     f"{fmt_num(cap, 'm³/min')} station (no readings to estimate it)")
    return {"demand_m3min": [round(v, 2) for v in vals]}, notes


def _prices(low: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    objective = "cost" if re.search(r"\b(tariff|cost|costs|price|prices|money|bill|cheap)\b", low) else \
        "carbon" if re.search(r"\b(carbon|co2|emissions?|greenhouse)\b", low) else "energy"
    out["objective"] = objective
    t = _num(r"(\d+(?:\.\d+)?)\s*(?:€|eur|euros?|\$|usd)?\s*(?:/|per)\s*kwh", low)
    if t is not None:
        out["tariff_per_kwh"] = t
    g = _num(r"(\d+(?:\.\d+)?)\s*g\s*(?:co2)?\s*(?:/|per)\s*kwh", low)
    if g is not None:
        out["carbon_kg_per_kwh"] = g / 1000
    return out


def _store_dir(ctx: AgentContext) -> str | None:
    return str(ctx.data_dir.joinpath(*_REC_DIR)) if ctx.data_dir is not None else None


# -- chiller plant --------------------------------------------------------------------------------------
def _chiller_params(text: str, ctx: AgentContext) -> Params:
    low = text.lower()
    ref = reference_now(ctx)
    hours, label = horizon_hours(low, ref)
    load = _num(r"(\d[\d,]*(?:\.\d+)?)\s*kw(?:th|t)?\b", low) if has(low, "load", "cooling") else None
    wb = _num(r"wet[- ]?bulb(?: temperature)?(?: of| at| is|:|=)?\s*(-?\d+(?:\.\d+)?)", low)
    if wb is None:
        wb = _num(r"(-?\d+(?:\.\d+)?)\s*°?\s*c\s+wet[- ]?bulb", low)
    inputs, notes = forecast_inputs(ctx, "chiller", hours, ref)
    if load is not None:
        inputs["load_kw"], notes[0] = [load] * len(hours), f"cooling load {fmt_num(load, 'kW')} (given)"
    if wb is not None:
        inputs["wet_bulb_c"], notes[1] = [wb] * len(hours), f"wet bulb {wb:g} °C (given)"
    return {"system": "chiller", "label": label, "start": iso(hours[0]), **inputs, "inputs": notes, **_prices(low),
            "store": _store_dir(ctx)}


def _match_chiller(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(_CHILLER, low) or not re.search(_ACTION, low) or _is_savings(low) or _is_apply(low):
        return None
    return _chiller_params(text, ctx)


def _one(v: list[float]) -> float | list[float]:
    return v[0] if len(v) == 1 else v


def _chiller_calls(p: Params) -> list[PlannedCall]:
    args = {"load_kw": _one(p["load_kw"]), "wet_bulb_c": _one(p["wet_bulb_c"]), "objective": p["objective"]}
    args |= {k: p[k] for k in ("tariff_per_kwh", "carbon_kg_per_kwh") if k in p}
    return [PlannedCall(name="optimize_chiller_plant", args=args)]


def _save_recommendation(p: Params, res: dict[str, Any]) -> None:
    """Keep the shown recommendation so 'apply the recommended setpoints' writes exactly it."""
    if not p.get("store"):
        return
    h0 = res["hours"][0]
    rec = {"system": res["system"], "label": p["label"], "start": p["start"], "setpoints": [
        {"asset_id": s["asset_id"], "tag": s["tag"], "value": s["value"], "unit": s["unit"]} for s in res["setpoints"]],
        "predicted_saving_kw": round(h0["baseline_kw"] - h0["optimized_kw"], 3), "tariff_per_kwh": h0["tariff_per_kwh"],
        "carbon_kg_per_kwh": h0["carbon_kg_per_kwh"], "percent": round(res["saving"]["percent"], 2)}
    d = Path(p["store"])
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{res['system']}.json").write_text(json.dumps(rec, indent=1), encoding="utf-8")


def _first_ok(results: list[dict[str, Any]], failure: str) -> tuple[Any, Composed]:
    """The first successful result's data, else None and the composed failure ("<failure>: <errors>")."""
    data = next((r["data"] for r in results if r.get("ok")), None)
    err = "; ".join(str(r.get("error")) for r in results if not r.get("ok")) or "no result"
    return data, composed("text", err, f"{failure}: {err}")


def _setpoint_text(res: dict[str, Any]) -> str:
    return "; ".join(f"{s['asset_id']} {s['tag']} {fmt_num(s['value'])}"
                     + (f" (now {fmt_num(s['current'])})" if s.get("current") is not None else "") for s in res["setpoints"])


def _saving_text(res: dict[str, Any]) -> str:
    s = res["saving"]
    return (f"{fmt_num(s['kwh'], 'kWh')} ({s['percent']:.1f} %, cost {fmt_num(s['cost'])}, {fmt_num(s['kg_co2'], 'kg CO2')}; "
            f"90 % band {fmt_num(s['kwh_band']['low'])}..{fmt_num(s['kwh_band']['high'])} kWh)")


def _chiller_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    res, failed = _first_ok(results, "I could not optimize the chiller plant")
    if res is None:
        return failed
    _save_recommendation(p, res)
    h0 = res["hours"][0]
    table = {"saving_kwh": round(res["saving"]["kwh"], 3), "saving_percent": round(res["saving"]["percent"], 3),
             "saving_cost": round(res["saving"]["cost"], 3), "saving_kg_co2": round(res["saving"]["kg_co2"], 3),
             "baseline_kw": round(h0["baseline_kw"], 3), "optimized_kw": round(h0["optimized_kw"], 3),
             "hours": len(res["hours"]), "chws_setpoint_c": round(h0["setpoints"]["chws_c"], 3),
             "cws_setpoint_c": round(h0["setpoints"]["cws_c"], 3), "running": h0["configuration"],
             "load_kw": p["load_kw"][0], "wet_bulb_c": p["wet_bulb_c"][0]}
    binding = ", ".join(res["binding_constraints"]) or "none"
    answer = (f"For {p['label']} the chiller plant can save {_saving_text(res)} against the usual practice by running "
              f"{h0['configuration']} with chilled water at {h0['setpoints']['chws_c']:.1f} °C and condenser water at "
              f"{h0['setpoints']['cws_c']:.1f} °C (first hour {fmt_num(h0['baseline_kw'], 'kW')} -> "
              f"{fmt_num(h0['optimized_kw'], 'kW')}). Setpoints: {_setpoint_text(res)}. Binding constraints: {binding}. "
              f"Inputs: {'; '.join(p['inputs'])}; objective {res['objective']}. Say 'apply the recommended setpoints' "
              "to write them (needs approval).")
    return composed("table", table, answer)


# -- compressed air --------------------------------------------------------------------------------------
def _air_params(text: str, ctx: AgentContext) -> Params:
    low = text.lower()
    ref = reference_now(ctx)
    hours, label = horizon_hours(low, ref)
    inputs, notes = forecast_inputs(ctx, "compressed_air", hours, ref)
    demand = _num(r"(\d+(?:\.\d+)?)\s*(?:m3|m³|m\^3|cubic met(?:er|re)s?)\s*(?:/|per)\s*min", low)
    if demand is not None:
        inputs["demand_m3min"], notes[0] = [demand] * len(hours), f"air demand {fmt_num(demand, 'm³/min')} (given)"
    min_bar = _num(r"(\d+(?:\.\d+)?)\s*bar", low)
    return {"system": "compressed_air", "label": label, "start": iso(hours[0]), **inputs, "inputs": notes,
            "min_pressure_bar": min_bar if min_bar is not None else 6.2, "min_given": min_bar is not None,
            **_prices(low), "store": _store_dir(ctx)}


def _match_air(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(_AIR, low) or _is_savings(low) or _is_apply(low):
        return None
    if not (re.search(_ACTION, low) or re.search(r"\bwhat (header )?pressure\b|\bfurthest user\b", low)):
        return None
    return _air_params(text, ctx)


def _air_calls(p: Params) -> list[PlannedCall]:
    args = {"demand_m3min": _one(p["demand_m3min"]), "min_pressure_bar": p["min_pressure_bar"], "objective": p["objective"]}
    args |= {k: p[k] for k in ("tariff_per_kwh", "carbon_kg_per_kwh") if k in p}
    return [PlannedCall(name="optimize_compressed_air", args=args)]


def _air_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    res, failed = _first_ok(results, "I could not optimize the compressed-air station")
    if res is None:
        return failed
    _save_recommendation(p, res)
    h0 = res["hours"][0]
    pressure = round(float(h0["setpoints"]["pressure_bar"]), 3)
    now = next((s.get("current") for s in res["setpoints"] if s["tag"] == "pressure_setpoint"), None)
    loads = ", ".join(f"{k.removeprefix('load ')} {'off' if v == 0 else f'{100 * v:.0f} %'}"
                      for k, v in h0["setpoints"].items() if k.startswith("load "))
    user = h0["setpoints"].get("user_pressure_bar")
    binding = ", ".join(res["binding_constraints"]) or "none"
    answer = (f"Set the header pressure to {pressure:.2f} barg" + (f" (now {now:g})" if now is not None else "")
              + (f": the furthest user then gets {user:.2f} bar (minimum {p['min_pressure_bar']:g})" if user else "")
              + f". Run {loads}. Power {fmt_num(h0['baseline_kw'], 'kW')} -> {fmt_num(h0['optimized_kw'], 'kW')}; over "
              f"{p['label']} that saves {_saving_text(res)}. Binding constraints: {binding}. Inputs: "
              f"{'; '.join(p['inputs'])}; minimum pressure {p['min_pressure_bar']:g} bar"
              f"{' (given)' if p['min_given'] else ' (default)'}. Say 'apply the recommended compressor setpoints' to "
              "write them (needs approval).")
    return composed("number", pressure, answer)


# -- savings so far ------------------------------------------------------------------------------------------
def _is_savings(low: str) -> bool:
    return bool(re.search(r"\b(did|has|have|had)\b.*\bsav(e|ed|ing|ings)\b|\bsaved\b|\bsavings (so far|of|from|in|"
                          r"since|last|this|during)\b|\bhow much .*\bsav(e|ed)\b.*\b(last|this|so far|since|week|month)\b",
                          low))


def _match_savings(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not _is_savings(low) or not re.search(r"\b(optimi[sz]\w*|setpoints?|recommendations?|runs?)\b", low):
        return None
    a = analyze(text, ctx)
    if a.period is not None:
        start, end, label = a.period.start, a.period.end, a.period.label
    else:
        end = reference_now(ctx)
        start, label = end - timedelta(days=7), "the last 7 days"
    return {"start": iso(start), "end": iso(end), "label": label}


def _savings_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="optimization_savings", args={"start": p["start"], "end": p["end"]})]


def _savings_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = next((r["data"] for r in results if r.get("ok")), None) or {}
    runs = d.get("runs", [])
    total = round(float(d.get("total_kwh", 0.0)), 3)
    per = "; ".join(f"{r['run_id']} ({r['system']}, applied {str(r['applied_at'])[:16].replace('T', ' ')} by "
                    f"{r['approved_by']}): {fmt_num(r['kwh'], 'kWh')} over {r['hours_in_effect']:g} h" for r in runs[:6])
    if not runs:
        return composed("number", 0.0, f"No approved optimization setpoints were in effect in {p['label']}, so nothing was "
                        "saved by them.")
    return composed("number", total, f"In {p['label']} the approved setpoints saved {fmt_num(total, 'kWh')} "
                    f"(cost {fmt_num(d.get('total_cost'))}, {fmt_num(d.get('total_kg_co2'), 'kg CO2')}), "
                    f"{d.get('basis', 'predicted')} basis: {per}.")


# -- apply ------------------------------------------------------------------------------------------------------
def _is_apply(low: str) -> bool:
    return bool(re.search(r"\b(apply|implement|write|push|activate|accept|put in place|go ahead with)\b", low)
                and re.search(r"\b(setpoints?|recommend\w*|optimi[sz]\w*|them|it|settings)\b", low))


def _stored(ctx: AgentContext, system: System | None) -> dict[str, Any] | None:
    d = _store_dir(ctx)
    if d is None:
        return None
    files = [Path(d) / f"{s}.json" for s in ((system,) if system else ("chiller", "compressed_air"))]
    files = sorted((f for f in files if f.is_file()), key=lambda f: f.stat().st_mtime, reverse=True)
    return json.loads(files[0].read_text(encoding="utf-8")) if files else None


def _recompute(text: str, ctx: AgentContext, system: System) -> dict[str, Any]:
    """Re-run the optimizer for the current hour (deterministic) when no recommendation is stored."""
    from agents.toolexec import result_to_jsonable

    p = _chiller_params(text, ctx) if system == "chiller" else _air_params(text, ctx)
    call = (_chiller_calls if system == "chiller" else _air_calls)(p)[0]
    res = result_to_jsonable(ctx.tools.get(call.name)(ctx.tool_context(), **call.args))
    h0 = res["hours"][0]
    return {"system": system, "label": p["label"], "setpoints": [
        {"asset_id": s["asset_id"], "tag": s["tag"], "value": s["value"], "unit": s["unit"]} for s in res["setpoints"]],
        "predicted_saving_kw": round(h0["baseline_kw"] - h0["optimized_kw"], 3), "tariff_per_kwh": h0["tariff_per_kwh"],
        "carbon_kg_per_kwh": h0["carbon_kg_per_kwh"], "percent": round(res["saving"]["percent"], 2), "recomputed": True}


def _match_apply(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not _is_apply(low) or re.search(r"\b(schedule|plan|draft|work ?orders?)\b", low):
        return None
    system: System | None = "chiller" if re.search(_CHILLER, low) else "compressed_air" if re.search(_AIR, low) else None
    if system is None and not re.search(r"\b(setpoints?|recommend\w*|optimi[sz]\w*)\b", low):
        return None
    rec = _stored(ctx, system) or _recompute(text, ctx, system or "chiller")
    return {"rec": rec}


def _apply_calls(p: Params) -> list[PlannedCall]:
    rec = p["rec"]
    reason = (f"{'Re-computed' if rec.get('recomputed') else 'Recommended'} {rec['system']} setpoints for {rec['label']}: "
              f"predicted saving {rec['predicted_saving_kw']:g} kW ({rec['percent']:g} %) vs usual practice.")
    return [PlannedCall(name="write_setpoints", args={
        "setpoints": rec["setpoints"], "reason": reason, "system": rec["system"],
        "predicted_saving_kw": rec["predicted_saving_kw"], "tariff_per_kwh": rec["tariff_per_kwh"],
        "carbon_kg_per_kwh": rec["carbon_kg_per_kwh"]})]


def _apply_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d, failed = _first_ok(results, "No setpoints were written")
    if d is None:
        return failed
    rows = "; ".join(f"{r['asset_id']} {r['tag']} {fmt_num(r['value'], r.get('unit'))}" for r in d["rows"])
    how = " (re-computed for the current hour: no earlier recommendation was stored)" if p["rec"].get("recomputed") else ""
    return composed("text", d["run_id"], f"Wrote {len(d['rows'])} {p['rec']['system']} setpoints as run {d['run_id']}"
                    f"{how}, approved by {d['approved_by']} at {str(d['applied_at'])[:16].replace('T', ' ')}: {rows}.")


INTENTS: list[Intent] = [
    Intent("apply_setpoints", "optimization", _match_apply, _apply_calls, _apply_compose,
           "apply the recommended setpoints"),
    Intent("optimization_savings", "optimization", _match_savings, _savings_calls, _savings_compose,
           "what did last week's optimization save?"),
    Intent("optimize_air", "optimization", _match_air, _air_calls, _air_compose,
           "what pressure setpoint minimizes compressor power while keeping 6.2 bar at the furthest user?",
           needs_kg=False),
    Intent("optimize_chiller", "optimization", _match_chiller, _chiller_calls, _chiller_compose,
           "how can we cut chiller energy tonight?", needs_kg=False),
]

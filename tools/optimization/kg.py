"""Read chillers (``CHL-*``) and compressors (``CMP-*``) and their readings from the knowledge graph.

Assets are nodes of kind ``asset`` whose ``props.class`` is ``chiller`` or ``compressor``. A plant
model is built from their props when present (``capacity_kw``/``cop``/``rated_power_kw`` for
chillers; ``capacity_m3min``/``rated_power_kw``/``control``/``max_pressure_bar`` for compressors),
else from the reference plant.

Sensors are found per *role* by ``props.role`` when set, else by the part of the sensor id after
``<ASSET>.`` (the KG contract names sensors ``<ASSET>.<type>``):

=================  =====================================================================
chiller role       sensor id suffix (regex) / fallback
=================  =====================================================================
``power_kw``       ``power`` (electrical input, kW)
``load_kw``        ``load``, ``cooling_load`` (thermal output, kW)
``chws_c``         ``chws[_*]``, ``chw_supply[_*]``, ``supply_temp``, or the only
                   ``temperature`` sensor whose normal range is below 15 °C
``cws_c``          ``cws[_*]``, ``cw_supply[_*]``, ``condenser[_*]``, ``cond_temp``
``wet_bulb_c``     any sensor whose id contains ``wet_bulb``/``wetbulb`` (site weather)
compressor role
``power_kw``       ``power``
``flow_m3min``     ``flow`` (free air delivery, m³/min)
``pressure_bar``   ``pressure`` (discharge/header, barg)
=================  =====================================================================
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Literal

import pandas as pd

from knowledge.store import KnowledgeStore
from tools.errors import ToolFailed
from tools.optimization.chiller import ChillerPlant, ChillerSpec, CoolingTowerSpec, default_chiller_plant
from tools.optimization.compressed_air import PART_LOAD_CURVES, AirStation, CompressorSpec, default_air_station

__all__ = [
    "ROLE_PATTERNS",
    "air_station_from_kg",
    "assets_of_class",
    "chiller_plant_from_kg",
    "sensor_roles",
    "training_frame",
]

System = Literal["chiller", "compressed_air"]

ROLE_PATTERNS: dict[str, dict[str, str]] = {
    "chiller": {
        "power_kw": r"^(power|power_kw|kw|electric_power)$",
        "load_kw": r"^(load|load_kw|cooling_load|cooling_kw|thermal_load)$",
        "chws_c": r"^(chws|chw_supply|supply_temp|chilled_water|lchwt)(_\w+)?$",
        "cws_c": r"^(cws|cw_supply|condenser|cond_temp|ecwt)(_\w+)?$",
    },
    "compressor": {
        "power_kw": r"^(power|power_kw|kw)$",
        "flow_m3min": r"^(flow|flow_m3min|fad)$",
        "pressure_bar": r"^(pressure|discharge_pressure|pressure_bar)$",
    },
}
WET_BULB = re.compile(r"wet_?bulb", re.IGNORECASE)


def _props(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    return json.loads(v) if v else {}


def assets_of_class(kg: KnowledgeStore, cls: Literal["chiller", "compressor"]) -> list[dict[str, Any]]:
    """Assets of one class, sorted by id: ``{"id", "name", "props"}``.

    Args:
        kg: The knowledge store.
        cls: ``chiller`` or ``compressor``.
    """
    rows = kg.query("SELECT id, name, props FROM nodes WHERE kind = 'asset' AND json_extract_string(props, '$.class') = ? "
                    "ORDER BY id", [cls])
    return [{"id": r["id"], "name": r["name"], "props": _props(r["props"])} for r in rows]


def chiller_plant_from_kg(kg: KnowledgeStore | None) -> tuple[ChillerPlant, list[str]]:
    """The chiller plant model for the KG's chillers (or the reference plant), with notes.

    Args:
        kg: The knowledge store, or None.
    """
    assets = assets_of_class(kg, "chiller") if kg is not None else []
    if not assets:
        return default_chiller_plant(), ["No chiller assets in the knowledge graph: using the reference plant (CHL-01..03)."]
    specs = []
    for a in assets:
        p = a["props"]
        cop = float(p.get("cop", 5.5))
        cap = float(p.get("capacity_kw") or (float(p["rated_power_kw"]) * cop if p.get("rated_power_kw") else 1400.0))
        specs.append(ChillerSpec(a["id"], cap, cop))
    total = sum(s.capacity_kw for s in specs)
    tower = CoolingTowerSpec(design_rejection_kw=total * 1.2, fan_power_kw=total * 0.0129)
    return ChillerPlant(chillers=tuple(specs), tower=tower, chw_pump_design_kw=total * 0.0114,
                        cw_pump_kw=total / len(specs) * 0.0129), [
        f"Chiller plant from the knowledge graph: {', '.join(s.asset_id for s in specs)} ({total:.0f} kW)."]


def air_station_from_kg(kg: KnowledgeStore | None) -> tuple[AirStation, list[str]]:
    """The air station model for the KG's compressors (or the reference station), with notes.

    Args:
        kg: The knowledge store, or None.
    """
    assets = assets_of_class(kg, "compressor") if kg is not None else []
    if not assets:
        return default_air_station(), ["No compressor assets in the knowledge graph: using the reference "
                                       "station (CMP-01..04)."]
    specs = []
    for i, a in enumerate(assets):
        p = a["props"]
        power = float(p.get("rated_power_kw", 110.0))
        control = p.get("control") or ("vsd" if i == len(assets) - 1 else "load_unload")
        if control not in PART_LOAD_CURVES:
            raise ToolFailed(f"{a['id']}: props.control {control!r} is not one of {sorted(PART_LOAD_CURVES)}; fix the asset.")
        specs.append(CompressorSpec(a["id"], control, float(p.get("capacity_m3min", power / 5.8)), power,  # type: ignore[arg-type]
                                    max_pressure_bar=float(p.get("max_pressure_bar", 10.0)),
                                    min_load=0.25 if control == "vsd" else 0.0))
    cap = sum(s.capacity_m3min for s in specs)
    st = AirStation(compressors=tuple(specs), leak_m3min_ref=cap * 0.08, design_flow_m3min=cap * 0.85)
    return st, [f"Air station from the knowledge graph: {', '.join(s.asset_id for s in specs)} ({cap:.1f} m³/min)."]


def sensor_roles(kg: KnowledgeStore, asset_id: str, kind: Literal["chiller", "compressor"]) -> dict[str, str]:
    """Map roles (``power_kw``, ``chws_c``...) to the asset's sensor ids (see the module table).

    Args:
        kg: The knowledge store.
        asset_id: The asset.
        kind: ``chiller`` or ``compressor``.
    """
    rows = kg.query("SELECT id, props FROM nodes WHERE kind = 'sensor' AND (id LIKE ? OR "
                    "json_extract_string(props, '$.asset_id') = ?) ORDER BY id", [asset_id + ".%", asset_id])
    out: dict[str, str] = {}
    temps: list[tuple[str, dict[str, Any]]] = []
    for r in rows:
        props = _props(r["props"])
        suffix = r["id"].split(".", 1)[1].lower() if "." in r["id"] else r["id"].lower()
        role = props.get("role")
        if role in ROLE_PATTERNS[kind]:
            out[role] = r["id"]
            continue
        for name, pat in ROLE_PATTERNS[kind].items():
            if name not in out and re.match(pat, suffix):
                out[name] = r["id"]
        if props.get("type") == "temperature" or suffix == "temperature":
            temps.append((r["id"], props))
    if kind == "chiller" and "chws_c" not in out:
        cold = [sid for sid, p in temps if float(p.get("normal_high", 99)) <= 15.0]
        if len(cold) == 1:
            out["chws_c"] = cold[0]
    return out


def _hourly(kg: KnowledgeStore, sensor_ids: list[str], start: datetime | None, end: datetime | None) -> pd.DataFrame:
    if not sensor_ids:
        return pd.DataFrame()
    marks = ",".join("?" * len(sensor_ids))
    sql = (f"SELECT sensor_id, date_trunc('hour', ts) AS hour, avg(value) AS value FROM readings "
           f"WHERE sensor_id IN ({marks})")
    params: list[Any] = list(sensor_ids)
    if start is not None:
        sql += " AND ts >= ?"
        params.append(start)
    if end is not None:
        sql += " AND ts < ?"
        params.append(end)
    rows = kg.query(sql + " GROUP BY 1, 2", params)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).pivot(index="hour", columns="sensor_id", values="value").sort_index()


def training_frame(kg: KnowledgeStore, system: System, *, start: datetime | None = None,
                   end: datetime | None = None) -> pd.DataFrame:
    """Hourly plant-level training rows for a surrogate.

    Chiller columns: ``load_kw`` (sum), ``power_kw`` (sum), ``chws_c`` and ``cws_c`` (mean over
    running chillers), ``wet_bulb_c``. Compressed-air columns: ``demand_m3min`` (sum of flows),
    ``pressure_bar`` (mean), ``power_kw`` (sum).

    Args:
        kg: The knowledge store.
        system: ``chiller`` or ``compressed_air``.
        start: First hour (inclusive), or None.
        end: Last hour (exclusive), or None.
    """
    kind: Literal["chiller", "compressor"] = "chiller" if system == "chiller" else "compressor"
    assets = assets_of_class(kg, kind)
    if not assets:
        raise ToolFailed(f"No {kind} assets in the knowledge graph; the surrogate needs their readings. "
                         "Use model='physics'.")
    need = ["power_kw", "load_kw", "chws_c", "cws_c"] if kind == "chiller" else ["power_kw", "flow_m3min", "pressure_bar"]
    roles = {a["id"]: sensor_roles(kg, a["id"], kind) for a in assets}
    lacking = {a: [r for r in need if r not in m] for a, m in roles.items()}
    lacking = {a: r for a, r in lacking.items() if r}
    if lacking:
        raise ToolFailed(f"Sensors missing for the surrogate: {lacking} (expected e.g. '<ASSET>.power', "
                         "'<ASSET>.chws_temp'... see tools.optimization.kg). Use model='physics'.")
    sensors = [s for m in roles.values() for s in m.values()]
    wb: list[str] = []
    if kind == "chiller":
        wb = [r["id"] for r in kg.query("SELECT id FROM nodes WHERE kind = 'sensor'") if WET_BULB.search(r["id"])][:1]
        if not wb:
            raise ToolFailed("No wet-bulb sensor (id containing 'wet_bulb') in the knowledge graph; the chiller "
                             "surrogate needs the weather. Use model='physics'.")
    wide = _hourly(kg, sensors + wb, start, end)
    if wide.empty:
        raise ToolFailed("No readings for the chiller/compressor sensors in that window. Use model='physics'.")
    wide = wide.reindex(columns=sensors + wb)
    cols = lambda role: [roles[a][role] for a in roles]  # noqa: E731
    if kind == "chiller":
        power = wide[cols("power_kw")].fillna(0.0)
        running = power > 1.0
        out = pd.DataFrame({
            "load_kw": wide[cols("load_kw")].fillna(0.0).sum(axis=1),
            "wet_bulb_c": wide[wb[0]],
            "chws_c": wide[cols("chws_c")].where(running.to_numpy()).mean(axis=1),
            "cws_c": wide[cols("cws_c")].where(running.to_numpy()).mean(axis=1),
            "power_kw": power.sum(axis=1),
        })
        return out[out["load_kw"] > 0].dropna()
    power = wide[cols("power_kw")].fillna(0.0)
    out = pd.DataFrame({
        "demand_m3min": wide[cols("flow_m3min")].fillna(0.0).sum(axis=1),
        "pressure_bar": wide[cols("pressure_bar")].where((power > 1.0).to_numpy()).mean(axis=1),
        "power_kw": power.sum(axis=1),
    })
    return out[out["demand_m3min"] > 0].dropna()

"""A small real DuckDB plant for the optimization tests: chillers, a tower, compressors, readings.

The readings are generated from the first-principles models (seeded, with noise) over a range
of setpoints, so a surrogate fitted to them can be checked against the model it learns.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from knowledge.store import KnowledgeStore
from tools.optimization.chiller import ChillerDecision, chiller_plant_power, default_chiller_plant
from tools.optimization.compressed_air import air_station_power, baseline_air_decision, default_air_station

START = datetime(2024, 7, 1)


def build_plant_kg(path: Path, *, hours: int = 400, seed: int = 0) -> KnowledgeStore:
    """Write the test plant into a DuckDB file and return the (writable) store."""
    kg = KnowledgeStore(path)
    plant, st = default_chiller_plant(), default_air_station()
    rng = np.random.default_rng(seed)
    nodes: list[tuple[str, str, str, str]] = [("SITE", "site", "Test site", "{}")]
    sensors: dict[str, tuple[str, str, float, float]] = {"SITE.wet_bulb": ("temperature", "degC", 5, 30)}
    for c in plant.chillers:
        nodes.append((c.asset_id, "asset", f"Chiller {c.asset_id}",
                      json.dumps({"class": "chiller", "line": "UT", "capacity_kw": c.capacity_kw, "cop": c.cop_ref})))
        for sfx, typ, unit, lo, hi in [("power", "power", "kW", 0, 400), ("load", "power", "kW", 0, 1600),
                                       ("chws_temp", "temperature", "degC", 5, 10), ("cws_temp", "temperature", "degC", 18, 34)]:
            sensors[f"{c.asset_id}.{sfx}"] = (typ, unit, lo, hi)
    for c in st.compressors:
        nodes.append((c.asset_id, "asset", f"Compressor {c.asset_id}",
                      json.dumps({"class": "compressor", "line": "UT", "rated_power_kw": c.rated_power_kw,
                                  "capacity_m3min": c.capacity_m3min, "control": c.control})))
        for sfx, typ, unit, lo, hi in [("power", "power", "kW", 0, 130), ("flow", "flow", "m3/min", 0, 20),
                                       ("pressure", "pressure", "barg", 5, 9)]:
            sensors[f"{c.asset_id}.{sfx}"] = (typ, unit, lo, hi)
    for sid, (typ, unit, lo, hi) in sensors.items():
        asset = sid.split(".")[0]
        nodes.append((sid, "sensor", sid, json.dumps({"type": typ, "unit": unit, "asset_id": asset,
                                                      "normal_low": lo, "normal_high": hi})))
    readings: list[tuple[str, datetime, float]] = []
    for h in range(hours):
        ts = START + timedelta(hours=h)
        wb = float(rng.uniform(12, 26))
        load = float(rng.uniform(600, 2600))
        chws, cws = float(rng.uniform(6.0, 8.5)), float(rng.uniform(max(24.0, wb + 4.5), 32.0))
        caps = [c.capacity_kw for c in plant.chillers[:2]]
        d = ChillerDecision(chws, cws, (load * caps[0] / sum(caps), load * caps[1] / sum(caps), 0.0))
        pw = chiller_plant_power(plant, load, wb, d)
        aux = (pw.chw_pump_kw + pw.cw_pump_kw + pw.fan_kw) / 2
        readings.append(("SITE.wet_bulb", ts, wb))
        for c, q, kw in zip(plant.chillers, d.loads_kw, pw.chillers_kw, strict=True):
            on = q > 0
            readings += [(f"{c.asset_id}.power", ts, kw + aux * on + rng.normal(0, 1.0) * on),
                         (f"{c.asset_id}.load", ts, q), (f"{c.asset_id}.chws_temp", ts, chws if on else 12.0),
                         (f"{c.asset_id}.cws_temp", ts, cws if on else wb + 3)]
        demand = float(rng.uniform(15, 45))
        p = float(rng.uniform(6.8, 8.2))
        ad = baseline_air_decision(st, demand, pressure_bar=p)
        ap = air_station_power(st, demand, ad)
        for c, f, kw in zip(st.compressors, ad.loads, ap.compressors_kw, strict=True):
            readings += [(f"{c.asset_id}.power", ts, kw + rng.normal(0, 0.5) * (f is not None)),
                         (f"{c.asset_id}.flow", ts, (f or 0.0) * c.capacity_m3min),
                         (f"{c.asset_id}.pressure", ts, p if f is not None else 0.0)]
    with kg.transaction() as con:
        con.executemany("INSERT INTO nodes VALUES (?, ?, ?, ?)", nodes)
        con.executemany("INSERT INTO edges VALUES (?, ?, 'has_sensor', NULL)",
                        [(sid.split(".")[0], sid) for sid in sensors])
        con.executemany("INSERT INTO readings VALUES (?, ?, ?)", readings)
    return kg

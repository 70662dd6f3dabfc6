"""Work orders (3 years, consistent with the injected faults) and production orders of the demo plant."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from knowledge.demo.catalog import FMEA, REMEDIES, FailureModeSpec, ProductSpec
from knowledge.demo.plant import Asset
from knowledge.demo.signals import Fault

__all__ = ["production_orders", "work_orders"]

_PM_DAYS = {"cnc": 90, "press": 90, "robot": 180, "chiller": 120, "compressor": 90, "pump": 180, "conveyor": 120}
_PM_TASKS = {
    "cnc": "check spindle runout, lubricate ways, replace coolant filter",
    "press": "check hydraulic oil level and filters, inspect seals, test safety light curtain",
    "robot": "grease axes, check cable dress pack, verify home positions",
    "chiller": "check refrigerant charge, clean filters, log approach temperatures",
    "compressor": "drain condensate, replace oil filter, check belt tension",
    "pump": "lubricate bearings, check seal for leakage, verify alignment",
    "conveyor": "check belt tension and tracking, lubricate rollers",
}
_SYMPTOM_TEXT = {
    ("vibration", "up"): "high vibration", ("temperature", "up"): "temperature above limit",
    ("temperature", "down"): "temperature unusually low", ("current", "up"): "high motor current",
    ("current", "down"): "motor current dropped", ("power", "up"): "power draw increased",
    ("power", "down"): "power draw dropped", ("pressure", "up"): "high pressure",
    ("pressure", "down"): "low pressure", ("flow", "down"): "low flow", ("speed", "down"): "speed dropped",
}
_HIST_START = datetime(2022, 1, 1)
_HIST_END = datetime(2025, 1, 1)


def _corrective_text(asset: Asset, fm: FailureModeSpec, rng: np.random.Generator) -> str:
    sym = ", ".join(_SYMPTOM_TEXT[(t, d)] for t, d, _l in fm.symptoms[:2])
    opener = ["Operator reported", "Breakdown:", "Machine stopped -", "Alarm on HMI:"][int(rng.integers(4))]
    return f"{opener} {sym} on {asset.id}. Found {fm.name.lower()} ({fm.component}). {REMEDIES[fm.remedies[0]].name}."


def _row(asset: Asset, wtype: str, desc: str, reported: datetime, hours: float, rng: np.random.Generator,
         fm: FailureModeSpec | None = None, props: dict[str, object] | None = None) -> dict[str, object]:
    started = reported + timedelta(minutes=int(rng.integers(15, 180)) if wtype == "corrective" else 0)
    finished = started + timedelta(minutes=max(15, round(hours * 60)))
    return {
        "asset_id": asset.id, "type": wtype, "description": desc,
        "failure_code": fm.code if fm else None, "failure_mode_id": f"fm:{asset.cls}.{fm.slug}" if fm else None,
        "component": fm.component if fm else None, "reported_at": reported, "started_at": started,
        "finished_at": finished, "status": "closed", "alert_id": None, "created_by": "demo",
        "props": json.dumps(props) if props else None,
    }


def work_orders(assets: list[Asset], faults: list[Fault], rng: np.random.Generator) -> pd.DataFrame:
    """Preventive, inspection and corrective work orders 2022-2024; 2024 corrective ones are the faults."""
    rows: list[dict[str, object]] = []
    for a in assets:
        every = _PM_DAYS[a.cls]
        t = _HIST_START + timedelta(days=int(rng.integers(0, every)), hours=7)
        while t < _HIST_END:
            hours = float(rng.uniform(1.5, 4.0))
            rows.append(_row(a, "preventive", f"Preventive maintenance ({every}-day): {_PM_TASKS[a.cls]}.", t, hours, rng))
            t += timedelta(days=every + int(rng.integers(-5, 6)))
        if a.cls in ("chiller", "compressor", "pump"):
            t = _HIST_START + timedelta(days=int(rng.integers(0, 28)), hours=9)
            while t < _HIST_END:
                note = "readings within limits, no findings" if rng.random() < 0.85 else "slight noise noted, monitor"
                rows.append(_row(a, "inspection", f"Monthly inspection: {note}.", t, 0.5, rng))
                t += timedelta(days=30)
        # background failures before the monitored year (no readings then)
        fms = FMEA[a.cls]
        w = np.array([fm.occurrence for fm in fms], dtype=float)
        for _ in range(int(rng.poisson(w.sum() / 10 * 2))):
            fm = fms[int(rng.choice(len(fms), p=w / w.sum()))]
            when = _HIST_START + timedelta(hours=int(rng.integers(0, 2 * 8760)))
            hours = REMEDIES[fm.remedies[0]].duration_h * float(rng.lognormal(0.0, 0.2))
            cost = round(REMEDIES[fm.remedies[0]].cost * float(rng.uniform(0.9, 1.3)), 2)
            rows.append(_row(a, "corrective", _corrective_text(a, fm, rng), when, hours, rng, fm,
                             {"downtime_h": round(hours, 2), "cost": cost}))
    for f in faults:
        hours = (f.repair_end - f.repair_start).total_seconds() / 3600
        row = _row(f.asset, "corrective", _corrective_text(f.asset, f.fm, rng), f.failure, hours, rng, f.fm,
                   {"fault_id": f.id, "downtime_h": round((f.repair_end - f.failure).total_seconds() / 3600, 2),
                    "cost": REMEDIES[f.fm.remedies[0]].cost})
        row["started_at"], row["finished_at"] = f.repair_start, f.repair_end
        rows.append(row)
    df = pd.DataFrame(rows).sort_values(["reported_at", "asset_id", "type"], kind="stable").reset_index(drop=True)
    df.insert(0, "id", [f"WO-{i + 1:05d}" for i in range(len(df))])
    return df


def production_orders(products: list[ProductSpec], start: datetime, n: int,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Planned production orders released from ``start`` and their routings (eligible machines)."""
    factor: dict[str, float] = {}
    orders: list[dict[str, object]] = []
    ops: list[dict[str, object]] = []
    for i in range(n):
        p = products[int(rng.integers(len(products)))]
        qty = int(rng.integers(2, 21)) * 10
        release = start + timedelta(minutes=30 * int(rng.integers(0, 96)))
        total = 0
        oid = f"PO-{1001 + i}"
        for seq, (op, machines, base) in enumerate(p.routing):
            durs = []
            for m in machines:
                f = factor.setdefault(m, float(rng.uniform(0.8, 1.3)))
                d = max(5, round(base * qty / 100 * f))
                durs.append(d)
                ops.append({"order_id": oid, "seq": seq, "name": op, "machine_id": m, "duration_min": d})
            total += min(durs)
        due = release + timedelta(hours=int(np.ceil(total * float(rng.uniform(2.0, 4.0)) / 60)) + 8)
        orders.append({"id": oid, "product_id": p.id, "quantity": qty, "line_id": p.line, "release_ts": release,
                       "due_ts": due, "priority": int(rng.integers(1, 4)), "status": "planned",
                       "props": json.dumps({"product_name": p.name})})
    return pd.DataFrame(orders), pd.DataFrame(ops)

"""Topology of the demo plant: site, lines, assets, sensors, FMEA and compute nodes as rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from knowledge.demo.catalog import CLASSES, FMEA, PRODUCTS, REMEDIES, SENSOR_SPECS, ProductSpec

__all__ = ["SITE_ID", "Asset", "Layout", "Scale", "build_layout"]

Scale = Literal["tiny", "small", "large"]
SITE_ID = "SITE-1"

_LINES: dict[str, tuple[str, list[str]]] = {
    "L1": ("Machining line", ["Line 1", "Machining"]),
    "L2": ("Press shop", ["Line 2", "Pressing line", "Stamping"]),
    "L3": ("Assembly line", ["Line 3", "Assembly"]),
    "L4": ("Utilities", ["Line 4", "Utility plant", "Energy centre"]),
}

_CLASS_NAMES = {
    "cnc": "CNC machine", "press": "Hydraulic press", "robot": "Industrial robot", "chiller": "Chiller",
    "compressor": "Air compressor", "pump": "Pump", "conveyor": "Conveyor",
}
_MAKERS = {
    "cnc": "Norden Machine Tools", "press": "Hydroform", "robot": "Axion Robotics", "chiller": "Polar Systems",
    "compressor": "AirWorks", "pump": "FlowServe Demo", "conveyor": "BeltLine",
}
_POWER_KW = {"cnc": 25, "press": 55, "robot": 8, "chiller": 180, "compressor": 110, "pump": 30, "conveyor": 5}


def _rng_ids(prefix: str, first: int, last: int, width: int = 2) -> list[str]:
    return [f"{prefix}-{i:0{width}d}" if width else f"{prefix}-{i}" for i in range(first, last + 1)]


_SMALL_ASSETS: dict[str, list[str]] = {
    "L1": [*_rng_ids("CNC", 1, 8), "RBT-01", "RBT-02", "CNV-01", "CNV-02"],
    "L2": [*_rng_ids("PRS", 1, 5), "RBT-03", "RBT-04", "CNV-03", "CNV-04"],
    "L3": ["CNC-09", "CNC-10", *_rng_ids("RBT", 5, 8), "CNV-05", "CNV-06"],
    "L4": _rng_ids("CHL", 1, 3) + _rng_ids("CMP", 1, 3) + _rng_ids("P", 1, 6, 0),
}
_TINY_ASSETS: dict[str, list[str]] = {"L1": ["CNC-01", "CNC-02", "CNC-03", "RBT-01", "CNV-01", "CHL-01", "CMP-01", "P-1", "P-4"]}


def _feeds() -> list[tuple[str, str, str]]:
    """Material and utility flows (src feeds dst), for the full plant; filtered per scale."""
    e: list[tuple[str, str, str]] = []

    def many(srcs: list[str], dsts: list[str], medium: str) -> None:
        e.extend((s, d, medium) for s in srcs for d in dsts)

    cnc = _rng_ids("CNC", 1, 10)
    many(["CNV-01"], cnc[0:4], "material")
    many(cnc[0:4], ["RBT-01"], "material")
    many(["RBT-01"], ["CNV-02"], "material")
    many(["CNV-02"], cnc[4:8], "material")
    many(cnc[4:8], ["RBT-02"], "material")
    many(["RBT-02"], ["CNV-05"], "material")
    many(["CNV-03"], ["PRS-01", "PRS-02"], "material")
    many(["PRS-01", "PRS-02"], ["PRS-03", "PRS-04"], "material")
    many(["PRS-03", "PRS-04"], ["PRS-05"], "material")
    many(["PRS-05"], ["RBT-03"], "material")
    many(["RBT-03"], ["CNV-04"], "material")
    many(["CNV-04"], ["RBT-04"], "material")
    many(["RBT-04"], ["CNV-05"], "material")
    many(["CNV-05"], cnc[8:10], "material")
    many(cnc[8:10], ["RBT-05", "RBT-06"], "material")
    many(["RBT-05", "RBT-06"], ["CNV-06"], "material")
    many(["CNV-06"], ["RBT-07", "RBT-08"], "material")
    for i in (1, 2, 3):
        many([f"P-{i}"], [f"CHL-0{i}"], "condenser water")
        many([f"CHL-0{i}"], [f"P-{i + 3}"], "chilled water")
    many(["P-4"], cnc[0:4], "chilled water")
    many(["P-5"], cnc[4:10], "chilled water")
    many(["P-6"], _rng_ids("PRS", 1, 5), "chilled water")
    many(["CMP-01"], _rng_ids("RBT", 1, 4), "compressed air")
    many(["CMP-02"], _rng_ids("RBT", 5, 8), "compressed air")
    many(["CMP-03"], _rng_ids("PRS", 1, 5), "compressed air")
    return e


_PREFIX_CLASS = {"CNC": "cnc", "PRS": "press", "RBT": "robot", "CHL": "chiller", "CMP": "compressor", "P": "pump",
                 "CNV": "conveyor"}


def _asset_naming(aid: str) -> tuple[str, list[str]]:
    prefix, num = aid.rsplit("-", 1)
    n = int(num)
    cls = _PREFIX_CLASS[prefix]
    names = {
        "cnc": (f"CNC machining center {n}", [f"CNC{n}", f"MC-{n:02d}", f"Machining center {n}"]),
        "press": (f"Hydraulic press {n}", [f"Press {n}", f"PR{n}"]),
        "robot": (f"Handling robot {n}", [f"Robot {n}", f"R{n}"]),
        "chiller": (f"Chiller {n}", [f"CH-{n}", f"Chiller {n}"]),
        "compressor": (f"Air compressor {n}", [f"C-{n}", f"Compressor {n}", f"AC{n}"]),
        "pump": (f"{'Condenser' if n <= 3 else 'Chilled'}-water pump {n}", [f"Pump {n}", f"P{n}", f"PU-{n:02d}"]),
        "conveyor": (f"Conveyor {n}", [f"Conveyor {n}", f"CV{n}"]),
    }
    return names[cls]


@dataclass
class Asset:
    """One demo asset and its place in the plant."""

    id: str
    cls: str
    line: str
    name: str
    aliases: list[str]


@dataclass
class Layout:
    """Nodes and edges of the demo plant (rows ready for a bulk insert)."""

    lines: list[str]
    assets: list[Asset]
    nodes: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, kind, name, props json
    edges: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # src, dst, rel, props json
    sensors: list[tuple[str, str, str]] = field(default_factory=list)  # sensor id, asset id, type
    products: list[ProductSpec] = field(default_factory=list)

    def node(self, nid: str, kind: str, name: str, props: dict[str, object]) -> None:
        """Add a node row."""
        self.nodes.append((nid, kind, name, json.dumps(props)))

    def edge(self, src: str, dst: str, rel: str, props: dict[str, object] | None = None) -> None:
        """Add an edge row."""
        self.edges.append((src, dst, rel, json.dumps(props) if props else None))


def _fmea(lay: Layout, classes: set[str]) -> None:
    symptoms: set[tuple[str, str]] = set()
    remedies: set[str] = set()
    for cls in CLASSES:
        if cls not in classes:
            continue
        lay.node(f"class:{cls}", "asset_class", _CLASS_NAMES[cls], {"class": cls})
        for fm in FMEA[cls]:
            fid = f"fm:{cls}.{fm.slug}"
            lay.node(fid, "failure_mode", fm.name, {
                "code": fm.code, "component": fm.component, "severity": fm.severity, "occurrence": fm.occurrence,
                "detection": fm.detection, "rpn": fm.severity * fm.occurrence * fm.detection, "asset_class": cls,
                "onset": fm.onset,
            })
            lay.edge(f"class:{cls}", fid, "may_fail_by")
            for stype, direction, lik in fm.symptoms:
                symptoms.add((stype, direction))
                lay.edge(fid, f"sym:{stype}_{direction}", "shows_symptom", {"likelihood": lik})
            for r in fm.remedies:
                remedies.add(r)
                lay.edge(fid, f"rem:{r}", "fixed_by")
    for stype, direction in sorted(symptoms):
        word = "rising" if direction == "up" else "falling"
        lay.node(f"sym:{stype}_{direction}", "symptom", f"{stype.capitalize()} {word}",
                 {"sensor_type": stype, "direction": direction})
    for r in sorted(remedies):
        spec = REMEDIES[r]
        lay.node(f"rem:{r}", "remedy", spec.name,
                 {"duration_h": spec.duration_h, "parts": list(spec.parts), "cost": spec.cost})


def build_layout(scale: Scale, rng: np.random.Generator) -> Layout:
    """Build the plant's nodes and edges for a scale ('tiny' is one line of 9 assets)."""
    plan = _TINY_ASSETS if scale == "tiny" else _SMALL_ASSETS
    lay = Layout(lines=list(plan), assets=[])
    lay.node(SITE_ID, "site", "Demo plant", {"timezone": "UTC", "aliases": ["plant", "site"]})
    for line, ids in plan.items():
        lname, laliases = _LINES[line]
        lay.node(line, "line", lname, {"site": SITE_ID, "aliases": laliases})
        lay.edge(line, SITE_ID, "part_of")
        for aid in ids:
            cls = _PREFIX_CLASS[aid.rsplit("-", 1)[0]]
            name, aliases = _asset_naming(aid)
            lay.assets.append(Asset(aid, cls, line, name, aliases))
    present = {a.id for a in lay.assets}
    for a in lay.assets:
        lay.node(a.id, "asset", a.name, {
            "class": a.cls, "line": a.line, "aliases": a.aliases, "manufacturer": _MAKERS[a.cls],
            "install_year": int(rng.integers(2008, 2022)), "rated_power_kw": _POWER_KW[a.cls],
        })
        lay.edge(a.id, a.line, "part_of")
        lay.edge(a.id, f"class:{a.cls}", "instance_of")
        for spec in SENSOR_SPECS[a.cls]:
            sid = f"{a.id}.{spec.type}"
            props: dict[str, object] = {"type": spec.type, "unit": spec.unit, "asset_id": a.id,
                                        "normal_low": spec.normal_low, "normal_high": spec.normal_high}
            if spec.alarm_high is not None:
                props["alarm_high"] = spec.alarm_high
            if spec.alarm_low is not None:
                props["alarm_low"] = spec.alarm_low
            props["sampling"] = "1min" if scale == "large" else "1h"
            lay.node(sid, "sensor", f"{a.id} {spec.type}", props)
            lay.edge(a.id, sid, "has_sensor")
            lay.sensors.append((sid, a.id, spec.type))
    for src, dst, medium in _feeds():
        if src in present and dst in present:
            lay.edge(src, dst, "feeds", {"medium": medium})
    _fmea(lay, {a.cls for a in lay.assets})
    for p in PRODUCTS:
        routing = tuple((op, tuple(m for m in ms if m in present), base) for op, ms, base in p.routing)
        routing = tuple(r for r in routing if r[1])
        if len(routing) < 2:
            continue
        line = p.line if p.line in plan else lay.lines[0]
        lay.products.append(ProductSpec(p.id, p.name, line, routing))
        lay.node(p.id, "product", p.name, {"line": line, "routing": [r[0] for r in routing]})
        lay.edge(p.id, line, "produced_on")
    _compute(lay)
    return lay


def _compute(lay: Layout) -> None:
    """Compute nodes for placement questions: device gateways per line, one edge server, a cloud region."""
    lay.node("edge-01", "compute_node", "Plant edge server",
             {"tier": "edge", "cpu_cores": 16, "memory_gb": 64, "gpu": "none", "site": SITE_ID, "power_w": 350})
    lay.edge("edge-01", SITE_ID, "part_of")
    lay.node("cloud-eu-west", "compute_node", "Cloud region eu-west",
             {"tier": "cloud", "region": "eu-west", "gpu": "H100", "cost_per_h": 4.0})
    lay.edge("edge-01", "cloud-eu-west", "links_to", {"latency_ms": 25, "bandwidth_mbps": 500})
    for line in lay.lines:
        gw = f"gw-{line}"
        lay.node(gw, "compute_node", f"Gateway {line}",
                 {"tier": "device", "cpu_cores": 4, "memory_gb": 8, "line": line, "power_w": 15})
        lay.edge(gw, line, "part_of")
        lay.edge(gw, "edge-01", "links_to", {"latency_ms": 2, "bandwidth_mbps": 1000})

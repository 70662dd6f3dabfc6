"""FMEA lookups: asset class of a target, failure modes by id/name/code, their symptoms and remedies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from knowledge.graph.entities import get_node, get_nodes, require_node
from knowledge.graph.models import FailureModeInfo, Node, RemedyInfo, SymptomLink
from tools.errors import ToolRetry, did_you_mean

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["failure_mode_infos", "resolve_asset_class", "resolve_failure_mode"]


def resolve_asset_class(kg: KnowledgeStore, target: str) -> tuple[str, str]:
    """(class name, the target's id) for an asset id/alias or a class ('cnc', 'class:cnc', 'CNC machine')."""
    classes = [r["id"] for r in kg.query("SELECT id FROM nodes WHERE kind = 'asset_class' ORDER BY id")]
    for ref in (target, f"class:{target.lower()}"):
        if ref in classes:
            return ref.removeprefix("class:"), ref
    try:
        node = require_node(kg, target, kinds=["asset", "asset_class"], what="asset or asset class")
    except ToolRetry:
        raise ToolRetry(did_you_mean(target, [c.removeprefix("class:") for c in classes], what="asset or class")
                        + " (or an asset id)") from None
    if node.kind == "asset_class":
        return node.id.removeprefix("class:"), node.id
    cls = node.props.get("class")
    if not cls:
        raise ToolRetry(f"Asset {node.id!r} has no class; import it with a class to use its FMEA.")
    return str(cls), node.id


def failure_mode_infos(kg: KnowledgeStore, fm_ids: list[str]) -> list[FailureModeInfo]:
    """FMEA rows (symptoms, remedies) for failure-mode node ids, highest RPN first."""
    nodes = get_nodes(kg, fm_ids)
    links = kg.query(
        "SELECT e.src, e.dst, e.rel, e.props AS eprops, n.name, n.props FROM edges e LEFT JOIN nodes n ON n.id = e.dst "
        "WHERE e.src IN (SELECT unnest(?::VARCHAR[])) AND e.rel IN ('shows_symptom', 'fixed_by') ORDER BY e.dst",
        [fm_ids])
    syms: dict[str, list[SymptomLink]] = {i: [] for i in fm_ids}
    rems: dict[str, list[RemedyInfo]] = {i: [] for i in fm_ids}
    for r in links:
        props: dict[str, Any] = json.loads(r["props"]) if r["props"] else {}
        eprops: dict[str, Any] = json.loads(r["eprops"]) if r["eprops"] else {}
        if r["rel"] == "shows_symptom":
            syms[r["src"]].append(SymptomLink(id=r["dst"], sensor_type=props.get("sensor_type", "unknown"),
                                              direction=props.get("direction", "up"),
                                              likelihood=float(eprops.get("likelihood", 0.5))))
        else:
            rems[r["src"]].append(RemedyInfo(id=r["dst"], name=r["name"], duration_h=props.get("duration_h"),
                                             parts=list(props.get("parts") or []), cost=props.get("cost")))
    out = []
    for fid in fm_ids:
        n = nodes.get(fid)
        if n is None:
            continue
        p = n.props
        sod = [p.get(k) for k in ("severity", "occurrence", "detection")]
        rpn = p.get("rpn") or (sod[0] * sod[1] * sod[2] if all(isinstance(x, int) for x in sod) else None)
        out.append(FailureModeInfo(
            id=fid, name=n.name, code=p.get("code"), component=p.get("component"), asset_class=p.get("asset_class"),
            severity=sod[0], occurrence=sod[1], detection=sod[2], rpn=rpn,
            symptoms=sorted(syms[fid], key=lambda s: -s.likelihood), remedies=rems[fid]))
    return sorted(out, key=lambda f: (-(f.rpn or 0), f.id))




def resolve_failure_mode(kg: KnowledgeStore, ref: str, asset: Node | None) -> Node:
    """A failure mode by id, name or code (code and name are resolved within the asset's class when given)."""
    node = get_node(kg, ref)
    if node and node.kind == "failure_mode":
        return node
    cls = asset.props.get("class") if asset else None
    rows = kg.query(
        "SELECT id FROM nodes WHERE kind = 'failure_mode' AND (upper(props->>'code') = upper(?) OR lower(name) = lower(?)"
        " OR id = ?) AND (? IS NULL OR props->>'asset_class' = ?) ORDER BY id",
        [ref, ref, f"fm:{cls}.{ref}" if cls else ref, cls, cls])
    if len(rows) == 1:
        found = get_node(kg, rows[0]["id"])
        assert found is not None
        return found
    if len(rows) > 1:
        raise ToolRetry(f"Failure mode {ref!r} is ambiguous; give an asset_id or one of: "
                        + ", ".join(repr(r["id"]) for r in rows[:10]))
    return require_node(kg, ref, kinds=["failure_mode"])

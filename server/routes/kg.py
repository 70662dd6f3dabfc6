"""Read-only knowledge-graph queries: stats, entity search, neighbours, paths, impact."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool

from knowledge.graph import Neighborhood, PathResult
from server.brain import Brain
from server.deps import ApiError, BrainDep, ViewerDep
from tools import kgtools
from tools.errors import ToolRetry
from tools.registry import ToolContext

__all__ = ["router"]

router = APIRouter(prefix="/v1/kg", tags=["knowledge graph"])

NodeId = Path(..., min_length=1, max_length=200, description="Node id (or exact name/alias), e.g. CNC-07.")
Rels = Query(None, max_length=20, description="Only follow these relations (repeat the parameter).")


async def _run(brain: Brain, who: Any, fn: Any, params: dict[str, Any], *, blame: tuple[str, ...]) -> Any:
    """Call a kg tool read-only; its ToolRetry becomes a 4xx naming the parameter at fault."""
    if brain.kg is None:
        raise ApiError(409, "No knowledge graph is loaded; run 'indagent kg demo' (or 'indagent kg init') and restart.",
                       code="no_knowledge_graph")
    tool = fn.__indagent_tool__
    ctx = ToolContext(kg=brain.kg, data_dir=brain.settings.reports_dir, actor=who.id)
    try:
        return await run_in_threadpool(tool, ctx, **params)
    except ToolRetry as exc:
        msg = str(exc)
        param = next((p for p in blame if params.get(p) is not None and repr(params[p]) in msg), blame[0])
        status = 404 if msg.lower().startswith("unknown") else 422
        raise ApiError(status, msg, param=param, code="not_found" if status == 404 else "invalid_value") from None


@router.get("/stats", response_model=kgtools.KgStats)
async def stats(brain: BrainDep, who: ViewerDep) -> Any:
    """Counts of nodes by kind, edges by relation, fact-table rows and data time spans."""
    return await _run(brain, who, kgtools.kg_stats, {}, blame=("kg",))


@router.get("/find", response_model=kgtools.EntityMatches)
async def find(
    brain: BrainDep, who: ViewerDep,
    q: str = Query(..., min_length=1, max_length=200, description="Text naming the entity (typos tolerated)."),
    kind: kgtools.NodeKind | None = Query(None),
    limit: int = Query(10, ge=1, le=200),
) -> Any:
    """Find entities by id, name or alias."""
    return await _run(brain, who, kgtools.find_entities, {"query": q, "kind": kind, "limit": limit}, blame=("query",))


@router.get("/neighbors/{node_id}", response_model=Neighborhood)
async def neighbors(
    brain: BrainDep, who: ViewerDep, node_id: str = NodeId,
    depth: int = Query(1, ge=1, le=4),
    rels: list[str] | None = Rels,
    direction: Literal["out", "in", "both"] = Query("both"),
    limit: int = Query(200, ge=1, le=2000),
) -> Any:
    """Nodes within a few hops and the edges between them."""
    params = {"node_id": node_id, "depth": depth, "rels": rels, "direction": direction, "limit": limit}
    return await _run(brain, who, kgtools.neighbors, params, blame=("node_id", "rels"))


@router.get("/path", response_model=PathResult)
async def path(
    brain: BrainDep, who: ViewerDep,
    source: str = Query(..., min_length=1, max_length=200),
    target: str = Query(..., min_length=1, max_length=200),
    directed: bool = Query(False),
    rels: list[str] | None = Rels,
    max_depth: int = Query(12, ge=1, le=30),
) -> Any:
    """The shortest chain of relations between two nodes."""
    params = {"source": source, "target": target, "directed": directed, "rels": rels, "max_depth": max_depth}
    return await _run(brain, who, kgtools.shortest_path, params, blame=("source", "target", "rels"))


@router.get("/impact/{node_id}", response_model=kgtools.ImpactResult)
async def impact(
    brain: BrainDep, who: ViewerDep, node_id: str = NodeId,
    direction: Literal["downstream", "upstream"] = Query("downstream"),
    max_depth: int = Query(30, ge=1, le=100),
) -> Any:
    """What a stop of an asset or line affects downstream (or what feeds it, upstream)."""
    fn = kgtools.downstream_assets if direction == "downstream" else kgtools.upstream_assets
    return await _run(brain, who, fn, {"node_id": node_id, "max_depth": max_depth}, blame=("node_id",))

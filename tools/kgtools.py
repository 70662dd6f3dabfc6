"""Read-only knowledge-graph tools: entities, neighbourhoods, impact, paths, FMEA, sensor stats, alerts.

Every tool takes ``ctx: ToolContext`` (``ctx.kg`` is the store) and returns a pydantic model.
Unknown ids raise :class:`~tools.errors.ToolRetry` with the closest valid ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from knowledge import graph as g
from knowledge.graph import (
    Alert,
    EntityMatch,
    FailureModeInfo,
    ImpactItem,
    Neighborhood,
    Node,
    PathResult,
    SensorStats,
    SeriesPoint,
)
from knowledge.store import KnowledgeStore
from tools.errors import ConfigError, ToolRetry, did_you_mean
from tools.registry import ToolContext, tool

__all__ = [
    "AlertList",
    "CriticalAssets",
    "DetectingSensor",
    "EntityMatches",
    "FailureModeList",
    "FailureModeSensors",
    "ImpactResult",
    "KgStats",
    "NodeKind",
    "SensorSeries",
    "SensorStatsResult",
    "critical_assets",
    "default_window",
    "downstream_assets",
    "find_entities",
    "kg_stats",
    "list_alerts",
    "list_failure_modes",
    "neighbors",
    "require_kg",
    "sensor_history",
    "sensor_stats",
    "sensors_for_failure_mode",
    "shortest_path",
    "upstream_assets",
]

NodeKind = Literal["site", "line", "asset", "sensor", "asset_class", "failure_mode", "symptom", "remedy", "product",
                   "compute_node", "model", "component", "operation"]


def require_kg(ctx: ToolContext) -> KnowledgeStore:
    """The knowledge store of the context; ConfigError when the caller gave none."""
    if ctx.kg is None:
        raise ConfigError("This tool needs the knowledge graph: pass ToolContext(kg=KnowledgeStore(...)).")
    return ctx.kg


def default_window(kg: KnowledgeStore, ctx: ToolContext, start: datetime | None, end: datetime | None,
                   *, sensor_ids: list[str] | None = None, hours: float = 24) -> tuple[datetime, datetime]:
    """[start, end): end defaults to ctx.now or just after the last reading; start to ``hours`` before end."""
    if start is not None and end is not None and start >= end:
        raise ToolRetry(f"start {start.isoformat()} must be before end {end.isoformat()}.")
    if end is None:
        if ctx.now is not None and (start is None or ctx.now > start):
            end = ctx.now
        else:
            _first, last = g.data_range(kg, sensor_ids)
            end = (last + timedelta(seconds=1)) if last else (start or datetime(1970, 1, 1)) + timedelta(hours=hours)
    if start is None:
        start = end - timedelta(hours=hours)
    return start, end


class EntityMatches(BaseModel):
    """Nodes matching a text, best first."""

    query: str
    matches: list[EntityMatch]


@tool(tags=("kg",))
def find_entities(ctx: ToolContext, query: str, *, kind: NodeKind | None = None, limit: int = 10) -> EntityMatches:
    """Find plant entities (assets, lines, sensors, failure modes...) by id, name or alias, tolerating typos.

    Args:
        ctx: Tool context (knowledge store, clock).
        query: Text naming the entity, e.g. 'CNC 7', 'chiller 2', 'C-1' or 'bearing wear'.
        kind: Only nodes of this kind.
        limit: How many matches at most.
    """
    kg = require_kg(ctx)
    return EntityMatches(query=query, matches=g.find_entities(kg, query, kinds=[kind] if kind else None, limit=limit))


@tool(tags=("kg",))
def neighbors(
    ctx: ToolContext, node_id: str, *, depth: int = 1, rels: list[str] | None = None,
    direction: Literal["out", "in", "both"] = "both", limit: int = 200,
) -> Neighborhood:
    """The nodes within a few hops of a node and the edges between them.

    Args:
        ctx: Tool context (knowledge store, clock).
        node_id: Id (or exact name/alias) of the centre node, e.g. 'CNC-07'.
        depth: Number of hops, 1 to 4.
        rels: Only follow these relations (part_of, has_sensor, feeds, instance_of, may_fail_by, ...).
        direction: Follow edges outwards, inwards or both ways.
        limit: How many nodes at most (closest first).
    """
    kg = require_kg(ctx)
    if not 1 <= depth <= 4:
        raise ToolRetry(f"depth must be between 1 and 4, got {depth}.")
    node = g.require_node(kg, node_id)
    return g.neighborhood(kg, node.id, depth=depth, direction=direction, rels=rels, limit=limit)


class ImpactResult(BaseModel):
    """What a stop of ``source`` affects downstream (or what it depends on upstream) along ``feeds``."""

    source: str
    direction: Literal["downstream", "upstream"]
    items: list[ImpactItem]
    assets: list[str]
    lines_affected: list[str]


def _impact(ctx: ToolContext, node_id: str, direction: Literal["downstream", "upstream"], max_depth: int) -> ImpactResult:
    kg = require_kg(ctx)
    node = g.require_node(kg, node_id, kinds=["asset", "line", "site"], what="asset or line")
    items = g.impact(kg, node.id, direction=direction, max_depth=max_depth)
    assets = [i.id for i in items if i.kind == "asset"]
    lines = sorted({i.line for i in items if i.line})
    return ImpactResult(source=node.id, direction=direction, items=items, assets=assets, lines_affected=lines)


@tool(tags=("kg", "diagnosis"))
def downstream_assets(ctx: ToolContext, node_id: str, *, max_depth: int = 30) -> ImpactResult:
    """Assets affected downstream (material, chilled water, compressed air...) when an asset or line stops.

    Args:
        ctx: Tool context (knowledge store, clock).
        node_id: Asset or line id, e.g. 'P-1' or 'L2'.
        max_depth: How many 'feeds' hops to follow at most.
    """
    return _impact(ctx, node_id, "downstream", max_depth)


@tool(tags=("kg", "diagnosis"))
def upstream_assets(ctx: ToolContext, node_id: str, *, max_depth: int = 30) -> ImpactResult:
    """Assets upstream that feed an asset or line (possible external causes of its problem).

    Args:
        ctx: Tool context (knowledge store, clock).
        node_id: Asset or line id, e.g. 'CNC-07'.
        max_depth: How many 'feeds' hops to follow at most.
    """
    return _impact(ctx, node_id, "upstream", max_depth)


@tool(tags=("kg",))
def shortest_path(
    ctx: ToolContext, source: str, target: str, *, directed: bool = False, rels: list[str] | None = None,
    max_depth: int = 12,
) -> PathResult:
    """The shortest chain of relations linking two nodes (e.g. how a pump is connected to a robot).

    Args:
        ctx: Tool context (knowledge store, clock).
        source: Id of the first node.
        target: Id of the second node.
        directed: Follow edges only in their direction (e.g. material flow with rels=['feeds']).
        rels: Only these relations.
        max_depth: Longest path searched.
    """
    kg = require_kg(ctx)
    a = g.require_node(kg, source)
    b = g.require_node(kg, target)
    return g.shortest_path(kg, a.id, b.id, directed=directed, rels=rels, max_depth=max_depth)


class FailureModeList(BaseModel):
    """The failure modes of an asset class (highest RPN first)."""

    target: str
    asset_class: str
    items: list[FailureModeInfo]


@tool(tags=("kg", "diagnosis"))
def list_failure_modes(ctx: ToolContext, target: str) -> FailureModeList:
    """The FMEA of an asset or asset class: failure modes with severity/occurrence/detection, symptoms, remedies.

    Args:
        ctx: Tool context (knowledge store, clock).
        target: Asset id (e.g. 'CHL-02') or asset class (e.g. 'chiller' or 'class:chiller').
    """
    kg = require_kg(ctx)
    cls, ref = g.resolve_asset_class(kg, target)
    fm_ids = [r["dst"] for r in kg.query(
        "SELECT dst FROM edges WHERE src = ? AND rel = 'may_fail_by' ORDER BY dst", [f"class:{cls}"])]
    return FailureModeList(target=ref, asset_class=cls, items=g.failure_mode_infos(kg, fm_ids))


class DetectingSensor(BaseModel):
    """A sensor (or, without an asset, a sensor type) that shows a failure mode's symptom."""

    sensor_id: str | None
    sensor_type: str
    direction: Literal["up", "down"]
    likelihood: float
    unit: str | None = None
    normal_low: float | None = None
    normal_high: float | None = None
    alarm_low: float | None = None
    alarm_high: float | None = None


class FailureModeSensors(BaseModel):
    """Which sensors detect a failure mode (symptoms -> sensor types -> the asset's sensors)."""

    failure_mode_id: str
    failure_mode_name: str | None
    asset_id: str | None
    sensors: list[DetectingSensor]
    missing_types: list[str] = Field(default_factory=list, description="symptom sensor types the asset lacks")


@tool(tags=("kg", "diagnosis"))
def sensors_for_failure_mode(ctx: ToolContext, failure_mode: str, *, asset_id: str | None = None) -> FailureModeSensors:
    """Which sensors would show a failure mode: its symptoms mapped to the asset's sensors of those types.

    Args:
        ctx: Tool context (knowledge store, clock).
        failure_mode: Failure-mode id (e.g. 'fm:pump.cavitation'), name, or code (e.g. 'BRG-WEAR' with asset_id).
        asset_id: The asset whose sensors to list; without it only sensor types are returned.
    """
    kg = require_kg(ctx)
    asset = g.require_node(kg, asset_id, kinds=["asset"]) if asset_id else None
    fm = g.resolve_failure_mode(kg, failure_mode, asset)
    if asset is not None and fm.props.get("asset_class") not in (None, asset.props.get("class")):
        raise ToolRetry(f"Failure mode {fm.id!r} belongs to class {fm.props.get('asset_class')!r} but {asset.id!r} is "
                        f"a {asset.props.get('class')!r}; call list_failure_modes({asset.id!r}).")
    info = g.failure_mode_infos(kg, [fm.id])[0]
    by_type: dict[str, Node] = {}
    if asset is not None:
        for r in kg.query("SELECT n.id FROM edges e JOIN nodes n ON n.id = e.dst WHERE e.src = ? AND "
                          "e.rel = 'has_sensor' ORDER BY n.id", [asset.id]):
            s = g.get_node(kg, r["id"])
            if s is not None:
                by_type.setdefault(str(s.props.get("type")), s)
    sensors, missing = [], []
    for sym in info.symptoms:
        s = by_type.get(sym.sensor_type)
        if asset is not None and s is None:
            missing.append(sym.sensor_type)
            continue
        p = s.props if s else {}
        sensors.append(DetectingSensor(sensor_id=s.id if s else None, sensor_type=sym.sensor_type,
                                       direction=sym.direction, likelihood=sym.likelihood, unit=p.get("unit"),
                                       normal_low=p.get("normal_low"), normal_high=p.get("normal_high"),
                                       alarm_low=p.get("alarm_low"), alarm_high=p.get("alarm_high")))
    return FailureModeSensors(failure_mode_id=fm.id, failure_mode_name=fm.name,
                              asset_id=asset.id if asset else None, sensors=sensors, missing_types=missing)


class SensorStatsResult(BaseModel):
    """Aggregates per sensor over [start, end)."""

    target: str
    start: datetime
    end: datetime
    sensors: list[SensorStats]


def resolve_sensors(kg: KnowledgeStore, target: str, sensor_type: str | None = None) -> tuple[Node, list[str]]:
    """(node, sensor ids) for a sensor id or an asset id (its sensors, optionally of one type)."""
    node = g.require_node(kg, target, kinds=["sensor", "asset"], what="sensor or asset")
    if node.kind == "sensor":
        return node, [node.id]
    rows = kg.query("SELECT n.id, n.props->>'type' AS type FROM edges e JOIN nodes n ON n.id = e.dst "
                    "WHERE e.src = ? AND e.rel = 'has_sensor' ORDER BY n.id", [node.id])
    if sensor_type:
        types = sorted({r["type"] for r in rows})
        rows = [r for r in rows if r["type"] == sensor_type]
        if not rows:
            raise ToolRetry(did_you_mean(sensor_type, types, what=f"sensor type on {node.id}"))
    if not rows:
        raise ToolRetry(f"Asset {node.id!r} has no sensors; import them with 'indagent kg import --kind sensors'.")
    return node, [r["id"] for r in rows]


@tool(tags=("kg", "diagnosis"))
def sensor_stats(
    ctx: ToolContext, target: str, *, start: datetime | None = None, end: datetime | None = None,
    sensor_type: str | None = None,
) -> SensorStatsResult:
    """Latest value, mean, min, max, std and count of readings over a period, for a sensor or all sensors of an asset.

    Args:
        ctx: Tool context (knowledge store, clock).
        target: Sensor id (e.g. 'CNC-07.vibration') or asset id (all its sensors).
        start: Period start (inclusive); default 24 hours before end.
        end: Period end (exclusive); default now, or just after the last reading.
        sensor_type: With an asset, only its sensor of this type (e.g. 'temperature').
    """
    kg = require_kg(ctx)
    node, ids = resolve_sensors(kg, target, sensor_type)
    start, end = default_window(kg, ctx, start, end, sensor_ids=ids)
    return SensorStatsResult(target=node.id, start=start, end=end, sensors=g.sensor_stats(kg, ids, start=start, end=end))


class SensorSeries(BaseModel):
    """A sensor's readings aggregated per time bucket."""

    sensor_id: str
    unit: str | None
    bucket: str
    agg: str
    start: datetime
    end: datetime
    points: list[SeriesPoint]


@tool(tags=("kg", "diagnosis"))
def sensor_history(
    ctx: ToolContext, sensor_id: str, *, start: datetime | None = None, end: datetime | None = None,
    bucket: str = "1 day", agg: g.series.Agg = "mean",
) -> SensorSeries:
    """A sensor's time series aggregated per bucket (e.g. daily max vibration over a month).

    Args:
        ctx: Tool context (knowledge store, clock).
        sensor_id: Sensor id, e.g. 'CMP-02.vibration'.
        start: Period start (inclusive); default 30 days before end.
        end: Period end (exclusive); default now, or just after the last reading.
        bucket: Bucket width: '15 minutes', '1 hour', '1 day', '1 week', '1 month'.
        agg: Aggregate per bucket: mean, min, max, first, last, count or sum.
    """
    kg = require_kg(ctx)
    node = g.require_node(kg, sensor_id, kinds=["sensor"])
    start, end = default_window(kg, ctx, start, end, sensor_ids=[node.id], hours=24 * 30)
    points = g.sensor_series(kg, node.id, start=start, end=end, bucket=bucket, agg=agg)
    return SensorSeries(sensor_id=node.id, unit=node.props.get("unit"), bucket=g.check_bucket(bucket), agg=agg,
                        start=start, end=end, points=points)


class AlertList(BaseModel):
    """Alerts, newest first (total counts all matches)."""

    total: int
    items: list[Alert]


@tool(tags=("kg", "diagnosis"))
def list_alerts(
    ctx: ToolContext, *, asset_id: str | None = None, sensor_id: str | None = None, start: datetime | None = None,
    end: datetime | None = None, status: str | None = None, limit: int = 50,
) -> AlertList:
    """Alerts raised by the detectors, filtered by asset, sensor, period and status.

    Args:
        ctx: Tool context (knowledge store, clock).
        asset_id: Only alerts on this asset.
        sensor_id: Only alerts involving this sensor.
        start: Only alerts active at or after this time.
        end: Only alerts that started before this time.
        status: Only alerts with this status (open, acknowledged, closed...).
        limit: How many alerts at most.
    """
    kg = require_kg(ctx)
    aid = g.require_node(kg, asset_id, kinds=["asset"]).id if asset_id else None
    sid = g.require_node(kg, sensor_id, kinds=["sensor"]).id if sensor_id else None
    total, items = g.query_alerts(kg, asset_id=aid, sensor_id=sid, start=start, end=end, status=status, limit=limit)
    return AlertList(total=total, items=items)


class KgStats(BaseModel):
    """Size and time coverage of the knowledge graph."""

    nodes: int
    edges: int
    nodes_by_kind: dict[str, int]
    edges_by_rel: dict[str, int]
    tables: dict[str, int]
    readings_start: datetime | None
    readings_end: datetime | None
    work_orders_start: datetime | None
    work_orders_end: datetime | None


_TABLES = ("readings", "work_orders", "alerts", "production_orders", "order_operations", "fault_truth", "setpoints")


@tool(tags=("kg",))
def kg_stats(ctx: ToolContext) -> KgStats:
    """Counts of nodes by kind, edges by relation, fact-table rows, and the time span of readings and work orders."""
    kg = require_kg(ctx)
    kinds = {r["kind"]: int(r["n"]) for r in kg.query("SELECT kind, count(*) AS n FROM nodes GROUP BY 1 ORDER BY 1")}
    rels = {r["rel"]: int(r["n"]) for r in kg.query("SELECT rel, count(*) AS n FROM edges GROUP BY 1 ORDER BY 1")}
    tables = {t: int(kg.scalar(f"SELECT count(*) FROM {t}") or 0) for t in _TABLES}
    r0, r1 = g.data_range(kg)
    w = kg.query("SELECT min(reported_at) AS a, max(reported_at) AS b FROM work_orders")[0]
    return KgStats(nodes=sum(kinds.values()), edges=sum(rels.values()), nodes_by_kind=kinds, edges_by_rel=rels,
                   tables=tables, readings_start=r0, readings_end=r1, work_orders_start=w["a"], work_orders_end=w["b"])


class CriticalAssets(BaseModel):
    """Assets ranked by how central they are in the feeds graph."""

    metric: str
    ranking: list[tuple[str, float]]


@tool(tags=("kg",))
def critical_assets(
    ctx: ToolContext, *, metric: Literal["downstream", "betweenness", "degree", "pagerank"] = "downstream",
    top: int = 10,
) -> CriticalAssets:
    """Rank assets by criticality in the material/utility flow (downstream = how many assets a stop affects).

    Args:
        ctx: Tool context (knowledge store, clock).
        metric: downstream (reachable assets), betweenness, degree or pagerank centrality.
        top: How many assets.
    """
    kg = require_kg(ctx)
    return CriticalAssets(metric=metric, ranking=g.centrality(kg, metric=metric, top=top))

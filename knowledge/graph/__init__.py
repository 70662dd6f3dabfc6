"""Queries over the plant knowledge graph (DuckDB): entities, walks, readings aggregates, work orders.

Every function takes the :class:`knowledge.store.KnowledgeStore` first and returns typed models
(:mod:`knowledge.graph.models`). Walks use recursive CTEs in DuckDB; networkx runs on extracted
subgraphs only (centrality).
"""

from knowledge.graph.entities import find_entities, get_node, get_nodes, link_entities, normalize, require_node
from knowledge.graph.fmea import failure_mode_infos, resolve_asset_class, resolve_failure_mode
from knowledge.graph.maintenance import (
    GroupBy,
    Reliability,
    WorkOrderFilter,
    count_work_orders,
    get_work_order,
    query_alerts,
    query_work_orders,
    reliability,
)
from knowledge.graph.models import (
    Alert,
    BucketStats,
    Edge,
    EntityMatch,
    EntityMention,
    FailureModeInfo,
    ImpactItem,
    Neighborhood,
    NeighborNode,
    Node,
    PathResult,
    RemedyInfo,
    SensorStats,
    SeriesPoint,
    SymptomLink,
    WorkOrder,
)
from knowledge.graph.series import bucket_stats, check_bucket, data_range, sensor_series, sensor_stats
from knowledge.graph.traverse import centrality, impact, neighborhood, neighborhood_ids, shortest_path, to_networkx

__all__ = [
    "Alert",
    "BucketStats",
    "Edge",
    "EntityMatch",
    "EntityMention",
    "FailureModeInfo",
    "GroupBy",
    "ImpactItem",
    "NeighborNode",
    "Neighborhood",
    "Node",
    "PathResult",
    "Reliability",
    "RemedyInfo",
    "SensorStats",
    "SeriesPoint",
    "SymptomLink",
    "WorkOrder",
    "WorkOrderFilter",
    "bucket_stats",
    "centrality",
    "check_bucket",
    "count_work_orders",
    "data_range",
    "failure_mode_infos",
    "find_entities",
    "get_node",
    "get_nodes",
    "get_work_order",
    "impact",
    "link_entities",
    "neighborhood",
    "neighborhood_ids",
    "normalize",
    "query_alerts",
    "query_work_orders",
    "reliability",
    "require_node",
    "resolve_asset_class",
    "resolve_failure_mode",
    "sensor_series",
    "sensor_stats",
    "shortest_path",
    "to_networkx",
]

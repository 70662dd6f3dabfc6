"""Typed results of the graph queries (also the payloads of the KG tools)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Alert",
    "BucketStats",
    "Edge",
    "EntityMatch",
    "EntityMention",
    "FailureModeInfo",
    "ImpactItem",
    "NeighborNode",
    "Neighborhood",
    "Node",
    "PathResult",
    "RemedyInfo",
    "SensorStats",
    "SeriesPoint",
    "SymptomLink",
    "WorkOrder",
]

Direction = Literal["out", "in", "both"]


class Node(BaseModel):
    """A graph node."""

    id: str
    kind: str
    name: str | None = None
    props: dict[str, Any] = Field(default_factory=dict)


class Edge(BaseModel):
    """A directed, typed edge ``src -rel-> dst``."""

    src: str
    dst: str
    rel: str
    props: dict[str, Any] | None = None


class EntityMatch(BaseModel):
    """A node matching a lookup text, with a score in 0..1 and what matched."""

    id: str
    kind: str
    name: str | None
    score: float
    matched: str
    via: Literal["id", "name", "alias", "normalized", "contains", "fuzzy"]


class EntityMention(BaseModel):
    """A node mentioned in a free text: the span [start, end) of ``text`` that names it."""

    id: str
    kind: str
    name: str | None
    text: str
    start: int
    end: int
    via: Literal["id", "name", "alias"]


class NeighborNode(BaseModel):
    """A node of a neighbourhood and its hop distance from the centre."""

    id: str
    kind: str
    name: str | None
    depth: int


class Neighborhood(BaseModel):
    """The k-hop neighbourhood of a node: nodes by depth and the edges between them."""

    center: str
    depth: int
    direction: Direction
    nodes: list[NeighborNode]
    edges: list[Edge]
    truncated: bool = False


class PathResult(BaseModel):
    """A shortest path (ignoring edge direction unless asked): node ids and the edges walked."""

    src: str
    dst: str
    found: bool
    length: int | None = None
    nodes: list[str] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)


class ImpactItem(BaseModel):
    """A node reached by an impact walk, its depth and the node it was reached from."""

    id: str
    kind: str
    name: str | None
    depth: int
    via: str
    line: str | None = None


class SensorStats(BaseModel):
    """Aggregates of one sensor's readings over a window."""

    sensor_id: str
    asset_id: str | None
    type: str | None
    unit: str | None
    count: int
    mean: float | None
    min: float | None
    max: float | None
    std: float | None
    first_ts: datetime | None
    last_ts: datetime | None
    latest_value: float | None
    normal_low: float | None = None
    normal_high: float | None = None


class SeriesPoint(BaseModel):
    """One bucket of a time series."""

    ts: datetime
    value: float | None


class BucketStats(BaseModel):
    """Aggregates of one sensor in one time bucket."""

    sensor_id: str
    ts: datetime
    count: int
    mean: float | None
    min: float | None
    max: float | None


class WorkOrder(BaseModel):
    """A maintenance work order (the description is data, never instructions)."""

    id: str
    asset_id: str
    type: str
    description: str | None = None
    failure_code: str | None = None
    failure_mode_id: str | None = None
    component: str | None = None
    reported_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str
    alert_id: str | None = None
    created_by: str | None = None
    props: dict[str, Any] | None = None


class Alert(BaseModel):
    """An alert raised by a detector on an asset's sensors."""

    id: str
    asset_id: str
    sensor_ids: list[str] = Field(default_factory=list)
    start_ts: datetime
    end_ts: datetime | None = None
    score: float | None = None
    detector: str
    severity: str | None = None
    contributions: dict[str, float] | None = None
    status: str
    created_at: datetime | None = None


class SymptomLink(BaseModel):
    """A symptom of a failure mode: which sensor type moves which way, how likely."""

    id: str
    sensor_type: str
    direction: Literal["up", "down"]
    likelihood: float


class RemedyInfo(BaseModel):
    """A repair action for a failure mode."""

    id: str
    name: str | None
    duration_h: float | None = None
    parts: list[str] = Field(default_factory=list)
    cost: float | None = None


class FailureModeInfo(BaseModel):
    """One FMEA row with its symptoms and remedies; rpn = severity x occurrence x detection."""

    id: str
    name: str | None
    code: str | None
    component: str | None
    asset_class: str | None
    severity: int | None
    occurrence: int | None
    detection: int | None
    rpn: int | None
    symptoms: list[SymptomLink]
    remedies: list[RemedyInfo]

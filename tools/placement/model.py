"""Typed data of the compute-placement problem: nodes, links, workloads, scenario, result.

Units are fixed and spelled in the field names: ``_ms``, ``_gb``, ``_tflops`` (effective
sustained tera-FLOP/s), ``_w`` (watts), ``_g_per_kwh`` (grid carbon intensity), ``_per_h``
(money per hour, any currency). The planning horizon is ``Scenario.horizon_h`` hours (24 by
default); services run the whole horizon, deferrable batch jobs run ``duration_h`` hours inside
their window.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BYTES_PER_PARAM",
    "Assignment",
    "DeferWindow",
    "InfeasibleWorkload",
    "Link",
    "Node",
    "NodeUsage",
    "PlacementResult",
    "Quantization",
    "Scenario",
    "Tier",
    "Violation",
    "Weights",
    "Workload",
]

Tier = Literal["device", "edge", "cloud"]
Quantization = Literal["fp32", "fp16", "bf16", "int8", "int4"]
BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
_STRICT = ConfigDict(extra="forbid")


class Node(BaseModel):
    """A place that can run workloads: a device on a line, an edge server, a cloud region pool."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    tier: Tier
    site: str = Field(description="Site id (plant) for device/edge; the region name for cloud nodes.")
    region: str = Field(description="Jurisdiction/grid region, e.g. 'eu-central'; used by allowed_regions.")
    line: str | None = None
    compute_tflops: float = Field(gt=0, description="Effective sustained TFLOP/s.")
    memory_gb: float = Field(gt=0)
    accelerator: Literal["gpu", "npu"] | None = None
    power_idle_w: float = Field(ge=0)
    power_peak_w: float = Field(gt=0)
    pue: float = Field(default=1.0, ge=1.0, le=3.0)
    carbon_g_per_kwh: float = Field(ge=0, description="Mean grid carbon intensity.")
    carbon_hourly: list[float] | None = Field(default=None, description="Optional intensity per hour of the horizon.")
    cost_per_h: float = Field(default=0.0, ge=0, description="Price of the whole node per hour.")
    availability: float = Field(default=0.999, gt=0, le=1)

    @model_validator(mode="after")
    def _peak_above_idle(self) -> Node:
        if self.power_peak_w < self.power_idle_w:
            raise ValueError(f"node {self.id}: power_peak_w must be >= power_idle_w")
        if self.carbon_hourly is not None and any(v < 0 for v in self.carbon_hourly):
            raise ValueError(f"node {self.id}: carbon_hourly values must be >= 0")
        return self


class Link(BaseModel):
    """A bidirectional network link between two nodes (one-way latency)."""

    model_config = _STRICT
    src: str
    dst: str
    latency_ms: float = Field(ge=0)
    bandwidth_mbps: float = Field(gt=0)


class DeferWindow(BaseModel):
    """A batch job may start at any hour in [earliest_h, deadline_h - duration_h]."""

    model_config = _STRICT
    earliest_h: int = Field(ge=0)
    deadline_h: int = Field(gt=0)
    duration_h: int = Field(ge=1)

    @model_validator(mode="after")
    def _fits(self) -> DeferWindow:
        if self.earliest_h + self.duration_h > self.deadline_h:
            raise ValueError("defer window: earliest_h + duration_h must be <= deadline_h")
        return self


class Workload(BaseModel):
    """A model serving requests (a service) or a deferrable batch job.

    Compute per request is ``gflop_per_request`` if given, else ``2 * params * tokens``
    (a transformer forward pass). Memory is ``memory_gb`` if given, else params x bytes per
    parameter of the quantization x 1.2 (activations, runtime).
    """

    model_config = _STRICT
    id: str = Field(min_length=1)
    kind: str = Field(default="inference", description="Free label: control, vision, llm, batch...")
    source: str = Field(description="Node id where the requests/data originate (a device or edge server).")
    site: str = Field(description="Site of the data (for stay_on_site).")
    model_params_b: float = Field(gt=0, description="Model parameters in billions.")
    quantization: Quantization = "fp16"
    memory_gb: float | None = Field(default=None, gt=0)
    gflop_per_request: float | None = Field(default=None, gt=0)
    tokens_per_request: int = Field(default=1, ge=1)
    requests_per_s: float = Field(gt=0)
    input_kb: float = Field(default=1.0, ge=0)
    output_kb: float = Field(default=1.0, ge=0)
    latency_slo_ms: float | None = Field(default=None, gt=0, description="p99 latency SLO; None = no SLO.")
    allowed_regions: list[str] | None = Field(default=None, description="Sovereignty: regions allowed.")
    stay_on_site: bool = False
    needs_accelerator: bool = False
    min_availability: float = Field(default=0.0, ge=0, le=1)
    priority: int = Field(default=1, ge=1, le=10)
    deferrable: DeferWindow | None = None

    @property
    def gflop(self) -> float:
        """GFLOP per request."""
        if self.gflop_per_request is not None:
            return self.gflop_per_request
        return 2.0 * self.model_params_b * self.tokens_per_request

    @property
    def demand_tflops(self) -> float:
        """Sustained compute while running (TFLOP/s)."""
        return self.gflop * self.requests_per_s / 1000.0

    @property
    def mem_gb(self) -> float:
        """Memory footprint while running (GB)."""
        if self.memory_gb is not None:
            return self.memory_gb
        return self.model_params_b * BYTES_PER_PARAM[self.quantization] * 1.2


class Weights(BaseModel):
    """Objective weights (money-equivalent units per unit of each term)."""

    model_config = _STRICT
    slo_violation: float = Field(default=20.0, ge=0, description="Per SLO miss, times the workload priority.")
    energy_kwh: float = Field(default=0.25, ge=0)
    carbon_kg: float = Field(default=0.10, ge=0)
    cost: float = Field(default=1.0, ge=0)
    unplaced: float = Field(default=500.0, gt=0, description="Per workload left unplaced, times priority.")


class Scenario(BaseModel):
    """A whole placement instance."""

    model_config = _STRICT
    name: str = "scenario"
    horizon_h: int = Field(default=24, ge=1, le=168)
    max_utilisation: float = Field(default=0.85, gt=0, le=1, description="Usable share of each node's compute.")
    tail_factor: float = Field(default=1.0, ge=0, description="p99 compute time = service time x (1 + tail_factor).")
    weights: Weights = Field(default_factory=Weights)
    nodes: list[Node]
    links: list[Link] = Field(default_factory=list)
    workloads: list[Workload]

    @field_validator("nodes")
    @classmethod
    def _nodes_unique(cls, nodes: list[Node]) -> list[Node]:
        if not nodes:
            raise ValueError("a scenario needs at least one node")
        seen: set[str] = set()
        for n in nodes:
            if n.id in seen:
                raise ValueError(f"duplicate node id {n.id!r}")
            seen.add(n.id)
        return nodes

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        ids = {n.id for n in self.nodes}
        for link in self.links:
            for end in (link.src, link.dst):
                if end not in ids:
                    raise ValueError(f"link {link.src}->{link.dst}: unknown node {end!r}")
        seen: set[str] = set()
        for w in self.workloads:
            if w.id in seen:
                raise ValueError(f"duplicate workload id {w.id!r}")
            seen.add(w.id)
            if w.source not in ids:
                raise ValueError(f"workload {w.id}: unknown source node {w.source!r}")
            if w.deferrable is not None and w.deferrable.deadline_h > self.horizon_h:
                raise ValueError(f"workload {w.id}: deadline_h {w.deferrable.deadline_h} > horizon_h {self.horizon_h}")
        for n in self.nodes:
            if n.carbon_hourly is not None and len(n.carbon_hourly) < self.horizon_h:
                raise ValueError(f"node {n.id}: carbon_hourly has {len(n.carbon_hourly)} values < horizon_h")
        return self


class Assignment(BaseModel):
    """Where (and, for deferrable jobs, when) a workload runs."""

    workload: str
    node: str
    start_hour: int | None = None


class InfeasibleWorkload(BaseModel):
    """A workload that could not be placed, and why."""

    workload: str
    reason: str


class Violation(BaseModel):
    """One broken hard constraint found by the validator."""

    kind: Literal["capacity", "memory", "sovereignty", "accelerator", "availability", "window", "unknown", "duplicate"]
    node: str | None = None
    workload: str | None = None
    hour: int | None = None
    detail: str


class NodeUsage(BaseModel):
    """Peak utilisation of one node over the horizon (0..1 of its usable capacity)."""

    node: str
    tier: Tier
    compute_util: float
    memory_util: float
    workloads: int


class PlacementResult(BaseModel):
    """Outcome of a placement solve; the CLI prints the contract subset of these fields."""

    method: Literal["exact", "heuristic", "first_fit"]
    status: Literal["optimal", "feasible", "no_solution"]
    objective: float
    lower_bound: float
    gap: float
    solve_s: float
    slo_hit_rate: float
    energy_kwh: float
    carbon_kg: float
    cost: float
    slo_violations: int
    infeasible_workloads: list[str]
    infeasible_reasons: list[InfeasibleWorkload] = Field(default_factory=list)
    assignments: list[Assignment]
    violations: list[Violation] = Field(default_factory=list)
    usage: list[NodeUsage] = Field(default_factory=list)
    carbon_saved_kg: float | None = Field(default=None, description="vs. running deferrable jobs at earliest_h.")

    def contract(self) -> dict[str, object]:
        """The JSON document of the ``indagent place solve --json`` contract."""
        return {
            "objective": self.objective,
            "lower_bound": self.lower_bound,
            "gap": self.gap,
            "status": self.status,
            "solve_s": self.solve_s,
            "slo_hit_rate": self.slo_hit_rate,
            "energy_kwh": self.energy_kwh,
            "carbon_kg": self.carbon_kg,
            "cost": self.cost,
            "infeasible_workloads": list(self.infeasible_workloads),
            "assignments": [a.model_dump() for a in self.assignments],
        }

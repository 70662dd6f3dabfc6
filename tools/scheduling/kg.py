"""Scheduling over the plant knowledge graph: instances from production orders, plans, publishing.

Production orders (``production_orders``) are jobs; their routings (``order_operations``: one row
per operation and eligible machine) are operations with alternatives; machine ids are asset node
ids, mapped to 0..m-1 and back. Time is in minutes from an origin (``ctx.now``, else the earliest
release of the selected orders). A plan is stored as a draft JSON under
``<data_dir>/schedules/<draft_id>.json``; publishing (mutating, needs approval) writes it into
the ``schedules`` table (migration ``m010_schedules``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from tools.errors import ConfigError, ToolFailed, ToolRetry, did_you_mean
from tools.scheduling.model import Alternative, Downtime, Instance, Job, Operation, ScheduledOp, Solution

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = [
    "ACTIVE_STATUSES",
    "DowntimeWindow",
    "KgInstance",
    "MachineLoad",
    "OrderPlan",
    "OrderShift",
    "PlanChanges",
    "PlannedOperation",
    "ProductionSchedule",
    "draft_path",
    "instance_from_kg",
    "latest_published",
    "load_draft",
    "plan_from_solution",
    "to_minutes",
]

#: production_orders.status values that still need scheduling
ACTIVE_STATUSES: tuple[str, ...] = ("planned", "released", "in_progress")


class DowntimeWindow(BaseModel):
    """A machine (asset id) unavailable from ``start`` (default: now) until ``end``."""

    machine: str
    end: datetime
    start: datetime | None = None
    reason: str = "breakdown"


class KgInstance(BaseModel):
    """An instance built from the KG and the maps back to plant ids."""

    instance: Instance
    origin: datetime
    line: str | None
    order_ids: list[str]
    product_ids: list[str | None]
    due: list[datetime | None]
    machine_ids: list[str]
    op_names: dict[str, str]  # "order_id/seq" -> operation name
    skipped_orders: list[str]


class PlannedOperation(BaseModel):
    """One operation of the plan in plant terms."""

    order_id: str
    seq: int
    name: str | None
    machine_id: str
    start: datetime
    end: datetime


class OrderPlan(BaseModel):
    """When an order completes against its due date."""

    order_id: str
    product_id: str | None
    due: datetime | None
    completion: datetime
    lateness_min: int
    late: bool


class MachineLoad(BaseModel):
    """Busy minutes of a machine over the plan span, and its utilisation (0..1)."""

    machine_id: str
    busy_min: int
    utilisation: float


class OrderShift(BaseModel):
    """An order whose completion moved compared with the published plan."""

    order_id: str
    before: datetime
    after: datetime
    delta_min: int


class PlanChanges(BaseModel):
    """Differences from the latest published plan."""

    published_id: str
    moved_operations: int
    completion_changes: list[OrderShift]


class ProductionSchedule(BaseModel):
    """A production plan proposed by the solver (a draft until published)."""

    draft_id: str
    line: str | None
    origin: datetime
    status: str
    objective: str
    makespan_min: int
    lower_bound: int
    end: datetime
    solve_s: float
    orders: list[OrderPlan]
    late_orders: list[str]
    weighted_tardiness_min: int
    bottleneck: MachineLoad | None
    machine_loads: list[MachineLoad]
    operations: list[PlannedOperation]
    downtime: list[DowntimeWindow]
    skipped_orders: list[str]
    changes_vs_published: PlanChanges | None = None
    gantt_png: str | None = None
    gantt_html: str | None = None


def to_minutes(ts: datetime, origin: datetime) -> int:
    """Whole minutes from ``origin`` to ``ts`` (negative before it)."""
    return int((ts - origin).total_seconds() // 60)


def _known_lines(kg: KnowledgeStore) -> list[str]:
    rows = kg.query(
        "SELECT id FROM nodes WHERE kind = 'line' UNION SELECT DISTINCT line_id FROM production_orders "
        "WHERE line_id IS NOT NULL ORDER BY 1"
    )
    return [r["id"] for r in rows]


def instance_from_kg(
    kg: KnowledgeStore,
    *,
    line: str | None = None,
    origin: datetime | None = None,
    horizon_days: float | None = None,
    downtime: list[DowntimeWindow] | None = None,
    statuses: tuple[str, ...] = ACTIVE_STATUSES,
) -> KgInstance:
    """Build an instance from the unfinished production orders (of one line, or all).

    Args:
        kg: The knowledge store.
        line: Line id (e.g. 'L2'); None = every line.
        origin: Time zero (default: earliest release of the selected orders).
        horizon_days: Only orders released before origin + this many days.
        downtime: Machine unavailability windows (asset ids).
        statuses: Order statuses to schedule.
    """
    if line is not None:
        lines = _known_lines(kg)
        if line not in lines:
            raise ToolRetry(did_you_mean(line, lines, what="line"))
    marks = ", ".join("?" for _ in statuses)
    params: list[Any] = list(statuses)
    sql = (
        "SELECT id, product_id, line_id, release_ts, due_ts, COALESCE(priority, 1) AS priority "
        f"FROM production_orders WHERE status IN ({marks})"
    )
    if line is not None:
        sql += " AND line_id = ?"
        params.append(line)
    orders = kg.query(sql + " ORDER BY COALESCE(release_ts, TIMESTAMP '1970-01-01'), id", params)
    if not orders:
        where = f" on line {line!r}" if line else ""
        raise ToolFailed(f"No production orders to schedule{where} (statuses {', '.join(statuses)}).")
    if origin is None:
        origin = min((o["release_ts"] for o in orders if o["release_ts"] is not None), default=None)
        if origin is None:
            raise ToolRetry("The orders have no release time; pass the current time (ctx.now) as the origin.")
    if horizon_days is not None:
        limit = origin + timedelta(days=horizon_days)
        orders = [o for o in orders if o["release_ts"] is None or o["release_ts"] < limit]
    ids = [o["id"] for o in orders]
    marks = ", ".join("?" for _ in ids)
    rows = kg.query(
        "SELECT order_id, seq, name, machine_id, duration_min FROM order_operations "
        f"WHERE order_id IN ({marks}) ORDER BY order_id, seq, machine_id",
        ids,
    )
    routing: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for r in rows:
        routing.setdefault(r["order_id"], {}).setdefault(int(r["seq"]), []).append(r)
    machine_ids = sorted({r["machine_id"] for r in rows} | {d.machine for d in downtime or []})
    midx = {mid: i for i, mid in enumerate(machine_ids)}
    jobs: list[Job] = []
    kept: list[dict[str, Any]] = []
    skipped: list[str] = []
    op_names: dict[str, str] = {}
    for o in orders:
        steps = routing.get(o["id"])
        if not steps:
            skipped.append(o["id"])
            continue
        ops = []
        for seq in sorted(steps):
            alts = tuple(Alternative(machine=midx[r["machine_id"]], duration=int(r["duration_min"])) for r in steps[seq])
            name = steps[seq][0]["name"]
            if name:
                op_names[f"{o['id']}/{seq}"] = name
            ops.append(Operation(alternatives=alts, name=name))
        release = max(0, to_minutes(o["release_ts"], origin)) if o["release_ts"] is not None else 0
        due = max(0, to_minutes(o["due_ts"], origin)) if o["due_ts"] is not None else None
        jobs.append(Job(operations=tuple(ops), release=release, due=due, weight=max(0, int(o["priority"])), name=o["id"]))
        kept.append(o)
    if not jobs:
        raise ToolFailed(f"None of the {len(orders)} orders has a routing in order_operations; nothing to schedule.")
    downs = []
    for d in downtime or []:
        start = max(0, to_minutes(d.start or origin, origin))
        end = to_minutes(d.end, origin)
        if end <= start:
            raise ToolRetry(f"Downtime of {d.machine} ends at {d.end}, before it starts; give a later end time.")
        downs.append(Downtime(machine=midx[d.machine], start=start, end=end, reason=d.reason))
    inst = Instance(
        name=f"kg:{line or 'all'}",
        n_machines=len(machine_ids),
        jobs=tuple(jobs),
        downtimes=tuple(downs),
        machine_names=tuple(machine_ids),
    )
    return KgInstance(
        instance=inst,
        origin=origin,
        line=line,
        order_ids=[o["id"] for o in kept],
        product_ids=[o["product_id"] for o in kept],
        due=[o["due_ts"] for o in kept],
        machine_ids=machine_ids,
        op_names=op_names,
        skipped_orders=skipped,
    )


def _at(origin: datetime, minutes: int) -> datetime:
    return origin + timedelta(minutes=minutes)


def plan_from_solution(ki: KgInstance, sol: Solution, *, downtime: list[DowntimeWindow] | None = None) -> ProductionSchedule:
    """Translate a solution back to plant ids and timestamps, with lateness and machine loads.

    Args:
        ki: The KG instance the solution solves.
        sol: The solution.
        downtime: The downtime windows used (recorded in the plan).
    """
    origin = ki.origin
    ops = [
        PlannedOperation(
            order_id=ki.order_ids[s.job],
            seq=s.op,
            name=ki.op_names.get(f"{ki.order_ids[s.job]}/{s.op}"),
            machine_id=ki.machine_ids[s.machine],
            start=_at(origin, s.start),
            end=_at(origin, s.end),
        )
        for s in sol.operations
    ]
    done: dict[int, int] = {}
    for s in sol.operations:
        done[s.job] = max(done.get(s.job, 0), s.end)
    orders = []
    for j, oid in enumerate(ki.order_ids):
        due = ki.instance.jobs[j].due
        lateness = done[j] - due if due is not None else 0
        orders.append(
            OrderPlan(
                order_id=oid,
                product_id=ki.product_ids[j],
                due=ki.due[j],
                completion=_at(origin, done[j]),
                lateness_min=max(0, lateness),
                late=due is not None and lateness > 0,
            )
        )
    span = max(1, sol.makespan - min((s.start for s in sol.operations), default=0))
    busy: dict[int, int] = {}
    for s in sol.operations:
        busy[s.machine] = busy.get(s.machine, 0) + s.end - s.start
    loads = sorted(
        (
            MachineLoad(machine_id=mid, busy_min=busy.get(m, 0), utilisation=round(busy.get(m, 0) / span, 4))
            for m, mid in enumerate(ki.machine_ids)
        ),
        key=lambda x: -x.utilisation,
    )
    payload = json.dumps([o.model_dump(mode="json") for o in ops], sort_keys=True)
    draft_id = "sch-" + hashlib.sha1(f"{ki.line}|{origin.isoformat()}|{payload}".encode()).hexdigest()[:12]
    return ProductionSchedule(
        draft_id=draft_id,
        line=ki.line,
        origin=origin,
        status=sol.status,
        objective=sol.objective,
        makespan_min=sol.makespan,
        lower_bound=sol.lower_bound,
        end=_at(origin, sol.makespan),
        solve_s=round(sol.solve_s, 3),
        orders=orders,
        late_orders=[o.order_id for o in orders if o.late],
        weighted_tardiness_min=sol.weighted_tardiness,
        bottleneck=loads[0] if loads else None,
        machine_loads=loads,
        operations=ops,
        downtime=list(downtime or []),
        skipped_orders=ki.skipped_orders,
    )


def draft_path(data_dir: Path, draft_id: str) -> Path:
    """Where a draft plan is stored."""
    return data_dir / "schedules" / f"{draft_id}.json"


def load_draft(data_dir: Path | None, draft_id: str) -> ProductionSchedule:
    """Read a stored draft plan; ToolRetry listing the known drafts when missing.

    Args:
        data_dir: The tools' data directory.
        draft_id: The draft's id (from schedule_production).
    """
    if data_dir is None:
        raise ConfigError("No data directory: pass ToolContext(data_dir=...) so drafts can be stored and read.")
    p = draft_path(data_dir, draft_id)
    if not p.exists():
        known = [q.stem for q in (data_dir / "schedules").glob("sch-*.json")]
        raise ToolRetry(did_you_mean(draft_id, known, what="schedule draft"))
    return ProductionSchedule.model_validate_json(p.read_text(encoding="utf-8"))


def has_schedules_table(kg: KnowledgeStore) -> bool:
    """True when the ``schedules`` table (migration m010_schedules) exists."""
    return bool(kg.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schedules'"))


def latest_published(kg: KnowledgeStore, line: str | None) -> tuple[str, ProductionSchedule] | None:
    """The latest published plan of ``line`` (or of all lines), if any.

    Args:
        kg: The knowledge store.
        line: Line id or None.
    """
    if not has_schedules_table(kg):
        return None
    row = kg.query(
        "SELECT id, payload FROM schedules WHERE status = 'published' AND line_id IS NOT DISTINCT FROM ? "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        [line],
    )
    if not row:
        return None
    payload = row[0]["payload"]
    data = json.loads(payload) if isinstance(payload, str) else payload
    return row[0]["id"], ProductionSchedule.model_validate(data)


def compare_plans(published_id: str, old: ProductionSchedule, new: ProductionSchedule) -> PlanChanges:
    """Moved operations and order completion shifts between two plans.

    Args:
        published_id: Id of the old (published) plan.
        old: The published plan.
        new: The proposed plan.
    """
    before = {(o.order_id, o.seq): o for o in old.operations}
    moved = sum(
        1
        for o in new.operations
        if (b := before.get((o.order_id, o.seq))) is not None and (b.start != o.start or b.machine_id != o.machine_id)
    )
    done_before = {o.order_id: o.completion for o in old.orders}
    shifts = []
    for o in new.orders:
        was = done_before.get(o.order_id)
        if was is not None and was != o.completion:
            shifts.append(
                OrderShift(order_id=o.order_id, before=was, after=o.completion, delta_min=to_minutes(o.completion, was))
            )
    return PlanChanges(published_id=published_id, moved_operations=moved, completion_changes=shifts)


def scheduled_ops(ki: KgInstance, plan: ProductionSchedule) -> list[ScheduledOp]:
    """A stored plan as scheduled operations of ``ki`` (orders missing from ``ki`` are dropped).

    Args:
        ki: The instance.
        plan: A stored plan.
    """
    jidx = {oid: j for j, oid in enumerate(ki.order_ids)}
    midx = {mid: m for m, mid in enumerate(ki.machine_ids)}
    out = []
    for o in plan.operations:
        if o.order_id in jidx and o.machine_id in midx:
            out.append(
                ScheduledOp(
                    job=jidx[o.order_id],
                    op=o.seq,
                    machine=midx[o.machine_id],
                    start=max(0, to_minutes(o.start, ki.origin)),
                    end=max(0, to_minutes(o.end, ki.origin)),
                )
            )
    return out

"""The scheduling agent's tools over the plant knowledge graph (registered via ``TOOLS``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from tools.errors import ConfigError, ToolRetry, did_you_mean
from tools.registry import ToolContext, tool
from tools.scheduling.gantt import gantt_html, gantt_png
from tools.scheduling.kg import (
    DowntimeWindow,
    ProductionSchedule,
    compare_plans,
    draft_path,
    has_schedules_table,
    instance_from_kg,
    latest_published,
    load_draft,
    plan_from_solution,
    to_minutes,
)
from tools.scheduling.maintenance import insert_maintenance
from tools.scheduling.solver import solve

__all__ = [
    "MaintenanceSlot",
    "PublishResult",
    "earliest_maintenance_slot",
    "publish_schedule",
    "schedule_production",
]


def _need_kg(ctx: ToolContext) -> None:
    if ctx.kg is None:
        raise ConfigError("This tool needs the knowledge graph: pass ToolContext(kg=KnowledgeStore(...)).")


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _now(ctx: ToolContext) -> datetime | None:
    return ctx.now.replace(tzinfo=None) if ctx.now is not None else None


@tool(mutating=False, tags=("scheduling",))
def schedule_production(
    ctx: ToolContext,
    line: str | None = None,
    *,
    objective: Literal["makespan", "weighted_tardiness", "mix"] = "mix",
    time_limit_s: float = 10.0,
    horizon_days: float | None = None,
    downtime: list[DowntimeWindow] | None = None,
    plots: bool = True,
) -> ProductionSchedule:
    """Plan the unfinished production orders of a line (or all lines) with the CP-SAT solver.

    Returns per-order completion and lateness, the late orders, the bottleneck machine (highest
    utilisation), what changed against the published plan, and Gantt charts (PNG and HTML).
    The plan is a draft: publish it with publish_schedule after approval.

    Args:
        ctx: Tool context (knowledge graph, clock, data directory).
        line: Line id such as 'L2'; omit to plan every line together.
        objective: 'mix' (makespan + weighted tardiness, default), 'makespan' or 'weighted_tardiness'.
        time_limit_s: Solver time limit in seconds.
        horizon_days: Only orders released within this many days from now.
        downtime: Machines unavailable, e.g. [{"machine": "P-3", "end": "2024-05-02T14:00"}] (start defaults to now).
        plots: Write Gantt charts under the data directory.
    """
    _need_kg(ctx)
    assert ctx.kg is not None
    downtime = list(downtime or [])
    if downtime:
        assets = [r["id"] for r in ctx.kg.query("SELECT id FROM nodes WHERE kind = 'asset'")]
        for d in downtime:
            if d.machine not in assets:
                raise ToolRetry(did_you_mean(d.machine, assets, what="machine"))
    ki = instance_from_kg(ctx.kg, line=line, origin=_now(ctx), horizon_days=horizon_days, downtime=downtime)
    sol = solve(ki.instance, time_limit=time_limit_s, objective=objective)
    plan = plan_from_solution(ki, sol, downtime=downtime)
    prev = latest_published(ctx.kg, line)
    if prev is not None:
        plan.changes_vs_published = compare_plans(prev[0], prev[1], plan)
    if ctx.data_dir is not None:
        if plots:
            base = ctx.data_dir / "schedules"
            title = f"{line or 'all lines'} from {ki.origin:%Y-%m-%d %H:%M}  (minutes)"
            plan.gantt_png = str(gantt_png(ki.instance, sol, base / f"{plan.draft_id}.png", title=title))
            plan.gantt_html = str(gantt_html(ki.instance, sol, base / f"{plan.draft_id}.html", title=title))
        p = draft_path(ctx.data_dir, plan.draft_id)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(plan.model_dump_json(indent=1), encoding="utf-8")
    return plan


class MaintenanceSlot(BaseModel):
    """Where a maintenance window fits and what it costs the production plan."""

    machine_id: str
    start: datetime
    end: datetime
    cost_min: int
    objective: str
    idle_gap: bool
    moved_operations: int
    late_orders_before: list[str]
    late_orders_after: list[str]
    makespan_before_min: int
    makespan_after_min: int


@tool(mutating=False, tags=("scheduling", "maintenance"))
def earliest_maintenance_slot(
    ctx: ToolContext,
    machine: str,
    hours: float,
    before: datetime,
    *,
    line: str | None = None,
    objective: Literal["makespan", "weighted_tardiness", "mix"] = "mix",
    time_limit_s: float = 10.0,
) -> MaintenanceSlot:
    """Find the least-cost slot for a maintenance window on a machine before a deadline.

    Plans the open orders, then places the window where it hurts the plan least (an idle gap
    when there is one), earliest among equally cheap slots; reports the cost in minutes of the
    objective and the orders that become late.

    Args:
        ctx: Tool context (knowledge graph, clock).
        machine: Asset id of the machine, e.g. 'CNC-07'.
        hours: Length of the maintenance window in hours.
        before: The window must end by this time (e.g. the predicted failure time).
        line: Line whose orders compete for the machine (default: every line).
        objective: What the cost measures: 'mix' (default), 'makespan' or 'weighted_tardiness'.
        time_limit_s: Total solver time limit in seconds.
    """
    _need_kg(ctx)
    assert ctx.kg is not None
    assets = [r["id"] for r in ctx.kg.query("SELECT id FROM nodes WHERE kind = 'asset'")]
    if machine not in assets:
        raise ToolRetry(did_you_mean(machine, assets, what="machine"))
    length = max(1, round(hours * 60))
    now = _now(ctx)
    ki = instance_from_kg(ctx.kg, line=line, origin=now)
    deadline = to_minutes(before.replace(tzinfo=None), ki.origin)
    if deadline < length:
        raise ToolRetry(f"A {hours:g} h window cannot end by {before:%Y-%m-%d %H:%M} when planning starts at {ki.origin}.")
    base = solve(ki.instance, time_limit=time_limit_s / 2, objective=objective)
    plan_before = plan_from_solution(ki, base)
    if machine not in ki.machine_ids:
        # no order uses the machine: any time is free
        return MaintenanceSlot(
            machine_id=machine,
            start=ki.origin,
            end=ki.origin + _minutes(length),
            cost_min=0,
            objective=objective,
            idle_gap=True,
            moved_operations=0,
            late_orders_before=plan_before.late_orders,
            late_orders_after=plan_before.late_orders,
            makespan_before_min=base.makespan,
            makespan_after_min=base.makespan,
        )
    m = ki.machine_ids.index(machine)
    res = insert_maintenance(
        ki.instance, base, m, length, deadline=deadline, now=0, objective=objective, time_limit=time_limit_s / 2
    )
    plan_after = plan_from_solution(ki, res.solution)
    return MaintenanceSlot(
        machine_id=machine,
        start=ki.origin + _minutes(res.start),
        end=ki.origin + _minutes(res.end),
        cost_min=res.cost,
        objective=objective,
        idle_gap=res.idle_gap,
        moved_operations=res.n_moved,
        late_orders_before=plan_before.late_orders,
        late_orders_after=plan_after.late_orders,
        makespan_before_min=res.makespan_before,
        makespan_after_min=res.makespan_after,
    )


class PublishResult(BaseModel):
    """A published plan."""

    schedule_id: str
    status: Literal["published"]
    line: str | None
    operations: int
    superseded: list[str]
    created_by: str
    created_at: datetime


@tool(mutating=True, tags=("scheduling",))
def publish_schedule(ctx: ToolContext, draft_id: str, *, note: str = "") -> PublishResult:
    """Publish a draft plan from schedule_production as the line's current schedule (needs approval).

    The previous published plan of the same line becomes 'superseded'.

    Args:
        ctx: Tool context (writable knowledge graph, data directory, actor).
        draft_id: The draft_id returned by schedule_production.
        note: Why this plan is published (kept with it).
    """
    _need_kg(ctx)
    assert ctx.kg is not None
    plan = load_draft(ctx.data_dir, draft_id)
    if not has_schedules_table(ctx.kg):
        raise ConfigError("The knowledge graph has no 'schedules' table; run 'indagent kg migrate' (m010_schedules).")
    now = (_now(ctx) or datetime.now(UTC).replace(tzinfo=None)).replace(microsecond=0)
    with ctx.kg.transaction() as con:
        prev = con.execute(
            "SELECT id FROM schedules WHERE status = 'published' AND line_id IS NOT DISTINCT FROM ? AND id <> ?",
            [plan.line, plan.draft_id],
        ).fetchall()
        con.execute(
            "UPDATE schedules SET status = 'superseded' WHERE status = 'published' "
            "AND line_id IS NOT DISTINCT FROM ? AND id <> ?",
            [plan.line, plan.draft_id],
        )
        con.execute("DELETE FROM schedules WHERE id = ?", [plan.draft_id])
        con.execute(
            "INSERT INTO schedules (id, created_at, created_by, status, line_id, note, payload) "
            "VALUES (?, ?, ?, 'published', ?, ?, ?)",
            [plan.draft_id, now, ctx.actor, plan.line, note, json.dumps(plan.model_dump(mode="json"))],
        )
    return PublishResult(
        schedule_id=plan.draft_id,
        status="published",
        line=plan.line,
        operations=len(plan.operations),
        superseded=[r[0] for r in prev],
        created_by=ctx.actor,
        created_at=now,
    )

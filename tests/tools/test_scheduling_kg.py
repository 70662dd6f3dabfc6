"""KG-facing scheduling tools on a real DuckDB file: plan, maintenance slot, publish (mutating)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from knowledge.store import KnowledgeStore
from tools.errors import ToolRetry
from tools.registry import ToolContext, default_registry
from tools.scheduling import (
    TOOLS,
    DowntimeWindow,
    earliest_maintenance_slot,
    instance_from_kg,
    publish_schedule,
    schedule_production,
    validate,
)

T0 = datetime(2024, 5, 6, 6, 0)


def _seed(kg: KnowledgeStore) -> None:
    """Line L2: a press, two CNCs (alternatives) and a robot cell; five orders, one hopeless."""
    with kg.transaction() as con:
        con.execute("INSERT INTO nodes VALUES ('L2', 'line', 'Line 2', '{}'), ('L1', 'line', 'Line 1', '{}')")
        for aid in ("P-3", "CNC-07", "CNC-08", "R-1", "CNC-01"):
            con.execute("INSERT INTO nodes VALUES (?, 'asset', ?, ?)", [aid, aid, json.dumps({"line": "L2"})])
        orders = [  # id, release (h), due (h), priority
            ("PO-1", 0, 8, 1),
            ("PO-2", 0, 6, 3),
            ("PO-3", 1, 10, 1),
            ("PO-4", 2, 3, 5),  # due before it can possibly finish: late whatever the plan
            ("PO-5", 0, 12, 1),
        ]
        for oid, rel, due, prio in orders:
            con.execute(
                "INSERT INTO production_orders (id, product_id, quantity, line_id, release_ts, due_ts, priority, status)"
                " VALUES (?, 'prod-A', 10, 'L2', ?, ?, ?, 'planned')",
                [oid, T0 + timedelta(hours=rel), T0 + timedelta(hours=due), prio],
            )
            con.execute("INSERT INTO order_operations VALUES (?, 0, 'press', 'P-3', 60)", [oid])
            con.execute("INSERT INTO order_operations VALUES (?, 1, 'machining', 'CNC-07', 90)", [oid])
            con.execute("INSERT INTO order_operations VALUES (?, 1, 'machining', 'CNC-08', 120)", [oid])
            con.execute("INSERT INTO order_operations VALUES (?, 2, 'assembly', 'R-1', 45)", [oid])
        # an order of another line, and a finished one: not planned for L2
        con.execute(
            "INSERT INTO production_orders (id, line_id, release_ts, due_ts, status) VALUES "
            "('PO-9', 'L1', ?, ?, 'planned'), ('PO-0', 'L2', ?, ?, 'done')",
            [T0, T0 + timedelta(hours=5), T0, T0],
        )
        con.execute("INSERT INTO order_operations VALUES ('PO-9', 0, 'mill', 'CNC-01', 30)")


@pytest.fixture()
def ctx(tmp_path: Path) -> ToolContext:
    kg = KnowledgeStore(tmp_path / "kg.duckdb")
    assert "m010_schedules" in kg.applied_migrations()
    _seed(kg)
    return ToolContext(kg=kg, now=T0, data_dir=tmp_path / "var", actor="tester")


def test_tools_are_registered() -> None:
    reg = default_registry(["tools.scheduling"])
    assert {t.__name__ for t in TOOLS} <= set(reg.names())
    assert reg.names(mutating=True) == ["publish_schedule"]
    schema = reg.get("schedule_production").json_schema()
    assert "line" in schema["function"]["parameters"]["properties"]


def test_instance_from_kg_maps_ids(ctx: ToolContext) -> None:
    assert ctx.kg is not None
    ki = instance_from_kg(ctx.kg, line="L2", origin=T0)
    assert ki.order_ids == ["PO-1", "PO-2", "PO-5", "PO-3", "PO-4"]
    assert ki.machine_ids == ["CNC-07", "CNC-08", "P-3", "R-1"]
    op = ki.instance.jobs[0].operations[1]
    assert {(ki.machine_ids[a.machine], a.duration) for a in op.alternatives} == {("CNC-07", 90), ("CNC-08", 120)}
    assert ki.instance.jobs[4].release == 120 and ki.instance.jobs[4].due == 180 and ki.instance.jobs[4].weight == 5
    with pytest.raises(ToolRetry, match="did you mean 'L2'"):
        instance_from_kg(ctx.kg, line="L-2")


def test_schedule_production_plan(ctx: ToolContext) -> None:
    plan = schedule_production(ctx, "L2", time_limit_s=5)
    assert plan.status in ("OPTIMAL", "FEASIBLE")
    assert {o.order_id for o in plan.orders} == {"PO-1", "PO-2", "PO-3", "PO-4", "PO-5"}
    assert "PO-4" in plan.late_orders
    assert plan.bottleneck is not None and plan.bottleneck.machine_id == "P-3"  # 5 x 60 min, no alternative
    assert all(op.start >= T0 for op in plan.operations)
    assert Path(plan.gantt_png or "").exists() and Path(plan.gantt_html or "").exists()
    assert (ctx.data_dir / "schedules" / f"{plan.draft_id}.json").exists()  # type: ignore[operator]
    # completion/lateness agree with the operations
    for o in plan.orders:
        last = max(op.end for op in plan.operations if op.order_id == o.order_id)
        assert o.completion == last
        assert o.late == (o.due is not None and last > o.due)


def test_downtime_reschedule_and_changes_vs_published(ctx: ToolContext) -> None:
    plan = schedule_production(ctx, "L2", time_limit_s=3, plots=False)
    assert plan.changes_vs_published is None
    published = publish_schedule(ctx, plan.draft_id, note="first plan")
    assert published.status == "published" and published.operations == 15
    # "press P-3 is down until 09:00"
    down = DowntimeWindow(machine="P-3", end=T0 + timedelta(hours=3))
    replan = schedule_production(ctx, "L2", time_limit_s=3, downtime=[down], plots=False)
    assert all(op.start >= down.end for op in replan.operations if op.machine_id == "P-3")
    assert replan.changes_vs_published is not None
    assert replan.changes_vs_published.published_id == plan.draft_id
    assert replan.changes_vs_published.moved_operations > 0
    with pytest.raises(ToolRetry, match="did you mean 'P-3'"):
        schedule_production(ctx, "L2", downtime=[DowntimeWindow(machine="P3", end=down.end)])


def test_publish_supersedes_previous(ctx: ToolContext) -> None:
    assert ctx.kg is not None
    first = schedule_production(ctx, "L2", time_limit_s=2, plots=False, objective="makespan")
    publish_schedule(ctx, first.draft_id)
    second = schedule_production(
        ctx, "L2", time_limit_s=2, plots=False, downtime=[DowntimeWindow(machine="R-1", end=T0 + timedelta(hours=9))]
    )
    res = publish_schedule(ctx, second.draft_id, note="R-1 down")
    assert res.superseded == [first.draft_id]
    rows = ctx.kg.query("SELECT id, status, created_by, note FROM schedules ORDER BY status")
    assert [(r["id"], r["status"]) for r in rows] == [(second.draft_id, "published"), (first.draft_id, "superseded")]
    assert rows[0]["created_by"] == "tester" and rows[0]["note"] == "R-1 down"
    with pytest.raises(ToolRetry, match="Unknown schedule draft"):
        publish_schedule(ctx, "sch-nope")


def test_earliest_maintenance_slot(ctx: ToolContext) -> None:
    slot = earliest_maintenance_slot(ctx, "CNC-08", 2, T0 + timedelta(hours=12), line="L2", time_limit_s=4)
    assert slot.end - slot.start == timedelta(hours=2)
    assert slot.start >= T0 and slot.end <= T0 + timedelta(hours=12)
    assert slot.cost_min >= 0
    # the plan with the window must still be valid: re-check through the instance
    assert ctx.kg is not None
    free = earliest_maintenance_slot(ctx, "CNC-01", 1, T0 + timedelta(hours=4), line="L2", time_limit_s=2)
    assert free.cost_min == 0 and free.start == T0  # no L2 order uses CNC-01
    with pytest.raises(ToolRetry, match="did you mean 'CNC-07'"):
        earliest_maintenance_slot(ctx, "CNC-7", 1, T0 + timedelta(hours=4))


def test_plan_is_valid_for_its_instance(ctx: ToolContext) -> None:
    assert ctx.kg is not None
    from tools.scheduling.kg import scheduled_ops

    plan = schedule_production(ctx, "L2", time_limit_s=2, plots=False)
    ki = instance_from_kg(ctx.kg, line="L2", origin=T0)
    assert validate(ki.instance, scheduled_ops(ki, plan)) == []

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import build_tiny
from tools import workorders as wo
from tools.errors import ToolFailed, ToolRetry
from tools.registry import ToolContext, default_registry

NOW = datetime(2025, 1, 6, 8, 0)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("wo") / "kg.duckdb")


@pytest.fixture(scope="module")
def ctx(db: Path):
    with KnowledgeStore(db, read_only=True) as kg:
        yield ToolContext(kg=kg, now=NOW)


def test_registry_flags() -> None:
    reg = default_registry(["tools.workorders"])
    assert reg.names(mutating=True) == ["close_work_order", "create_work_order"]
    assert {"search_work_orders", "count_work_orders_by_type", "latest_work_order", "maintenance_summary"} <= set(
        reg.names(mutating=False))


def test_search_and_counts(ctx: ToolContext) -> None:
    kg = ctx.kg
    assert kg is not None
    res = wo.search_work_orders(ctx, asset_id="P-4", year=2023, limit=100)
    assert res.total == kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'P-4' AND year(reported_at) = 2023")
    assert [w.reported_at for w in res.items] == sorted((w.reported_at for w in res.items), reverse=True)
    line = wo.search_work_orders(ctx, asset_id="L1", type="corrective", year=2024)
    assert line.total == 3 and {w.failure_mode_id for w in line.items} == {
        r["failure_mode_id"] for r in kg.query("SELECT failure_mode_id FROM fault_truth")}
    counts = wo.count_work_orders_by_type(ctx, asset_id="CHL-01", year=2022)
    assert counts.total == sum(counts.counts.values()) and counts.counts["inspection"] >= 12
    by_year = wo.count_work_orders_by_type(ctx, group_by="year")
    assert set(by_year.counts) == {"2022", "2023", "2024"}
    with pytest.raises(ToolRetry, match="either year or start/end"):
        wo.search_work_orders(ctx, year=2023, start=datetime(2023, 1, 1))
    with pytest.raises(ToolRetry, match="Unknown asset or line 'P-44'"):
        wo.search_work_orders(ctx, asset_id="P-44")


def test_latest_and_summary(ctx: ToolContext) -> None:
    kg = ctx.kg
    assert kg is not None
    fault = kg.query("SELECT * FROM fault_truth ORDER BY failure_ts DESC LIMIT 1")[0]
    latest = wo.latest_work_order(ctx, fault["asset_id"], type="corrective")
    assert latest.work_order is not None and latest.work_order.reported_at == fault["failure_ts"]
    s = wo.maintenance_summary(ctx, fault["asset_id"], start=datetime(2022, 1, 1), end=datetime(2025, 1, 1))
    n = kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = ? AND type = 'corrective'", [fault["asset_id"]])
    assert s.failures == n and s.mtbf_h == pytest.approx(26304 / n, abs=0.01) and s.mttr_h > 0
    assert s.counts_by_type["corrective"] == n and s.top_failure_codes[0].count >= 1
    assert s.last_corrective is not None and s.last_corrective.id == latest.work_order.id


def test_create_and_close(tmp_path: Path) -> None:
    with KnowledgeStore(build_tiny(tmp_path / "kg.duckdb")) as kg:
        ctx = ToolContext(kg=kg, now=NOW, actor="alice")
        before = kg.scalar("SELECT count(*) FROM work_orders")
        created = default_registry(["tools.workorders"]).get("create_work_order")(
            ctx, asset_id="C-1", description="Check bearing noise", failure_mode_id="BRG-WEAR")
        assert created.id == f"WO-{before + 1:05d}" and created.asset_id == "CMP-01" and created.status == "open"
        assert (created.failure_mode_id, created.failure_code, created.created_by) == (
            "fm:compressor.bearing_wear", "BRG-WEAR", "alice")
        assert created.reported_at == NOW
        with pytest.raises(ToolRetry, match="Unknown alert"):
            wo.create_work_order(ctx, "CMP-01", "x", alert_id="AL-nope")
        with pytest.raises(ToolRetry, match="did you mean"):
            wo.create_work_order(ctx, "CMP-9", "x")
        closed = wo.close_work_order(ctx, created.id, resolution="bearing replaced")
        assert closed.status == "closed" and closed.finished_at == NOW and closed.props["resolution"] == "bearing replaced"
        with pytest.raises(ToolFailed, match="already closed"):
            wo.close_work_order(ctx, created.id)
        with pytest.raises(ToolRetry, match="Unknown work order"):
            wo.close_work_order(ctx, "WO-99999")
        assert kg.scalar("SELECT count(*) FROM work_orders") == before + 1

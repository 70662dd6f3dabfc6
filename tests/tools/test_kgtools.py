from __future__ import annotations

from datetime import datetime

import pytest

from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import build_tiny
from tools import kgtools
from tools.errors import ToolRetry
from tools.registry import ToolContext, default_registry


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory):
    path = build_tiny(tmp_path_factory.mktemp("kgtools") / "kg.duckdb")
    with KnowledgeStore(path, read_only=True) as kg:
        yield ToolContext(kg=kg)


def test_registered_read_only_with_schemas() -> None:
    reg = default_registry(["tools.kgtools"])
    names = {"find_entities", "neighbors", "downstream_assets", "upstream_assets", "shortest_path",
             "list_failure_modes", "sensors_for_failure_mode", "sensor_stats", "sensor_history", "list_alerts",
             "kg_stats", "critical_assets"}
    assert names <= set(reg.names(mutating=False))
    props = reg.get("sensor_stats").json_schema()["function"]["parameters"]["properties"]
    assert set(props) == {"target", "start", "end", "sensor_type"}


def test_find_and_neighbors(ctx: ToolContext) -> None:
    tool = default_registry(["tools.kgtools"]).get("find_entities")
    assert tool(ctx, query="pump 4", kind="asset").matches[0].id == "P-4"
    n = kgtools.neighbors(ctx, "Chiller 1", depth=1, rels=["feeds"])
    assert n.center == "CHL-01" and {x.id for x in n.nodes} == {"CHL-01", "P-1", "P-4"}
    with pytest.raises(ToolRetry, match="did you mean 'CHL-01'"):
        kgtools.neighbors(ctx, "CHL-10")
    with pytest.raises(ToolRetry, match="depth"):
        kgtools.neighbors(ctx, "CHL-01", depth=7)


def test_impact_and_path(ctx: ToolContext) -> None:
    down = kgtools.downstream_assets(ctx, "C-1")
    assert down.source == "CMP-01" and down.assets == ["RBT-01"] and down.lines_affected == ["L1"]
    up = kgtools.upstream_assets(ctx, "CNC-02")
    assert set(up.assets) == {"P-4", "CHL-01", "P-1", "CNV-01"}
    p = kgtools.shortest_path(ctx, "P-1", "RBT-01", directed=True, rels=["feeds"])
    assert p.length == 4


def test_failure_modes_and_detecting_sensors(ctx: ToolContext) -> None:
    fms = kgtools.list_failure_modes(ctx, "CNC-01")
    assert fms.asset_class == "cnc" and len(fms.items) == 4
    assert [f.rpn for f in fms.items] == sorted((f.rpn for f in fms.items), reverse=True)
    bearing = next(f for f in fms.items if f.code == "BRG-WEAR")
    assert bearing.symptoms[0].sensor_type == "vibration" and bearing.remedies[0].id == "rem:replace_spindle_bearing"
    assert kgtools.list_failure_modes(ctx, "pump").asset_class == "pump"
    s = kgtools.sensors_for_failure_mode(ctx, "BRG-WEAR", asset_id="CNC-01")
    assert s.failure_mode_id == "fm:cnc.spindle_bearing_wear"
    assert [x.sensor_id for x in s.sensors] == ["CNC-01.vibration", "CNC-01.temperature", "CNC-01.current"]
    assert s.sensors[0].alarm_high == 7.1
    types = kgtools.sensors_for_failure_mode(ctx, "fm:pump.cavitation")
    assert [x.sensor_type for x in types.sensors] == ["vibration", "flow", "pressure"] and types.sensors[0].sensor_id is None
    with pytest.raises(ToolRetry, match="ambiguous"):
        kgtools.sensors_for_failure_mode(ctx, "BRG-WEAR")
    with pytest.raises(ToolRetry, match="belongs to class 'pump'"):
        kgtools.sensors_for_failure_mode(ctx, "fm:pump.cavitation", asset_id="CNC-01")


def test_sensor_stats_default_window_and_history(ctx: ToolContext) -> None:
    res = kgtools.sensor_stats(ctx, "CNC-01", sensor_type="vibration")
    assert res.sensors[0].count == 24 and res.sensors[0].last_ts == datetime(2024, 2, 29, 23)
    full = kgtools.sensor_stats(ctx, "CNC-01", start=datetime(2024, 1, 1), end=datetime(2024, 2, 1))
    assert {s.sensor_id for s in full.sensors} == {f"CNC-01.{t}" for t in
                                                   ("temperature", "vibration", "current", "power", "speed")}
    assert all(s.count == 31 * 24 for s in full.sensors)
    with pytest.raises(ToolRetry, match="sensor type on CNC-01"):
        kgtools.sensor_stats(ctx, "CNC-01", sensor_type="flow")
    hist = kgtools.sensor_history(ctx, "CNC-01.vibration", bucket="1 week")
    assert hist.bucket == "1 week" and 4 <= len(hist.points) <= 6


def test_alerts_and_stats(ctx: ToolContext) -> None:
    assert kgtools.list_alerts(ctx, asset_id="CNC-01").total == 0
    stats = kgtools.kg_stats(ctx)
    assert stats.tables["readings"] == 43 * 1440 and stats.nodes_by_kind["asset"] == 9
    top = kgtools.critical_assets(ctx, top=1)
    assert top.ranking[0][0] in {"P-1", "CNV-01"}

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import build_tiny
from tools.errors import ConfigError


@pytest.fixture(scope="module")
def kg(tmp_path_factory: pytest.TempPathFactory):
    path = build_tiny(tmp_path_factory.mktemp("demo") / "kg.duckdb")
    with KnowledgeStore(path, read_only=True) as store:
        yield store


def _digest(store: KnowledgeStore) -> tuple:
    return (
        store.query("SELECT * FROM fault_truth ORDER BY id"),
        store.scalar("SELECT sum(hash(sensor_id, ts, value)) FROM readings"),
        store.scalar("SELECT sum(hash(id, asset_id, type, reported_at, failure_code)) FROM work_orders"),
        store.scalar("SELECT sum(hash(order_id, seq, machine_id, duration_min)) FROM order_operations"),
    )


def test_same_seed_same_plant_and_other_seed_differs(kg: KnowledgeStore) -> None:
    with KnowledgeStore(":memory:") as again, KnowledgeStore(":memory:") as other:
        build_demo(again, seed=0, scale="tiny")
        build_demo(other, seed=1, scale="tiny")
        assert _digest(again) == _digest(kg)
        assert _digest(other) != _digest(kg)


def test_contract_ids_kinds_and_props(kg: KnowledgeStore) -> None:
    kinds = {r["kind"] for r in kg.query("SELECT DISTINCT kind FROM nodes")}
    assert {"site", "line", "asset", "sensor", "asset_class", "failure_mode", "symptom", "remedy", "product",
            "compute_node"} <= kinds
    asset = json.loads(kg.scalar("SELECT props FROM nodes WHERE id = 'CMP-01'"))
    assert asset["class"] == "compressor" and asset["line"] == "L1" and "C-1" in asset["aliases"]
    sensor = json.loads(kg.scalar("SELECT props FROM nodes WHERE id = 'CNC-02.vibration'"))
    assert sensor["type"] == "vibration" and sensor["asset_id"] == "CNC-02" and sensor["normal_high"] < sensor["alarm_high"]
    rels = {(r["src"], r["rel"], r["dst"]) for r in kg.query("SELECT src, rel, dst FROM edges")}
    assert ("CNC-02", "part_of", "L1") in rels and ("L1", "part_of", "SITE-1") in rels
    assert ("CNC-02", "instance_of", "class:cnc") in rels and ("CNC-02", "has_sensor", "CNC-02.vibration") in rels
    assert ("P-1", "feeds", "CHL-01") in rels
    assert ("class:cnc", "may_fail_by", "fm:cnc.spindle_bearing_wear") in rels
    assert ("fm:cnc.spindle_bearing_wear", "shows_symptom", "sym:vibration_up") in rels
    assert ("fm:cnc.spindle_bearing_wear", "fixed_by", "rem:replace_spindle_bearing") in rels
    fm = json.loads(kg.scalar("SELECT props FROM nodes WHERE id = 'fm:cnc.spindle_bearing_wear'"))
    assert fm["code"] == "BRG-WEAR" and fm["asset_class"] == "cnc" and 1 <= fm["severity"] <= 10
    lik = json.loads(kg.scalar("SELECT props FROM edges WHERE src = 'fm:cnc.spindle_bearing_wear' AND "
                               "dst = 'sym:vibration_up'"))["likelihood"]
    assert 0 < lik <= 1
    # every symptom of every failure mode maps to a sensor type that the class's assets have
    missing = kg.query("""
        SELECT a.id, s.props->>'sensor_type' AS t FROM nodes a
        JOIN edges io ON io.src = a.id AND io.rel = 'instance_of'
        JOIN edges mf ON mf.src = io.dst AND mf.rel = 'may_fail_by'
        JOIN edges ss ON ss.src = mf.dst AND ss.rel = 'shows_symptom' JOIN nodes s ON s.id = ss.dst
        WHERE a.kind = 'asset' AND (a.id || '.' || (s.props->>'sensor_type')) NOT IN (SELECT id FROM nodes)""")
    assert missing == []


def test_faults_have_signals_and_corrective_work_orders(kg: KnowledgeStore) -> None:
    faults = kg.query("SELECT * FROM fault_truth ORDER BY id")
    assert {f["kind"] for f in faults} == {"gradual", "abrupt"}
    for f in faults:
        wo = kg.query("SELECT * FROM work_orders WHERE asset_id = ? AND reported_at = ? AND type = 'corrective'",
                      [f["asset_id"], f["failure_ts"]])
        assert len(wo) == 1 and wo[0]["failure_mode_id"] == f["failure_mode_id"]
        code = json.loads(kg.scalar("SELECT props FROM nodes WHERE id = ?", [f["failure_mode_id"]]))["code"]
        assert wo[0]["failure_code"] == code
        sid = f["sensor_ids"][0]
        direction = kg.scalar("SELECT n.props->>'direction' FROM edges e JOIN nodes n ON n.id = e.dst WHERE e.src = ? "
                              "AND e.rel = 'shows_symptom' AND n.props->>'sensor_type' = ?",
                              [f["failure_mode_id"], sid.split(".")[1]])
        window = "SELECT avg(value) FROM readings WHERE sensor_id = ? AND ts < ? AND ts >= ? - INTERVAL 2 HOUR"
        last = kg.scalar(window, [sid, f["failure_ts"], f["failure_ts"]])
        week_before = f["failure_ts"] - timedelta(days=7)  # same hours of the week, before the fault
        before = kg.scalar(window, [sid, week_before, week_before])
        band = json.loads(kg.scalar("SELECT props FROM nodes WHERE id = ?", [sid]))
        assert (last - before) * (1 if direction == "up" else -1) > 0.1 * (band["normal_high"] - band["normal_low"]), f
    corrective_2024 = kg.scalar("SELECT count(*) FROM work_orders WHERE type = 'corrective' AND year(reported_at) = 2024")
    assert corrective_2024 == len(faults)
    assert kg.scalar("SELECT count(*) FROM alerts") == 0
    assert kg.scalar("SELECT min(reported_at) FROM work_orders").year == 2022


def test_production_orders_are_routed_to_existing_machines(kg: KnowledgeStore) -> None:
    bad = kg.query("SELECT machine_id FROM order_operations WHERE machine_id NOT IN (SELECT id FROM nodes "
                   "WHERE kind = 'asset')")
    assert bad == []
    assert kg.scalar("SELECT count(*) FROM production_orders WHERE due_ts <= release_ts") == 0
    assert kg.scalar("SELECT max(n) FROM (SELECT count(*) AS n FROM order_operations GROUP BY order_id, seq)") >= 2


def test_refuses_to_overwrite_unless_replace(tmp_path: Path) -> None:
    path = build_tiny(tmp_path / "kg.duckdb")
    with KnowledgeStore(path) as kg:
        with pytest.raises(ConfigError, match="replace"):
            build_demo(kg, scale="tiny")
        summary = build_demo(kg, scale="tiny", seed=3, replace=True)
        assert kg.scalar("SELECT count(*) FROM nodes") == summary.nodes
        assert kg.scalar("SELECT count(*) FROM readings") == summary.readings == 43 * 1440

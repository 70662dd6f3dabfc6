"""Diagnosis over a real DuckDB knowledge graph: the tiny demo plant and a hand-built plant."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from server.cli_diagnose import app
from tools.diagnosis import (
    TOOLS,
    DiagnosisResult,
    assets_with_anomalies,
    days_to_threshold,
    detect_anomalies,
    diagnose_asset,
    rank_failure_modes,
    remedies_for,
    store_alerts,
)
from tools.diagnosis.metrics import diagnosis_report
from tools.errors import ToolFailed, ToolRetry
from tools.registry import ToolContext, ToolRegistry


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("diag") / "tiny.duckdb"
    with KnowledgeStore(path) as kg:
        build_demo(kg, seed=0, scale="tiny")
    return path


@pytest.fixture
def ro(tiny_db: Path):  # type: ignore[no-untyped-def]
    kg = KnowledgeStore(tiny_db, read_only=True)
    yield kg
    kg.close()


def _truth(kg: KnowledgeStore) -> list[dict[str, object]]:
    return kg.query("SELECT * FROM fault_truth ORDER BY failure_ts")


def test_tools_register_read_only_with_schemas() -> None:
    reg = ToolRegistry()
    for fn in TOOLS:
        reg.add(fn)
    assert reg.names() == sorted(["assets_with_anomalies", "days_to_threshold", "detect_anomalies", "diagnose_asset",
                                  "rank_failure_modes", "remedies_for"])
    assert reg.names(mutating=True) == []
    schema = reg.get("diagnose_asset").json_schema()
    assert "asset" in schema["function"]["parameters"]["properties"]


def test_gradual_fault_is_found_early_and_ranked(ro: KnowledgeStore) -> None:
    ctx = ToolContext(kg=ro)
    f = next(x for x in _truth(ro) if x["kind"] == "gradual" and x["asset_id"] == "CMP-01")
    res = diagnose_asset(ctx, "CMP-01", since=f["onset_ts"] - timedelta(days=3), until=f["failure_ts"])
    assert isinstance(res, DiagnosisResult)
    inside = [a for a in res.anomalies if f["onset_ts"] <= a.start <= f["failure_ts"]]
    assert inside, "the injected bearing wear must be detected"
    assert (f["failure_ts"] - min(a.start for a in inside)) >= timedelta(days=3)
    assert f["failure_mode_id"] in [c.id for c in res.failure_modes[:3]]
    top = res.failure_modes[0]
    assert top.path[0] == "CMP-01" and top.path[-1].startswith("rem:")
    assert res.remedies and res.remedies[0].duration_h
    assert 0.0 <= top.probability <= 1.0


def test_rank_and_remedies_tools(ro: KnowledgeStore) -> None:
    ctx = ToolContext(kg=ro)
    f = next(x for x in _truth(ro) if x["asset_id"] == "CMP-01")
    r = rank_failure_modes(ctx, "CMP-01", since=f["onset_ts"], until=f["failure_ts"], top=2)
    assert len(r.candidates) == 2 and r.observed_symptoms
    rem = remedies_for(ctx, r.candidates[0].code or r.candidates[0].id)
    assert rem.remedies and rem.remedies[0].parts
    with pytest.raises(ToolRetry, match="did you mean"):
        remedies_for(ctx, "fm:compressor.bearing_waer")


def test_days_to_threshold_on_a_drifting_fault(ro: KnowledgeStore) -> None:
    ctx = ToolContext(kg=ro)
    f = next(x for x in _truth(ro) if x["asset_id"] == "CMP-01")
    until = f["failure_ts"] - timedelta(days=3)
    d = days_to_threshold(ctx, "CMP-01", sensor="vibration", until=until)
    assert d.sensor == "CMP-01.vibration"
    assert d.status in ("ok", "already_exceeded", "no_significant_trend", "not_enough_data")
    if d.status == "ok":
        assert d.low is not None and d.high is not None and d.low <= d.estimate <= d.high
        assert d.estimate < 30
    with pytest.raises(ToolRetry, match="sensor"):
        days_to_threshold(ctx, "CMP-01", sensor="humidity")


def test_quiet_asset_has_no_failure_modes(ro: KnowledgeStore) -> None:
    faulty = {x["asset_id"] for x in _truth(ro)}
    quiet = next(a for a in ["CNC-01", "CNC-02", "CNC-03", "P-3", "CNV-01"] if a not in faulty)
    rep = detect_anomalies(ToolContext(kg=ro), quiet, since=datetime(2024, 2, 1), until=datetime(2024, 3, 1))
    assert len(rep.anomalies) <= 3  # thresholds are learned for a low false-alarm rate
    res = diagnose_asset(ToolContext(kg=ro), quiet, since=datetime(2024, 2, 1), until=datetime(2024, 3, 1))
    if not res.anomalies:
        assert res.failure_modes == [] and res.days_to_threshold is None


def test_bad_input_names_the_fix(ro: KnowledgeStore) -> None:
    ctx = ToolContext(kg=ro)
    with pytest.raises(ToolRetry, match="did you mean 'CMP-01'"):
        detect_anomalies(ctx, "CMP-1")
    with pytest.raises(ToolFailed, match="data covers 2024-01-01"):
        detect_anomalies(ctx, "CMP-01", since=datetime(2023, 1, 1), until=datetime(2023, 2, 1))
    with pytest.raises(ToolRetry, match="must be before"):
        detect_anomalies(ctx, "CMP-01", since=datetime(2024, 2, 1), until=datetime(2024, 1, 1))
    with pytest.raises(ToolFailed, match="No knowledge graph"):
        detect_anomalies(ToolContext(), "CMP-01")
    assert detect_anomalies(ctx, "cmp-01").asset == "CMP-01"  # case-insensitive


def test_alert_writes_are_idempotent(tiny_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "w.duckdb"
    copy.write_bytes(tiny_db.read_bytes())
    with KnowledgeStore(copy) as kg:
        rep = detect_anomalies(ToolContext(kg=kg), "CMP-01", since=datetime(2024, 2, 1), until=datetime(2024, 3, 1))
        assert rep.anomalies
        now = datetime(2024, 3, 1)
        first = store_alerts(kg, rep.anomalies, created_at=now)
        n = kg.scalar("SELECT count(*) FROM alerts")
        again = store_alerts(kg, rep.anomalies, created_at=now)
        rerun = detect_anomalies(ToolContext(kg=kg), "CMP-01", since=datetime(2024, 2, 1), until=datetime(2024, 3, 1))
        third = store_alerts(kg, rerun.anomalies, created_at=now)
        assert first.inserted == len(rep.anomalies) == n
        assert again.inserted == 0 and again.unchanged == n
        assert third.inserted == 0 and kg.scalar("SELECT count(*) FROM alerts") == n
        assert sorted(first.ids) == sorted(r["id"] for r in kg.query("SELECT id FROM alerts"))
        # an episode that grew keeps its id and is updated in place
        grown = rep.anomalies[0].model_copy(update={"end": rep.anomalies[0].end + timedelta(hours=5)})
        upd = store_alerts(kg, [grown], created_at=now)
        assert upd.updated == 1 and kg.scalar("SELECT count(*) FROM alerts") == n


def test_assets_with_anomalies_lists_the_faulty_asset(ro: KnowledgeStore) -> None:
    f = next(x for x in _truth(ro) if x["asset_id"] == "CMP-01")
    res = assets_with_anomalies(ToolContext(kg=ro), start=f["failure_ts"] - timedelta(days=7), end=f["failure_ts"])
    assert res.scanned == 9
    assert "CMP-01" in [a.asset for a in res.assets]


def test_cli_json_shape(tiny_db: Path) -> None:
    r = CliRunner().invoke(app, ["CMP-01", "--db", str(tiny_db), "--since", "2024-02-10", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc) == ["asset", "anomalies", "failure_modes", "days_to_threshold", "remedies"]
    assert doc["anomalies"] and set(doc["anomalies"][0]) == {"sensor", "start", "end", "score", "detector"}
    assert set(doc["failure_modes"][0]) == {"id", "name", "probability", "evidence", "path"}
    dtt = doc["days_to_threshold"]
    assert dtt is None or set(dtt) == {"estimate", "low", "high"}
    assert doc["remedies"] and {"id", "name", "duration_h", "parts", "cost"} <= set(doc["remedies"][0])


def test_cli_errors_are_one_line(tiny_db: Path) -> None:
    r = CliRunner().invoke(app, ["CMP-1", "--db", str(tiny_db), "--json"])
    assert r.exit_code == 2 and r.stdout == ""
    assert "did you mean 'CMP-01'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = CliRunner().invoke(app, ["CMP-01", "--db", str(tiny_db), "--since", "2023-01-01", "--until", "2023-02-01"])
    assert r.exit_code == 2 and "Pass --since/--until inside that range" in r.stderr


def test_eval_report_scores_both_methods(ro: KnowledgeStore) -> None:
    rep = diagnosis_report(ro)
    assert rep.faults == 3 and rep.assets == 9
    for m in (rep.indagent, rep.baseline):
        assert 0.0 <= m.top1 <= m.top3 <= 1.0 and m.fault_free_asset_months > 0
    assert rep.indagent.detection_rate >= 2 / 3
    assert rep.indagent.false_alarms_per_asset_month < rep.baseline.false_alarms_per_asset_month


def test_hand_built_plant_without_load_sensors(tmp_path: Path) -> None:
    """A minimal KG following the contract (no demo): one fan with a temperature step."""
    with KnowledgeStore(tmp_path / "p.duckdb") as kg:
        nodes = [
            ("FAN-1", "asset", "Fan 1", {"class": "fan", "line": "L1"}),
            ("FAN-1.temperature", "sensor", "t", {"type": "temperature", "unit": "degC", "asset_id": "FAN-1",
                                                  "normal_low": 20, "normal_high": 40, "alarm_high": 60}),
            ("FAN-1.vibration", "sensor", "v", {"type": "vibration", "unit": "mm/s", "asset_id": "FAN-1",
                                                "normal_low": 0, "normal_high": 3, "alarm_high": 7}),
            ("class:fan", "asset_class", "fan", {}),
            ("fm:fan.motor_hot", "failure_mode", "Motor overheating", {"code": "HOT", "occurrence": 5}),
            ("fm:fan.unbalance", "failure_mode", "Unbalance", {"code": "UNB", "occurrence": 5}),
            ("sym:temperature_up", "symptom", "temperature up", {"sensor_type": "temperature", "direction": "up"}),
            ("sym:vibration_up", "symptom", "vibration up", {"sensor_type": "vibration", "direction": "up"}),
            ("rem:clean_fan", "remedy", "Clean motor fan", {"duration_h": 1, "parts": [], "cost": 50}),
        ]
        edges = [
            ("FAN-1", "FAN-1.temperature", "has_sensor", {}), ("FAN-1", "FAN-1.vibration", "has_sensor", {}),
            ("FAN-1", "class:fan", "instance_of", {}), ("class:fan", "fm:fan.motor_hot", "may_fail_by", {}),
            ("class:fan", "fm:fan.unbalance", "may_fail_by", {}),
            ("fm:fan.motor_hot", "sym:temperature_up", "shows_symptom", {"likelihood": 0.9}),
            ("fm:fan.unbalance", "sym:vibration_up", "shows_symptom", {"likelihood": 0.9}),
            ("fm:fan.motor_hot", "rem:clean_fan", "fixed_by", {}),
        ]
        with kg.transaction() as con:
            for n in nodes:
                con.execute("INSERT INTO nodes VALUES (?, ?, ?, ?)", [n[0], n[1], n[2], json.dumps(n[3])])
            for e in edges:
                con.execute("INSERT INTO edges VALUES (?, ?, ?, ?)", [e[0], e[1], e[2], json.dumps(e[3])])
            idx = pd.date_range("2024-01-01", periods=50 * 24, freq="1h")
            rng = np.random.default_rng(0)
            temp = 30 + rng.normal(0, 0.5, idx.size)
            temp[40 * 24 :] += 5.0
            vib = 2 + rng.normal(0, 0.1, idx.size)
            df = pd.DataFrame({"sensor_id": ["FAN-1.temperature"] * idx.size + ["FAN-1.vibration"] * idx.size,
                               "ts": list(idx) * 2, "value": np.concatenate([temp, vib])})
            con.register("df", df)
            con.execute("INSERT INTO readings SELECT * FROM df")
            con.unregister("df")
        res = diagnose_asset(ToolContext(kg=kg), "Fan 1", since=datetime(2024, 2, 1))
        assert res.anomalies and res.anomalies[0].sensor == "FAN-1.temperature"
        assert res.anomalies[0].start >= datetime(2024, 2, 10)
        assert res.failure_modes[0].id == "fm:fan.motor_hot"
        assert res.remedies[0].id == "rem:clean_fan"

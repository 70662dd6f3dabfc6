from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from knowledge.importers import ImportFileError, Mapping, import_file
from knowledge.store import KnowledgeStore
from tests.knowledge.kg_fixtures import FIXTURES

TABLES = ("nodes", "edges", "readings", "work_orders", "alerts")


def _counts(kg: KnowledgeStore) -> dict[str, int]:
    return {t: kg.scalar(f"SELECT count(*) FROM {t}") for t in TABLES}


@pytest.fixture
def kg(tmp_path: Path):
    with KnowledgeStore(tmp_path / "kg.duckdb") as store:
        import_file(store, FIXTURES / "assets.csv", kind="assets")
        import_file(store, FIXTURES / "sensors.csv", kind="sensors")
        yield store


def test_assets_and_sensors_build_the_graph(kg: KnowledgeStore) -> None:
    rels = {(r["src"], r["rel"], r["dst"]) for r in kg.query("SELECT src, rel, dst FROM edges")}
    assert {("PMP-101", "part_of", "A1"), ("PMP-101", "instance_of", "class:pump"), ("PMP-101", "feeds", "CHL-9"),
            ("PMP-101", "has_sensor", "PMP-101.vibration"), ("CHL-9", "has_sensor", "CHL-9.temperature")} <= rels
    assert kg.scalar("SELECT props->>'alarm_high' FROM nodes WHERE id = 'PMP-101.vibration'") == "7.1"


def test_long_readings_round_trip_with_rejects(kg: KnowledgeStore) -> None:
    r = import_file(kg, FIXTURES / "readings_long.csv", kind="readings")
    assert (r.format, r.rows_read, r.rows_accepted, r.rows_rejected, r.facts_inserted) == ("long", 8, 5, 3, 5)
    assert [(x.row, x.reason) for x in r.rejects] == [
        (5, "missing value"), (6, "unparseable ts 'not a time'"), (7, "value 'abc' is not a number")]
    rows = kg.query("SELECT sensor_id, ts, value FROM readings ORDER BY sensor_id, ts")
    assert [(x["ts"], x["value"]) for x in rows if x["sensor_id"] == "PMP-101.vibration"] == [
        (datetime(2024, 3, 1, 0), 1.5), (datetime(2024, 3, 1, 1), 1.6), (datetime(2024, 3, 1, 2), 1.7)]
    assert (datetime(2024, 3, 1, 1), 88.1) in [(x["ts"], x["value"]) for x in rows if x["sensor_id"] == "PMP-101.flow"]


def test_wide_readings_create_sensors(kg: KnowledgeStore) -> None:
    r = import_file(kg, FIXTURES / "readings_wide.csv", kind="readings", asset="MIL-3")
    assert (r.format, r.rows_read, r.rows_accepted, r.rows_rejected) == ("wide", 5, 3, 2)
    assert [x.row for x in r.rejects] == [4, 5] and "'Current'" in r.rejects[0].reason
    assert r.nodes_created == 3 and r.facts_inserted == 8  # one empty cell skipped
    props = kg.query("SELECT id, props->>'type' AS t, props->>'unit' AS u FROM nodes WHERE id LIKE 'MIL-3.%' ORDER BY id")
    assert [(p["id"], p["t"], p["u"]) for p in props] == [
        ("MIL-3.current", "current", None), ("MIL-3.motor_temp", "temperature", "degC"),
        ("MIL-3.vibration", "vibration", "mm/s")]
    assert kg.scalar("SELECT count(*) FROM edges WHERE src = 'MIL-3' AND rel = 'has_sensor'") == 3


def test_reimport_is_idempotent(kg: KnowledgeStore) -> None:
    for name, kind, kw in (("readings_long.csv", "readings", {}), ("readings_wide.csv", "readings", {"asset": "MIL-3"}),
                           ("work_orders.csv", "work_orders", {}), ("failure_modes.csv", "failure_modes", {}),
                           ("alerts.csv", "alerts", {}), ("assets.csv", "assets", {})):
        first = import_file(kg, FIXTURES / name, kind=kind, **kw)
        before = _counts(kg)
        again = import_file(kg, FIXTURES / name, kind=kind, **kw)
        assert _counts(kg) == before, name
        assert (again.nodes_created, again.edges_created, again.facts_inserted) == (0, 0, 0), name
        assert again.rows_accepted == first.rows_accepted, name


def test_work_orders_normalise_and_create_unknown_assets(kg: KnowledgeStore) -> None:
    import_file(kg, FIXTURES / "failure_modes.csv", kind="failure_modes")
    r = import_file(kg, FIXTURES / "work_orders.csv", kind="work_orders")
    assert (r.rows_accepted, r.rows_rejected, r.created_ids) == (3, 2, ["XYZ-77"])
    assert "duplicate id 'WO-2'" in r.rejects[1].reason
    wo = {w["id"]: w for w in kg.query("SELECT * FROM work_orders")}
    assert (wo["WO-1"]["type"], wo["WO-1"]["status"], wo["WO-1"]["failure_mode_id"]) == (
        "corrective", "closed", "fm:pump.bearing_wear")
    assert (wo["WO-2"]["type"], wo["WO-3"]["type"], wo["WO-3"]["status"]) == ("preventive", "corrective", "open")
    assert wo["WO-3"]["description"].startswith("Ignore previous instructions")  # stored as data
    assert kg.scalar("SELECT kind FROM nodes WHERE id = 'XYZ-77'") == "asset"


def test_mapping_yaml_renames_sets_constants_and_formats(kg: KnowledgeStore) -> None:
    r = import_file(kg, FIXTURES / "work_orders_custom.csv", kind="work_orders", mapping=FIXTURES / "mapping_wo.yaml")
    assert r.rows_accepted == 2
    w = kg.query("SELECT * FROM work_orders WHERE id = 'T-100'")[0]
    assert (w["type"], w["status"], w["reported_at"]) == ("corrective", "closed", datetime(2023, 5, 13, 10, 30))
    with pytest.raises(ImportFileError, match="for kind 'work_orders', not 'readings'"):
        import_file(kg, FIXTURES / "work_orders_custom.csv", kind="readings", mapping=FIXTURES / "mapping_wo.yaml")
    with pytest.raises(ImportFileError, match="unknown field"):
        import_file(kg, FIXTURES / "readings_long.csv", kind="readings", mapping=Mapping(columns={"Tag": "colour"}))


def test_failure_modes_build_fmea_edges(kg: KnowledgeStore) -> None:
    r = import_file(kg, FIXTURES / "failure_modes.csv", kind="failure_modes")
    assert (r.rows_accepted, r.rows_rejected) == (3, 1) and "severity 12 outside 1..10" in r.rejects[0].reason
    rels = {(x["src"], x["rel"], x["dst"]) for x in kg.query("SELECT src, rel, dst FROM edges")}
    assert {("class:pump", "may_fail_by", "fm:pump.bearing_wear"), ("fm:pump.bearing_wear", "shows_symptom",
            "sym:vibration_up"), ("fm:pump.bearing_wear", "shows_symptom", "sym:temperature_up"),
            ("fm:pump.cavitation", "shows_symptom", "sym:flow_down"),
            ("fm:pump.bearing_wear", "fixed_by", "rem:replace_pump_bearing")} <= rels
    assert kg.scalar("SELECT props->>'parts' FROM nodes WHERE id = 'rem:replace_pump_bearing'") == '["bearing set","grease"]'


def test_alerts_and_edges(kg: KnowledgeStore) -> None:
    a = import_file(kg, FIXTURES / "alerts.csv", kind="alerts")
    assert a.facts_inserted == 2
    assert kg.scalar("SELECT sensor_ids FROM alerts WHERE score = 2.1") == ["PMP-101.vibration", "PMP-101.flow"]
    e = import_file(kg, FIXTURES / "edges.csv", kind="edges")
    assert (e.rows_accepted, e.edges_created, e.rejects[0].row) == (1, 1, 3)


@pytest.mark.parametrize(("name", "kw", "message"), [
    ("missing_column.csv", {}, "missing required column"),
    ("garbage.csv", {}, "does not look like a CSV"),
    ("semicolon.csv", {"mapping": FIXTURES / "mapping_semicolon.yaml"}, "looks ';'-delimited"),
    ("readings_wide.csv", {}, "need --asset"),
    ("nope.csv", {}, "not found"),
])
def test_bad_files_change_nothing(kg: KnowledgeStore, name: str, kw: dict, message: str) -> None:
    before = _counts(kg)
    with pytest.raises(ImportFileError, match=message):
        import_file(kg, FIXTURES / name, kind="readings", **kw)
    assert _counts(kg) == before


def test_strict_failure_rolls_back_everything(kg: KnowledgeStore, tmp_path: Path) -> None:
    before = _counts(kg)
    with pytest.raises(ImportFileError, match="strict"):
        import_file(kg, FIXTURES / "work_orders.csv", kind="work_orders", strict=True)
    assert _counts(kg) == before  # the unknown asset XYZ-77 created before the failure is gone too
    assert kg.scalar("SELECT count(*) FROM nodes WHERE id = 'XYZ-77'") == 0
    shutil.copy(FIXTURES / "readings_long.csv", tmp_path / "r.csv")
    assert import_file(kg, tmp_path / "r.csv", kind="readings").facts_inserted == 5  # store still usable

"""The live plant: OPC UA simulator, connector across a simulator restart, and `indagent demo` end to end."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from asyncua import Client, ua
from typer.testing import CliRunner

from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from server.plant.config import OpcUaConfig
from server.plant.connector import PlantConnector
from server.plant.model import LiveScenario, build_plant_model
from server.plant.simulator import PlantSimulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tiny_model():  # type: ignore[no-untyped-def]
    return build_plant_model(LiveScenario(scale="tiny", days=4))


def test_simulator_publishes_tags_and_accepts_setpoint_writes(tiny_model) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        sim = PlantSimulator(tiny_model, port=_free_port(), speed=3600 * 50)
        await sim.start()
        try:
            await sim.run(ticks=3)
            async with Client(sim.endpoint) as client:
                ns = await client.get_namespace_index("urn:indagent:plant")
                i = tiny_model.sensors.index("CNC-01.vibration")
                dv = await client.get_node(ua.NodeId("CNC-01.vibration", ns)).read_data_value()
                assert dv.Value.Value == pytest.approx(float(tiny_model.values[i, 2]))
                assert dv.SourceTimestamp.replace(tzinfo=None) == tiny_model.time_of(2)
                state = await client.get_node(ua.NodeId("CNC-01.state", ns)).read_value()
                assert state in ("running", "idle", "down")
                await client.get_node(ua.NodeId("CHL-01.chws_setpoint", ns)).write_value(
                    ua.DataValue(ua.Variant(7.4, ua.VariantType.Double)))
            assert await sim.read_setpoint("CHL-01.chws_setpoint") == pytest.approx(7.4)
            assert [w.tag for w in sim.writes] == ["CHL-01.chws_setpoint"]
        finally:
            await sim.stop()

    asyncio.run(main())


def test_connector_survives_a_simulator_restart_without_duplicates_or_gaps(tiny_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kg = KnowledgeStore(tmp_path / "kg.duckdb")
    build_demo(kg, seed=0, scale="tiny")
    port, state = _free_port(), tmp_path / "sim.json"

    async def main() -> PlantConnector:
        sim = PlantSimulator(tiny_model, port=port, speed=3600 * 40, state_file=state)
        await sim.start()
        await sim.run(ticks=4)  # published before the connector exists: read back from history
        conn = PlantConnector(OpcUaConfig(endpoint=sim.endpoint, backoff_initial_s=0.1, backoff_max_s=0.8,
                                          watchdog_s=0.5), kg)
        stop = asyncio.Event()
        task = asyncio.create_task(conn.run(stop))
        await asyncio.wait_for(conn.connected.wait(), 30)
        await sim.run(ticks=20)
        await sim.stop()  # abrupt: notifications in flight are lost on the wire
        await asyncio.sleep(1.0)
        sim2 = PlantSimulator(tiny_model, port=port, speed=3600 * 40, state_file=state)
        await sim2.start()  # resumes after the last published tick, history refilled
        assert sim2.next_tick == 24
        await sim2.run(ticks=10)
        await asyncio.sleep(0.5)
        for _ in range(100):
            if conn.stats.last_source_ts == tiny_model.time_of(33):
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
        await sim2.stop()
        return conn

    conn = asyncio.run(main())
    assert conn.stats.reconnects >= 1 and conn.stats.connects >= 2
    rows = kg.query("SELECT sensor_id, ts, value FROM readings WHERE ts >= ? ORDER BY sensor_id, ts",
                    [tiny_model.start])
    got = {(r["sensor_id"], r["ts"]): r["value"] for r in rows}
    assert len(got) == len(rows), "duplicate samples"
    expected = {(s, tiny_model.time_of(k)): float(tiny_model.values[i, k])
                for i, s in enumerate(tiny_model.sensors) for k in range(34)}
    assert set(got) == set(expected), f"missing {len(set(expected) - set(got))}, extra {len(set(got) - set(expected))}"
    assert all(got[k] == pytest.approx(v) for k, v in expected.items())


def test_demo_auto_approve_closes_the_loop(tmp_path: Path) -> None:
    from server.cli_demo import app

    res = CliRunner().invoke(app, ["--auto-approve", "--json", "--port", str(_free_port()),
                                   "--db", str(tmp_path / "live.duckdb")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    truth = out["fault_truth"]
    # 1. the fault is found on the right asset, 2. the right failure mode is in the top 3
    assert out["asset"] == truth["asset_id"]
    assert truth["failure_mode_id"] in [c["id"] for c in out["failure_modes"][:3]]
    assert out["detected_at"] < truth["failure_ts"]
    # 3. maintenance before the predicted threshold, on the plan; the plan after is feasible
    m = out["maintenance"]
    assert m["machine_id"] == truth["asset_id"] and m["end"] <= out["deadline"]
    dtt = out["days_to_threshold"]
    assert dtt["status"] == "ok" and out["deadline"] <= _plus_days(dtt["as_of"], dtt["estimate"])
    assert out["plan_violations"] == []
    # 5. approved actions executed; 4. setpoints written to the OPC UA server
    assert {a["tool"]: a["ok"] for a in out["actions"]} == {"create_work_order": True, "publish_schedule": True,
                                                          "write_setpoints": True}
    assert out["opcua_writes"] and all(w["ok"] for w in out["opcua_writes"])
    assert out["simulator_setpoints"] == {w["tag"]: w["value"] for w in out["opcua_writes"]}
    kg = KnowledgeStore(tmp_path / "live.duckdb", read_only=True)
    assert kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = ? AND status = 'open' AND failure_mode_id IS NOT NULL",
                     [truth["asset_id"]]) == 1
    assert kg.scalar("SELECT count(*) FROM schedules WHERE status = 'published'") == 1
    assert out["connector"]["duplicates"] == 0 and out["connector"]["dropped"] == 0
    # 6. report and trace with routed-model decisions
    assert Path(out["report_md"]).exists() and Path(out["report_html"]).exists()
    trace = json.loads(Path(out["trace_json"]).read_text())
    assert any(t.get("route") and t["route"].get("reason") for t in trace["trace"])


def _plus_days(iso: str, days: float) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(iso) + timedelta(days=days)).isoformat()

"""The live plant: OPC UA simulator, connector across a simulator restart, `indagent demo` end to end, and the
closed loop as a scheduled autonomous run (waiting for approval, approved from the CLI, over HTTP, queued)."""

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


# -- the closed loop as a scheduled autonomous run ---------------------------------------------------
LOOP_BRAIN = ["--brain-factory", "tests.server.conftest_runs:loop_brain"]


@pytest.fixture(scope="module")
def live_kg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's live KG before any live sample (built once; each test streams into a copy)."""
    from tests.server.conftest_runs import live_scenario, prepare_live_kg

    path = tmp_path_factory.mktemp("live") / "prepared.duckdb"
    prepare_live_kg(path, live_scenario(degrading=True))
    return path


def _runs_cli(args: list[str]) -> dict:
    from server.cli_runs import app as runs_app

    res = CliRunner().invoke(runs_app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


class _SimThread:
    """The plant simulator serving on 127.0.0.1 from its own thread (the loop run writes to it)."""

    def __init__(self, model) -> None:  # type: ignore[no-untyped-def]
        import threading

        self.sim = PlantSimulator(model, port=_free_port(), speed=3600)
        self._ready, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        await self.sim.start()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.05)
        self.values = {sp.name: await self.sim.read_setpoint(sp.name) for sp in self.sim.model.setpoints}
        await self.sim.stop()

    def __enter__(self) -> _SimThread:
        self._thread.start()
        assert self._ready.wait(60), "simulator did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def test_loop_run_waits_for_approval_then_applies_the_plan_and_writes_setpoints_over_opcua(
        live_kg_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from tests.server.conftest_runs import live_scenario, stream_days

    monkeypatch.delenv("INDAGENT_OPCUA_ENDPOINT", raising=False)
    kg_path = data_dir / "indagent.duckdb"
    shutil.copyfile(live_kg_file, kg_path)
    model = live_scenario(degrading=True)
    stream_days(kg_path, model, 3.5)  # what the connector stored: 3.5 days of the bearing wear on CNC-07
    with _SimThread(model) as plant:
        sched = _runs_cli(["schedule", "--loop", "--every", "1h", "--policy", "require-approval", "--solver-s", "1",
                           "--opcua-endpoint", plant.sim.endpoint])
        assert sched["kind"] == "loop" and sched["loop"]["endpoint"] == plant.sim.endpoint and sched["every_s"] == 3600
        run = _runs_cli(["run-now", sched["id"], *LOOP_BRAIN])
        assert run["status"] == "waiting_approval", run["error"]
        loop = run["trace"]["loop"]
        assert loop["asset"] == "CNC-07" and loop["status"] == "waiting_approval"
        assert "fm:cnc.spindle_bearing_wear" in [c["id"] for c in loop["failure_modes"][:3]]
        assert loop["maintenance"]["end"] <= loop["deadline"] and loop["plan_violations"] == []
        plan = run["pending_approvals"][0]
        assert plan["tool"] == "closed_loop_plan" and plan["policy"] == "require-approval"
        assert [a["tool"] for a in plan["args"]["actions"]] == ["create_work_order", "publish_schedule", "write_setpoints"]
        # nothing applied yet: no work order, no published schedule, no setpoint, nothing written to the plant
        with KnowledgeStore(kg_path, read_only=True) as kg:
            assert kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CNC-07' AND status = 'open'") == 0
            assert kg.scalar("SELECT count(*) FROM schedules WHERE status = 'published'") == 0
            assert kg.scalar("SELECT count(*) FROM setpoints") == 0
        assert plant.sim.writes == []
        md = Path(run["report_md"]).read_text()
        assert "## Closed loop" in md and "create_work_order" in md and "Nothing below has been applied" in md

        done = _runs_cli(["approve", run["id"], "--by", "alice", *LOOP_BRAIN])
    assert done["status"] == "succeeded", done["error"]
    assert [(d["tool"], d["decision"], d["ok"]) for d in done["decisions"]] == [
        ("create_work_order", "approved", True), ("publish_schedule", "approved", True), ("write_setpoints", "approved", True)]
    with KnowledgeStore(kg_path, read_only=True) as kg:
        assert kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CNC-07' AND status = 'open' "
                         "AND failure_mode_id = 'fm:cnc.spindle_bearing_wear'") == 1
        assert kg.scalar("SELECT count(*) FROM schedules WHERE status = 'published'") == 1
        stored = {f"{r['asset_id']}.{r['tag']}": r["value"] for r in kg.query("SELECT * FROM setpoints")}
    writes = done["trace"]["loop"]["opcua_writes"]
    assert stored and writes and all(w["ok"] for w in writes)
    assert {w["tag"]: w["value"] for w in writes} == pytest.approx(stored)
    assert {k: plant.values[k] for k in stored} == pytest.approx(stored)  # the plant holds the approved values
    assert "Waiting for approval" not in done["trace"]["answer"] and "written over OPC UA" in done["trace"]["answer"]


def test_loop_run_on_a_quiet_plant_succeeds_without_proposals(live_kg_file: Path, data_dir: Path) -> None:
    import shutil

    from tests.server.conftest_runs import live_scenario, stream_days

    kg_path = data_dir / "indagent.duckdb"
    shutil.copyfile(live_kg_file, kg_path)
    stream_days(kg_path, live_scenario(degrading=False), 3.5)  # the wear starts only after these days
    sched = _runs_cli(["schedule", "--loop", "--cron", "0 * * * *", "--policy", "require-approval"])
    run = _runs_cli(["run-now", sched["id"], *LOOP_BRAIN])
    assert run["status"] == "succeeded", run["error"]
    loop = run["trace"]["loop"]
    assert loop["status"] == "quiet" and loop["asset"] is None and loop["proposals"] == [] and loop["actions"] == []
    assert run["pending_approvals"] == [] and run["decisions"] == []
    assert run["trace"]["answer"].startswith("Nothing is degrading")
    assert "Nothing is degrading" in Path(run["report_md"]).read_text()


def test_loop_plan_approved_while_another_process_holds_the_kg_is_applied_by_that_worker(
        live_kg_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connector's process (``plant connect --worker``) holds the KG: ``runs approve --queue`` leaves the
    decision, that worker's heartbeat applies it (here with --skip: the setpoints are not written)."""
    import shutil

    from server.runs import RunStore, run_now, start_scheduler
    from server.settings import Settings
    from tests.server.conftest_runs import live_scenario, loop_brain_on, stream_days, wait_until

    monkeypatch.delenv("INDAGENT_OPCUA_ENDPOINT", raising=False)
    kg_path = data_dir / "indagent.duckdb"
    shutil.copyfile(live_kg_file, kg_path)
    stream_days(kg_path, live_scenario(degrading=True), 3.5)
    settings = Settings(data_dir=data_dir, runs_heartbeat_s=0.2)
    sched = _runs_cli(["schedule", "--loop", "--asset", "CNC-07", "--cron", "0 0 1 1 *", "--solver-s", "1",
                       "--policy", "auto-approve-within-bounds"])
    with KnowledgeStore(kg_path) as kg:  # this process is the KG's writer from here on (like the connector)
        handle = start_scheduler(settings, lambda s: loop_brain_on(s, kg))
        try:
            with RunStore(settings.runs_db_url) as store:
                run = run_now(store, sched["id"], settings, lambda s: loop_brain_on(s, kg), worker_id=handle.worker_id)
                assert run.status == "waiting_approval", run.error
                assert all(a["needs_approval"] for a in run.pending_approvals[0]["args"]["actions"])
                queued = _runs_cli(["approve", run.id, "--queue", "--by", "bob", "--skip", "write_setpoints"])
                assert queued["status"] == "waiting_approval" and queued["pending_approvals"][0]["queued_decision"]
                done = wait_until(lambda: (r := store.get_run(run.id)).status not in ("waiting_approval", "running") and r,
                                  timeout_s=60, what="the worker applying the queued decision")
        finally:
            handle.shutdown()
        assert done.status == "succeeded", done.error
        assert [(d["tool"], d["decision"]) for d in done.decisions] == [
            ("create_work_order", "approved"), ("publish_schedule", "approved"), ("write_setpoints", "rejected")]
        assert kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CNC-07' AND status = 'open'") == 1
        assert kg.scalar("SELECT count(*) FROM setpoints") == 0
        assert done.owner == handle.worker_id and done.trace["loop"]["opcua_writes"] == []



def test_loop_run_plan_is_approved_over_http(live_kg_file: Path, data_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The server holds the KG; its run-now fires a cycle, `/v1/approvals` lists the plan, approving it applies it."""
    import shutil

    from tests.server.conftest_api import LiveServer, make_settings
    from tests.server.conftest_runs import live_scenario, loop_brain, stream_days

    monkeypatch.delenv("INDAGENT_OPCUA_ENDPOINT", raising=False)
    kg_path = data_dir / "indagent.duckdb"
    shutil.copyfile(live_kg_file, kg_path)
    stream_days(kg_path, live_scenario(degrading=True), 3.5)
    with LiveServer(make_settings(data_dir), brain_factory=loop_brain) as srv, srv.client(timeout=120) as c:
        r = c.post("/v1/schedules", json={"loop": {"asset": "CNC-07", "solver_s": 1}, "cron": "0 0 1 1 *"})
        assert r.status_code == 201, r.text
        run = c.post(f"/v1/schedules/{r.json()['id']}/run-now").json()
        assert run["status"] == "waiting_approval" and run["kind"] == "loop", run
        assert run["loop_result"]["asset"] == "CNC-07" and run["trace"]["route"]["agent"] == "loop"
        mine = [a for a in c.get("/v1/approvals").json()["data"] if a["thread_id"] == run["thread_id"]]
        assert len(mine) == 1 and mine[0]["tool"] == "closed_loop_plan" and run["links"]["approvals"] == [
            f"/v1/approvals/{mine[0]['id']}"]
        assert srv.app.state.brain.kg.scalar("SELECT count(*) FROM work_orders WHERE asset_id = 'CNC-07' "
                                             "AND status = 'open'") == 0
        url = run["links"]["approvals"][0]
        for bad, param in (({"decision": "edit", "args": {"create_workorder": {"priority": "high"}}}, "args.create_workorder"),
                           ({"decision": "edit", "args": {"create_work_order": {"priority": "asap"}}}, "args.create_work_order"),
                           ({"decision": "edit", "args": {"create_work_order": "high"}}, "args.create_work_order"),
                           ({"decision": "approve", "tools": {"write_setpoint": "reject"}}, "tools.write_setpoint")):
            r = c.post(url, json=bad)
            assert r.status_code == 422 and r.json()["error"]["param"] == param, r.text
        r = c.post(url, json={"decision": "edit", "args": {"create_work_order": {"priority": "urgent"}},
                              "comment": "window agreed, but it is urgent"})
        assert r.status_code == 200, r.text
        assert r.json()["run"]["status"] == "succeeded" and r.json()["approval"]["status"] == "edited"
        detail = c.get(f"/v1/runs/{run['id']}").json()
        assert [d["decision"] for d in detail["decisions"]] == ["edited", "approved", "approved"], detail["decisions"]
        assert detail["pending_approvals"] == []
        kg = srv.app.state.brain.kg
        assert kg.scalar("SELECT props->>'priority' FROM work_orders WHERE asset_id = 'CNC-07' AND status = 'open'") == "urgent"
        assert kg.scalar("SELECT count(*) FROM schedules WHERE status = 'published'") == 1
        assert kg.scalar("SELECT count(*) FROM setpoints") == 5
        assert "no OPC UA endpoint configured" in " ".join(t["summary"] for t in detail["loop_result"]["trace"])

"""The closed loop on the live (simulated) plant: perceive -> decide -> approve -> act -> report.

1. The simulator plays the plant over OPC UA; the connector streams readings into the KG; the
   watch screens them and the diagnosis detectors confirm an anomaly.
2. Diagnosis (``diagnose_asset``): ranked failure modes, days until the alarm limit, remedy; a
   work order is proposed.
3. Scheduling: the plan before, the least-cost maintenance slot before the deadline
   (``earliest_maintenance_slot``), the plan after with the window, Gantt charts of both.
4. Optimization (``optimize_chiller_plant``) for the cooling load of the new plan.
5. Approvals (``agents.approvals`` via :mod:`server.plant.actions`); approved setpoints are also
   written to the OPC UA server through the connector.
6. Report and trace (:mod:`server.plant.report`).

Steps 2-5 are :func:`server.plant.steps.decide` and :func:`server.plant.steps.act`, the same code a
scheduled loop cycle runs on the KG alone (:mod:`server.plant.cycle`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from agents.context import AgentContext
from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from server.plant.actions import Approver
from server.plant.config import OpcUaConfig
from server.plant.connector import PlantConnector
from server.plant.model import LiveScenario, PlantModel, build_plant_model
from server.plant.simulator import PlantSimulator
from server.plant.steps import (
    LoopResult,
    Progress,
    Recorder,
    StepTrace,
    act,
    confirmed,
    cooling_load,
    decide,
    jsonable,
    outcome_text,
    setpoint_values,
)
from server.plant.watch import Watch
from tools.diagnosis import Anomaly
from tools.errors import ToolFailed

__all__ = ["LoopOptions", "LoopResult", "StepTrace", "cooling_load", "default_live_start", "prepare_kg", "run_loop"]

_log = logging.getLogger(__name__)


class LoopOptions(BaseModel):
    """How the demo loop runs."""

    seed: int = 0
    scale: str = "small"
    port: int = 4841
    speed: float = Field(3600.0 * 40, gt=0, description="Simulated seconds per second (40 hourly ticks/s).")
    live_start: datetime | None = Field(None, description="Default: 30 days before the history ends, a Monday.")
    check_every_h: int = 12
    max_days: float = 8.0
    auto_approve: bool = False
    solver_s: float = 3.0


def default_live_start(model_end: datetime) -> datetime:
    """30 days before the history's end, moved back to a Monday 00:00 (clear of the year-end shutdown)."""
    t = (model_end - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    return t - timedelta(days=t.weekday())


def prepare_kg(kg: KnowledgeStore, model: PlantModel, *, seed: int, scale: str, progress: Progress) -> None:
    """Fill a fresh KG for the live scenario.

    The demo plant is built; its readings stop at the live start (the simulator is the plant
    from there on); the order book is moved to begin the day after the live start; the live
    fault is recorded in ``fault_truth`` so that the outcome can be graded.
    """
    build_demo(kg, seed=seed, scale=scale, replace=True, progress=lambda m: progress("setup", m))  # type: ignore[arg-type]
    start = model.start
    first = kg.scalar("SELECT min(release_ts) FROM production_orders")
    shift = (start + timedelta(days=4, hours=6)) - first if first else timedelta(0)
    row = model.fault_truth_row()
    with kg.transaction() as con:
        con.execute("DELETE FROM readings WHERE ts >= ?", [start])
        con.execute("UPDATE production_orders SET release_ts = release_ts + ?, due_ts = due_ts + ?", [shift, shift])
        con.execute("DELETE FROM fault_truth WHERE id = ?", [row["id"]])
        con.execute("INSERT INTO fault_truth (id, asset_id, failure_mode_id, kind, onset_ts, failure_ts, sensor_ids, "
                    "description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row.values()))
    progress("setup", f"history until {start:%Y-%m-%d %H:%M}; orders moved by {shift}; live fault on {row['asset_id']}")


def chunk_ticks(sim: PlantSimulator, opts: LoopOptions) -> int:
    """Ticks between two checks."""
    return max(1, int(opts.check_every_h * 3600 / sim.model.step.total_seconds()))


async def wait_for_kg(conn: PlantConnector, sim: PlantSimulator, start: datetime, until: datetime,
                      *, timeout_s: float = 30.0) -> None:
    """Wait until every sample the simulator published in ``[start, until)`` is in the KG."""
    expected = len(sim.model.sensors) * round((until - start) / sim.model.step)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await conn.flush_if_due(force=True)
        n = await asyncio.to_thread(conn.kg.scalar, "SELECT count(*) FROM readings WHERE ts >= ? AND ts < ?", [start, until])
        if n >= expected:
            return
        await asyncio.sleep(0.05)
    raise ToolFailed(f"The connector did not deliver {start}..{until} within {timeout_s:.0f} s "
                     f"({conn.stats.model_dump_json()}).")


async def _stream_until_flagged(sim: PlantSimulator, conn: PlantConnector, watch: Watch, rec: Recorder,
                                opts: LoopOptions) -> tuple[str, datetime, list[Anomaly]]:
    """Publish ticks in chunks; after each chunk wait for the KG to catch up, screen, confirm."""
    max_ticks = int(opts.max_days * 24 * 3600 / sim.model.step.total_seconds())
    chunk = chunk_ticks(sim, opts)
    while sim.next_tick < max_ticks:
        await sim.run(ticks=chunk)
        until = sim.model.time_of(sim.next_tick)
        await wait_for_kg(conn, sim, until - sim.model.step * chunk, until)
        hits = await asyncio.to_thread(watch.screen, until)
        rec.progress("perceive", f"{until:%Y-%m-%d %H:%M}: {conn.stats.inserted} readings in, "
                                 f"screen: {', '.join(f'{h.sensor_id} z={h.z}' for h in hits[:4]) or 'quiet'}")
        if not hits:
            continue
        found = await asyncio.to_thread(watch.confirm, [h.asset_id for h in hits], until)
        if found:
            asset = max(found, key=lambda a: max(x.score for x in found[a]))
            return asset, until, found[asset]
    raise ToolFailed(f"No anomaly confirmed within {opts.max_days} simulated days; raise max_days.")


async def run_loop(
    opts: LoopOptions, kg: KnowledgeStore, ctx: AgentContext, *, data_dir: Path, approver: Approver,
    progress: Progress = lambda _s, _m: None,
) -> LoopResult:
    """Run the closed loop once on the live demo plant (simulator and connector in this process).

    Args:
        opts: Scenario, speed and policy.
        kg: A writable store (filled from scratch: use a dedicated file).
        ctx: Run context with the tools, models and approval policy (kg must be ``kg``).
        data_dir: Where the report goes (``<data_dir>/reports/loop-<ts>.*``).
        approver: Answers approval requests the policy does not settle.
        progress: ``(step, message)`` callback.
    """
    t0 = time.perf_counter()
    base = build_plant_model(LiveScenario(seed=opts.seed, scale=opts.scale))  # type: ignore[arg-type]
    live_start = opts.live_start or default_live_start(base.start)
    model = build_plant_model(LiveScenario(seed=opts.seed, scale=opts.scale, start=live_start, days=opts.max_days + 2))  # type: ignore[arg-type]
    await asyncio.to_thread(prepare_kg, kg, model, seed=opts.seed, scale=opts.scale, progress=progress)
    rec = Recorder(ctx, progress)
    res = LoopResult(fault_truth=jsonable(model.fault_truth_row()))
    sim = PlantSimulator(model, port=opts.port, speed=opts.speed)
    await sim.start()
    conn = PlantConnector(OpcUaConfig(endpoint=sim.endpoint), kg)
    stop = asyncio.Event()
    task = asyncio.create_task(conn.run(stop))
    try:
        await asyncio.wait_for(conn.connected.wait(), timeout=30)
        rec.note("perceive", "connector", f"connected to {sim.endpoint}: {len(model.sensors)} tags")
        watch = await asyncio.to_thread(Watch, kg, live_start)
        asset, now, anomalies = await _stream_until_flagged(sim, conn, watch, rec, opts)
        sim.pause()
        confirmed(rec, res, asset, now, anomalies)
        for _ in range(4):  # a confirmed anomaly without a significant trend yet: watch it a little longer
            dtt = await asyncio.to_thread(rec.call, "diagnose", "diagnosis", "days_to_threshold",
                                          {"asset": asset, "until": now})
            if dtt.status == "ok":
                break
            sim.resume()
            await sim.run(ticks=chunk_ticks(sim, opts))
            sim.pause()
            start, now = now, sim.model.time_of(sim.next_tick)
            await wait_for_kg(conn, sim, start, now)
            ctx.now = res.now = now
        proposals = await asyncio.to_thread(decide, rec, res, asset, now, solver_s=opts.solver_s)
        res.actions = act(rec, proposals, ctx, approver).outcomes
        values = setpoint_values(res.actions)
        if values:
            res.opcua_endpoint = sim.endpoint
            res.opcua_writes = await conn.write_setpoints(values)
            sim.resume()
            await sim.run(ticks=1)  # the plant picks the new setpoints up at its next tick
            res.simulator_setpoints = {k: await sim.read_setpoint(k) for k in values}
            rec.note("act", "connector", f"wrote {len(values)} setpoints over OPC UA; the simulator reads back "
                     + ", ".join(f"{k}={v:g}" for k, v in res.simulator_setpoints.items()))
        res.outcome = outcome_text(res)
    finally:
        stop.set()
        await task
        await sim.stop()
    res.connector = conn.stats.model_dump(mode="json")
    res.trace = rec.steps
    res.seconds = round(time.perf_counter() - t0, 2)
    from server.plant.report import write_report

    write_report(res, kg, data_dir=data_dir, live_start=live_start)
    return res

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
"""

from __future__ import annotations

import asyncio
import logging
import math
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from agents.context import AgentContext
from agents.models.router import RouteRequest, route
from knowledge.demo import build_demo
from knowledge.store import KnowledgeStore
from server.plant.actions import ActionOutcome, Approver, ProposedAction, run_actions
from server.plant.config import OpcUaConfig
from server.plant.connector import PlantConnector, SetpointAck
from server.plant.model import LiveScenario, PlantModel, build_plant_model
from server.plant.simulator import PlantSimulator
from server.plant.watch import Watch
from tools.diagnosis import store_alerts
from tools.errors import ToolFailed
from tools.scheduling import DowntimeWindow, instance_from_kg, validate
from tools.scheduling.kg import scheduled_ops

__all__ = ["LoopOptions", "LoopResult", "StepTrace", "prepare_kg", "run_loop"]

_log = logging.getLogger(__name__)
Progress = Callable[[str, str], None]


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


class StepTrace(BaseModel):
    """One step of the loop, for the report and the trace file."""

    step: str
    agent: str
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    summary: str = ""
    seconds: float = 0.0
    route: dict[str, Any] | None = None
    approval: str | None = None
    data: Any = None


class LoopResult(BaseModel):
    """Outcome of a loop run (also the ``--json`` output of ``indagent demo``)."""

    asset: str | None = None
    detected_at: datetime | None = None
    fault_truth: dict[str, Any] | None = None
    failure_modes: list[dict[str, Any]] = Field(default_factory=list)
    days_to_threshold: dict[str, Any] | None = None
    deadline: datetime | None = None
    maintenance: dict[str, Any] | None = None
    plan_before: dict[str, Any] | None = None
    plan_after: dict[str, Any] | None = None
    plan_violations: list[str] = Field(default_factory=list)
    optimization: dict[str, Any] | None = None
    actions: list[ActionOutcome] = Field(default_factory=list)
    opcua_writes: list[SetpointAck] = Field(default_factory=list)
    simulator_setpoints: dict[str, float] = Field(default_factory=dict)
    connector: dict[str, Any] = Field(default_factory=dict)
    trace: list[StepTrace] = Field(default_factory=list)
    seconds: float = 0.0
    report_md: str | None = None
    report_html: str | None = None
    trace_json: str | None = None


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


class _Recorder:
    def __init__(self, ctx: AgentContext, progress: Progress) -> None:
        self.ctx, self.progress, self.steps = ctx, progress, []  # type: list[StepTrace]

    def route_for(self, task: str, prompt_tokens: int) -> dict[str, Any] | None:
        try:
            d = route(RouteRequest(task=task, prompt_tokens=prompt_tokens, sensitivity="sovereign",  # type: ignore[arg-type]
                                   site_region=self.ctx.site_region, requested=self.ctx.requested_model),
                      self.ctx.models, self.ctx.breaker)
        except (ValueError, LookupError, ToolFailed) as exc:
            return {"model": None, "reason": f"no model routed: {exc}"}
        return d.model_dump(mode="json")

    def call(self, step: str, agent: str, tool: str, args: dict[str, Any], *, task: str = "small") -> Any:
        t0 = time.perf_counter()
        decision = self.route_for(task, 400 + 40 * len(args))
        fn = self.ctx.tools.get(tool)
        try:
            value = fn(self.ctx.tool_context(), **args)
        except Exception as exc:
            self.steps.append(StepTrace(step=step, agent=agent, tool=tool, args=_jsonable(args), ok=False,
                                        summary=str(exc), seconds=time.perf_counter() - t0, route=decision))
            raise
        self.steps.append(StepTrace(step=step, agent=agent, tool=tool, args=_jsonable(args), seconds=time.perf_counter() - t0,
                                    route=decision, summary=_summary(value)))
        self.progress(step, f"{tool}: {self.steps[-1].summary[:140]}")
        return value

    def note(self, step: str, agent: str, summary: str, **data: Any) -> None:
        self.steps.append(StepTrace(step=step, agent=agent, summary=summary, data=_jsonable(data) or None))
        self.progress(step, summary)


def _jsonable(v: Any) -> Any:
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _summary(value: Any) -> str:
    msg = getattr(value, "message", None)
    return str(msg) if msg else type(value).__name__


def chunk_ticks(sim: PlantSimulator, opts: LoopOptions) -> int:
    """Ticks between two checks."""
    return max(1, int(opts.check_every_h * 3600 / sim.model.step.total_seconds()))


def cooling_load(plan: dict[str, Any], start: datetime, hours: int = 24) -> list[float]:
    """Chilled-water load per hour (kW thermal) of a plan: 450 kW base + 55 kW per busy machine.

    A machine counts in an hour by the fraction of the hour it runs an operation of the plan.
    """
    busy = [0.0] * hours
    for op in plan.get("operations", []):
        s, e = pd.Timestamp(op["start"]).to_pydatetime(), pd.Timestamp(op["end"]).to_pydatetime()
        for h in range(hours):
            a, b = start + timedelta(hours=h), start + timedelta(hours=h + 1)
            overlap = (min(b, e) - max(a, s)).total_seconds()
            if overlap > 0:
                busy[h] += overlap / 3600.0
    return [round(450.0 + 55.0 * b, 1) for b in busy]


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


async def _stream_until_flagged(sim: PlantSimulator, conn: PlantConnector, watch: Watch, rec: _Recorder,
                                opts: LoopOptions) -> tuple[str, datetime, list[Any]]:
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
    rec = _Recorder(ctx, progress)
    res = LoopResult(fault_truth=_jsonable(model.fault_truth_row()))
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
        alerts = store_alerts(kg, anomalies, created_at=now)
        res.asset, res.detected_at = asset, now
        rec.note("perceive", "diagnosis", f"anomaly confirmed on {asset} at {now:%Y-%m-%d %H:%M}: "
                 + ", ".join(f"{a.sensor} ({a.detector}, score {a.score:.1f})" for a in anomalies), alerts=alerts)
        ctx.now = now
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
            ctx.now = now
        proposals = await asyncio.to_thread(_decide, rec, res, asset, now, opts)
        res.actions = _act(rec, proposals, ctx, approver)
        sp = next((a for a in res.actions if a.tool == "write_setpoints"), None)
        if sp is not None and sp.ok:
            values = {f"{s['asset_id']}.{s['tag']}": float(s["value"]) for s in sp.args["setpoints"]}
            res.opcua_writes = await conn.write_setpoints(values)
            sim.resume()
            await sim.run(ticks=1)  # the plant picks the new setpoints up at its next tick
            res.simulator_setpoints = {k: await sim.read_setpoint(k) for k in values}
            rec.note("act", "connector", f"wrote {len(values)} setpoints over OPC UA; the simulator reads back "
                     + ", ".join(f"{k}={v:g}" for k, v in res.simulator_setpoints.items()))
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


def _decide(rec: _Recorder, res: LoopResult, asset: str, now: datetime, opts: LoopOptions) -> list[ProposedAction]:
    """Steps 2-4: diagnosis, maintenance slot and plans, setpoints (read-only tools)."""
    kg = rec.ctx.kg
    assert kg is not None
    diag = rec.call("diagnose", "diagnosis", "diagnose_asset", {"asset": asset, "until": now}, task="large")
    res.failure_modes = [c.model_dump(mode="json", include={"id", "name", "code", "probability", "path"})
                         for c in diag.failure_modes]
    dtt = diag.days_to_threshold
    res.days_to_threshold = dtt.model_dump(mode="json") if dtt is not None else None
    if dtt is not None and dtt.estimate is not None and dtt.status == "ok":
        days = dtt.low if dtt.low is not None else dtt.estimate
        deadline = now + timedelta(days=max(days, 0.5))
    else:
        deadline = now + timedelta(days=3)
        rec.note("diagnose", "diagnosis", f"no usable trend ({dtt.status if dtt else 'none'}); maintenance within 3 days")
    res.deadline = deadline
    top = diag.failure_modes[0] if diag.failure_modes else None
    remedy = diag.remedies[0] if diag.remedies else None
    hours = float(remedy.duration_h) if remedy and remedy.duration_h else 4.0
    line = kg.scalar("SELECT json_extract_string(props, '$.line') FROM nodes WHERE id = ?", [asset])
    before = rec.call("schedule", "scheduling", "schedule_production", {"line": line, "time_limit_s": opts.solver_s})
    before = _keep_charts(before, "before")  # the plan after may reuse the draft id (same operations)
    slot = rec.call("schedule", "scheduling", "earliest_maintenance_slot",
                    {"machine": asset, "hours": hours, "before": deadline, "line": line, "time_limit_s": 2 * opts.solver_s})
    window = DowntimeWindow(machine=asset, start=slot.start, end=slot.end, reason="maintenance")
    after = rec.call("schedule", "scheduling", "schedule_production",
                     {"line": line, "time_limit_s": opts.solver_s, "downtime": [window]})
    ki = instance_from_kg(kg, line=line, origin=now, downtime=[window])
    res.plan_violations = [v.message for v in validate(ki.instance, scheduled_ops(ki, after))]
    res.plan_before, res.plan_after = _plan_summary(before), _plan_summary(after)
    res.maintenance = slot.model_dump(mode="json") | {"hours": hours, "remedy": remedy.name if remedy else None}
    rec.note("schedule", "scheduling", f"maintenance {slot.start:%a %d %b %H:%M}-{slot.end:%H:%M} on {asset} "
             f"(deadline {deadline:%a %d %b %H:%M}), cost {slot.cost_min} min, {slot.moved_operations} operations moved; "
             f"plan after: {'feasible' if not res.plan_violations else res.plan_violations[0]}")
    load = cooling_load(after.model_dump(mode="json"), now, hours=8)  # the next shift
    wet = [round(16.0 + 3.0 * math.cos((h + now.hour - 15) / 24 * 6.283), 2) for h in range(len(load))]
    opt = rec.call("optimize", "optimization", "optimize_chiller_plant",
                   {"load_kw": load, "wet_bulb_c": wet, "objective": "energy", "plot": True})
    res.optimization = opt.model_dump(mode="json", include={"setpoints", "baseline_kw", "optimized_kw", "saving",
                                                             "binding_constraints", "plot_png", "plot_html"})
    res.optimization["load_kw"], res.optimization["wet_bulb_c"] = load, wet
    wo_desc = (f"{top.name if top else 'Anomaly'} suspected on {asset}: "
               f"{', '.join(sorted({a for c in diag.anomalies for a in [c.sensor]}))} drifting; "
               f"{dtt.message if dtt else ''} Planned window {slot.start:%Y-%m-%d %H:%M}-{slot.end:%H:%M}.")
    alert = kg.scalar("SELECT id FROM alerts WHERE asset_id = ? ORDER BY start_ts DESC LIMIT 1", [asset])
    return [
        ProposedAction(agent="diagnosis", tool="create_work_order", why="predicted failure before the threshold date",
                       args={"asset_id": asset, "description": wo_desc, "type": "predictive",
                             **({"failure_mode_id": top.id} if top else {}), **({"alert_id": alert} if alert else {}),
                             "priority": "high"}),
        ProposedAction(agent="scheduling", tool="publish_schedule", why="plan with the maintenance window",
                       args={"draft_id": after.draft_id, "note": f"maintenance window for {asset}"}),
        ProposedAction(agent="optimization", tool="write_setpoints", why="cooling load of the new plan",
                       args={"setpoints": [{"asset_id": s.asset_id, "tag": s.tag, "value": s.value, "unit": s.unit}
                                           for s in opt.setpoints],
                             "reason": f"re-optimized for the plan with maintenance on {asset}: "
                                       f"predicted saving {opt.saving.kwh:.0f} kWh",
                             "system": "chiller",
                             "predicted_saving_kw": round(opt.baseline_kw - opt.optimized_kw, 3)}),
    ]


def _keep_charts(plan: Any, tag: str) -> Any:
    """Copy a plan's Gantt files to ``<name>-<tag>.<ext>`` so a later plan cannot overwrite them."""
    update = {}
    for key in ("gantt_png", "gantt_html"):
        src = getattr(plan, key)
        if src and Path(src).exists():
            dst = Path(src).with_name(f"{Path(src).stem}-{tag}{Path(src).suffix}")
            shutil.copyfile(src, dst)
            update[key] = str(dst)
    return plan.model_copy(update=update)


def _plan_summary(plan: Any) -> dict[str, Any]:
    return plan.model_dump(mode="json", include={"draft_id", "line", "origin", "status", "makespan_min", "end",
                                                 "late_orders", "weighted_tardiness_min", "gantt_png", "gantt_html",
                                                 "downtime", "bottleneck"})


def _act(rec: _Recorder, proposals: list[ProposedAction], ctx: AgentContext, approver: Approver) -> list[ActionOutcome]:
    """Step 5: the proposals through the approval interrupt."""
    outcomes = run_actions(ctx, proposals, approver)
    for o in outcomes:
        rec.steps.append(StepTrace(step="act", agent=o.agent, tool=o.tool, args=o.args, ok=o.ok, approval=o.approval,
                                   summary=o.error or "done", data=o.data))
        rec.progress("act", f"{o.tool}: {o.approval}{'' if o.ok else ' -> ' + str(o.error)}")
    return outcomes

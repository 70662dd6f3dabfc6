"""The decide and act steps of the closed loop, shared by ``indagent demo`` and scheduled loop cycles.

- :class:`Recorder`: runs registered tools with a routed-model decision per call and keeps the trace.
- :func:`decide`: diagnosis -> maintenance slot before the predicted deadline -> plans before/after
  -> chiller setpoints for the new plan; returns the three proposed mutating calls.
- :func:`act`: the proposals through the approval interrupt (:mod:`server.plant.actions`).
- :func:`setpoint_values`: the approved setpoints, which the callers write over OPC UA
  (:func:`server.plant.connector.write_setpoints_once`, or a live connector's session).
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from langgraph.checkpoint.base import BaseCheckpointSaver
from pydantic import BaseModel, Field

from agents.context import AgentContext
from agents.models.router import RouteRequest, route
from server.plant.actions import ActionOutcome, ActionsRun, Approver, ProposedAction, run_actions
from server.plant.connector import SetpointAck
from tools.diagnosis import Anomaly, store_alerts
from tools.errors import ToolFailed
from tools.scheduling import DowntimeWindow, instance_from_kg, validate
from tools.scheduling.kg import scheduled_ops

__all__ = [
    "LoopResult",
    "LoopStatus",
    "Progress",
    "Recorder",
    "StepTrace",
    "act",
    "confirmed",
    "cooling_load",
    "decide",
    "jsonable",
    "outcome_text",
    "record_outcomes",
    "setpoint_values",
]

Progress = Callable[[str, str], None]
LoopStatus = Literal["acted", "waiting_approval", "quiet", "already_planned"]


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
    """Outcome of a loop run (the ``--json`` output of ``indagent demo``; the trace of a loop cycle run)."""

    status: LoopStatus = "acted"
    outcome: str = Field("", description="One paragraph: what was found and what was done (or waits).")
    now: datetime | None = Field(None, description="The plant time the loop decided at (latest readings).")
    screen: list[dict[str, Any]] = Field(default_factory=list, description="Sensors the screen flagged.")
    asset: str | None = None
    detected_at: datetime | None = None
    open_work_order: str | None = Field(None, description="The open predictive work order that already covers the asset.")
    fault_truth: dict[str, Any] | None = None
    failure_modes: list[dict[str, Any]] = Field(default_factory=list)
    days_to_threshold: dict[str, Any] | None = None
    deadline: datetime | None = None
    maintenance: dict[str, Any] | None = None
    plan_before: dict[str, Any] | None = None
    plan_after: dict[str, Any] | None = None
    plan_violations: list[str] = Field(default_factory=list)
    optimization: dict[str, Any] | None = None
    proposals: list[ProposedAction] = Field(default_factory=list)
    actions: list[ActionOutcome] = Field(default_factory=list)
    pending: dict[str, Any] | None = Field(None, description="The plan waiting for a person (nothing of it applied).")
    opcua_endpoint: str | None = None
    opcua_writes: list[SetpointAck] = Field(default_factory=list)
    opcua_error: str | None = None
    simulator_setpoints: dict[str, float] = Field(default_factory=dict)
    connector: dict[str, Any] = Field(default_factory=dict)
    trace: list[StepTrace] = Field(default_factory=list)
    seconds: float = 0.0
    report_md: str | None = None
    report_html: str | None = None
    trace_json: str | None = None


def jsonable(v: Any) -> Any:
    """Pydantic models, datetimes and containers of them as JSON-ready values."""
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _summary(value: Any) -> str:
    msg = getattr(value, "message", None)
    return str(msg) if msg else type(value).__name__


class Recorder:
    """Calls tools of the run context with a routed-model decision each, and records the steps.

    Args:
        ctx: The run context (tools, models, KG, clock).
        progress: ``(step, message)`` callback.
    """

    def __init__(self, ctx: AgentContext, progress: Progress) -> None:
        """Start an empty trace."""
        self.ctx, self.progress = ctx, progress
        self.steps: list[StepTrace] = []

    def route_for(self, task: str, prompt_tokens: int) -> dict[str, Any] | None:
        """The model the router would give a step of this size (sovereign data: stays on site)."""
        try:
            d = route(RouteRequest(task=task, prompt_tokens=prompt_tokens, sensitivity="sovereign",  # type: ignore[arg-type]
                                   site_region=self.ctx.site_region, requested=self.ctx.requested_model),
                      self.ctx.models, self.ctx.breaker)
        except (ValueError, LookupError, ToolFailed) as exc:
            return {"model": None, "reason": f"no model routed: {exc}"}
        return d.model_dump(mode="json")

    def call(self, step: str, agent: str, tool: str, args: dict[str, Any], *, task: str = "small") -> Any:
        """Run a registered (read-only) tool and record it; errors are recorded and raised."""
        t0 = time.perf_counter()
        decision = self.route_for(task, 400 + 40 * len(args))
        fn = self.ctx.tools.get(tool)
        try:
            value = fn(self.ctx.tool_context(), **args)
        except Exception as exc:
            self.steps.append(StepTrace(step=step, agent=agent, tool=tool, args=jsonable(args), ok=False,
                                        summary=str(exc), seconds=time.perf_counter() - t0, route=decision))
            raise
        self.steps.append(StepTrace(step=step, agent=agent, tool=tool, args=jsonable(args), seconds=time.perf_counter() - t0,
                                    route=decision, summary=_summary(value)))
        self.progress(step, f"{tool}: {self.steps[-1].summary[:140]}")
        return value

    def note(self, step: str, agent: str, summary: str, **data: Any) -> None:
        """Record a step that is not a tool call."""
        self.steps.append(StepTrace(step=step, agent=agent, summary=summary, data=jsonable(data) or None))
        self.progress(step, summary)


def confirmed(rec: Recorder, res: LoopResult, asset: str, now: datetime, anomalies: list[Anomaly]) -> None:
    """An anomaly the detectors confirmed: store its alerts, set the clock to ``now``, record it."""
    if rec.ctx.kg is None:
        raise ToolFailed("The loop needs the knowledge graph; open it (INDAGENT_KG_PATH) before deciding.")
    alerts = store_alerts(rec.ctx.kg, anomalies, created_at=now)
    res.asset, res.detected_at, res.now = asset, now, now
    rec.ctx.now = now
    rec.note("perceive", "diagnosis", f"anomaly confirmed on {asset} at {now:%Y-%m-%d %H:%M}: "
             + ", ".join(f"{a.sensor} ({a.detector}, score {a.score:.1f})" for a in anomalies), alerts=alerts)


def outcome_text(res: LoopResult) -> str:
    """One paragraph for the run's answer and the report: found what, planned what, applied or waiting."""
    if res.asset is None:
        flagged = ", ".join(f"{h['sensor_id']} z={h['z']}" for h in res.screen[:4])
        return (f"Nothing is degrading at {res.now:%Y-%m-%d %H:%M}" if res.now else "Nothing is degrading") + (
            f": the screen flagged {flagged}, the detectors confirmed none." if flagged
            else ": every sensor is within its usual week-over-week range.") + " No action proposed."
    if res.status == "already_planned":
        return (f"Anomaly confirmed on {res.asset} at {res.detected_at:%Y-%m-%d %H:%M}; already planned: open predictive "
                f"work order {res.open_work_order}. No new action proposed.")
    top = res.failure_modes[0] if res.failure_modes else None
    prob = f" (p = {top['probability']:.2f})" if top else ""
    text = (f"{top['name'] if top else 'An anomaly'} suspected on {res.asset}{prob}, "
            f"detected {res.detected_at:%Y-%m-%d %H:%M}.")
    m = res.maintenance or {}
    if m.get("start"):
        text += (f" Maintenance window {m['start']} .. {m['end']} before the deadline {res.deadline:%Y-%m-%d %H:%M}; "
                 f"plan after: {'feasible' if not res.plan_violations else res.plan_violations[0]}.")
    if res.actions:
        text += " Actions: " + ", ".join(f"{a.tool}={a.approval}{'' if a.ok else ' (' + str(a.error) + ')'}"
                                         for a in res.actions) + "."
    if res.opcua_writes:
        text += f" {len(res.opcua_writes)} setpoints written over OPC UA to {res.opcua_endpoint}."
    elif res.opcua_error:
        text += f" OPC UA write failed: {res.opcua_error}"
    if res.status == "waiting_approval" and res.pending:
        waiting = [a["tool"] for a in res.pending["args"]["actions"]]
        text += f" Waiting for approval: {', '.join(waiting)} (not applied)."
    return text


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


def decide(rec: Recorder, res: LoopResult, asset: str, now: datetime, *, solver_s: float) -> list[ProposedAction]:
    """Diagnosis, maintenance slot and plans, setpoints (read-only tools); the mutating calls to propose.

    Args:
        rec: Recorder on the run context (``ctx.now`` should be ``now``).
        res: Filled with failure modes, deadline, maintenance, plans and optimization.
        asset: The asset with a confirmed anomaly.
        now: Plant time of the decision (latest readings).
        solver_s: CP-SAT time limit per production-schedule solve.
    """
    kg = rec.ctx.kg
    if kg is None:
        raise ToolFailed("The loop needs the knowledge graph; open it (INDAGENT_KG_PATH) before deciding.")
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
    before = rec.call("schedule", "scheduling", "schedule_production", {"line": line, "time_limit_s": solver_s})
    before = _keep_charts(before, "before")  # the plan after may reuse the draft id (same operations)
    slot = rec.call("schedule", "scheduling", "earliest_maintenance_slot",
                    {"machine": asset, "hours": hours, "before": deadline, "line": line, "time_limit_s": 2 * solver_s})
    window = DowntimeWindow(machine=asset, start=slot.start, end=slot.end, reason="maintenance")
    after = rec.call("schedule", "scheduling", "schedule_production",
                     {"line": line, "time_limit_s": solver_s, "downtime": [window]})
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
    res.proposals = [
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
    return res.proposals


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


def record_outcomes(rec: Recorder, outcomes: list[ActionOutcome]) -> None:
    """Add executed (or rejected) actions to the trace."""
    for o in outcomes:
        rec.steps.append(StepTrace(step="act", agent=o.agent, tool=o.tool, args=o.args, ok=o.ok, approval=o.approval,
                                   summary=o.error or "done", data=o.data))
        rec.progress("act", f"{o.tool}: {o.approval}{'' if o.ok else ' -> ' + str(o.error)}")


def act(rec: Recorder, proposals: list[ProposedAction], ctx: AgentContext, approver: Approver | None, *,
        checkpointer: BaseCheckpointSaver | None = None, thread_id: str = "plant-loop") -> ActionsRun:
    """The proposals through the approval interrupt; ``approver`` None stops at the first pause.

    Args:
        rec: The recorder (executed actions are traced).
        proposals: From :func:`decide`.
        ctx: The run context (approval policy).
        approver: Answers pauses (the demo's terminal prompt); None leaves the plan waiting.
        checkpointer: Keeps the paused plan (a scheduled cycle: the runs' checkpointer).
        thread_id: Checkpoint thread of this plan.
    """
    run = run_actions(ctx, proposals, approver, checkpointer=checkpointer, thread_id=thread_id)
    record_outcomes(rec, run.outcomes)
    return run


def setpoint_values(outcomes: list[ActionOutcome]) -> dict[str, float]:
    """``{"<asset>.<tag>": value}`` of the setpoints an executed ``write_setpoints`` stored (empty otherwise)."""
    sp = next((a for a in outcomes if a.tool == "write_setpoints" and a.ok), None)
    if sp is None:
        return {}
    return {f"{s['asset_id']}.{s['tag']}": float(s["value"]) for s in sp.args["setpoints"]}

"""One cycle of the closed loop on the knowledge graph, as a scheduled autonomous run executes it.

The connector (``indagent plant connect``) streams the plant into the KG; a cycle needs no
simulator: it reads the KG up to its latest reading, screens the recent readings
(:class:`server.plant.watch.Watch`), confirms with the diagnosis detectors, and when an asset is
degrading runs the demo's decide steps (:func:`server.plant.steps.decide`: diagnosis ->
maintenance slot -> re-optimized setpoints). The proposed actions go through the run's approval
policy in the actions graph, checkpointed on the caller's checkpointer: a plan the policy does not
allow leaves the cycle ``waiting_approval`` with nothing applied, and :func:`resume_cycle` (from
any process) applies or rejects it later. Approved setpoints are written to the OPC UA endpoint
when one is configured.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

from asyncua import ua
from langgraph.checkpoint.base import BaseCheckpointSaver

from agents.context import AgentContext
from knowledge.graph.entities import require_node
from server.plant.actions import ActionsRun, plan_approval, plan_decision, resume_actions
from server.plant.config import OpcUaConfig
from server.plant.connector import write_setpoints_once
from server.plant.steps import (
    LoopResult,
    Progress,
    Recorder,
    act,
    confirmed,
    decide,
    outcome_text,
    record_outcomes,
    setpoint_values,
)
from server.plant.watch import Watch
from tools.errors import ConfigError, ToolFailed

__all__ = ["latest_reading", "resume_cycle", "run_cycle"]


def latest_reading(ctx: AgentContext, asset: str | None = None) -> datetime | None:
    """The plant time of the newest reading in the KG (of ``asset``'s sensors when given, an asset id)."""
    kg = ctx.kg
    if kg is None:
        raise ConfigError("A loop cycle needs the knowledge graph; set INDAGENT_KG_PATH or run 'indagent kg demo'.")
    if asset is None:
        return kg.scalar("SELECT max(ts) FROM readings")  # type: ignore[no-any-return]
    return kg.scalar("SELECT max(ts) FROM readings WHERE sensor_id LIKE ?", [f"{asset}.%"])  # type: ignore[no-any-return]


def _open_work_order(ctx: AgentContext, asset: str) -> str | None:
    assert ctx.kg is not None
    return ctx.kg.scalar(  # type: ignore[no-any-return]
        "SELECT id FROM work_orders WHERE asset_id = ? AND type = 'predictive' AND status IN ('open', 'in_progress') "
        "ORDER BY reported_at DESC NULLS LAST LIMIT 1", [asset])


def _write_opcua(rec: Recorder, res: LoopResult, opcua: OpcUaConfig | None) -> None:
    """Approved setpoints to the configured OPC UA server (recorded; a failed write is kept, not raised)."""
    values = setpoint_values(res.actions)
    if not values:
        return
    if opcua is None:
        rec.note("act", "connector", f"{len(values)} setpoints stored in the KG; no OPC UA endpoint configured, "
                 "nothing written to the plant (set INDAGENT_OPCUA_ENDPOINT or the schedule's endpoint).")
        return
    assert rec.ctx.kg is not None
    try:
        res.opcua_writes = asyncio.run(write_setpoints_once(opcua, rec.ctx.kg, values))
    except (OSError, TimeoutError, ConnectionError, ConfigError, ToolFailed, ua.UaError) as exc:
        res.opcua_error = f"{type(exc).__name__}: {exc}"
        rec.note("act", "connector", f"writing {len(values)} setpoints to {opcua.endpoint} failed: {res.opcua_error}")
        return
    rec.note("act", "connector", f"wrote {len(values)} setpoints over OPC UA to {opcua.endpoint}; read back "
             + ", ".join(f"{w.tag}={w.read_back:g}" for w in res.opcua_writes))


def _settle(rec: Recorder, res: LoopResult, run: ActionsRun, *, opcua: OpcUaConfig | None, call_id: str) -> None:
    res.actions = run.outcomes
    if run.paused:
        res.status = "waiting_approval"
        res.pending = plan_approval(run, rec.ctx, call_id=call_id,
                                    summary=f"Closed-loop plan for {res.asset}: "
                                            + ", ".join(a.tool for a in run.remaining))
        rec.note("approve", "loop", f"policy {rec.ctx.approval_policy}: waiting for a person on "
                 + ", ".join(a.tool for a in run.remaining) + " (nothing of it applied)")
    else:
        res.status, res.pending = "acted", None
        _write_opcua(rec, res, opcua)


def run_cycle(
    ctx: AgentContext, *, checkpointer: BaseCheckpointSaver, thread_id: str, asset: str | None = None,
    lookback_days: float = 7.0, solver_s: float = 3.0, opcua: OpcUaConfig | None = None,
    progress: Progress = lambda _s, _m: None,
) -> LoopResult:
    """Run one loop cycle on the KG: screen -> confirm -> decide -> actions under ``ctx.approval_policy``.

    Args:
        ctx: Run context (writable KG, tools, models, approval policy, actor).
        checkpointer: Keeps the actions graph of a plan waiting for approval (the runs' checkpointer).
        thread_id: Checkpoint thread of this cycle's actions (unique per run attempt).
        asset: Watch only this asset (its detectors run even when the screen is quiet); None = every asset.
        lookback_days: Anomalies must begin within this many days before the latest reading; the screen's
            healthy reference period ends there.
        solver_s: CP-SAT time limit per production-schedule solve.
        opcua: Where approved setpoints are written (None = stored in the KG only).
        progress: ``(step, message)`` callback.
    """
    t0 = time.perf_counter()
    rec = Recorder(ctx, progress)
    res = LoopResult(status="quiet", opcua_endpoint=opcua.endpoint if opcua else None)
    if asset is not None and ctx.kg is not None:  # an id, name or alias; unknown: the closest ids
        asset = require_node(ctx.kg, asset, kinds=["asset"], what="asset to watch").id
    now = latest_reading(ctx, asset)
    if now is None:
        raise ToolFailed("The knowledge graph has no readings" + (f" of {asset}" if asset else "")
                         + "; stream the plant into it first ('indagent plant connect').")
    ctx.now = res.now = now
    since = now - timedelta(days=lookback_days)
    watch = Watch(ctx.kg, since)  # type: ignore[arg-type]
    hits = watch.screen(now)
    res.screen = [{"sensor_id": h.sensor_id, "asset_id": h.asset_id, "z": h.z} for h in hits
                  if asset is None or h.asset_id == asset]
    candidates = [asset] if asset else list(dict.fromkeys(h["asset_id"] for h in res.screen))
    rec.note("perceive", "watch", f"readings until {now:%Y-%m-%d %H:%M}; screen: "
             + (", ".join(f"{h['sensor_id']} z={h['z']}" for h in res.screen[:6]) or "quiet")
             + (f"; detectors on {', '.join(candidates)}" if candidates else ""))
    found = watch.confirm(candidates, now) if candidates else {}
    if found:
        worst = max(found, key=lambda a: max(x.score for x in found[a]))
        confirmed(rec, res, worst, now, found[worst])
        wo = _open_work_order(ctx, worst)
        if wo is not None:
            res.status, res.open_work_order = "already_planned", wo
            rec.note("decide", "loop", f"{worst} already has the open predictive work order {wo}; no new plan")
        else:
            proposals = decide(rec, res, worst, now, solver_s=solver_s)
            _settle(rec, res, act(rec, proposals, ctx, None, checkpointer=checkpointer, thread_id=thread_id),
                    opcua=opcua, call_id=f"plan-{thread_id}")
    res.outcome = outcome_text(res)
    res.trace = rec.steps
    res.seconds = round(time.perf_counter() - t0, 2)
    return res


def resume_cycle(
    ctx: AgentContext, prior: LoopResult, decision: dict[str, Any], *, checkpointer: BaseCheckpointSaver,
    thread_id: str, opcua: OpcUaConfig | None = None, progress: Progress = lambda _s, _m: None,
) -> LoopResult:
    """Apply a person's decision to a cycle waiting for approval (any process, same checkpointer).

    Args:
        ctx: Run context (writable KG; the same policy the cycle ran under).
        prior: The waiting cycle's result (its trace continues).
        decision: ``{"decision": "approve"|"reject"|"edit", "by"?, "comment"?, "tools"?, "args"?}``
            (see :func:`server.plant.actions.plan_decision`).
        checkpointer: Where the cycle's actions graph paused.
        thread_id: Its thread.
        opcua: Where approved setpoints are written (None = stored in the KG only).
        progress: ``(step, message)`` callback.
    """
    t0 = time.perf_counter()
    res = prior.model_copy(deep=True)
    rec = Recorder(ctx, progress)
    rec.steps = list(res.trace)
    ctx.now = res.now
    done = len(res.actions)
    run = resume_actions(ctx, checkpointer, thread_id, plan_decision(decision))
    record_outcomes(rec, run.outcomes[done:])
    _settle(rec, res, run, opcua=opcua, call_id=f"plan-{thread_id}")
    res.outcome = outcome_text(res)
    res.trace = rec.steps
    res.seconds = round(prior.seconds + time.perf_counter() - t0, 2)
    return res

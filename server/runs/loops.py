"""Closed-loop runs: a schedule of ``kind="loop"`` fires one loop cycle on the KG per run.

The cycle (:func:`server.plant.cycle.run_cycle`) runs on the brain's open KG, tools and models,
under the run's approval policy; its actions graph is checkpointed on the brain's checkpointer
(the runs' SQLite or Postgres checkpointer) on the thread ``<run thread>-loop<attempt>``, so
``indagent runs approve`` (or ``POST /v1/approvals/{id}``) applies the plan later from any process
on the same data dir. A run's trace is an ``AskResult``-shaped document (answer, route, tool
calls with their decisions), with the whole :class:`server.plant.steps.LoopResult` under
``loop`` and the actions thread under ``actions_thread``.

Approved setpoints go to the OPC UA endpoint of the schedule (``LoopSpec.endpoint``) or of the
worker's settings (``INDAGENT_OPCUA_ENDPOINT``, with its security and credentials); with neither
they are only stored in the KG.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agents.state import AskResult, ResultValue, RouteInfo, ToolCallTrace
from server.brain import Brain
from server.runs.store import LoopSpec, RunRecord
from tools.errors import ConfigError

if TYPE_CHECKING:
    from server.plant.config import OpcUaConfig
    from server.plant.steps import LoopResult

__all__ = ["actions_thread", "execute_loop", "loop_opcua", "loop_result", "resume_loop"]

log = logging.getLogger("indagent.runs")
_DECIDED = ("approved", "rejected", "edited", "auto")


def loop_opcua(spec: LoopSpec) -> OpcUaConfig | None:
    """Where a cycle writes approved setpoints: the schedule's endpoint, else ``INDAGENT_OPCUA_ENDPOINT`` when set.

    Read in the worker (the run's edge): security mode/policy, certificate, key, user and password
    always come from the worker's ``INDAGENT_OPCUA_*`` settings.
    """
    from server.plant.config import OpcUaConfig, OpcUaSettings, opcua_settings

    if spec.endpoint:
        return opcua_settings(endpoint=spec.endpoint)
    env = OpcUaSettings()
    return OpcUaConfig.model_validate(env.model_dump()) if "endpoint" in env.model_fields_set else None


def actions_thread(run: RunRecord) -> str:
    """The checkpoint thread of a loop run's actions (one per attempt)."""
    return f"{run.thread_id}-loop{run.attempts}"


def _route(res: LoopResult) -> RouteInfo:
    step = next((t for t in res.trace if t.tool == "diagnose_asset" and t.route), None)
    if step is None or not step.route:
        return RouteInfo(agent="loop", reason="screen only (no anomaly confirmed): no model step")
    r = step.route
    return RouteInfo(agent="loop", model=str(r.get("model") or ""), tier=str(r.get("tier") or ""),
                     reason=str(r.get("reason") or ""))


def _trace(res: LoopResult, run: RunRecord, thread: str) -> tuple[AskResult, dict[str, Any]]:
    calls = [ToolCallTrace(name=t.tool, args=t.args, ok=t.ok, error=None if t.ok else t.summary, mutating=t.step == "act",
                           approval=t.approval if t.approval in _DECIDED else None)  # type: ignore[arg-type]
             for t in res.trace if t.tool is not None]
    ask = AskResult(answer=res.outcome, thread_id=run.thread_id, result=ResultValue(type="text", value=res.outcome),
                    route=_route(res), tool_calls=calls, latency_ms=round(res.seconds * 1000, 3),
                    pending_approval=res.pending)
    return ask, {**ask.model_dump(mode="json"), "loop": res.model_dump(mode="json"), "actions_thread": thread}


def loop_result(run: RunRecord) -> LoopResult | None:
    """The cycle's result stored on a loop run (None before the cycle finished)."""
    from server.plant.steps import LoopResult

    raw = (run.trace or {}).get("loop")
    return LoopResult.model_validate(raw) if raw else None


def _report(res: LoopResult, brain: Brain, run: RunRecord) -> None:
    """The loop's own report with plots (signal, Gantt before/after, setpoints) beside the run report."""
    from server.plant.report import write_report

    if res.asset is None or brain.kg is None or res.now is None:
        return
    since = res.now - timedelta(days=(run.loop or LoopSpec()).lookback_days)
    write_report(res, brain.kg, data_dir=brain.settings.data_dir, live_start=since, name=f"loop-{run.id}")


def execute_loop(run: RunRecord, brain: Brain, *, actor: str) -> tuple[AskResult, dict[str, Any], list[dict[str, Any]]]:
    """Run one loop cycle for ``run``: ``(trace as AskResult, the full trace document, pending approvals)``."""
    from server.plant.cycle import run_cycle

    if brain.kg is None or brain.kg.read_only:
        raise ConfigError("A loop run needs the knowledge graph open for writing in this process; stop the process "
                          "that holds it or run the loop there ('indagent plant connect --worker').")
    spec = run.loop or LoopSpec()
    ctx = brain.context(requested_model=run.model, actor=actor, approval_policy=run.policy)
    thread = actions_thread(run)
    res = run_cycle(ctx, checkpointer=brain.graph.checkpointer, thread_id=thread,  # type: ignore[arg-type]
                    asset=spec.asset, lookback_days=spec.lookback_days, solver_s=spec.solver_s,
                    opcua=loop_opcua(spec), progress=lambda step, msg: log.info("run %s %s: %s", run.id, step, msg))
    return _outcome(res, brain, run, thread)


def resume_loop(run: RunRecord, brain: Brain, decision: dict[str, Any], *,
                actor: str) -> tuple[AskResult, dict[str, Any], list[dict[str, Any]]]:
    """Apply a person's decision to a loop run waiting for approval (any process on the same checkpointer)."""
    from server.plant.cycle import resume_cycle

    prior = loop_result(run)
    thread = (run.trace or {}).get("actions_thread")
    if prior is None or not thread:
        raise ConfigError(f"Run {run.id} has no stored loop cycle to continue; cancel it and run the schedule again.")
    ctx = brain.context(requested_model=run.model, actor=actor, approval_policy=run.policy)  # KG writable: resume_run
    res = resume_cycle(ctx, prior, decision, checkpointer=brain.graph.checkpointer, thread_id=thread,  # type: ignore[arg-type]
                       opcua=loop_opcua(run.loop or LoopSpec()),
                       progress=lambda step, msg: log.info("run %s %s: %s", run.id, step, msg))
    return _outcome(res, brain, run, thread)


def _outcome(res: LoopResult, brain: Brain, run: RunRecord,
             thread: str) -> tuple[AskResult, dict[str, Any], list[dict[str, Any]]]:
    """Write the loop report; the trace as AskResult, the full trace document, the pending approvals."""
    _report(res, brain, run)
    ask, doc = _trace(res, run, thread)
    return ask, doc, [res.pending] if res.pending else []

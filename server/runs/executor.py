"""Execute an autonomous run: the goal goes through the graph under the schedule's approval policy.

Mutating tool calls the policy does not allow pause the graph (LangGraph interrupt) and the run
ends ``waiting_approval`` with nothing applied; a person later approves or rejects with
:func:`resume_run`. A run whose worker died is marked failed by
:meth:`server.runs.store.RunStore.recover_orphans` and continues from its checkpoint thread with
:func:`resume_run` (no decision).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeAlias

from langgraph.types import Durability

from agents.runner import ask, continue_thread, pending_approvals, resume
from agents.state import AskResult
from server.brain import Brain
from server.runs.report import write_report
from server.runs.store import RunRecord, RunStatus, RunStore, utcnow
from server.settings import Settings
from tools.errors import ConfigError, IndagentError

__all__ = [
    "BrainFactory",
    "RunStateError",
    "apply_queued_decisions",
    "cancel_run",
    "execute_run",
    "finish_run",
    "queue_decision",
    "resume_run",
]

log = logging.getLogger("indagent.runs")

#: Runs checkpoint every step (in the background): a run whose worker died continues after its last
#: finished node (a solver call is not repeated), unlike chat turns (``agents.runner.CHAT_DURABILITY``).
RUN_DURABILITY: Durability = "async"

#: ``factory(settings)`` -> a context manager yielding an open :class:`Brain` (e.g. ``open_brain``).
BrainFactory: TypeAlias = Callable[[Settings], AbstractContextManager[Brain]]


class RunStateError(IndagentError):
    """The run is not in a state that allows this operation (the message says which one does)."""


def _actor(run: RunRecord) -> str:
    return f"scheduler:{run.schedule_id}" if run.schedule_id else "scheduler:manual"


def _decisions(res: AskResult) -> list[dict[str, Any]]:
    return [
        {"tool": t.name, "args": t.args, "decision": t.approval or "pending", "ok": t.ok, "error": t.error}
        for t in res.tool_calls if t.mutating
    ]


def finish_run(store: RunStore, run: RunRecord, brain: Brain, *, res: AskResult | None = None,
               error: str | None = None, trace: dict[str, Any] | None = None,
               pending: list[dict[str, Any]] | None = None) -> RunRecord:
    """Store the outcome (trace, decisions, pending approvals, report) and free the schedule slot.

    Args:
        store: The runs database.
        run: The run.
        brain: The brain it ran on (checkpointer, reports dir).
        res: The turn's result (None when it raised).
        error: The error when it raised.
        trace: The trace document to store (default ``res``; a loop run adds its cycle).
        pending: Approvals it waits on (default: read from the graph's thread).
    """
    status: RunStatus
    if res is not None and pending is None:
        pending = pending_approvals(brain.graph, run.thread_id)
    pending = pending or []
    if res is not None:
        failed_calls = [t for t in res.tool_calls if not t.ok and t.approval != "rejected"]
        if pending:
            status = "waiting_approval"
        elif res.tool_calls and len(failed_calls) == len(res.tool_calls):
            status = "failed"
            error = "; ".join(f"{t.name}: {t.error}" for t in failed_calls)
        else:
            status = "succeeded"
    else:
        status = "failed"
    fields: dict[str, Any] = {
        "status": status, "finished_at": utcnow(), "pending_approvals": pending, "error": error,
        "resumable": False,
    }
    if res is not None:
        fields["trace"] = trace if trace is not None else res.model_dump(mode="json")
        fields["decisions"] = _decisions(res)
    done = store.update_run(run.id, **fields)
    md, page = write_report(done, brain.settings.reports_dir)
    done = store.update_run(run.id, report_md=str(md), report_html=str(page))
    store.release(run.schedule_id, run.id)
    if status == "waiting_approval" and run.schedule_id:
        store.supersede_waiting(run.schedule_id, run.id)
    log.info("run %s %s", run.id, status)
    return done


def execute_run(store: RunStore, run: RunRecord, brain: Brain) -> RunRecord:
    """Run a claimed run's goal (one turn on its own thread) and record the outcome.

    Any error of the turn is recorded on the run (status ``failed``, message kept) rather than
    raised: a scheduled firing must always end in a stored, reported state.
    """
    if run.kind == "loop":
        return _loop_step(store, run, brain, None, actor=_actor(run))
    ctx = brain.context(requested_model=run.model, actor=_actor(run), approval_policy=run.policy)
    try:
        res = ask(brain.graph, ctx, run.goal, thread_id=run.thread_id, max_chars=brain.settings.max_message_chars,
                  durability=RUN_DURABILITY)
    except Exception as exc:  # the run boundary: record every failure with its message
        log.exception("run %s failed", run.id)
        return finish_run(store, run, brain, error=f"{type(exc).__name__}: {exc}")
    return finish_run(store, run, brain, res=res)


def _loop_step(store: RunStore, run: RunRecord, brain: Brain, decision: dict[str, Any] | None, *,
               actor: str) -> RunRecord:
    """A loop run's cycle (``decision`` None) or the decision on its waiting plan; recorded like a goal run."""
    from server.runs.loops import execute_loop, resume_loop

    try:
        res, doc, pending = (execute_loop(run, brain, actor=actor) if decision is None
                             else resume_loop(run, brain, decision, actor=actor))
    except Exception as exc:  # the run boundary: record every failure with its message
        log.exception("loop run %s failed", run.id)
        return finish_run(store, run, brain, error=f"{type(exc).__name__}: {exc}")
    return finish_run(store, run, brain, res=res, trace=doc, pending=pending)


def _continue_thread(brain: Brain, run: RunRecord) -> AskResult:
    """Continue an interrupted turn from its last checkpoint (or start it, if none was written)."""
    ctx = brain.context(requested_model=run.model, actor=_actor(run), approval_policy=run.policy)
    res = continue_thread(brain.graph, ctx, run.thread_id, durability=RUN_DURABILITY)
    if res is None:
        return ask(brain.graph, ctx, run.goal, thread_id=run.thread_id, max_chars=brain.settings.max_message_chars,
                   durability=RUN_DURABILITY)
    return res


def resume_run(store: RunStore, run_id: str, brain: Brain, *, worker_id: str,
               decision: dict[str, Any] | None = None) -> RunRecord:
    """Continue a run: answer its pending approval (``decision``) or resume a crashed run.

    Args:
        store: The runs database.
        run_id: The run.
        brain: An open brain on the same checkpointer the run used.
        worker_id: Who executes the continuation (recorded as the run's owner).
        decision: ``{"decision": "approve"|"reject"|"edit", "args"?, "by"?, "comment"?}`` for a run
            waiting for approval; None resumes a failed, resumable run from its checkpoint.
    """
    run = store.get_run(run_id)
    if run.kind == "loop" and (brain.kg is None or brain.kg.read_only):
        raise ConfigError(f"Run {run_id} is a closed-loop run: it needs the knowledge graph open for writing, and this "
                          "process could not open it; another process (the connector's '--worker', or 'serve') holds "
                          "it: approve with 'indagent runs approve --queue' (that process applies it) or over its API.")
    if decision is not None:
        if run.status != "waiting_approval":
            raise RunStateError(f"Run {run_id} is {run.status}, not waiting_approval; only a waiting run takes a decision.")
        expected: tuple[RunStatus, ...] = ("waiting_approval",)
    else:
        if not (run.status == "failed" and run.resumable):
            raise RunStateError(
                f"Run {run_id} is {run.status}{' (not resumable)' if run.status == 'failed' else ''}; only a run "
                "interrupted by a crash resumes; a waiting run takes 'indagent runs approve'."
            )
        expected = ("failed",)
        if run.schedule_id and not store.acquire(run.schedule_id, run.id):
            busy = store.get_schedule(run.schedule_id).running_run_id
            raise RunStateError(f"Schedule {run.schedule_id} has run {busy} in progress; resume {run_id} after it ends.")
    if not store.set_status_if(run_id, expected, status="running", owner=worker_id, error=None, resumable=0,
                               finished_at=None, attempts=run.attempts + 1):
        store.release(run.schedule_id, run.id)
        raise RunStateError(f"Run {run_id} changed state meanwhile; look at it with 'indagent runs show {run_id}'.")
    run = store.get_run(run_id)
    if run.kind == "loop":  # a crashed cycle runs again on a fresh actions thread (open work orders are not repeated)
        actor = str(decision.get("by") or _actor(run)) if decision is not None else _actor(run)
        return _loop_step(store, run, brain, decision, actor=actor)
    try:
        if decision is not None:
            ctx = brain.context(requested_model=run.model, actor=str(decision.get("by") or _actor(run)),
                                approval_policy=run.policy)
            res = resume(brain.graph, ctx, run.thread_id, decision, durability=RUN_DURABILITY)
        else:
            res = _continue_thread(brain, run)
    except Exception as exc:  # the run boundary: record every failure with its message
        log.exception("resuming run %s failed", run.id)
        return finish_run(store, run, brain, error=f"{type(exc).__name__}: {exc}")
    return finish_run(store, run, brain, res=res)


def cancel_run(store: RunStore, run_id: str) -> RunRecord:
    """Cancel a queued, waiting or failed run (its pending action is dropped, never applied)."""
    run = store.get_run(run_id)
    if not store.set_status_if(run_id, ("queued", "waiting_approval", "failed"), status="cancelled",
                               finished_at=utcnow(), resumable=0):
        raise RunStateError(
            f"Run {run_id} is {run.status}; only queued, waiting_approval or failed runs can be cancelled "
            "(a running turn finishes; cancel its schedule to stop future runs)."
        )
    store.update_run(run_id, pending_approvals=[])
    return store.get_run(run_id)


def queue_decision(store: RunStore, run_id: str, decision: dict[str, Any]) -> RunRecord:
    """Leave a person's decision on a waiting loop run for the worker that holds the KG (it applies it).

    The KG file has one writer; when that is a ``plant connect --worker`` or ``serve`` process, a
    decision taken elsewhere (``indagent runs approve``) is stored on the run and applied by that
    process at its next heartbeat (:func:`apply_queued_decisions`).
    """
    run = store.get_run(run_id)
    if run.kind != "loop" or run.status != "waiting_approval" or not run.pending_approvals:
        raise RunStateError(f"Run {run_id} is a {run.kind} run in state {run.status}; only a loop run waiting for "
                            "approval takes a queued decision.")
    pending = [{**run.pending_approvals[0], "queued_decision": decision}, *run.pending_approvals[1:]]
    if not store.set_status_if(run_id, ("waiting_approval",), pending_approvals=pending):
        raise RunStateError(f"Run {run_id} changed state meanwhile; look at it with 'indagent runs show {run_id}'.")
    return store.get_run(run_id)


def apply_queued_decisions(store: RunStore, settings: Settings, brain_factory: BrainFactory, *,
                           worker_id: str) -> list[RunRecord]:
    """Apply the decisions queued on waiting loop runs (see :func:`queue_decision`); returns the runs continued."""
    queued = store.queued_decisions()
    if not queued:
        return []
    done = []
    try:
        with brain_factory(settings) as brain:
            if brain.kg is None or brain.kg.read_only:  # another process holds the KG: that one applies them
                log.debug("%d queued loop decision(s) left for the KG's writer", len(queued))
                return []
            for run_id, decision in queued:
                try:
                    done.append(resume_run(store, run_id, brain, worker_id=worker_id, decision=decision))
                except (RunStateError, IndagentError) as exc:  # e.g. taken by another worker meanwhile
                    log.info("queued decision on run %s not applied here: %s", run_id, exc)
    except IndagentError as exc:  # no brain here (e.g. the KG cannot be opened): the KG's writer applies them
        log.info("queued loop decisions not applied here: %s", exc)
    return done

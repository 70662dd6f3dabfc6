"""``indagent runs ...``: schedule autonomous runs, list/show/cancel them, run now, approve, run a worker."""

from __future__ import annotations

import importlib
import signal
import threading
import time
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from agents.approvals import plan_actions
from server.clikit import cli_errors, emit_json, err_console
from server.runs import (
    BrainFactory,
    RunRecord,
    RunStore,
    Schedule,
    cancel_run,
    cancel_schedule,
    create_schedule,
    next_fire_time,
    resume_run,
    run_now,
    start_scheduler,
)
from server.runs.executor import queue_decision
from server.runs.scheduler import worker_session
from server.runs.store import LoopSpec
from server.settings import Settings, get_settings
from tools.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(help="Scheduled autonomous runs.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False)

Policy = Literal["require-approval", "auto-approve-within-bounds", "auto-approve"]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
FactoryOpt = Annotated[str | None, typer.Option(
    "--brain-factory", hidden=True, help="module:callable returning a Brain context manager (tests, demos).")]
_out = Console()


def _factory(spec: str | None) -> BrainFactory:
    if spec is None:
        from server.brain import open_brain

        return open_brain
    mod, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"--brain-factory {spec!r} not found ({exc}); give module:callable.") from None


def parse_every(text: str | None) -> float | None:
    """``--every`` as seconds: ``90s``, ``15m``, ``1h``, ``1d`` or a plain number of seconds."""
    if text is None:
        return None
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    t = text.strip().lower()
    try:
        return float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise ConfigError(f"--every {text!r} is not an interval; use e.g. 90s, 15m, 1h, 1d or seconds.") from None


def _with_next(store: RunStore, sched: Schedule) -> Schedule:
    nxt = next_fire_time(store, sched.id) if sched.status == "active" else None
    return sched.model_copy(update={"next_fire_time": nxt})


def _run_line(run: RunRecord) -> str:
    answer = (run.trace or {}).get("answer") or ""
    line = f"{run.id} {run.status} ({run.schedule_id or 'manual'}): {run.goal}"
    if answer and (run.kind == "loop" or not run.pending_approvals):  # a loop's answer says what it found
        line += f"\n  answer: {answer}"
    for p in run.pending_approvals:
        plan = plan_actions(p.get("tool"), p.get("args"))
        what = (f"plan {', '.join(a['tool'] for a in plan)}" if plan is not None
                else f"{p.get('tool')} {p.get('args')}")
        line += f"\n  waiting for approval: {what}  -> indagent runs approve {run.id}"
    if run.error:
        line += f"\n  error: {run.error}"
    if run.report_md:
        line += f"\n  report: {run.report_md}"
    return line


@app.command("schedule")
@cli_errors
def schedule_cmd(
    goal: Annotated[str | None, typer.Option("--goal", help="What the run should do, in words.")] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Run the closed loop on the KG instead of a goal.")] = False,
    asset: Annotated[str | None, typer.Option("--asset", help="--loop: watch only this asset.")] = None,
    lookback_days: Annotated[float, typer.Option("--lookback-days", min=0.01, max=60,
                                                 help="--loop: anomalies must begin within this many days.")] = 7.0,
    opcua_endpoint: Annotated[str | None, typer.Option(
        "--opcua-endpoint", help="--loop: write approved setpoints here (default INDAGENT_OPCUA_ENDPOINT of the worker).")]
    = None,
    solver_s: Annotated[float, typer.Option("--solver-s", min=0.1, max=120, help="--loop: CP-SAT seconds per solve.")]
    = 3.0,
    cron: Annotated[str | None, typer.Option("--cron", help="Crontab 'minute hour day month weekday'.")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Interval: 90s, 15m, 1h, 1d (or seconds).")] = None,
    policy: Annotated[Policy, typer.Option("--policy", help="What the run may apply without a person.")]
    = "require-approval",
    model: Annotated[str, typer.Option("--model", help="auto | edge | cloud | a model name.")] = "auto",
    tz: Annotated[str, typer.Option("--tz", help="Time zone of the cron expression.")] = "UTC",
    as_json: JsonOpt = False,
) -> None:
    """Schedule a goal or the closed loop (any running worker or server picks it up)."""
    settings = get_settings()
    if not loop and (asset or opcua_endpoint):
        raise ConfigError("--asset and --opcua-endpoint belong to a closed-loop schedule; add --loop.")
    if not loop and not goal:
        raise ConfigError("Give --goal 'what the run should do' or --loop (the closed loop on the KG).")
    spec = LoopSpec(asset=asset, lookback_days=lookback_days, endpoint=opcua_endpoint, solver_s=solver_s) if loop else None
    with RunStore(settings.runs_db_url) as store:
        sched = create_schedule(store, goal=goal or "", loop=spec, cron=cron, every_s=parse_every(every), policy=policy,
                                model=model, tz=tz, misfire_grace_s=settings.runs_misfire_grace_s)
    if as_json:
        emit_json(sched)
        return
    typer.echo(f"{sched.id} scheduled{' (closed loop)' if sched.kind == 'loop' else ''} ({sched.describe_trigger()} "
               f"{sched.tz}, policy {sched.policy}); next run {sched.next_fire_time} UTC")


@app.command("list")
@cli_errors
def list_cmd(
    include_cancelled: Annotated[bool, typer.Option("--all", help="Include cancelled schedules.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent runs to show.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List schedules and recent runs."""
    with RunStore(get_settings().runs_db_url) as store:
        schedules = [_with_next(store, s) for s in store.list_schedules(include_cancelled=include_cancelled)]
        runs = store.list_runs(limit=limit)
    if as_json:
        emit_json({"schedules": schedules, "runs": runs, "count": {"schedules": len(schedules), "runs": len(runs)}})
        return
    t = Table("schedule", "trigger", "policy", "status", "next run (UTC)", "goal", title="Schedules")
    for s in schedules:
        t.add_row(s.id, s.describe_trigger(), s.policy, s.status, str(s.next_fire_time or "-"), s.goal)
    _out.print(t)
    r = Table("run", "schedule", "status", "started (UTC)", "goal", title="Runs")
    for run in runs:
        r.add_row(run.id, run.schedule_id or "-", run.status, str(run.started_at or "-"), run.goal)
    _out.print(r)


@app.command("show")
@cli_errors
def show_cmd(
    item_id: Annotated[str, typer.Argument(help="A schedule id (sch_...) or a run id (run_...).")],
    as_json: JsonOpt = False,
) -> None:
    """Show a schedule (with its runs) or a run (trace, decisions, approvals, report)."""
    with RunStore(get_settings().runs_db_url) as store:
        if item_id.startswith("sch_"):
            sched = _with_next(store, store.get_schedule(item_id))
            runs = store.list_runs(schedule_id=item_id)
            doc: dict[str, Any] = {"schedule": sched, "runs": runs}
        else:
            run = store.get_run(item_id)
            doc = {"run": run}
    if as_json:
        emit_json(doc)
        return
    if "schedule" in doc:
        s = doc["schedule"]
        typer.echo(f"{s.id} {s.status}: {s.goal}\n  {s.describe_trigger()} {s.tz}, policy {s.policy}, "
                   f"model {s.model}, next run {s.next_fire_time or '-'} UTC")
        for run in doc["runs"]:
            typer.echo(_run_line(run))
    else:
        typer.echo(_run_line(doc["run"]))


@app.command("cancel")
@cli_errors
def cancel_cmd(
    item_id: Annotated[str, typer.Argument(help="A schedule id (stops future runs) or a run id (drops its pending action).")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a schedule or a waiting run."""
    with RunStore(get_settings().runs_db_url) as store:
        obj: Schedule | RunRecord = (cancel_schedule(store, item_id) if item_id.startswith("sch_")
                                     else cancel_run(store, item_id))
    if as_json:
        emit_json(obj)
        return
    typer.echo(f"{obj.id} cancelled")


def _foreground(fn: Any, *, factory: str | None, as_json: bool) -> None:
    settings = get_settings()
    with RunStore(settings.runs_db_url) as store, worker_session(store, settings) as worker_id:
        run = fn(store, settings, _factory(factory), worker_id)
    if as_json:
        emit_json(run)
        return
    typer.echo(_run_line(run))


@app.command("run-now")
@cli_errors
def run_now_cmd(
    schedule_id: Annotated[str, typer.Argument(help="The schedule to run now.")],
    factory: FactoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a schedule's goal now, in this process."""
    _foreground(lambda store, settings, bf, wid: run_now(store, schedule_id, settings, bf, worker_id=wid),
                factory=factory, as_json=as_json)


@app.command("approve")
@cli_errors
def approve_cmd(
    run_id: Annotated[str, typer.Argument(help="A run waiting for approval.")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")] = False,
    by: Annotated[str, typer.Option("--by", help="Who decides (recorded).")] = "cli",
    comment: Annotated[str | None, typer.Option("--comment", help="Why.")] = None,
    skip: Annotated[list[str] | None, typer.Option(
        "--skip", help="A loop plan: reject this action (tool name; repeatable), approve the rest.")] = None,
    queue: Annotated[bool, typer.Option(
        "--queue", help="A loop run: leave the decision for the worker that holds the KG (plant connect --worker).")]
    = False,
    factory: FactoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve (or reject) the action a run is waiting on (a loop run: its whole plan); the run then completes."""
    decision: dict[str, Any] = {"decision": "reject" if reject else "approve", "by": by, "comment": comment}
    if skip:
        decision["tools"] = dict.fromkeys(skip, "reject")
    if queue:
        with RunStore(get_settings().runs_db_url) as store:
            run = queue_decision(store, run_id, decision)
        if as_json:
            emit_json(run)
        else:
            typer.echo(f"{run.id}: decision '{decision['decision']}' queued; the worker holding the KG applies it "
                       f"within one heartbeat ('indagent runs show {run.id}')")
        return

    def go(store: RunStore, settings: Settings, bf: BrainFactory, wid: str) -> RunRecord:
        try:
            with bf(settings) as brain:
                return resume_run(store, run_id, brain, worker_id=wid, decision=decision)
        except ConfigError as exc:
            if store.get_run(run_id).kind == "loop":
                raise ConfigError(f"{exc} A loop plan can be queued for the process that holds the KG: "
                                  f"'indagent runs approve {run_id} --queue'.") from None
            raise

    _foreground(go, factory=factory, as_json=as_json)


@app.command("resume")
@cli_errors
def resume_cmd(
    run_id: Annotated[str, typer.Argument(help="A run interrupted by a crash (failed, resumable).")],
    factory: FactoryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a crashed run from its checkpoint thread."""

    def go(store: RunStore, settings: Settings, bf: BrainFactory, wid: str) -> RunRecord:
        with bf(settings) as brain:
            return resume_run(store, run_id, brain, worker_id=wid)

    _foreground(go, factory=factory, as_json=as_json)


def _redact(url: str) -> str:
    """A database URL without its password, for logs."""
    import re

    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


@app.command("worker")
@cli_errors
def worker_cmd(
    max_seconds: Annotated[float | None, typer.Option("--max-seconds", min=0.1, help="Stop after this long.")] = None,
    factory: FactoryOpt = None,
) -> None:
    """Run the scheduler in the foreground until Ctrl-C / SIGTERM (or --max-seconds)."""
    settings = get_settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    handle = start_scheduler(settings, _factory(factory))
    n = len(handle.store.list_schedules())
    err_console.print(f"worker {handle.worker_id} started: {n} schedule(s), store {_redact(settings.runs_db_url)}")
    for run in handle.recovered:
        err_console.print(f"run {run.id} was interrupted by a crash: marked failed; 'indagent runs resume {run.id}'")
    t0 = time.monotonic()
    try:
        while not stop.wait(0.2):
            if max_seconds is not None and time.monotonic() - t0 >= max_seconds:
                break
    finally:
        handle.shutdown(wait=True)
    err_console.print(f"worker {handle.worker_id} stopped: {handle.stats['fired']} firing(s) seen, "
                      f"{handle.stats['claimed']} run here")


if __name__ == "__main__":
    app()

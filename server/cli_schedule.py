"""``indagent schedule ...``: solve, repair and add maintenance to job-shop schedules from files.

``solve --json`` prints exactly ``{"makespan", "lower_bound", "status", "solve_s", "operations"}``
(job/op/machine 0-based in file order). Bad files and arguments: one line on stderr, exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from server.clikit import cli_errors, emit_json
from tools.errors import ToolRetry
from tools.scheduling import (
    Downtime,
    Instance,
    Job,
    MachineDown,
    OperationLate,
    RushOrder,
    ScheduledOp,
    Solution,
    insert_maintenance,
    load_instance,
    reschedule,
    solve,
    write_gantt,
)
from tools.scheduling.model import Objective
from tools.scheduling.parsers import InstanceFormat

__all__ = ["app"]

app = typer.Typer(help="Job-shop scheduling with CP-SAT.", no_args_is_help=True, add_completion=False)

FileArg = Annotated[Path, typer.Argument(help="Instance file.", exists=False)]
FormatOpt = Annotated[
    InstanceFormat | None,
    typer.Option("--format", "-f", help="orlib | taillard | brandimarte | json (default: guess from the file)."),
]
TimeOpt = Annotated[float, typer.Option("--time-limit", "-t", help="Solver time limit in seconds.", min=0.01)]
WorkersOpt = Annotated[int | None, typer.Option("--workers", "-w", help="CP-SAT workers (default: CPUs, max 8).", min=1)]
ObjectiveOpt = Annotated[Objective, typer.Option("--objective", help="makespan | weighted_tardiness | mix.")]
DowntimeOpt = Annotated[list[str] | None, typer.Option("--downtime", help="MACHINE:START:END machine unavailable (repeatable).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
GanttOpt = Annotated[Path | None, typer.Option("--gantt", help="Write a Gantt chart (.png or .html).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="CP-SAT random seed.")]


def _triple(text: str, what: str) -> tuple[int, int, int]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ToolRetry(f"{what} {text!r} must be three integers A:B:C")
    a, b, c = (int(p) for p in parts)
    return a, b, c


def _load(path: Path, fmt: InstanceFormat | None, downtime: list[str] | None) -> Instance:
    inst = load_instance(path, fmt)
    downs = []
    for text in downtime or []:
        m, s, e = _triple(text, "--downtime")
        if not 0 <= m < inst.n_machines:
            raise ToolRetry(f"--downtime {text!r}: machine {m} out of range 0..{inst.n_machines - 1}")
        downs.append(Downtime(machine=m, start=s, end=e))
    return inst.with_downtimes(downs) if downs else inst


def _load_schedule(path: Path) -> list[ScheduledOp]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ToolRetry(
            f"{path}: not JSON ({exc.msg} at line {exc.lineno}); pass the output of 'schedule solve --json'"
        ) from None
    ops = data.get("operations") if isinstance(data, dict) else data
    if not isinstance(ops, list):
        raise ToolRetry(f"{path}: expected an object with 'operations' (the output of 'schedule solve --json')")
    return [ScheduledOp.model_validate(o) for o in ops]


def _summary(title: str, sol: Solution, extra: Mapping[str, object] | None = None) -> None:
    table = Table(title=title, show_header=False)
    rows: dict[str, object] = {
        "status": sol.status,
        "makespan": sol.makespan,
        "lower bound": sol.lower_bound,
        "objective": f"{sol.objective} = {sol.objective_value}",
        "solve s": f"{sol.solve_s:.2f}",
        "operations": len(sol.operations),
        "source": sol.source,
    }
    rows.update(extra or {})
    for k, v in rows.items():
        table.add_row(k, str(v))
    Console().print(table)


@app.command("solve")
@cli_errors
def solve_cmd(
    file: FileArg,
    fmt: FormatOpt = None,
    time_limit: TimeOpt = 10.0,
    workers: WorkersOpt = None,
    objective: ObjectiveOpt = "makespan",
    downtime: DowntimeOpt = None,
    as_json: JsonOpt = False,
    gantt: GanttOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Solve a job-shop / flexible job-shop instance; the schedule is validated before output."""
    inst = _load(file, fmt, downtime)
    sol = solve(inst, time_limit=time_limit, workers=workers, objective=objective, seed=seed)
    if gantt is not None and sol.operations:
        write_gantt(inst, sol, gantt)
    if as_json:
        emit_json(sol.contract())
        return
    _summary(f"{inst.name or file.name}: {inst.n_jobs} jobs x {inst.n_machines} machines", sol)
    if gantt is not None:
        typer.echo(f"gantt: {gantt}")


@app.command("reschedule")
@cli_errors
def reschedule_cmd(
    file: FileArg,
    schedule: Annotated[Path, typer.Option("--schedule", "-s", help="Current schedule (output of solve --json).")],
    now: Annotated[int, typer.Option("--now", help="Current time; operations started before it stay.", min=0)],
    fmt: FormatOpt = None,
    down: Annotated[str | None, typer.Option("--down", help="Event MACHINE:START:END (machine breaks down).")] = None,
    late: Annotated[str | None, typer.Option("--late", help="Event JOB:OP:DELAY (operation runs late).")] = None,
    rush: Annotated[Path | None, typer.Option("--rush", help="Event: JSON file with the rush order's job.")] = None,
    time_limit: TimeOpt = 5.0,
    workers: WorkersOpt = None,
    objective: ObjectiveOpt = "makespan",
    stability: Annotated[int, typer.Option("--stability", help="Cost of each moved operation.", min=0)] = 1,
    downtime: DowntimeOpt = None,
    as_json: JsonOpt = False,
    gantt: GanttOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Repair a running schedule after an event (--down, --late or --rush) at time --now."""
    inst = _load(file, fmt, downtime)
    events = [e for e in (down, late, rush) if e is not None]
    if len(events) > 1:
        raise ToolRetry("Give one event: --down, --late or --rush")
    event: MachineDown | OperationLate | RushOrder | None = None
    if down is not None:
        m, s, e = _triple(down, "--down")
        event = MachineDown(machine=m, start=s, end=e)
    elif late is not None:
        j, o, d = _triple(late, "--late")
        event = OperationLate(job=j, op=o, delay=d)
    elif rush is not None:
        event = RushOrder(job=Job.model_validate_json(rush.read_text(encoding="utf-8")))
    res = reschedule(
        inst,
        _load_schedule(schedule),
        event,
        now=now,
        time_limit=time_limit,
        workers=workers,
        objective=objective,
        stability_weight=stability,
        seed=seed,
    )
    if gantt is not None:
        write_gantt(res.instance, res.solution, gantt)
    info = {
        "fixed": res.fixed,
        "restarted": [list(k) for k in res.restarted],
        "moved": res.n_moved,
        "makespan_before": res.makespan_before,
        "makespan_after": res.makespan_after,
    }
    if as_json:
        emit_json({**res.solution.contract(), **info})
        return
    _summary(f"repair at t={now}: {event.kind if event else 're-optimise'}", res.solution, info)


@app.command("maintenance")
@cli_errors
def maintenance_cmd(
    file: FileArg,
    machine: Annotated[int, typer.Option("--machine", "-m", help="Machine (0-based).", min=0)],
    length: Annotated[int, typer.Option("--length", "-l", help="Window length (instance time units).", min=1)],
    deadline: Annotated[int, typer.Option("--deadline", "-d", help="The window must end by this time.", min=1)],
    fmt: FormatOpt = None,
    schedule: Annotated[Path | None, typer.Option("--schedule", "-s", help="Current plan (solve --json).")] = None,
    now: Annotated[int, typer.Option("--now", help="Not before this time.", min=0)] = 0,
    time_limit: TimeOpt = 5.0,
    workers: WorkersOpt = None,
    objective: ObjectiveOpt = "makespan",
    downtime: DowntimeOpt = None,
    as_json: JsonOpt = False,
    gantt: GanttOpt = None,
) -> None:
    """Place a maintenance window on a machine before a deadline at the least cost; report the cost."""
    inst = _load(file, fmt, downtime)
    if schedule is not None:
        current: list[ScheduledOp] | Solution = _load_schedule(schedule)
    else:
        current = solve(inst, time_limit=time_limit, workers=workers, objective=objective)
    res = insert_maintenance(
        inst,
        current,
        machine,
        length,
        deadline=deadline,
        now=now,
        objective=objective,
        time_limit=time_limit,
        workers=workers,
    )
    if gantt is not None:
        write_gantt(
            inst.with_downtimes([Downtime(machine=machine, start=res.start, end=res.end, reason="maintenance")]),
            res.solution,
            gantt,
        )
    info = {
        "machine": res.machine,
        "start": res.start,
        "end": res.end,
        "cost": res.cost,
        "idle_gap": res.idle_gap,
        "moved": res.n_moved,
        "makespan_before": res.makespan_before,
        "makespan_after": res.makespan_after,
    }
    if as_json:
        emit_json({**info, "status": res.status, "operations": res.solution.contract()["operations"]})
        return
    _summary(f"maintenance on machine {machine}: [{res.start}, {res.end}) cost {res.cost}", res.solution, info)

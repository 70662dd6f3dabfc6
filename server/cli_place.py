"""``indagent place ...``: generate placement scenarios and solve them (thin: calls tools.placement)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from server.clikit import cli_errors, emit_json, err_console
from tools.errors import ToolRetry
from tools.placement import PROFILES, Scenario, generate_scenario, plot_placement, solve

__all__ = ["app"]

app = typer.Typer(help="Compute placement across device / edge / cloud.", no_args_is_help=True)


def _load(path: Path) -> Scenario:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ToolRetry(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); "
                        "create one with 'indagent place generate'") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "scenario"
        raise ToolRetry(f"{path}: {loc}: {err['msg']} ({exc.error_count()} error(s); see docs/placement.md)") from None


@app.command("generate")
@cli_errors
def generate_cmd(
    nodes: Annotated[int, typer.Option("--nodes", help="Total nodes (>= 3).")] = 20,
    workloads: Annotated[int, typer.Option("--workloads", help="Number of workloads.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    profile: Annotated[str, typer.Option("--profile", help="factory | campus | national.")] = "factory",
) -> None:
    """Print a realistic three-tier scenario as JSON on stdout."""
    if profile not in PROFILES:
        raise ToolRetry(f"Unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    sc = generate_scenario(nodes, workloads, seed=seed, profile=profile)  # type: ignore[arg-type]
    emit_json(sc)


@app.command("solve")
@cli_errors
def solve_cmd(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON file.")],
    method: Annotated[str, typer.Option("--method", help="exact | heuristic | auto.")] = "auto",
    time_limit: Annotated[float, typer.Option("--time-limit", help="Solver budget in seconds.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a .png or .html placement plot.")] = None,
    carbon_aware: Annotated[bool, typer.Option("--carbon-aware/--no-carbon-aware",
                                               help="Shift deferrable jobs to low-carbon hours.")] = True,
) -> None:
    """Solve a scenario; --json prints objective, bound, gap, metrics and assignments."""
    sc = _load(scenario)
    res = solve(sc, method=method, time_limit_s=time_limit, carbon_aware=carbon_aware)  # type: ignore[arg-type]
    if plot is not None:
        plot_placement(res, plot)
    for item in res.infeasible_reasons[:20]:
        err_console.print(f"[yellow]unplaced[/] {item.workload}: {item.reason}")
    if len(res.infeasible_reasons) > 20:
        err_console.print(f"[yellow]... and {len(res.infeasible_reasons) - 20} more unplaced workloads[/]")
    for v in res.violations:
        err_console.print(f"[red]violation[/] {v.kind}: {v.detail}")
    if as_json:
        emit_json(res.contract())
        return
    typer.echo(f"{res.method} {res.status}: objective {res.objective:.6g}, lower bound {res.lower_bound:.6g}, "
               f"gap {res.gap:.2%}, {res.solve_s:.2f} s")
    typer.echo(f"SLO hit rate {res.slo_hit_rate:.1%} ({res.slo_violations} misses), energy {res.energy_kwh:.4g} kWh, "
               f"carbon {res.carbon_kg:.4g} kg (time shifting saved {res.carbon_saved_kg or 0:.4g} kg), "
               f"cost {res.cost:.4g}")
    typer.echo(f"{len(res.assignments)} placed, {len(res.infeasible_workloads)} unplaced, "
               f"{len(res.violations)} constraint violations")
    busiest = sorted(res.usage, key=lambda u: -u.compute_util)[:5]
    for u in busiest:
        typer.echo(f"  {u.tier:6} {u.node:28} compute {u.compute_util:6.1%}  memory {u.memory_util:6.1%}  "
                   f"{u.workloads} workloads")
    if plot is not None:
        typer.echo(f"plot written to {plot}")

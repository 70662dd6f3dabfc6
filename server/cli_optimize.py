"""``indagent optimize ...``: recommend chiller-plant and compressed-air setpoints; report past savings.

``chiller --json`` and ``compressor --json`` print the :class:`tools.optimization.OptimizationResult`
JSON; ``history --json`` the :class:`tools.optimization.SavingsReport`. These commands only
recommend: storing setpoints goes through the agent's approval (``write_setpoints``).
Bad arguments: one line on stderr, exit 2.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from knowledge.store import KnowledgeStore
from server.clikit import cli_errors, emit_json
from server.settings import get_settings
from tools.errors import ToolRetry
from tools.optimization import (
    OptimizationResult,
    optimization_savings,
    optimize_chiller_plant,
    optimize_compressed_air,
)
from tools.optimization.optimize import Objective
from tools.optimization.plot import write_plots
from tools.registry import ToolContext

__all__ = ["app"]

app = typer.Typer(help="Process optimization: chiller plant and compressed air setpoints.", no_args_is_help=True,
                  add_completion=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ObjectiveOpt = Annotated[Objective, typer.Option("--objective", help="energy | cost | carbon.")]
TariffOpt = Annotated[str, typer.Option("--tariff", help="Price per kWh: one value or comma-separated, one per hour.")]
CarbonOpt = Annotated[str, typer.Option("--carbon", help="Grid kg CO2/kWh: one value or comma-separated per hour.")]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Write a before/after plot: PATH.png and PATH.html.")]
ModelOpt = Annotated[str, typer.Option("--model", help="physics | surrogate (fitted to the KG's readings).")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="Knowledge graph file (default: the configured one).")]


def _floats(text: str, what: str) -> float | list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ToolRetry(f"{what} {text!r} must be a number or comma-separated numbers, e.g. 0.12,0.30") from None
    if not vals:
        raise ToolRetry(f"{what} is empty; give a number or comma-separated numbers.")
    return vals[0] if len(vals) == 1 else vals


def _model(text: str) -> str:
    if text not in ("physics", "surrogate"):
        raise ToolRetry(f"--model {text!r}: use 'physics' or 'surrogate'.")
    return text


def _ctx(db: Path | None, *, need: bool = False) -> ToolContext:
    settings = get_settings()
    path = db or settings.kg_path
    if not path.exists():
        if need:
            raise ToolRetry(f"No knowledge graph at {path}; run 'indagent kg demo' first or pass --db.")
        return ToolContext(kg=None, data_dir=settings.data_dir, actor="cli")
    return ToolContext(kg=KnowledgeStore(path, read_only=True), data_dir=settings.data_dir, actor="cli")


def _show(res: OptimizationResult, as_json: bool) -> None:
    if as_json:
        emit_json(res)
        return
    con = Console()
    s = res.saving
    con.print(f"[bold]{res.system}[/] ({res.model} model, objective {res.objective}): "
              f"{res.baseline_kw:.1f} kW → {res.optimized_kw:.1f} kW in the first hour")
    con.print(f"saving over {len(res.hours)} h: {s.kwh:.1f} kWh ({s.percent:.1f} %), {s.cost:.2f} cost, "
              f"{s.kg_co2:.1f} kg CO2; 90 % band {s.kwh_band.low:.1f}..{s.kwh_band.high:.1f} kWh")
    t = Table("asset", "tag", "current", "recommended", "unit")
    for sp in res.setpoints:
        t.add_row(sp.asset_id, sp.tag, "" if sp.current is None else f"{sp.current:g}", f"{sp.value:g}", sp.unit)
    con.print(t)
    con.print("binding constraints: " + (", ".join(res.binding_constraints) or "none"))
    for n in res.notes:
        con.print(f"[dim]{n}[/]")
    if res.plot_png:
        con.print(f"plots: {res.plot_png} {res.plot_html}")


@app.command("chiller")
@cli_errors
def chiller(
    load_kw: Annotated[str, typer.Option("--load-kw", help="Cooling load kW: one value or comma-separated per hour.")],
    wet_bulb: Annotated[str, typer.Option("--wet-bulb", help="Wet bulb °C: one value or comma-separated per hour.")],
    objective: ObjectiveOpt = "energy",
    tariff: TariffOpt = "0.15",
    carbon: CarbonOpt = "0.35",
    chws_min: Annotated[float, typer.Option("--chws-min", help="Lowest chilled-water supply °C.")] = 5.5,
    chws_max: Annotated[float, typer.Option("--chws-max", help="Highest chilled-water supply °C.")] = 9.0,
    current_chws: Annotated[float | None, typer.Option("--current-chws", help="Current chilled-water setpoint °C.")] = None,
    current_cws: Annotated[float | None, typer.Option("--current-cws", help="Current condenser setpoint °C.")] = None,
    ramp_chws: Annotated[float | None, typer.Option("--ramp-chws", help="Max chilled-water change K/h.")] = None,
    model: ModelOpt = "physics",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Recommend chilled-water/condenser setpoints, staging and load split."""
    ctx = _ctx(db, need=model == "surrogate")
    res = optimize_chiller_plant(ctx, _floats(load_kw, "--load-kw"), _floats(wet_bulb, "--wet-bulb"), objective=objective,
                                 tariff_per_kwh=_floats(tariff, "--tariff"), carbon_kg_per_kwh=_floats(carbon, "--carbon"),
                                 chws_min_c=chws_min, chws_max_c=chws_max, current_chws_c=current_chws,
                                 current_cws_c=current_cws, ramp_chws_c_per_h=ramp_chws, model=_model(model))  # type: ignore[arg-type]
    _show(write_plots(res, plot) if plot else res, as_json)


@app.command("compressor")
@cli_errors
def compressor(
    demand: Annotated[str, typer.Option("--demand", help="Air demand m³/min: one value or comma-separated per hour.")],
    min_pressure_bar: Annotated[float, typer.Option("--min-pressure-bar", help="Minimum barg at the furthest user.")] = 6.2,
    objective: ObjectiveOpt = "energy",
    tariff: TariffOpt = "0.15",
    carbon: CarbonOpt = "0.35",
    current_pressure: Annotated[float | None, typer.Option("--current-pressure", help="Current header setpoint barg.")] = None,
    ramp: Annotated[float | None, typer.Option("--ramp", help="Max header setpoint change bar/h.")] = None,
    model: ModelOpt = "physics",
    db: DbOpt = None,
    as_json: JsonOpt = False,
    plot: PlotOpt = None,
) -> None:
    """Recommend the header pressure and which compressors run at what load."""
    ctx = _ctx(db, need=model == "surrogate")
    res = optimize_compressed_air(ctx, _floats(demand, "--demand"), min_pressure_bar=min_pressure_bar, objective=objective,
                                  tariff_per_kwh=_floats(tariff, "--tariff"), carbon_kg_per_kwh=_floats(carbon, "--carbon"),
                                  current_pressure_bar=current_pressure, ramp_bar_per_h=ramp, model=_model(model))  # type: ignore[arg-type]
    _show(write_plots(res, plot) if plot else res, as_json)


@app.command("history")
@cli_errors
def history(
    start: Annotated[datetime | None, typer.Option("--start", help="Window start (default: 7 days before --end).")] = None,
    end: Annotated[datetime | None, typer.Option("--end", help="Window end (default: now, UTC).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the approved setpoints saved (predicted saving rate × hours in effect)."""
    ctx = _ctx(db, need=True)
    end_ = end or datetime.now(UTC).replace(tzinfo=None)
    rep = optimization_savings(ctx, start or end_ - timedelta(days=7), end_)
    if as_json:
        emit_json(rep)
        return
    con = Console()
    t = Table("run", "system", "applied", "by", "hours", "kWh", "cost", "kg CO2")
    for r in rep.runs:
        t.add_row(r.run_id, r.system, str(r.applied_at), r.approved_by or "", f"{r.hours_in_effect:.1f}", f"{r.kwh:.1f}",
                  f"{r.cost:.2f}", f"{r.kg_co2:.1f}")
    con.print(t)
    con.print(f"total: {rep.total_kwh:.1f} kWh, {rep.total_cost:.2f} cost, {rep.total_kg_co2:.1f} kg CO2 ({rep.basis})")
    for n in rep.notes:
        con.print(f"[dim]{n}[/]")

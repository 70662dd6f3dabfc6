"""The optimization tools the agents call: recommend setpoints, store approved ones, report savings."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy.optimize import brentq

from knowledge.store import KnowledgeStore
from tools.errors import ToolFailed, ToolRetry, did_you_mean
from tools.optimization.compressed_air import user_pressure_bar
from tools.optimization.kg import air_station_from_kg, chiller_plant_from_kg, training_frame
from tools.optimization.optimize import (
    HourPlan,
    Objective,
    OptimizationResult,
    Saving,
    Setpoint,
    Spread,
    SurrogateInfo,
    optimize_air,
    optimize_chillers,
)
from tools.optimization.surrogate import Surrogate, fit_surrogate, optimize_surrogate
from tools.registry import ToolContext, tool

__all__ = [
    "RunSaving",
    "SavingsReport",
    "SetpointIn",
    "StoredSetpoint",
    "WriteSetpointsResult",
    "optimization_savings",
    "optimize_chiller_plant",
    "optimize_compressed_air",
    "setpoint_limits",
    "write_setpoints",
]

ModelKind = Literal["physics", "surrogate"]
Scalars = float | list[float]


def _now(ctx: ToolContext) -> datetime:
    return ctx.now or datetime.now(UTC).replace(tzinfo=None)


def _latest_setpoint(kg: KnowledgeStore | None, tag: str) -> float | None:
    if kg is None:
        return None
    return kg.scalar("SELECT value FROM setpoints WHERE tag = ? ORDER BY applied_at DESC LIMIT 1", [tag])


def _plot(ctx: ToolContext, res: OptimizationResult) -> OptimizationResult:
    from tools.optimization.plot import write_plots

    if ctx.data_dir is None:
        return res.model_copy(update={"notes": [*res.notes, "No data_dir: plots not written."]})
    stamp = _now(ctx).strftime("%Y%m%dT%H%M%S")
    return write_plots(res, Path(ctx.data_dir) / "reports" / "optimization" / f"{res.system}-{stamp}")


def _surrogate_plan(sur: Surrogate, system: Literal["chiller", "compressed_air"], conditions: list[dict[str, float]],
                    bounds: list[dict[str, tuple[float, float]]], current: dict[str, float], setpoint_rows: list[Setpoint],
                    objective: Objective, tariff: list[float], carbon: list[float], seed: int) -> OptimizationResult:
    """Optimize on a surrogate hour by hour; band = ±1.645·√2·CV-RMSE per hour (summed, conservative)."""
    hours, notes = [], []
    for h, (cond, bnd) in enumerate(zip(conditions, bounds, strict=True)):
        opt = optimize_surrogate(sur, cond, bnd, budget=800, seed=seed + h)
        base_pt = cond | current
        flags = sur.check(base_pt)
        if flags:
            notes.append(f"hour {h}: the current setpoints are outside the data ({'; '.join(flags)}): baseline "
                         "prediction is an extrapolation.")
        base = float(sur.predict(np.array([[base_pt[f] for f in sur.features]]))[0])
        notes += [f"hour {h}: {n}" for n in opt.notes]
        hours.append(HourPlan(hour=h, load=next(iter(cond.values())), wet_bulb_c=cond.get("wet_bulb_c"),
                              tariff_per_kwh=tariff[h], carbon_kg_per_kwh=carbon[h], baseline_kw=base,
                              optimized_kw=opt.predicted, setpoints={k: round(v, 4) for k, v in opt.values.items()},
                              baseline_breakdown_kw={"plant (surrogate)": base},
                              optimized_breakdown_kw={"plant (surrogate)": opt.predicted},
                              binding_constraints=opt.binding, configuration="surrogate"))
    saved = np.array([h.baseline_kw - h.optimized_kw for h in hours])
    half = 1.645 * np.sqrt(2.0) * sur.cv_rmse
    t, c = np.array(tariff), np.array(carbon)
    band = lambda w: Spread(low=float(saved @ w - half * w.sum()), high=float(saved @ w + half * w.sum()))  # noqa: E731
    total_base = sum(h.baseline_kw for h in hours)
    saving = Saving(kwh=float(saved.sum()), cost=float(saved @ t), kg_co2=float(saved @ c),
                    percent=100 * float(saved.sum()) / total_base if total_base else 0.0,
                    kwh_band=band(np.ones(len(hours))), cost_band=band(t), kg_co2_band=band(c))
    first = hours[0].setpoints
    rows = [r.model_copy(update={"value": round(first[r.tag], 3)}) for r in setpoint_rows]
    return OptimizationResult(
        system=system, model="surrogate", objective=objective, setpoints=rows, hours=hours,
        baseline_kw=hours[0].baseline_kw, optimized_kw=hours[0].optimized_kw, saving=saving,
        binding_constraints=list(dict.fromkeys(b for h in hours for b in h.binding_constraints)),
        evaluations=0, method="differential-evolution", notes=notes,
        surrogate=SurrogateInfo(method=sur.method, n_samples=sur.n_samples, cv_rmse=sur.cv_rmse, cv_mape=sur.cv_mape,
                                features=sur.features,
                                box={f: (float(lo), float(hi)) for f, lo, hi in zip(sur.features, sur.lo, sur.hi, strict=True)}),
    )


def _series(v: Scalars, n: int) -> list[float]:
    return [float(v)] * n if isinstance(v, int | float) else [float(x) for x in v]


@tool(mutating=False, tags=("optimization",))
def optimize_chiller_plant(
    ctx: ToolContext,
    load_kw: Scalars,
    wet_bulb_c: Scalars,
    *,
    objective: Objective = "energy",
    tariff_per_kwh: Scalars = 0.15,
    carbon_kg_per_kwh: Scalars = 0.35,
    chws_min_c: float = 5.5,
    chws_max_c: float = 9.0,
    current_chws_c: float | None = None,
    current_cws_c: float | None = None,
    ramp_chws_c_per_h: float | None = None,
    model: ModelKind = "physics",
    plot: bool = False,
) -> OptimizationResult:
    """Recommend chiller-plant setpoints that cut energy, cost or carbon; read-only.

    Chilled-water supply, condenser water, staging and load split, with the predicted saving, its
    band and the binding constraints.

    Args:
        ctx: Tool context (knowledge graph, clock, data directory, actor).
        load_kw: Cooling load in kW thermal: one value, or one per hour of the horizon (e.g. tonight's hours).
        wet_bulb_c: Outdoor wet-bulb temperature in °C: one value or one per hour.
        objective: What to minimize: energy (kWh), cost (tariff) or carbon (grid intensity).
        tariff_per_kwh: Electricity price per kWh: one value or one per hour.
        carbon_kg_per_kwh: Grid carbon intensity in kg CO2/kWh: one value or one per hour.
        chws_min_c: Lowest allowed chilled-water supply temperature, °C (process band).
        chws_max_c: Highest allowed chilled-water supply temperature, °C (process band, e.g. dehumidification).
        current_chws_c: Current chilled-water setpoint, °C; default the last approved one, else 6.7.
        current_cws_c: Current condenser water setpoint, °C; default the last approved one, else 29.4.
        ramp_chws_c_per_h: Largest chilled-water setpoint change per hour, K; None for no limit.
        model: physics (first-principles model) or surrogate (fitted to the KG's readings, stays in the data's range).
        plot: Also write a before/after PNG and HTML under the data dir.
    """
    plant, notes = chiller_plant_from_kg(ctx.kg)
    chws0 = current_chws_c if current_chws_c is not None else (_latest_setpoint(ctx.kg, "chws_setpoint") or 6.7)
    cws0 = current_cws_c if current_cws_c is not None else (_latest_setpoint(ctx.kg, "cws_setpoint") or 29.4)
    if chws_min_c >= chws_max_c:
        raise ToolRetry(f"chws_min_c ({chws_min_c}) must be below chws_max_c ({chws_max_c}).")
    try:
        if model == "physics":
            res = optimize_chillers(plant, load_kw, wet_bulb_c, objective=objective, tariff_per_kwh=tariff_per_kwh,
                                    carbon_kg_per_kwh=carbon_kg_per_kwh, chws_band_c=(chws_min_c, chws_max_c),
                                    current_chws_c=chws0, current_cws_c=cws0, ramp_chws_c_per_h=ramp_chws_c_per_h)
        else:
            if ctx.kg is None:
                raise ToolFailed("model='surrogate' needs the knowledge graph's readings; use model='physics'.")
            sur = fit_surrogate(training_frame(ctx.kg, "chiller"), ["load_kw", "wet_bulb_c", "chws_c", "cws_c"], "power_kw")
            n = max([len(v) for v in (load_kw, wet_bulb_c, tariff_per_kwh, carbon_kg_per_kwh) if isinstance(v, list)],
                    default=1)
            loads, wbs = _series(load_kw, n), _series(wet_bulb_c, n)
            rows = [Setpoint(asset_id=c.asset_id, tag="chws_c", value=0.0, unit="degC", current=chws0)
                    for c in plant.chillers]
            rows.append(Setpoint(asset_id=plant.tower.asset_id, tag="cws_c", value=0.0, unit="degC", current=cws0))
            res = _surrogate_plan(sur, "chiller", [{"load_kw": q, "wet_bulb_c": w} for q, w in zip(loads, wbs, strict=True)],
                                  [{"chws_c": (chws_min_c, chws_max_c), "cws_c": (max(20.0, w + 0.5), 34.0)} for w in wbs],
                                  {"chws_c": chws0, "cws_c": cws0}, rows, objective, _series(tariff_per_kwh, n),
                                  _series(carbon_kg_per_kwh, n), 0)
            res.setpoints = [s.model_copy(update={"tag": s.tag.replace("_c", "_setpoint")}) for s in res.setpoints]
    except ValueError as exc:
        raise ToolRetry(str(exc)) from None
    res.notes = notes + res.notes
    return _plot(ctx, res) if plot else res


@tool(mutating=False, tags=("optimization",))
def optimize_compressed_air(
    ctx: ToolContext,
    demand_m3min: Scalars,
    *,
    min_pressure_bar: float = 6.2,
    objective: Objective = "energy",
    tariff_per_kwh: Scalars = 0.15,
    carbon_kg_per_kwh: Scalars = 0.35,
    current_pressure_bar: float | None = None,
    ramp_bar_per_h: float | None = None,
    model: ModelKind = "physics",
    plot: bool = False,
) -> OptimizationResult:
    """Recommend the compressed-air header pressure and compressor loads for the least power; read-only.

    Keeps the minimum pressure at the furthest user; says which compressors run at what load.

    Args:
        ctx: Tool context (knowledge graph, clock, data directory, actor).
        demand_m3min: Production air demand in m³/min free air: one value or one per hour.
        min_pressure_bar: Minimum pressure required at the furthest user, bar gauge.
        objective: What to minimize: energy (kWh), cost (tariff) or carbon (grid intensity).
        tariff_per_kwh: Electricity price per kWh: one value or one per hour.
        carbon_kg_per_kwh: Grid carbon intensity in kg CO2/kWh: one value or one per hour.
        current_pressure_bar: Current header setpoint, barg; default the last approved one, else 7.5.
        ramp_bar_per_h: Largest setpoint change per hour, bar; None for no limit.
        model: physics (first-principles model) or surrogate (fitted to the KG's readings, stays in the data's range).
        plot: Also write a before/after PNG and HTML under the data dir.
    """
    st, notes = air_station_from_kg(ctx.kg)
    p0 = current_pressure_bar if current_pressure_bar is not None else (_latest_setpoint(ctx.kg, "pressure_setpoint") or 7.5)
    try:
        if model == "physics":
            res = optimize_air(st, demand_m3min, min_user_pressure_bar=min_pressure_bar, objective=objective,
                               tariff_per_kwh=tariff_per_kwh, carbon_kg_per_kwh=carbon_kg_per_kwh,
                               current_pressure_bar=p0, ramp_bar_per_h=ramp_bar_per_h)
        else:
            if ctx.kg is None:
                raise ToolFailed("model='surrogate' needs the knowledge graph's readings; use model='physics'.")
            sur = fit_surrogate(training_frame(ctx.kg, "compressed_air"), ["demand_m3min", "pressure_bar"], "power_kw")
            dem = _series(demand_m3min, len(demand_m3min) if isinstance(demand_m3min, list) else 1)
            n = len(dem)
            # the minimum-pressure constraint uses the network model (pressure drop), the power the surrogate
            lows = [brentq(lambda p, d=d: user_pressure_bar(st, d, p) - min_pressure_bar, 0.0, 20.0) for d in dem]
            notes.append("Surrogate mode: header pressure floor from the network pressure-drop model "
                         f"({', '.join(f'{x:.3f}' for x in lows)} bar).")
            rows = [Setpoint(asset_id=c.asset_id, tag="pressure_bar", value=0.0, unit="barg", current=p0)
                    for c in st.compressors]
            res = _surrogate_plan(sur, "compressed_air", [{"demand_m3min": d} for d in dem],
                                  [{"pressure_bar": (lo, 9.5)} for lo in lows], {"pressure_bar": p0}, rows, objective,
                                  _series(tariff_per_kwh, n), _series(carbon_kg_per_kwh, n), 0)
            res.setpoints = [s.model_copy(update={"tag": "pressure_setpoint"}) for s in res.setpoints]
    except ValueError as exc:
        raise ToolRetry(str(exc)) from None
    res.notes = notes + res.notes
    return _plot(ctx, res) if plot else res


class SetpointIn(BaseModel):
    """A setpoint to store (as recommended by an optimize tool)."""

    asset_id: str = Field(description="Asset id, e.g. CHL-01, CT-01, CMP-03.")
    tag: str = Field(description="chws_setpoint | load_setpoint | cws_setpoint | pressure_setpoint | load_fraction")
    value: float
    unit: str | None = None


class StoredSetpoint(BaseModel):
    """A row of the ``setpoints`` table."""

    id: str
    asset_id: str
    tag: str
    value: float
    unit: str | None
    applied_at: datetime
    approved_by: str
    reason: str
    run_id: str


class WriteSetpointsResult(BaseModel):
    """What ``write_setpoints`` stored."""

    run_id: str
    applied_at: datetime
    approved_by: str
    rows: list[StoredSetpoint]


def setpoint_limits(kg: KnowledgeStore | None) -> dict[tuple[str, str], tuple[float, float, str]]:
    """(asset_id, tag) -> (lo, hi, unit): the equipment limits ``write_setpoints`` enforces.

    Args:
        kg: The knowledge store (its chillers/compressors), or None for the reference plant.
    """
    plant, _ = chiller_plant_from_kg(kg)
    st, _ = air_station_from_kg(kg)
    out: dict[tuple[str, str], tuple[float, float, str]] = {}
    for c in plant.chillers:
        out[(c.asset_id, "chws_setpoint")] = (*plant.chws_limits_c, "degC")
        out[(c.asset_id, "load_setpoint")] = (0.0, c.capacity_kw * 1.15, "kW")
    out[(plant.tower.asset_id, "cws_setpoint")] = (*plant.cws_limits_c, "degC")
    for cmp_ in st.compressors:
        out[(cmp_.asset_id, "pressure_setpoint")] = (st.pressure_limits_bar[0],
                                                     min(st.pressure_limits_bar[1], cmp_.max_pressure_bar), "barg")
        out[(cmp_.asset_id, "load_fraction")] = (0.0, 1.0, "fraction")
    return out


@tool(mutating=True, tags=("optimization",))
def write_setpoints(
    ctx: ToolContext,
    setpoints: list[SetpointIn],
    reason: str,
    *,
    run_id: str | None = None,
    system: Literal["chiller", "compressed_air"] = "chiller",
    predicted_saving_kw: float | None = None,
    tariff_per_kwh: float | None = None,
    carbon_kg_per_kwh: float | None = None,
) -> WriteSetpointsResult:
    """Store approved setpoints in the plant's setpoint log with who, when and why; checks equipment limits first. Needs approval.

    Args:
        ctx: Tool context (knowledge graph, clock, data directory, actor).
        setpoints: The setpoints to apply (asset_id, tag, value, unit), e.g. from optimize_chiller_plant.
        reason: Why: the goal and the predicted saving, in a sentence.
        run_id: Optimization or autonomous run id; generated when missing.
        system: Which system these setpoints belong to: chiller or compressed_air.
        predicted_saving_kw: Predicted saving rate in kW while these setpoints hold (for optimization_savings).
        tariff_per_kwh: Tariff used for the predicted cost saving, per kWh.
        carbon_kg_per_kwh: Grid carbon intensity used for the predicted CO2 saving, kg/kWh.
    """
    if ctx.kg is None or ctx.kg.read_only:
        raise ToolFailed("write_setpoints needs a writable knowledge store (the writer process).")
    if not setpoints:
        raise ToolRetry("No setpoints given; pass the 'setpoints' of an optimize_* result.")
    if not reason.strip():
        raise ToolRetry("Give a reason (why these setpoints): it is stored with them.")
    limits = setpoint_limits(ctx.kg)
    assets = sorted({a for a, _ in limits})
    for sp in setpoints:
        if sp.asset_id not in assets:
            raise ToolRetry(did_you_mean(sp.asset_id, assets, what="asset"))
        tags = sorted(t for a, t in limits if a == sp.asset_id)
        if (sp.asset_id, sp.tag) not in limits:
            raise ToolRetry(did_you_mean(sp.tag, tags, what=f"setpoint tag for {sp.asset_id}"))
        lo, hi, unit = limits[(sp.asset_id, sp.tag)]
        if sp.unit not in (None, unit):
            raise ToolRetry(f"{sp.asset_id} {sp.tag} is in {unit!r}, not {sp.unit!r}.")
        if not lo <= sp.value <= hi:
            raise ToolRetry(f"{sp.asset_id} {sp.tag}={sp.value:g} {unit} is outside the equipment limits "
                            f"[{lo:g}, {hi:g}] {unit}.")
    when = _now(ctx)
    rid = run_id or "opt-" + hashlib.sha1(f"{when.isoformat()}|{ctx.actor}|{reason}".encode()).hexdigest()[:12]
    props = json.dumps({"system": system, "predicted_saving_kw": predicted_saving_kw, "tariff_per_kwh": tariff_per_kwh,
                        "carbon_kg_per_kwh": carbon_kg_per_kwh})
    rows: list[StoredSetpoint] = []
    with ctx.kg.transaction() as con:
        for sp in setpoints:
            unit = limits[(sp.asset_id, sp.tag)][2]
            sid = "sp-" + hashlib.sha1(f"{rid}|{sp.asset_id}|{sp.tag}|{when.isoformat()}".encode()).hexdigest()[:16]
            con.execute("INSERT INTO setpoints (id, asset_id, tag, value, unit, applied_at, approved_by, reason, run_id, "
                        "props) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [sid, sp.asset_id, sp.tag, sp.value, unit, when, ctx.actor, reason, rid, props])
            rows.append(StoredSetpoint(id=sid, asset_id=sp.asset_id, tag=sp.tag, value=sp.value, unit=unit,
                                       applied_at=when, approved_by=ctx.actor, reason=reason, run_id=rid))
    return WriteSetpointsResult(run_id=rid, applied_at=when, approved_by=ctx.actor, rows=rows)


class RunSaving(BaseModel):
    """What one approved run of setpoints saved within the window (predicted rate × hours in effect)."""

    run_id: str
    system: str
    applied_at: datetime
    approved_by: str | None
    reason: str | None
    setpoints: int
    hours_in_effect: float
    saving_kw: float | None
    kwh: float
    cost: float
    kg_co2: float


class SavingsReport(BaseModel):
    """Savings of the approved setpoints in a window."""

    start: datetime
    end: datetime
    basis: Literal["predicted"] = "predicted"
    runs: list[RunSaving]
    total_kwh: float
    total_cost: float
    total_kg_co2: float
    notes: list[str] = []


@tool(mutating=False, tags=("optimization",))
def optimization_savings(ctx: ToolContext, start: datetime, end: datetime) -> SavingsReport:
    """What the approved setpoints saved between start and end (e.g. last week): per run, kWh, cost and kg CO2; read-only.

    Args:
        ctx: Tool context (knowledge graph, clock, data directory, actor).
        start: Window start (ISO date-time, UTC).
        end: Window end (ISO date-time, UTC), after start.
    """
    if end <= start:
        raise ToolRetry(f"end ({end}) must be after start ({start}).")
    if ctx.kg is None:
        raise ToolFailed("optimization_savings needs the knowledge graph (its setpoints table).")
    rows = ctx.kg.query("SELECT run_id, min(applied_at) AS applied_at, any_value(approved_by) AS approved_by, "
                        "any_value(reason) AS reason, count(*) AS n, any_value(props) AS props FROM setpoints "
                        "WHERE applied_at < ? GROUP BY run_id ORDER BY applied_at", [end])
    runs: list[RunSaving] = []
    notes: list[str] = []
    parsed = [(r, json.loads(r["props"]) if r["props"] else {}) for r in rows]
    for i, (r, p) in enumerate(parsed):
        system = p.get("system", "unknown")
        later = [q["applied_at"] for q, pp in parsed[i + 1:] if pp.get("system", "unknown") == system]
        until = min([end, *later])
        hours = max(0.0, (until - max(start, r["applied_at"])) / timedelta(hours=1))
        if hours <= 0:
            continue
        kw = p.get("predicted_saving_kw")
        if kw is None:
            notes.append(f"run {r['run_id']}: no predicted saving was stored with it; counted as 0.")
        kwh = (kw or 0.0) * hours
        runs.append(RunSaving(run_id=r["run_id"], system=system, applied_at=r["applied_at"], approved_by=r["approved_by"],
                              reason=r["reason"], setpoints=r["n"], hours_in_effect=round(hours, 3), saving_kw=kw,
                              kwh=kwh, cost=kwh * (p.get("tariff_per_kwh") or 0.0),
                              kg_co2=kwh * (p.get("carbon_kg_per_kwh") or 0.0)))
    if not runs:
        notes.append(f"No approved setpoints were in effect between {start} and {end}.")
    return SavingsReport(start=start, end=end, runs=runs, total_kwh=sum(r.kwh for r in runs),
                         total_cost=sum(r.cost for r in runs), total_kg_co2=sum(r.kg_co2 for r in runs), notes=notes)


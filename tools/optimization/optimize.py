"""Setpoint optimization of the chiller plant and the air station over one or more hours.

Each hour is one constrained problem (``problems.py``) solved by budgeted multi-start SLSQP
(``search.py``). Hours are solved in order; the ramp limits tie each hour to the setpoints chosen
for the hour before (the first hour to the current setpoints). The objective weights each hour's
kWh by 1 (``energy``), the hourly tariff (``cost``) or the grid carbon intensity (``carbon``).
Within one hour of these models the weight is a positive constant, so the setpoints that minimize
energy also minimize cost and carbon; the objective changes what is reported and ranked.

The saving is against the *baseline*: the current setpoints with the usual staging (chillers in
order at equal PLR; compressors in cascade). Its uncertainty band (5th–95th percentile) comes from
Monte Carlo over the model's parameters (COP/rated power ±5 %, auxiliaries ±10 %, leaks ±20 %,
load/demand ±5 %, wet bulb ±1 K), both operating points evaluated under the same draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from tools.optimization.chiller import (
    ChillerDecision,
    ChillerPlant,
    baseline_chiller_decision,
    chiller_plant_power,
)
from tools.optimization.compressed_air import (
    AirDecision,
    AirStation,
    air_station_power,
    baseline_air_decision,
)
from tools.optimization.problems import Band, air_problems, chiller_problems, decode_air, decode_chiller
from tools.optimization.search import binding, solve_slsqp

__all__ = [
    "HourPlan",
    "Objective",
    "OptimizationResult",
    "Saving",
    "Setpoint",
    "Spread",
    "SurrogateInfo",
    "optimize_air",
    "optimize_chillers",
]

Objective = Literal["energy", "cost", "carbon"]


class Setpoint(BaseModel):
    """One recommended setpoint (what ``write_setpoints`` stores once approved)."""

    asset_id: str
    tag: str
    value: float
    unit: str
    current: float | None = None


class Spread(BaseModel):
    """A 90 % band (5th and 95th percentile)."""

    low: float
    high: float


class Saving(BaseModel):
    """Predicted saving over the horizon against the baseline, with its uncertainty band."""

    kwh: float
    cost: float
    kg_co2: float
    percent: float
    kwh_band: Spread
    cost_band: Spread
    kg_co2_band: Spread


class HourPlan(BaseModel):
    """One hour of the plan."""

    hour: int
    load: float = Field(description="Cooling load kW (chiller) or air demand m³/min (compressed air).")
    wet_bulb_c: float | None = None
    tariff_per_kwh: float
    carbon_kg_per_kwh: float
    baseline_kw: float
    optimized_kw: float
    setpoints: dict[str, float]
    baseline_breakdown_kw: dict[str, float]
    optimized_breakdown_kw: dict[str, float]
    binding_constraints: list[str]
    configuration: str


class SurrogateInfo(BaseModel):
    """How the data-driven model that was used performs and where it may be trusted."""

    method: str
    n_samples: int
    cv_rmse: float
    cv_mape: float
    features: list[str]
    box: dict[str, tuple[float, float]]


class OptimizationResult(BaseModel):
    """Recommended setpoints, predicted saving with a band, binding constraints."""

    system: Literal["chiller", "compressed_air"]
    model: Literal["physics", "surrogate"]
    objective: Objective
    setpoints: list[Setpoint]
    hours: list[HourPlan]
    baseline_kw: float
    optimized_kw: float
    saving: Saving
    binding_constraints: list[str]
    evaluations: int
    method: str
    notes: list[str] = []
    surrogate: SurrogateInfo | None = None
    plot_png: str | None = None
    plot_html: str | None = None


def _series(v: float | Sequence[float], n: int, name: str) -> list[float]:
    vals = [float(v)] * n if isinstance(v, int | float) else [float(x) for x in v]
    if len(vals) != n:
        raise ValueError(f"{name} has {len(vals)} values but the horizon has {n} hours; give one value or {n}.")
    return vals


def _horizon(*vals: float | Sequence[float]) -> int:
    lens = [len(v) for v in vals if not isinstance(v, int | float)]
    return max(lens, default=1)


def _weights(objective: Objective, tariff: list[float], carbon: list[float]) -> list[float]:
    return {"energy": [1.0] * len(tariff), "cost": tariff, "carbon": carbon}[objective]


def _spread(x: np.ndarray) -> Spread:
    return Spread(low=float(np.percentile(x, 5)), high=float(np.percentile(x, 95)))


def _saving(base: list[float], opt: list[float], tariff: list[float], carbon: list[float], samples: np.ndarray) -> Saving:
    """``samples``: (n_samples, hours) of kW saved under perturbed models."""
    kwh = float(sum(base) - sum(opt))
    t, c = np.array(tariff), np.array(carbon)
    return Saving(
        kwh=kwh,
        cost=float(np.dot(np.array(base) - np.array(opt), t)),
        kg_co2=float(np.dot(np.array(base) - np.array(opt), c)),
        percent=100.0 * kwh / sum(base) if sum(base) > 0 else 0.0,
        kwh_band=_spread(samples.sum(axis=1)),
        cost_band=_spread(samples @ t),
        kg_co2_band=_spread(samples @ c),
    )


def _chiller_breakdown(plant: ChillerPlant, load: float, wb: float, d: ChillerDecision) -> dict[str, float]:
    pw = chiller_plant_power(plant, load, wb, d)
    out = {c.asset_id: kw for c, kw in zip(plant.chillers, pw.chillers_kw, strict=True)}
    out |= {"chw_pumps": pw.chw_pump_kw, "cw_pumps": pw.cw_pump_kw, plant.tower.asset_id + " fans": pw.fan_kw}
    return {k: round(v, 4) for k, v in out.items()}


def optimize_chillers(
    plant: ChillerPlant,
    load_kw: float | Sequence[float],
    wet_bulb_c: float | Sequence[float],
    *,
    objective: Objective = "energy",
    tariff_per_kwh: float | Sequence[float] = 0.15,
    carbon_kg_per_kwh: float | Sequence[float] = 0.35,
    chws_band_c: tuple[float, float] = (5.5, 9.0),
    cws_band_c: tuple[float, float] = (20.0, 34.0),
    current_chws_c: float = 6.7,
    current_cws_c: float = 29.4,
    ramp_chws_c_per_h: float | None = None,
    ramp_cws_c_per_h: float | None = None,
    budget: int = 2000,
    seed: int = 0,
    uncertainty_samples: int = 64,
) -> OptimizationResult:
    """Optimize chilled-water and condenser setpoints, staging and load split, hour by hour.

    Args:
        plant: The plant model.
        load_kw: Cooling load, kW thermal (one value or one per hour).
        wet_bulb_c: Outdoor wet bulb, °C (one value or one per hour).
        objective: ``energy``, ``cost`` or ``carbon``.
        tariff_per_kwh: Electricity price per kWh (one value or one per hour).
        carbon_kg_per_kwh: Grid carbon intensity, kg CO2 per kWh (one value or one per hour).
        chws_band_c: Allowed chilled-water supply band, °C (process constraint).
        cws_band_c: Allowed condenser water band, °C.
        current_chws_c: Current chilled-water setpoint (baseline and ramp start), °C.
        current_cws_c: Current condenser water setpoint, °C.
        ramp_chws_c_per_h: Largest chilled-water setpoint change per hour, K (None: no limit).
        ramp_cws_c_per_h: Largest condenser setpoint change per hour, K (None: no limit).
        budget: Model evaluations per hour.
        seed: Seed of the multi-start.
        uncertainty_samples: Monte Carlo draws for the saving band.
    """
    n = _horizon(load_kw, wet_bulb_c, tariff_per_kwh, carbon_kg_per_kwh)
    loads, wbs = _series(load_kw, n, "load_kw"), _series(wet_bulb_c, n, "wet_bulb_c")
    tariff, carbon = _series(tariff_per_kwh, n, "tariff"), _series(carbon_kg_per_kwh, n, "carbon")
    if min(loads) <= 0:
        raise ValueError("load_kw must be > 0 kW (the plant is off otherwise).")
    hours: list[HourPlan] = []
    decisions: list[tuple[ChillerDecision, ChillerDecision]] = []
    prev = (current_chws_c, current_cws_c)
    evals = 0
    for h in range(n):
        probs = chiller_problems(plant, loads[h], wbs[h], Band(*chws_band_c, prev[0], ramp_chws_c_per_h),
                                 Band(*cws_band_c, prev[1], ramp_cws_c_per_h))
        res = solve_slsqp(probs, budget=budget, seed=seed + h)
        evals += res.evaluations
        if res.x is None:
            raise ValueError(f"No feasible operating point for hour {h} (load {loads[h]:.0f} kW, wet bulb "
                             f"{wbs[h]:.1f} °C) within the bands; widen cws_band_c or the ramp limits.")
        prob = probs[res.problem]
        dec = decode_chiller(plant, loads[h], prob.payload, res.x)
        base = baseline_chiller_decision(plant, loads[h], chws_c=current_chws_c, cws_c=current_cws_c)
        bp = chiller_plant_power(plant, loads[h], wbs[h], base)
        sp = {"chws_c": dec.chws_c, "cws_c": dec.cws_c} | {
            f"load_kw {c.asset_id}": q for c, q in zip(plant.chillers, dec.loads_kw, strict=True)}
        hours.append(HourPlan(
            hour=h, load=loads[h], wet_bulb_c=wbs[h], tariff_per_kwh=tariff[h], carbon_kg_per_kwh=carbon[h],
            baseline_kw=bp.total_kw, optimized_kw=res.value, setpoints=sp,
            baseline_breakdown_kw=_chiller_breakdown(plant, loads[h], wbs[h], base),
            optimized_breakdown_kw=_chiller_breakdown(plant, loads[h], wbs[h], dec),
            binding_constraints=binding(prob, res.x), configuration=prob.label,
        ))
        decisions.append((base, dec))
        prev = (dec.chws_c, dec.cws_c)
    rng = np.random.default_rng(seed)
    samples = np.zeros((uncertainty_samples, n))
    for s in range(uncertainty_samples):
        pl = plant.scaled(cop=rng.normal(1, 0.05), pumps=rng.normal(1, 0.1), fan=rng.normal(1, 0.1))
        lf, dw = rng.normal(1, 0.05), rng.normal(0, 1.0)
        for h, (base, dec) in enumerate(decisions):
            b2, d2 = (ChillerDecision(d.chws_c, d.cws_c, tuple(q * lf for q in d.loads_kw)) for d in (base, dec))
            samples[s, h] = (chiller_plant_power(pl, loads[h] * lf, wbs[h] + dw, b2).total_kw
                             - chiller_plant_power(pl, loads[h] * lf, wbs[h] + dw, d2).total_kw)
    first = decisions[0][1]
    setpoints = [Setpoint(asset_id=c.asset_id, tag="chws_setpoint", value=round(first.chws_c, 3), unit="degC",
                          current=current_chws_c) for c, q in zip(plant.chillers, first.loads_kw, strict=True) if q > 0]
    setpoints += [Setpoint(asset_id=c.asset_id, tag="load_setpoint", value=round(q, 2), unit="kW",
                           current=round(b, 2)) for c, q, b in zip(plant.chillers, first.loads_kw,
                                                                    decisions[0][0].loads_kw, strict=True)]
    setpoints.append(Setpoint(asset_id=plant.tower.asset_id, tag="cws_setpoint", value=round(first.cws_c, 3),
                              unit="degC", current=current_cws_c))
    return _result("chiller", objective, setpoints, hours, tariff, carbon, samples, evals)


def _result(system: Literal["chiller", "compressed_air"], objective: Objective, setpoints: list[Setpoint],
            hours: list[HourPlan], tariff: list[float], carbon: list[float], samples: np.ndarray,
            evals: int) -> OptimizationResult:
    base = [hp.baseline_kw for hp in hours]
    opt = [hp.optimized_kw for hp in hours]
    w = _weights(objective, tariff, carbon)
    notes = []
    if len(hours) > 1:
        notes.append(f"Objective {objective}: weighted total {np.dot(opt, w):.2f} vs baseline {np.dot(base, w):.2f}.")
    if min(r.baseline_kw - r.optimized_kw for r in hours) < -1e-6:
        notes.append("In some hour the recommendation uses more power than the baseline: the baseline breaks "
                     "a constraint there (e.g. ramp limits or bands) that the recommendation respects.")
    bind = list(dict.fromkeys(b for hp in hours for b in hp.binding_constraints))
    return OptimizationResult(
        system=system, model="physics", objective=objective, setpoints=setpoints, hours=hours,
        baseline_kw=hours[0].baseline_kw, optimized_kw=hours[0].optimized_kw,
        saving=_saving(base, opt, tariff, carbon, samples), binding_constraints=bind, evaluations=evals,
        method="slsqp-multistart", notes=notes,
    )


def optimize_air(
    station: AirStation,
    demand_m3min: float | Sequence[float],
    *,
    min_user_pressure_bar: float = 6.2,
    objective: Objective = "energy",
    tariff_per_kwh: float | Sequence[float] = 0.15,
    carbon_kg_per_kwh: float | Sequence[float] = 0.35,
    pressure_band_bar: tuple[float, float] = (5.5, 9.5),
    current_pressure_bar: float = 7.5,
    ramp_bar_per_h: float | None = None,
    budget: int = 2000,
    seed: int = 0,
    uncertainty_samples: int = 64,
) -> OptimizationResult:
    """Optimize the header pressure setpoint and which compressors run at what load, hour by hour.

    Args:
        station: The station model.
        demand_m3min: Production air demand at the reference pressure, m³/min (one or one per hour).
        min_user_pressure_bar: Minimum pressure at the furthest user, barg.
        objective: ``energy``, ``cost`` or ``carbon``.
        tariff_per_kwh: Electricity price per kWh (one value or one per hour).
        carbon_kg_per_kwh: Grid carbon intensity, kg CO2 per kWh (one value or one per hour).
        pressure_band_bar: Allowed header pressure band, barg.
        current_pressure_bar: Current header setpoint (baseline and ramp start), barg.
        ramp_bar_per_h: Largest setpoint change per hour, bar (None: no limit).
        budget: Model evaluations per hour.
        seed: Seed of the multi-start.
        uncertainty_samples: Monte Carlo draws for the saving band.
    """
    n = _horizon(demand_m3min, tariff_per_kwh, carbon_kg_per_kwh)
    dem = _series(demand_m3min, n, "demand_m3min")
    tariff, carbon = _series(tariff_per_kwh, n, "tariff"), _series(carbon_kg_per_kwh, n, "carbon")
    if min(dem) <= 0:
        raise ValueError("demand_m3min must be > 0 m³/min.")
    hours: list[HourPlan] = []
    decisions: list[tuple[AirDecision, AirDecision]] = []
    prev, evals = current_pressure_bar, 0
    for h in range(n):
        probs = air_problems(station, dem[h], min_user_pressure_bar, Band(*pressure_band_bar, prev, ramp_bar_per_h))
        res = solve_slsqp(probs, budget=budget, seed=seed + h)
        evals += res.evaluations
        if res.x is None:
            raise ValueError(f"No header pressure keeps {min_user_pressure_bar} bar at the furthest user in hour {h} "
                             f"(demand {dem[h]:.1f} m³/min) within band {pressure_band_bar} and the ramp limit; "
                             "lower the minimum or widen the band.")
        prob = probs[res.problem]
        dec = decode_air(station, dem[h], prob.payload, res.x)
        base = baseline_air_decision(station, dem[h], pressure_bar=current_pressure_bar)
        bp = air_station_power(station, dem[h], base)
        op = air_station_power(station, dem[h], dec)
        sp = {"pressure_bar": dec.pressure_bar, "user_pressure_bar": op.user_pressure_bar} | {
            f"load {c.asset_id}": (f or 0.0) for c, f in zip(station.compressors, dec.loads, strict=True)}
        hours.append(HourPlan(
            hour=h, load=dem[h], tariff_per_kwh=tariff[h], carbon_kg_per_kwh=carbon[h], baseline_kw=bp.total_kw,
            optimized_kw=op.total_kw, setpoints=sp,
            baseline_breakdown_kw={c.asset_id: round(k, 4) for c, k in zip(station.compressors, bp.compressors_kw, strict=True)},
            optimized_breakdown_kw={c.asset_id: round(k, 4) for c, k in zip(station.compressors, op.compressors_kw, strict=True)},
            binding_constraints=binding(prob, res.x), configuration=prob.label,
        ))
        decisions.append((base, dec))
        prev = dec.pressure_bar
    rng = np.random.default_rng(seed)
    samples = np.zeros((uncertainty_samples, n))
    for s in range(uncertainty_samples):
        st = station.scaled(power=rng.normal(1, 0.05), leaks=rng.normal(1, 0.2), dp=rng.normal(1, 0.1))
        df = rng.normal(1, 0.05)
        for h, (base, dec) in enumerate(decisions):
            samples[s, h] = (air_station_power(st, dem[h] * df, base).total_kw
                             - air_station_power(st, dem[h] * df, dec).total_kw)
    first_base, first = decisions[0]
    p_up = math.ceil(first.pressure_bar * 1000 - 1e-9) / 1000  # rounded up: never below the minimum-pressure optimum
    setpoints = [Setpoint(asset_id=c.asset_id, tag="pressure_setpoint", value=p_up, unit="barg",
                          current=current_pressure_bar) for c, f in zip(station.compressors, first.loads, strict=True)
                 if f is not None]
    setpoints += [Setpoint(asset_id=c.asset_id, tag="load_fraction", value=round(f or 0.0, 4), unit="fraction",
                           current=round(b or 0.0, 4))
                  for c, f, b in zip(station.compressors, first.loads, first_base.loads, strict=True)]
    return _result("compressed_air", objective, setpoints, hours, tariff, carbon, samples, evals)

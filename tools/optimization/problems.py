"""Turn one hour of the chiller plant or air station into :class:`SubProblem` s (one per on-set).

Chiller sub-problem variables: ``chws_c``, ``cws_c`` and the PLR of every running chiller but the
last, which carries the rest of the load (so the load balance holds by construction and random
search samples only meaningful points). Air sub-problem variables: ``pressure_bar`` and the load
fraction of every running compressor but the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.optimization.chiller import (
    ChillerDecision,
    ChillerPlant,
    biquadratic,
    chiller_plant_power,
    feasible_chiller_subsets,
)
from tools.optimization.compressed_air import (
    AirDecision,
    AirStation,
    air_station_power,
    feasible_compressor_subsets,
    system_flow_m3min,
    user_pressure_bar,
)
from tools.optimization.search import SubProblem, Var

__all__ = ["Band", "air_problems", "chiller_problems", "decode_air", "decode_chiller", "ramped_var"]


@dataclass(frozen=True)
class Band:
    """A process band on a setpoint plus an optional ramp limit from the current value.

    Attributes:
        lo: Lowest allowed value.
        hi: Highest allowed value.
        current: Current setpoint (for the ramp limit), or None.
        ramp: Largest change per step from ``current`` (same unit per hour), or None.
    """

    lo: float
    hi: float
    current: float | None = None
    ramp: float | None = None


def ramped_var(name: str, equipment: tuple[float, float], band: Band, *, label: str) -> Var:
    """Intersect equipment limits, the process band and the ramp window; name the tightest bound.

    Args:
        name: Variable name.
        equipment: Equipment (lo, hi) limits.
        band: Process band and ramp.
        label: Human name used in constraint names.
    """
    los = [(equipment[0], f"equipment min {label}"), (band.lo, f"band min {label}")]
    his = [(equipment[1], f"equipment max {label}"), (band.hi, f"band max {label}")]
    if band.current is not None and band.ramp is not None:
        los.append((band.current - band.ramp, f"ramp down {label}"))
        his.append((band.current + band.ramp, f"ramp up {label}"))
    lo, lo_r = max(los, key=lambda t: t[0])
    hi, hi_r = min(his, key=lambda t: t[0])
    if lo > hi + 1e-9:
        raise ValueError(
            f"No feasible {label}: bounds give [{lo:.2f}, {hi:.2f}] ({lo_r} vs {hi_r}); widen the band or ramp limit."
        )
    return Var(name, lo, max(lo, hi), lo_r, hi_r)


def chiller_problems(
    plant: ChillerPlant, load_kw: float, wet_bulb_c: float, chws: Band, cws: Band
) -> list[SubProblem]:
    """One sub-problem per feasible set of running chillers.

    Args:
        plant: The plant.
        load_kw: Cooling load, kW thermal.
        wet_bulb_c: Wet bulb, °C.
        chws: Chilled-water supply band (and ramp).
        cws: Condenser water band (and ramp).
    """
    v_chws = ramped_var("chws_c", plant.chws_limits_c, chws, label="chilled-water supply °C")
    cws_band = Band(max(cws.lo, wet_bulb_c + 0.5), cws.hi, cws.current, cws.ramp)
    v_cws = ramped_var("cws_c", plant.cws_limits_c, cws_band, label="condenser water °C")
    out: list[SubProblem] = []
    t = plant.tower
    for sub in feasible_chiller_subsets(plant, load_kw):
        specs = [plant.chillers[i] for i in sub]
        names = "+".join(s.asset_id for s in specs)
        vars_ = [v_chws, v_cws] + [
            Var(f"plr_{s.asset_id}", s.plr_min, 1.0, "", f"{s.asset_id} full load") for s in specs[:-1]
        ]
        last = specs[-1]

        def evaluate(x: np.ndarray, sub: tuple[int, ...] = sub, specs: list = specs, last=last) -> tuple:
            d = decode_chiller(plant, load_kw, sub, x)
            pw = chiller_plant_power(plant, load_kw, wet_bulb_c, d)
            cap_last = last.capacity_kw * float(biquadratic(last.capft, x[0], x[1]))
            plr_last = d.loads_kw[sub[-1]] / cap_last
            rejection = load_kw + sum(pw.chillers_kw)
            approach_full = t.design_approach_c * rejection / t.design_rejection_kw
            g = np.array([plr_last - last.plr_min, 1.0 - plr_last, (x[1] - wet_bulb_c - approach_full) / 5.0])
            return pw.total_kw, g

        start = np.array([(v_chws.lo + v_chws.hi) / 2, (v_cws.lo + v_cws.hi) / 2])
        share = load_kw / sum(s.capacity_kw for s in specs)
        start = np.concatenate([start, np.clip([share] * (len(specs) - 1), [s.plr_min for s in specs[:-1]], 1.0)])
        out.append(
            SubProblem(
                label=names,
                vars=vars_,
                evaluate=evaluate,
                ineq_names=[f"{last.asset_id} minimum PLR", f"{last.asset_id} full load", "cooling tower at full fan speed"],
                start=start,
                payload=sub,
            )
        )
    if not out:
        raise ValueError(f"Load {load_kw:.0f} kW is outside what the plant can carry "
                         f"(capacity {plant.design_capacity_kw:.0f} kW).")
    return out


def decode_chiller(plant: ChillerPlant, load_kw: float, sub: tuple[int, ...], x: np.ndarray) -> ChillerDecision:
    """The :class:`ChillerDecision` of point ``x`` of the sub-problem for on-set ``sub``.

    Args:
        plant: The plant.
        load_kw: Cooling load, kW thermal.
        sub: Indices of the running chillers.
        x: ``[chws_c, cws_c, plr of each running chiller but the last]``.
    """
    chws, cws = float(x[0]), float(x[1])
    loads = [0.0] * len(plant.chillers)
    for i, plr in zip(sub[:-1], x[2:], strict=True):
        spec = plant.chillers[i]
        loads[i] = float(plr) * spec.capacity_kw * float(biquadratic(spec.capft, chws, cws))
    loads[sub[-1]] = load_kw - sum(loads)
    return ChillerDecision(chws_c=chws, cws_c=cws, loads_kw=tuple(loads))


def air_problems(st: AirStation, demand_m3min: float, min_user_pressure_bar: float, pressure: Band) -> list[SubProblem]:
    """One sub-problem per feasible set of running compressors.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        min_user_pressure_bar: Minimum pressure at the furthest user, barg.
        pressure: Band (and ramp) on the header setpoint.
    """
    out: list[SubProblem] = []
    q_hi = system_flow_m3min(st, demand_m3min, pressure.hi)
    q_lo = system_flow_m3min(st, demand_m3min, max(pressure.lo, st.pressure_limits_bar[0]))
    subsets = {s for q in (q_lo, q_hi) for s in feasible_compressor_subsets(st, q)}
    for sub in sorted(subsets, key=lambda s: (len(s), s)):
        specs = [st.compressors[i] for i in sub]
        eq_hi = min(st.pressure_limits_bar[1], *(s.max_pressure_bar for s in specs))
        v_p = ramped_var("pressure_bar", (st.pressure_limits_bar[0], eq_hi), pressure, label="header pressure bar")
        vars_ = [v_p] + [
            Var(f"load_{s.asset_id}", s.min_load, 1.0, f"{s.asset_id} minimum load", f"{s.asset_id} full load")
            for s in specs[:-1]
        ]
        last = specs[-1]

        def evaluate(x: np.ndarray, sub: tuple[int, ...] = sub, last=last) -> tuple:
            d = decode_air(st, demand_m3min, sub, x)
            pw = air_station_power(st, demand_m3min, d)
            f_last = d.loads[sub[-1]] or 0.0
            pu = user_pressure_bar(st, demand_m3min, float(x[0]))
            return pw.total_kw, np.array([f_last - last.min_load, 1.0 - f_last, pu - min_user_pressure_bar])

        q_mid = system_flow_m3min(st, demand_m3min, (v_p.lo + v_p.hi) / 2)
        share = q_mid / sum(s.capacity_m3min for s in specs)
        start = np.array([(v_p.lo + v_p.hi) / 2] + [min(1.0, max(s.min_load, share)) for s in specs[:-1]])
        out.append(
            SubProblem(
                label="+".join(s.asset_id for s in specs),
                vars=vars_,
                evaluate=evaluate,
                ineq_names=[f"{last.asset_id} minimum load", f"{last.asset_id} full load",
                            f"minimum pressure {min_user_pressure_bar:g} bar at the furthest user"],
                start=start,
                payload=sub,
            )
        )
    if not out:
        raise ValueError(f"Demand {demand_m3min:g} m³/min is outside what the station can deliver "
                         f"(capacity {st.capacity_m3min:g} m³/min).")
    return out


def decode_air(st: AirStation, demand_m3min: float, sub: tuple[int, ...], x: np.ndarray) -> AirDecision:
    """The :class:`AirDecision` of point ``x`` of the sub-problem for on-set ``sub``.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        sub: Indices of the running compressors.
        x: ``[pressure_bar, load fraction of each running compressor but the last]``.
    """
    p = float(x[0])
    loads: list[float | None] = [None] * len(st.compressors)
    q = system_flow_m3min(st, demand_m3min, p)
    rest = q
    for i, f in zip(sub[:-1], x[1:], strict=True):
        loads[i] = float(f)
        rest -= float(f) * st.compressors[i].capacity_m3min
    loads[sub[-1]] = rest / st.compressors[sub[-1]].capacity_m3min
    return AirDecision(pressure_bar=p, loads=tuple(loads))

"""Regret of the setpoint optimizer against the true optima of the first-principles models.

For each case (a load and a wet bulb for the chiller plant, a demand for the air station) we
compute three numbers with the same model:

- **true optimum**, never typed by hand, found exhaustively:

  * chiller plant: every feasible set of running chillers × a dense grid over the chilled-water
    and condenser setpoints (0.02 K × 0.05 K steps), with the load split solved *exactly* at each
    grid point (each chiller's power is convex in its load for fixed temperatures, so equal
    marginal cost — bisection on the multiplier — is the global optimum of the split), then the
    best grid points polished by Nelder–Mead on the two temperatures (exact split inside);
  * air station: every set of running compressors; the header pressure is the lowest that keeps
    the furthest user at its minimum (power and leaks rise with pressure for any split, so no
    higher pressure can be better; sets whose minimum loads need more flow get the lowest pressure
    that gives it), found by root bracketing; the split solved exactly by enumerating every
    KKT pattern (each unit at its minimum, at full load, or interior at equal marginal power —
    part-load curves are linear or convex, so this is the global optimum);

- **ours**: :func:`tools.optimization.search.solve_slsqp` within ``budget`` model evaluations;
- **random search** with the same evaluation budget, in the same run.

Regret = (ours − true) / true. The target is a median regret <= 1 %.
"""

from __future__ import annotations

import time
from itertools import combinations, product
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy.optimize import brentq, minimize

from tools.optimization.chiller import ChillerPlant, biquadratic, default_chiller_plant, feasible_chiller_subsets
from tools.optimization.compressed_air import (
    AirStation,
    compressor_power_kw,
    default_air_station,
    feasible_compressor_subsets,
    system_flow_m3min,
    user_pressure_bar,
)
from tools.optimization.problems import Band, air_problems, chiller_problems
from tools.optimization.search import solve_random, solve_slsqp

__all__ = ["RegretReport", "RegretRow", "air_true_optimum", "chiller_true_optimum", "regret_report"]

CHWS_BAND = (5.5, 9.0)
CWS_BAND = (20.0, 34.0)
MIN_USER_BAR = 6.2


def _dispatch_chillers(plant: ChillerPlant, sub: tuple[int, ...], load: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least chiller power (kW) for every grid point (x = chws, y = cws): exact convex dispatch."""
    caps, ks, coefs, mins = [], [], [], []
    for i in sub:
        s = plant.chillers[i]
        c = s.capacity_kw * biquadratic(s.capft, x, y)
        caps.append(c)
        ks.append(s.capacity_kw / s.cop_ref * biquadratic(s.capft, x, y) * biquadratic(s.eirft, x, y))
        coefs.append(s.eirfplr)
        mins.append(s.plr_min)
    # marginal power of chiller i at PLR p: k/c * (b + 2 a2 p); find lambda so that the loads add up.
    def plrs(lam: np.ndarray) -> list[np.ndarray]:
        return [np.clip((lam * c / k - co[1]) / (2 * co[2]), m, 1.0) for c, k, co, m in zip(caps, ks, coefs, mins, strict=True)]

    lo = np.zeros_like(x) - 10.0
    hi = np.zeros_like(x) + 10.0
    for _ in range(70):
        mid = (lo + hi) / 2
        tot = sum(p * c for p, c in zip(plrs(mid), caps, strict=True))
        lo = np.where(tot < load, mid, lo)
        hi = np.where(tot >= load, mid, hi)
    ps = plrs((lo + hi) / 2)
    tot = sum(p * c for p, c in zip(ps, caps, strict=True))
    power = sum(k * (co[0] + co[1] * p + co[2] * p * p) for p, k, co in zip(ps, ks, coefs, strict=True))
    return np.where(np.abs(tot - load) <= 1e-6 * load, power, np.inf)


def _chiller_total(plant: ChillerPlant, sub: tuple[int, ...], load: float, wb: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ch = _dispatch_chillers(plant, sub, load, x, y)
    dt = plant.chw_return_c - x
    pump = plant.chw_pump_design_kw * ((load / dt) / (plant.design_capacity_kw / plant.chw_design_dt_c)) ** 3
    t = plant.tower
    rej = load + ch
    approach = y - wb
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = (t.design_approach_c * rej / t.design_rejection_kw / approach) ** (1 / t.airflow_exponent)
    ok = (approach > 0) & (speed <= 1.0 + 1e-9) & (y >= wb + 0.5)
    fan = t.fan_power_kw * np.clip(speed, t.min_speed, 1.0) ** 3
    return np.where(ok, ch + pump + fan + plant.cw_pump_kw * len(sub), np.inf)


def chiller_true_optimum(plant: ChillerPlant, load_kw: float, wet_bulb_c: float,
                         *, chws_band: tuple[float, float] = CHWS_BAND, cws_band: tuple[float, float] = CWS_BAND) -> float:
    """Least plant power (kW) by exhaustive staging × dense temperature grid × exact split, polished.

    Args:
        plant: The plant.
        load_kw: Cooling load, kW thermal.
        wet_bulb_c: Wet bulb, °C.
        chws_band: Chilled-water supply band, °C.
        cws_band: Condenser water band, °C.
    """
    xlo, xhi = max(chws_band[0], plant.chws_limits_c[0]), min(chws_band[1], plant.chws_limits_c[1])
    ylo, yhi = max(cws_band[0], plant.cws_limits_c[0], wet_bulb_c + 0.5), min(cws_band[1], plant.cws_limits_c[1])
    xs = np.linspace(xlo, xhi, round((xhi - xlo) / 0.02) + 1)
    ys = np.linspace(ylo, yhi, round((yhi - ylo) / 0.05) + 1)
    gx, gy = np.meshgrid(xs, ys)
    best = np.inf
    for sub in feasible_chiller_subsets(plant, load_kw):
        tot = _chiller_total(plant, sub, load_kw, wet_bulb_c, gx, gy)
        j = int(np.argmin(tot))
        if not np.isfinite(tot.flat[j]):
            continue

        def f(v: np.ndarray, sub: tuple[int, ...] = sub) -> float:
            x = np.array([np.clip(v[0], xlo, xhi)])
            y = np.array([np.clip(v[1], ylo, yhi)])
            return float(_chiller_total(plant, sub, load_kw, wet_bulb_c, x, y)[0])

        res = minimize(f, [gx.flat[j], gy.flat[j]], method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-8})
        best = min(best, float(tot.flat[j]), float(res.fun))
    return best


def _air_split(st: AirStation, sub: tuple[int, ...], q: float, p: float) -> float:
    """Least power (kW) to deliver ``q`` m³/min at pressure ``p`` with on-set ``sub``: exact KKT enumeration.

    Each unit's power is ``R·(c0 + c1·f + c2·f²)`` (convex), so at the optimum every unit is at a
    bound or interior with equal marginal power per m³/min. We enumerate every lo/hi/interior
    pattern (3^k, k <= 4) and solve the interior units in closed form; at most one linear unit can
    be interior (it then sets the marginal cost and takes the remainder).
    """
    specs = [st.compressors[i] for i in sub]
    ratio = [compressor_power_kw(s, 1.0, p) / sum(s.part_load) for s in specs]  # R_i at pressure p
    best = np.inf
    for pattern in product("lhi", repeat=len(specs)):
        f = [s.min_load if st_ == "l" else 1.0 for s, st_ in zip(specs, pattern, strict=True)]
        inner = [i for i, st_ in enumerate(pattern) if st_ == "i"]
        rest = q - sum(f[i] * specs[i].capacity_m3min for i in range(len(specs)) if i not in inner)
        linear = [i for i in inner if specs[i].part_load[2] == 0.0]
        convex = [i for i in inner if specs[i].part_load[2] > 0.0]
        if not inner:
            if abs(rest) > 1e-9:
                continue
        elif len(linear) > 1:
            continue
        else:
            if linear:
                j = linear[0]
                lam = ratio[j] * specs[j].part_load[1] / specs[j].capacity_m3min
            else:
                num = rest + sum(specs[i].capacity_m3min * specs[i].part_load[1] / (2 * specs[i].part_load[2]) for i in convex)
                den = sum(specs[i].capacity_m3min**2 / (2 * specs[i].part_load[2] * ratio[i]) for i in convex)
                lam = num / den
            for i in convex:
                _, c1, c2 = specs[i].part_load
                f[i] = (lam * specs[i].capacity_m3min / ratio[i] - c1) / (2 * c2)
            if linear:
                j = linear[0]
                f[j] = (rest - sum(f[i] * specs[i].capacity_m3min for i in convex)) / specs[j].capacity_m3min
        if any(fi < s.min_load - 1e-9 or fi > 1 + 1e-9 for fi, s in zip(f, specs, strict=True)):
            continue
        if abs(sum(fi * s.capacity_m3min for fi, s in zip(f, specs, strict=True)) - q) > 1e-7 * max(q, 1):
            continue
        best = min(best, sum(compressor_power_kw(s, fi, p) for fi, s in zip(f, specs, strict=True)))
    return float(best)


def air_true_optimum(st: AirStation, demand_m3min: float, *, min_user_pressure_bar: float = MIN_USER_BAR,
                     band: tuple[float, float] = (5.5, 9.5)) -> float:
    """Least station power (kW): lowest feasible pressure per on-set, exact convex split.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        min_user_pressure_bar: Minimum pressure at the furthest user, barg.
        band: Band on the header pressure, barg.
    """
    plo = max(band[0], st.pressure_limits_bar[0])

    def slack(p: float) -> float:
        return user_pressure_bar(st, demand_m3min, p) - min_user_pressure_bar

    p_star = plo if slack(plo) >= 0 else brentq(slack, plo, 20.0, xtol=1e-10)
    best = np.inf
    n = len(st.compressors)
    for sub in feasible_compressor_subsets(st, system_flow_m3min(st, demand_m3min, p_star)):
        specs = [st.compressors[i] for i in sub]
        p_hi = min(band[1], st.pressure_limits_bar[1], *(s.max_pressure_bar for s in specs))
        if p_star > p_hi:
            continue
        best = min(best, _air_split(st, sub, system_flow_m3min(st, demand_m3min, p_star), p_star))
    # sets that only become feasible at a higher pressure (more flow to reach their minimum loads)
    for k in range(1, n + 1):
        for sub in combinations(range(n), k):
            specs = [st.compressors[i] for i in sub]
            need = sum(s.capacity_m3min * s.min_load for s in specs)
            q_star = system_flow_m3min(st, demand_m3min, p_star)
            p_hi = min(band[1], st.pressure_limits_bar[1], *(s.max_pressure_bar for s in specs))
            if need <= q_star or system_flow_m3min(st, demand_m3min, p_hi) < need:
                continue
            p2 = brentq(lambda p: system_flow_m3min(st, demand_m3min, p) - need, p_star, p_hi, xtol=1e-10)  # noqa: B023
            best = min(best, _air_split(st, sub, need, p2))
    return float(best)


class RegretRow(BaseModel):
    """One case of the regret report."""

    case: str
    system: Literal["chiller", "compressed_air"]
    true_kw: float
    ours_kw: float
    random_kw: float
    regret_ours: float
    regret_random: float
    evals_ours: int
    evals_random: int


class RegretReport(BaseModel):
    """Regret of our optimizer and of random search at the same budget, with the target."""

    budget: int
    seed: int
    cases: int
    median_regret_ours: float
    median_regret_random: float
    mean_regret_ours: float
    mean_regret_random: float
    max_regret_ours: float
    max_regret_random: float
    wins_vs_random: int
    target_median_regret: float = 0.01
    passed: bool
    wall_s: float
    rows: list[RegretRow]


def _cases(n: int, seed: int) -> list[tuple[Literal["chiller", "compressed_air"], float, float]]:
    """Deterministic (system, load/demand, wet bulb) cases, alternating chiller and air."""
    rng = np.random.default_rng(seed)
    out: list[tuple[Literal["chiller", "compressed_air"], float, float]] = []
    plant, st = default_chiller_plant(), default_air_station()
    for i in range(n):
        if i % 2 == 0:
            out.append(("chiller", float(rng.uniform(0.12, 0.92) * plant.design_capacity_kw), float(rng.uniform(8, 27))))
        else:
            out.append(("compressed_air", float(rng.uniform(0.15, 0.85) * st.capacity_m3min), 0.0))
    return out


def regret_report(*, cases: int = 16, budget: int = 1500, seed: int = 0) -> RegretReport:
    """Run the regret eval on ``cases`` generated conditions; ours vs random at equal ``budget``.

    Args:
        cases: How many cases (half chiller plant, half compressed air).
        budget: Model evaluations allowed to each method per case.
        seed: Seed for the cases and both searches.
    """
    t0 = time.perf_counter()
    plant, st = default_chiller_plant(), default_air_station()
    rows: list[RegretRow] = []
    for i, (system, level, wb) in enumerate(_cases(cases, seed)):
        if system == "chiller":
            probs = chiller_problems(plant, level, wb, Band(*CHWS_BAND), Band(*CWS_BAND))
            truth = chiller_true_optimum(plant, level, wb)
            name = f"chiller load={level:.0f}kW wb={wb:.1f}C"
        else:
            probs = air_problems(st, level, MIN_USER_BAR, Band(5.5, 9.5))
            truth = air_true_optimum(st, level)
            name = f"air demand={level:.1f}m3/min pmin={MIN_USER_BAR}bar"
        ours = solve_slsqp(probs, budget=budget, seed=seed + i)
        rand = solve_random(probs, budget=budget, seed=seed + i)
        rows.append(RegretRow(
            case=name, system=system, true_kw=truth, ours_kw=ours.value, random_kw=rand.value,
            regret_ours=max(0.0, (ours.value - truth) / truth), regret_random=max(0.0, (rand.value - truth) / truth),
            evals_ours=ours.evaluations, evals_random=rand.evaluations,
        ))
    ro = np.array([r.regret_ours for r in rows])
    rr = np.array([r.regret_random for r in rows])
    med = float(np.median(ro))
    return RegretReport(
        budget=budget, seed=seed, cases=len(rows),
        median_regret_ours=med, median_regret_random=float(np.median(rr)),
        mean_regret_ours=float(ro.mean()), mean_regret_random=float(rr.mean()),
        max_regret_ours=float(ro.max()), max_regret_random=float(rr.max()),
        wins_vs_random=int((ro < rr - 1e-9).sum()), passed=med <= 0.01,
        wall_s=round(time.perf_counter() - t0, 3), rows=rows,
    )

"""First-principles compressed-air station: compressors, header pressure, pressure drop, leaks.

Units: pressures in bar gauge (barg) unless named ``_abs``; flows in m³/min free air delivery (FAD);
power in kW.

- **Compression work** rises with the pressure ratio. For an N-stage compressor with polytropic
  exponent k (air, k = 1.4) the specific work is proportional to
  ``N·k/(k-1)·((p_abs/p_atm)^((k-1)/(N·k)) - 1)`` (ideal-gas compression, e.g. Çengel & Boles,
  *Thermodynamics*, ch. 7). Each compressor's power at another pressure is its rated power
  times the ratio of these works: about 6–8 % per bar near 7 barg, the figure the US DOE
  *Improving Compressed Air System Performance* sourcebook quotes (1 % per 2 psi).
- **Part-load power** ``P/P_full = c0 + c1·f + c2·f²`` of the load fraction f, per control type,
  approximating the part-load curves of the DOE sourcebook: inlet modulation ≈ 70 % power at no
  flow; load/unload with adequate storage ≈ linear from ~28 %; variable speed ≈ 8 % at no flow
  with its lowest specific power near 80 % speed.
- **Leaks** are choked orifices: their flow is proportional to the absolute upstream pressure.
  A share of the demand is *unregulated* (blow-offs, open tools) and rises with pressure the same
  way ("artificial demand").
- **Pressure drop** from the header to the furthest user (pipes, dryer, filters) scales with
  the square of the flow: ``dp = dp_design · (Q/Q_design)²``.

The constraint that matters is the pressure at the furthest user:
``p_set - dp(Q(p_set)) >= p_min_user``. Since power and leaks both rise with the setpoint, the
optimum sits on that constraint unless an equipment limit binds first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations
from typing import Literal

__all__ = [
    "PART_LOAD_CURVES",
    "P_ATM_BAR",
    "AirDecision",
    "AirPower",
    "AirStation",
    "CompressorSpec",
    "ControlType",
    "air_station_power",
    "baseline_air_decision",
    "compression_work",
    "compressor_power_kw",
    "default_air_station",
    "feasible_compressor_subsets",
    "system_flow_m3min",
    "user_pressure_bar",
]

P_ATM_BAR = 1.01325
K_AIR = 1.4
ControlType = Literal["vsd", "load_unload", "modulation"]

#: Part-load power fraction coefficients (c0, c1, c2) per control type (see module docstring).
PART_LOAD_CURVES: dict[str, tuple[float, float, float]] = {
    "vsd": (0.08, 0.80, 0.12),
    "load_unload": (0.28, 0.72, 0.0),
    "modulation": (0.70, 0.30, 0.0),
}


def compression_work(p_barg: float, stages: int = 1) -> float:
    """Specific ideal compression work from atmosphere to ``p_barg`` (dimensionless, ∝ kJ/kg).

    Args:
        p_barg: Discharge pressure, bar gauge.
        stages: Number of compression stages (with intercooling).
    """
    exp = (K_AIR - 1.0) / (stages * K_AIR)
    return stages * K_AIR / (K_AIR - 1.0) * (((p_barg + P_ATM_BAR) / P_ATM_BAR) ** exp - 1.0)


@dataclass(frozen=True)
class CompressorSpec:
    """One air compressor.

    Attributes:
        asset_id: KG asset id, e.g. ``CMP-01``.
        control: Capacity control: ``vsd``, ``load_unload`` or ``modulation``.
        capacity_m3min: Free air delivery at full load, m³/min.
        rated_power_kw: Shaft+motor power at full load and rated pressure, kW.
        rated_pressure_bar: Rated discharge pressure, barg.
        max_pressure_bar: Highest allowed discharge pressure, barg.
        min_load: Lowest load fraction while running (VSD turndown), 0..1.
        stages: Compression stages.
    """

    asset_id: str
    control: ControlType
    capacity_m3min: float
    rated_power_kw: float
    rated_pressure_bar: float = 7.5
    max_pressure_bar: float = 10.0
    min_load: float = 0.0
    stages: int = 1

    @property
    def part_load(self) -> tuple[float, float, float]:
        """(c0, c1, c2) of the part-load power fraction."""
        return PART_LOAD_CURVES[self.control]


def compressor_power_kw(spec: CompressorSpec, load_fraction: float, p_barg: float) -> float:
    """Power (kW) of one running compressor at load fraction ``f`` and discharge pressure ``p``.

    Args:
        spec: The compressor.
        load_fraction: Delivered flow / capacity, 0..1.
        p_barg: Discharge pressure, barg.
    """
    c0, c1, c2 = spec.part_load
    f = load_fraction
    ratio = compression_work(p_barg, spec.stages) / compression_work(spec.rated_pressure_bar, spec.stages)
    return spec.rated_power_kw * (c0 + c1 * f + c2 * f * f) * ratio


@dataclass(frozen=True)
class AirStation:
    """A compressed-air station and its network.

    Attributes:
        compressors: The compressors (in the sequencer's order).
        leak_m3min_ref: Leak flow at ``ref_pressure_bar``, m³/min.
        unregulated_share: Share of the demand that rises with pressure like a leak, 0..1.
        ref_pressure_bar: Pressure at which the demand and leaks are quoted, barg.
        dp_design_bar: Pressure drop header → furthest user at ``design_flow_m3min``, bar.
        design_flow_m3min: Flow at which ``dp_design_bar`` was measured, m³/min.
        pressure_limits_bar: Equipment limits of the header setpoint, barg.
    """

    compressors: tuple[CompressorSpec, ...]
    leak_m3min_ref: float = 6.0
    unregulated_share: float = 0.2
    ref_pressure_bar: float = 7.0
    dp_design_bar: float = 0.8
    design_flow_m3min: float = 60.0
    pressure_limits_bar: tuple[float, float] = (5.5, 9.5)

    @property
    def capacity_m3min(self) -> float:
        """Total capacity, m³/min."""
        return float(sum(c.capacity_m3min for c in self.compressors))

    def scaled(self, *, power: float = 1.0, leaks: float = 1.0, dp: float = 1.0) -> AirStation:
        """A copy with powers, leaks and pressure drop multiplied (for uncertainty sampling).

        Args:
            power: Factor on each compressor's rated power.
            leaks: Factor on the leak flow.
            dp: Factor on the design pressure drop.
        """
        return replace(
            self,
            compressors=tuple(replace(c, rated_power_kw=c.rated_power_kw * power) for c in self.compressors),
            leak_m3min_ref=self.leak_m3min_ref * leaks,
            dp_design_bar=self.dp_design_bar * dp,
        )


def system_flow_m3min(st: AirStation, demand_m3min: float, p_barg: float) -> float:
    """Total flow the compressors must deliver at header pressure ``p``: demand + leaks, m³/min.

    Args:
        st: The station.
        demand_m3min: Production demand quoted at the reference pressure, m³/min.
        p_barg: Header pressure, barg.
    """
    r = (p_barg + P_ATM_BAR) / (st.ref_pressure_bar + P_ATM_BAR)
    u = st.unregulated_share
    return demand_m3min * (1.0 - u) + demand_m3min * u * r + st.leak_m3min_ref * r


def user_pressure_bar(st: AirStation, demand_m3min: float, p_barg: float) -> float:
    """Pressure at the furthest user for header pressure ``p``, barg.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        p_barg: Header pressure, barg.
    """
    q = system_flow_m3min(st, demand_m3min, p_barg)
    return p_barg - st.dp_design_bar * (q / st.design_flow_m3min) ** 2


@dataclass(frozen=True)
class AirDecision:
    """An operating point: header pressure and each compressor's load fraction (None = off).

    Attributes:
        pressure_bar: Header pressure setpoint, barg.
        loads: Load fraction per compressor (station order); None when the compressor is off.
    """

    pressure_bar: float
    loads: tuple[float | None, ...]


@dataclass(frozen=True)
class AirPower:
    """Power of the station at one operating point.

    Attributes:
        total_kw: Total compressor power, kW.
        compressors_kw: Per compressor, kW (0 when off).
        flow_m3min: Flow delivered (demand + leaks), m³/min.
        leak_m3min: Leak flow, m³/min.
        user_pressure_bar: Pressure at the furthest user, barg.
        violations: Constraint violations (empty when feasible).
    """

    total_kw: float
    compressors_kw: tuple[float, ...]
    flow_m3min: float
    leak_m3min: float
    user_pressure_bar: float
    violations: tuple[str, ...] = ()


def air_station_power(
    st: AirStation, demand_m3min: float, d: AirDecision, *, min_user_pressure_bar: float | None = None
) -> AirPower:
    """Power of the station at operating point ``d``; lists violated constraints.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        d: Header pressure and load fractions.
        min_user_pressure_bar: Minimum pressure required at the furthest user, barg (None: unchecked).
    """
    viol: list[str] = []
    q_need = system_flow_m3min(st, demand_m3min, d.pressure_bar)
    kw: list[float] = []
    delivered = 0.0
    for spec, f in zip(st.compressors, d.loads, strict=True):
        if f is None:
            kw.append(0.0)
            continue
        if f > 1.0 + 1e-6 or f < spec.min_load - 1e-6:
            viol.append(f"{spec.asset_id} load {f:.3f} outside [{spec.min_load}, 1]")
        if d.pressure_bar > spec.max_pressure_bar + 1e-9:
            viol.append(f"{spec.asset_id} above its max pressure {spec.max_pressure_bar} bar")
        kw.append(compressor_power_kw(spec, f, d.pressure_bar))
        delivered += f * spec.capacity_m3min
    if abs(delivered - q_need) > 1e-6 * max(1.0, q_need):
        viol.append(f"delivered {delivered:.2f} m³/min != required {q_need:.2f} m³/min")
    pu = user_pressure_bar(st, demand_m3min, d.pressure_bar)
    if min_user_pressure_bar is not None and pu < min_user_pressure_bar - 1e-6:
        viol.append(f"furthest user at {pu:.3f} bar < {min_user_pressure_bar} bar")
    r = (d.pressure_bar + P_ATM_BAR) / (st.ref_pressure_bar + P_ATM_BAR)
    return AirPower(
        total_kw=float(sum(kw)),
        compressors_kw=tuple(float(x) for x in kw),
        flow_m3min=float(q_need),
        leak_m3min=float(st.leak_m3min_ref * r),
        user_pressure_bar=float(pu),
        violations=tuple(viol),
    )


def feasible_compressor_subsets(st: AirStation, flow_m3min: float) -> list[tuple[int, ...]]:
    """Sets of compressors (indices) whose capacity and turndown can deliver ``flow_m3min``.

    Args:
        st: The station.
        flow_m3min: Flow to deliver (a little above the demand covers leaks at higher pressure).
    """
    out: list[tuple[int, ...]] = []
    n = len(st.compressors)
    for k in range(1, n + 1):
        for sub in combinations(range(n), k):
            cap = sum(st.compressors[i].capacity_m3min for i in sub)
            lo = sum(st.compressors[i].capacity_m3min * st.compressors[i].min_load for i in sub)
            if cap >= flow_m3min and lo <= flow_m3min:
                out.append(sub)
    return out


def baseline_air_decision(st: AirStation, demand_m3min: float, *, pressure_bar: float = 7.5) -> AirDecision:
    """A cascade sequencer: base-load compressors in order at 100 %, the last one trims.

    Args:
        st: The station.
        demand_m3min: Production demand at the reference pressure, m³/min.
        pressure_bar: Current header setpoint, barg.
    """
    q = system_flow_m3min(st, demand_m3min, pressure_bar)
    loads: list[float | None] = []
    rest = q
    for spec in st.compressors:
        if rest <= 1e-9:
            loads.append(None)
            continue
        f = min(1.0, rest / spec.capacity_m3min)
        f = max(f, spec.min_load)
        loads.append(f)
        rest -= f * spec.capacity_m3min
    excess = -rest  # a trimming unit held at its minimum load: earlier units give way
    for i in range(len(loads) - 1, -1, -1):
        fi = loads[i]
        if excess <= 1e-12 or fi is None:
            continue
        spec = st.compressors[i]
        give = min(excess, (fi - spec.min_load) * spec.capacity_m3min)
        if give > 0 and i != max(j for j, x in enumerate(loads) if x is not None):
            loads[i] = fi - give / spec.capacity_m3min
            excess -= give
    if rest > 1e-6:
        raise ValueError(f"demand {demand_m3min} m³/min exceeds the station capacity {st.capacity_m3min} m³/min")
    return AirDecision(pressure_bar=pressure_bar, loads=tuple(loads))


def default_air_station() -> AirStation:
    """The reference station used when the KG has no compressors.

    CMP-01 and CMP-02: fixed-speed load/unload screws, 20 m³/min, 110 kW at 7.5 barg. CMP-03:
    variable-speed screw, 18 m³/min, 105 kW, turndown to 25 %. CMP-04: old modulating unit,
    12 m³/min, 75 kW.
    """
    return AirStation(
        compressors=(
            CompressorSpec("CMP-01", "load_unload", 20.0, 110.0),
            CompressorSpec("CMP-02", "load_unload", 20.0, 110.0),
            CompressorSpec("CMP-03", "vsd", 18.0, 105.0, min_load=0.25),
            CompressorSpec("CMP-04", "modulation", 12.0, 75.0, min_load=0.4),
        )
    )

"""First-principles chiller-plant model: chillers, chilled-water pumps, condenser pumps, cooling tower.

Units: temperatures in °C, thermal and electrical power in kW, flows as fractions of design.

Chillers follow the DOE-2 electric chiller model (the one EnergyPlus calls ``Chiller:Electric:EIR``)::

    CAPFT  = a + b·x + c·x² + d·y + e·y² + f·x·y          x = leaving chilled water °C
    EIRFT  = same biquadratic form                         y = entering condenser water °C
    PLR    = Q / (Q_ref · CAPFT)
    P_elec = (Q_ref / COP_ref) · CAPFT · EIRFT · EIRFPLR(PLR),   EIRFPLR = a + b·PLR + c·PLR²

The default coefficients are the DOE-2 centrifugal chiller curves ``CentCapFT``, ``CentEIRFT`` and
``CentEIRFPLR`` shipped in the EnergyPlus example/reference files (valid 5–10 °C leaving chilled
water, 24–35 °C entering condenser water; we extrapolate down to 20 °C condenser water, where
both curves stay monotone). Their part-load curve gives the lowest kW/kW near PLR ≈ 0.69, which is
what makes staging and load split matter.

Balance of plant (simplified, documented assumptions):

- Chilled-water pumps are variable speed. The coil return temperature is held at
  ``chw_return_c`` (coils with two-way valves), so the flow is ``Q / (cp·(T_return - T_supply))``
  and the pump power follows the affinity (cube) law on the flow fraction. A warmer supply saves
  chiller power but costs pump power: the chilled-water setpoint has an interior optimum.
- Condenser-water pumps are constant speed, one per running chiller (fixed kW each).
- The cooling tower's approach (leaving water minus wet bulb) scales with the heat rejected and
  with the airflow as ``approach = approach_design · (Q_rej / Q_rej,design) / s^n`` (s = fan speed
  fraction, n ≈ 0.7: the usual power-law fit of tower effectiveness–NTU data, see ASHRAE Handbook
  HVAC Systems & Equipment, ch. 40). Fan power follows the cube law ``P_fan,design · s³`` with a
  minimum speed; below it a bypass valve holds the setpoint. A colder condenser setpoint saves
  chiller power but costs fan power: the condenser setpoint also has an interior optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np

__all__ = [
    "CENT_CAPFT",
    "CENT_EIRFPLR",
    "CENT_EIRFT",
    "ChillerDecision",
    "ChillerPlant",
    "ChillerPower",
    "ChillerSpec",
    "CoolingTowerSpec",
    "baseline_chiller_decision",
    "biquadratic",
    "chiller_plant_power",
    "chiller_power_kw",
    "default_chiller_plant",
    "feasible_chiller_subsets",
]

#: DOE-2 centrifugal chiller capacity vs temperatures (EnergyPlus ``CentCapFT``), x = LCHWT °C, y = ECWT °C.
CENT_CAPFT: tuple[float, ...] = (0.257896, 0.0389016, -0.00021708, 0.0468684, -0.00094284, -0.00034344)
#: DOE-2 centrifugal chiller EIR vs temperatures (EnergyPlus ``CentEIRFT``).
CENT_EIRFT: tuple[float, ...] = (0.933884, -0.058212, 0.00450036, 0.00243, 0.000486, -0.001215)
#: DOE-2 centrifugal chiller EIR vs part-load ratio (EnergyPlus ``CentEIRFPLR``).
CENT_EIRFPLR: tuple[float, float, float] = (0.222903, 0.313387, 0.46371)

CP_WATER_KJ_PER_KG_K = 4.186


def biquadratic(coef: tuple[float, ...], x: float | np.ndarray, y: float | np.ndarray) -> float | np.ndarray:
    """Evaluate the DOE-2 biquadratic ``a + b·x + c·x² + d·y + e·y² + f·x·y``.

    Args:
        coef: The six coefficients (a..f).
        x: First variable (leaving chilled water °C).
        y: Second variable (entering condenser water °C).
    """
    a, b, c, d, e, f = coef
    return a + b * x + c * x * x + d * y + e * y * y + f * x * y


@dataclass(frozen=True)
class ChillerSpec:
    """One electric chiller (DOE-2 EIR model).

    Attributes:
        asset_id: KG asset id, e.g. ``CHL-01``.
        capacity_kw: Reference cooling capacity, kW thermal (at 6.67 °C / 29.44 °C).
        cop_ref: Reference COP (kW thermal per kW electric) at full load and reference temperatures.
        capft: CAPFT biquadratic coefficients.
        eirft: EIRFT biquadratic coefficients.
        eirfplr: EIRFPLR quadratic coefficients (a, b, c).
        plr_min: Minimum part-load ratio while running (surge/cycling limit).
    """

    asset_id: str
    capacity_kw: float
    cop_ref: float
    capft: tuple[float, ...] = CENT_CAPFT
    eirft: tuple[float, ...] = CENT_EIRFT
    eirfplr: tuple[float, float, float] = CENT_EIRFPLR
    plr_min: float = 0.2


@dataclass(frozen=True)
class CoolingTowerSpec:
    """The cooling tower (all cells together).

    Attributes:
        asset_id: KG asset id, e.g. ``CT-01``.
        fan_power_kw: Fan power at full speed, kW.
        design_approach_c: Approach at design heat rejection and full fan speed, K.
        design_rejection_kw: Design heat rejection, kW thermal.
        airflow_exponent: Exponent n of the approach-vs-airflow power law.
        min_speed: Minimum fan speed fraction.
    """

    asset_id: str = "CT-01"
    fan_power_kw: float = 45.0
    design_approach_c: float = 4.0
    design_rejection_kw: float = 4200.0
    airflow_exponent: float = 0.7
    min_speed: float = 0.2


@dataclass(frozen=True)
class ChillerPlant:
    """A chiller plant.

    Attributes:
        chillers: The chillers (in the operator's staging order).
        tower: The cooling tower.
        chw_pump_design_kw: Chilled-water pump power at design flow, kW.
        chw_design_dt_c: Design chilled-water temperature difference, K.
        chw_return_c: Coil return temperature (held by two-way valves), °C.
        cw_pump_kw: Constant-speed condenser pump power per running chiller, kW.
        chws_limits_c: Equipment limits of the leaving chilled-water setpoint, °C.
        cws_limits_c: Equipment limits of the entering condenser water setpoint, °C.
    """

    chillers: tuple[ChillerSpec, ...]
    tower: CoolingTowerSpec = field(default_factory=CoolingTowerSpec)
    chw_pump_design_kw: float = 40.0
    chw_design_dt_c: float = 5.5
    chw_return_c: float = 12.5
    cw_pump_kw: float = 15.0
    chws_limits_c: tuple[float, float] = (5.0, 10.0)
    cws_limits_c: tuple[float, float] = (20.0, 35.0)

    @property
    def design_capacity_kw(self) -> float:
        """Sum of the chillers' reference capacities, kW thermal."""
        return float(sum(c.capacity_kw for c in self.chillers))

    def chiller(self, asset_id: str) -> ChillerSpec:
        """The chiller with this asset id."""
        for c in self.chillers:
            if c.asset_id == asset_id:
                return c
        raise KeyError(asset_id)

    def scaled(self, *, cop: float = 1.0, pumps: float = 1.0, fan: float = 1.0) -> ChillerPlant:
        """A copy with COPs and auxiliary powers multiplied (for uncertainty sampling).

        Args:
            cop: Factor on every chiller's reference COP.
            pumps: Factor on pump powers.
            fan: Factor on the tower fan power.
        """
        return replace(
            self,
            chillers=tuple(replace(c, cop_ref=c.cop_ref * cop) for c in self.chillers),
            tower=replace(self.tower, fan_power_kw=self.tower.fan_power_kw * fan),
            chw_pump_design_kw=self.chw_pump_design_kw * pumps,
            cw_pump_kw=self.cw_pump_kw * pumps,
        )


@dataclass(frozen=True)
class ChillerDecision:
    """An operating point: setpoints and the load carried by each chiller (0 = off).

    Attributes:
        chws_c: Leaving chilled-water setpoint, °C.
        cws_c: Entering condenser water (tower leaving) setpoint, °C.
        loads_kw: Cooling load per chiller, kW thermal, in the plant's chiller order.
    """

    chws_c: float
    cws_c: float
    loads_kw: tuple[float, ...]


@dataclass(frozen=True)
class ChillerPower:
    """Electrical power of the plant at one operating point, kW.

    Attributes:
        total_kw: Everything below added up.
        chillers_kw: Per chiller (plant order).
        chw_pump_kw: Chilled-water pumps.
        cw_pump_kw: Condenser-water pumps.
        fan_kw: Cooling tower fans.
        fan_speed: Tower fan speed fraction (capped at 1).
        plr: Part-load ratio per chiller.
        violations: Constraint violations (empty when feasible).
    """

    total_kw: float
    chillers_kw: tuple[float, ...]
    chw_pump_kw: float
    cw_pump_kw: float
    fan_kw: float
    fan_speed: float
    plr: tuple[float, ...]
    violations: tuple[str, ...] = ()


def chiller_power_kw(spec: ChillerSpec, load_kw: float, chws_c: float, cws_c: float) -> tuple[float, float]:
    """Electrical power (kW) and part-load ratio of one chiller carrying ``load_kw``.

    Args:
        spec: The chiller.
        load_kw: Cooling load, kW thermal (> 0).
        chws_c: Leaving chilled-water temperature, °C.
        cws_c: Entering condenser water temperature, °C.
    """
    capft = float(biquadratic(spec.capft, chws_c, cws_c))
    eirft = float(biquadratic(spec.eirft, chws_c, cws_c))
    plr = load_kw / (spec.capacity_kw * capft)
    a, b, c = spec.eirfplr
    p = max(plr, spec.plr_min)  # below the minimum the chiller false-loads (hot-gas bypass)
    return spec.capacity_kw / spec.cop_ref * capft * eirft * (a + b * p + c * p * p), plr


def chiller_plant_power(plant: ChillerPlant, load_kw: float, wet_bulb_c: float, d: ChillerDecision) -> ChillerPower:
    """Electrical power of the whole plant at operating point ``d``.

    Args:
        plant: The plant.
        load_kw: Total cooling load, kW thermal.
        wet_bulb_c: Outdoor wet-bulb temperature, °C.
        d: Setpoints and load split.
    """
    viol: list[str] = []
    ch_kw: list[float] = []
    plrs: list[float] = []
    for spec, q in zip(plant.chillers, d.loads_kw, strict=True):
        if q <= 0.0:
            ch_kw.append(0.0)
            plrs.append(0.0)
            continue
        p, plr = chiller_power_kw(spec, q, d.chws_c, d.cws_c)
        if plr > 1.0 + 1e-6:
            viol.append(f"{spec.asset_id} over capacity (PLR {plr:.3f})")
        if plr < spec.plr_min - 1e-6:
            viol.append(f"{spec.asset_id} below minimum PLR ({plr:.3f} < {spec.plr_min})")
        ch_kw.append(p)
        plrs.append(plr)
    if abs(sum(d.loads_kw) - load_kw) > 1e-6 * max(1.0, load_kw):
        viol.append(f"load split {sum(d.loads_kw):.1f} kW != load {load_kw:.1f} kW")
    n_on = sum(1 for q in d.loads_kw if q > 0)
    dt = plant.chw_return_c - d.chws_c
    design_flow = plant.design_capacity_kw / plant.chw_design_dt_c
    flow_frac = (load_kw / dt) / design_flow if dt > 0 else float("inf")
    chw_pump = plant.chw_pump_design_kw * flow_frac**3
    rejection = load_kw + sum(ch_kw)
    approach = d.cws_c - wet_bulb_c
    t = plant.tower
    if approach <= 0:
        speed_needed = float("inf")
    else:
        speed_needed = (t.design_approach_c * rejection / t.design_rejection_kw / approach) ** (1.0 / t.airflow_exponent)
    if speed_needed > 1.0 + 1e-6:
        viol.append(f"tower cannot reach {d.cws_c:.2f} °C at wet bulb {wet_bulb_c:.1f} °C")
    speed = min(max(speed_needed, t.min_speed), 1.0)
    fan = t.fan_power_kw * speed**3
    cw_pump = plant.cw_pump_kw * n_on
    total = sum(ch_kw) + chw_pump + cw_pump + fan
    return ChillerPower(
        total_kw=float(total),
        chillers_kw=tuple(float(x) for x in ch_kw),
        chw_pump_kw=float(chw_pump),
        cw_pump_kw=float(cw_pump),
        fan_kw=float(fan),
        fan_speed=float(speed),
        plr=tuple(float(x) for x in plrs),
        violations=tuple(viol),
    )


def feasible_chiller_subsets(plant: ChillerPlant, load_kw: float, *, margin: float = 1.1) -> list[tuple[int, ...]]:
    """Sets of chillers (indices) that can carry ``load_kw`` within their PLR limits.

    Uses a generous capacity margin for the temperature effect (CAPFT ranges ~0.9..1.1).

    Args:
        plant: The plant.
        load_kw: Total cooling load, kW thermal.
        margin: Factor on the reference capacity allowed for CAPFT > 1.
    """
    out: list[tuple[int, ...]] = []
    n = len(plant.chillers)
    for k in range(1, n + 1):
        for sub in combinations(range(n), k):
            cap = sum(plant.chillers[i].capacity_kw for i in sub)
            min_load = sum(plant.chillers[i].capacity_kw * plant.chillers[i].plr_min for i in sub)
            if cap * margin >= load_kw and min_load * 0.9 <= load_kw:
                out.append(sub)
    return out


def baseline_chiller_decision(
    plant: ChillerPlant, load_kw: float, *, chws_c: float = 6.7, cws_c: float = 29.4
) -> ChillerDecision:
    """The usual fixed-setpoint practice: stage chillers in order, share the load at equal PLR.

    Args:
        plant: The plant.
        load_kw: Total cooling load, kW thermal.
        chws_c: Current chilled-water setpoint, °C.
        cws_c: Current condenser water setpoint, °C.
    """
    caps = [float(biquadratic(c.capft, chws_c, cws_c)) * c.capacity_kw for c in plant.chillers]
    k, acc = 0, 0.0
    while k < len(caps) and acc < load_kw:
        acc += caps[k]
        k += 1
    loads = [caps[i] / acc * load_kw if i < k else 0.0 for i in range(len(caps))]
    return ChillerDecision(chws_c=chws_c, cws_c=cws_c, loads_kw=tuple(loads))


def default_chiller_plant() -> ChillerPlant:
    """The reference plant used when the KG has no chillers: two large centrifugal + one small.

    CHL-01/CHL-02: 1400 kW centrifugal, COP 5.8 and 5.5 (DOE-2 curves). CHL-03: 700 kW with a
    flatter part-load curve (illustrative variable-speed variant, not a catalogue curve).
    """
    return ChillerPlant(
        chillers=(
            ChillerSpec("CHL-01", 1400.0, 5.8),
            ChillerSpec("CHL-02", 1400.0, 5.5),
            ChillerSpec("CHL-03", 700.0, 5.2, eirfplr=(0.12, 0.38, 0.50), plr_min=0.15),
        )
    )

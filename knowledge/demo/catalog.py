"""Static catalogue of the demo plant: sensor specs per asset class, the FMEA, products.

Everything here is data; :mod:`knowledge.demo.plant` turns it into nodes and edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CLASSES",
    "FMEA",
    "PRODUCTS",
    "REMEDIES",
    "SENSOR_SPECS",
    "FailureModeSpec",
    "ProductSpec",
    "RemedySpec",
    "SensorSpec",
]

SensorType = Literal["temperature", "vibration", "current", "pressure", "flow", "power", "speed"]


@dataclass(frozen=True)
class SensorSpec:
    """A sensor type on an asset class: unit, idle/loaded levels, noise and alarm limits."""

    type: SensorType
    unit: str
    idle: float
    load: float
    sd: float
    alarm_high: float | None = None
    alarm_low: float | None = None
    annual_amp: float = 0.0  # summer peak (utilities follow the ambient temperature)
    daily_amp: float = 0.0  # afternoon peak

    @property
    def normal_low(self) -> float:
        """Lower edge of the normal operating band."""
        return round(max(0.0, min(self.idle, self.load) - 4 * self.sd - self.annual_amp - self.daily_amp), 3)

    @property
    def normal_high(self) -> float:
        """Upper edge of the normal operating band."""
        return round(max(self.idle, self.load) + 4 * self.sd + self.annual_amp + self.daily_amp, 3)


def _s(t: SensorType, unit: str, idle: float, load: float, sd: float, **kw: float) -> SensorSpec:
    return SensorSpec(type=t, unit=unit, idle=idle, load=load, sd=sd, **kw)


CLASSES: tuple[str, ...] = ("cnc", "press", "robot", "chiller", "compressor", "pump", "conveyor")

SENSOR_SPECS: dict[str, tuple[SensorSpec, ...]] = {
    "cnc": (
        _s("temperature", "degC", 28, 42, 0.8, alarm_high=65, daily_amp=1.0),
        _s("vibration", "mm/s", 0.8, 2.2, 0.15, alarm_high=7.1),
        _s("current", "A", 4, 22, 0.8, alarm_high=40),
        _s("power", "kW", 2, 14, 0.5, alarm_high=25),
        _s("speed", "rpm", 0, 8000, 80, alarm_low=5000),
    ),
    "press": (
        _s("temperature", "degC", 35, 48, 0.7, alarm_high=70, daily_amp=1.0),
        _s("pressure", "bar", 160, 180, 2.5, alarm_low=130, alarm_high=220),
        _s("vibration", "mm/s", 1.0, 3.5, 0.2, alarm_high=9.0),
        _s("current", "A", 10, 45, 1.5, alarm_high=80),
        _s("power", "kW", 5, 30, 1.0, alarm_high=55),
    ),
    "robot": (
        _s("temperature", "degC", 30, 45, 0.7, alarm_high=75, daily_amp=0.8),
        _s("vibration", "mm/s", 0.5, 1.8, 0.1, alarm_high=6.0),
        _s("current", "A", 2, 12, 0.5, alarm_high=25),
        _s("power", "kW", 0.5, 6, 0.3, alarm_high=12),
    ),
    "chiller": (
        _s("temperature", "degC", 7.0, 7.2, 0.15, alarm_high=10, daily_amp=0.2),
        _s("pressure", "bar", 12, 15, 0.3, alarm_high=20, alarm_low=8, annual_amp=1.5),
        _s("flow", "m3/h", 80, 82, 1.5, alarm_low=55),
        _s("power", "kW", 40, 110, 3.0, alarm_high=170, annual_amp=20, daily_amp=5),
        _s("vibration", "mm/s", 1.2, 2.0, 0.12, alarm_high=7.1),
    ),
    "compressor": (
        _s("pressure", "bar", 7.0, 7.0, 0.08, alarm_low=6.0, alarm_high=8.5),
        _s("temperature", "degC", 70, 85, 1.0, alarm_high=110, annual_amp=3, daily_amp=1.5),
        _s("vibration", "mm/s", 1.5, 2.5, 0.15, alarm_high=7.1),
        _s("power", "kW", 20, 75, 2.0, alarm_high=110),
        _s("current", "A", 35, 130, 3.0, alarm_high=190),
    ),
    "pump": (
        _s("flow", "m3/h", 85, 95, 1.5, alarm_low=60),
        _s("pressure", "bar", 3.5, 3.8, 0.05, alarm_low=2.5, alarm_high=5.0),
        _s("vibration", "mm/s", 1.8, 2.2, 0.12, alarm_high=7.1),
        _s("current", "A", 18, 22, 0.6, alarm_high=35, alarm_low=8),
        _s("temperature", "degC", 40, 45, 0.6, alarm_high=80, annual_amp=2),
    ),
    "conveyor": (
        _s("speed", "m/min", 0, 30, 0.3, alarm_low=20),
        _s("current", "A", 1, 6, 0.2, alarm_high=12),
        _s("vibration", "mm/s", 0.6, 1.2, 0.08, alarm_high=4.5),
        _s("temperature", "degC", 25, 38, 0.6, alarm_high=70, daily_amp=0.8),
    ),
}


@dataclass(frozen=True)
class RemedySpec:
    """A repair action: how long it takes, which parts, what it costs."""

    name: str
    duration_h: float
    parts: tuple[str, ...]
    cost: float


@dataclass(frozen=True)
class FailureModeSpec:
    """One FMEA row: failure mode of an asset class with symptoms and remedies."""

    slug: str
    name: str
    code: str
    component: str
    severity: int
    occurrence: int
    detection: int
    onset: Literal["gradual", "abrupt"]
    symptoms: tuple[tuple[SensorType, Literal["up", "down"], float], ...]
    remedies: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)


REMEDIES: dict[str, RemedySpec] = {
    "replace_spindle_bearing": RemedySpec("Replace spindle bearing set", 8, ("spindle bearing set",), 4200),
    "flush_coolant_system": RemedySpec("Flush and refill coolant system", 3, ("coolant 200 l", "coolant filter"), 650),
    "replace_cutting_tool": RemedySpec("Replace cutting tool and re-measure", 0.5, ("cutting insert",), 120),
    "replace_spindle_motor": RemedySpec("Replace spindle motor", 12, ("spindle motor",), 9800),
    "replace_hydraulic_seals": RemedySpec("Replace hydraulic seals and top up oil", 6, ("seal kit", "hydraulic oil 50 l"), 1500),
    "overhaul_hydraulic_pump": RemedySpec("Overhaul hydraulic pump", 10, ("pump repair kit",), 5200),
    "clean_oil_cooler": RemedySpec("Clean oil cooler and check thermostat", 4, ("cooler gasket",), 480),
    "replace_clutch_linings": RemedySpec("Replace clutch/brake linings", 6, ("clutch lining set",), 2300),
    "replace_gearbox": RemedySpec("Replace axis gearbox", 6, ("axis gearbox",), 6100),
    "service_servo_cooling": RemedySpec("Service servo cooling fan and clean filters", 2, ("cooling fan",), 260),
    "replace_cable_harness": RemedySpec("Replace dress-pack cable harness", 3, ("cable harness",), 1400),
    "repair_refrigerant_leak": RemedySpec(
        "Locate and repair refrigerant leak, recharge", 6, ("refrigerant R134a 10 kg", "brazing kit"), 2100
    ),
    "clean_condenser": RemedySpec("Clean condenser tubes", 4, ("tube brushes",), 700),
    "replace_compressor_bearing": RemedySpec("Replace compressor bearings", 10, ("bearing set",), 3900),
    "clean_strainer": RemedySpec("Clean chilled-water strainer", 2, ("strainer gasket",), 150),
    "repair_air_leak": RemedySpec("Locate and repair compressed-air leak", 3, ("fittings", "hose"), 300),
    "replace_valve_plate": RemedySpec("Replace valve plate", 5, ("valve plate kit",), 1800),
    "replace_intake_filter": RemedySpec("Replace intake filter", 1, ("intake filter",), 90),
    "restore_suction_conditions": RemedySpec("Restore suction conditions and vent pump", 2, (), 200),
    "replace_pump_bearing": RemedySpec("Replace pump bearings", 5, ("pump bearing set",), 950),
    "replace_mechanical_seal": RemedySpec("Replace mechanical seal", 4, ("mechanical seal",), 780),
    "replace_impeller": RemedySpec("Replace impeller", 6, ("impeller",), 1650),
    "realign_belt": RemedySpec("Re-align and re-tension belt", 1, (), 80),
    "replace_drive_motor": RemedySpec("Replace drive motor", 4, ("gear motor",), 2400),
    "replace_rollers": RemedySpec("Replace worn rollers", 3, ("roller set",), 600),
}


def _fm(slug: str, name: str, code: str, comp: str, sod: tuple[int, int, int], onset: str,
        symptoms: tuple[tuple[str, str, float], ...], remedies: tuple[str, ...]) -> FailureModeSpec:
    return FailureModeSpec(slug, name, code, comp, sod[0], sod[1], sod[2], onset, symptoms, remedies)  # type: ignore[arg-type]


FMEA: dict[str, tuple[FailureModeSpec, ...]] = {
    "cnc": (
        _fm("spindle_bearing_wear", "Spindle bearing wear", "BRG-WEAR", "spindle bearing", (8, 5, 4), "gradual",
            (("vibration", "up", 0.9), ("temperature", "up", 0.7), ("current", "up", 0.3)), ("replace_spindle_bearing",)),
        _fm("coolant_failure", "Coolant supply failure", "COOL-FAIL", "coolant system", (6, 4, 3), "abrupt",
            (("temperature", "up", 0.9), ("power", "up", 0.3)), ("flush_coolant_system",)),
        _fm("tool_wear", "Cutting tool wear", "TOOL-WEAR", "cutting tool", (4, 8, 5), "gradual",
            (("current", "up", 0.8), ("power", "up", 0.6), ("vibration", "up", 0.5)), ("replace_cutting_tool",)),
        _fm("spindle_motor_overload", "Spindle motor overload", "MTR-OVLD", "spindle motor", (7, 3, 4), "gradual",
            (("current", "up", 0.9), ("temperature", "up", 0.6), ("speed", "down", 0.5)), ("replace_spindle_motor",)),
    ),
    "press": (
        _fm("hydraulic_leak", "Hydraulic leak", "HYD-LEAK", "hydraulic circuit", (7, 5, 4), "gradual",
            (("pressure", "down", 0.9), ("temperature", "up", 0.4)), ("replace_hydraulic_seals",)),
        _fm("pump_wear", "Hydraulic pump wear", "HYD-PUMP", "hydraulic pump", (8, 3, 5), "gradual",
            (("vibration", "up", 0.7), ("pressure", "down", 0.6), ("current", "up", 0.5)), ("overhaul_hydraulic_pump",)),
        _fm("oil_overheating", "Hydraulic oil overheating", "OIL-HOT", "oil cooler", (5, 4, 3), "gradual",
            (("temperature", "up", 0.9), ("pressure", "down", 0.3)), ("clean_oil_cooler",)),
        _fm("clutch_brake_wear", "Clutch/brake wear", "CLT-WEAR", "clutch/brake", (7, 4, 6), "gradual",
            (("vibration", "up", 0.6), ("current", "up", 0.4)), ("replace_clutch_linings",)),
    ),
    "robot": (
        _fm("gearbox_wear", "Gearbox wear", "GBX-WEAR", "axis gearbox", (7, 3, 5), "gradual",
            (("vibration", "up", 0.8), ("current", "up", 0.6), ("temperature", "up", 0.5)), ("replace_gearbox",)),
        _fm("servo_overheat", "Servo motor overheating", "SRV-HOT", "servo motor", (5, 4, 3), "gradual",
            (("temperature", "up", 0.9), ("current", "up", 0.6)), ("service_servo_cooling",)),
        _fm("cable_damage", "Cable harness damage", "CBL-DMG", "dress pack", (6, 3, 6), "abrupt",
            (("current", "down", 0.6), ("power", "down", 0.5)), ("replace_cable_harness",)),
    ),
    "chiller": (
        _fm("refrigerant_leak", "Refrigerant leak", "REF-LEAK", "refrigerant circuit", (7, 4, 5), "gradual",
            (("temperature", "up", 0.8), ("pressure", "down", 0.8), ("power", "up", 0.4)), ("repair_refrigerant_leak",)),
        _fm("condenser_fouling", "Condenser fouling", "COND-FOUL", "condenser", (5, 6, 4), "gradual",
            (("pressure", "up", 0.8), ("power", "up", 0.7), ("temperature", "up", 0.4)), ("clean_condenser",)),
        _fm("compressor_bearing_wear", "Compressor bearing wear", "BRG-WEAR", "compressor bearing", (8, 3, 4),
            "gradual", (("vibration", "up", 0.9), ("temperature", "up", 0.4), ("power", "up", 0.3)),
            ("replace_compressor_bearing",)),
        _fm("low_flow", "Low chilled-water flow", "LOW-FLOW", "strainer", (6, 4, 3), "abrupt",
            (("flow", "down", 0.9), ("temperature", "down", 0.3)), ("clean_strainer",)),
    ),
    "compressor": (
        _fm("air_leak", "Compressed-air leak", "AIR-LEAK", "distribution", (4, 7, 6), "abrupt",
            (("pressure", "down", 0.8), ("power", "up", 0.6), ("current", "up", 0.5)), ("repair_air_leak",)),
        _fm("valve_failure", "Valve failure", "VLV-FAIL", "valve plate", (7, 3, 5), "abrupt",
            (("pressure", "down", 0.7), ("temperature", "up", 0.7)), ("replace_valve_plate",)),
        _fm("bearing_wear", "Bearing wear", "BRG-WEAR", "bearing", (8, 4, 4), "gradual",
            (("vibration", "up", 0.9), ("temperature", "up", 0.5)), ("replace_compressor_bearing",)),
        _fm("intake_filter_clogging", "Intake filter clogging", "FLT-CLOG", "intake filter", (3, 7, 3), "gradual",
            (("current", "up", 0.6), ("temperature", "up", 0.5), ("pressure", "down", 0.5)), ("replace_intake_filter",)),
    ),
    "pump": (
        _fm("cavitation", "Cavitation", "CAV", "impeller", (6, 4, 4), "abrupt",
            (("vibration", "up", 0.8), ("flow", "down", 0.7), ("pressure", "down", 0.6)),
            ("restore_suction_conditions",)),
        _fm("bearing_wear", "Bearing wear", "BRG-WEAR", "bearing", (7, 5, 4), "gradual",
            (("vibration", "up", 0.9), ("temperature", "up", 0.7)), ("replace_pump_bearing",)),
        _fm("seal_leak", "Mechanical seal leak", "SEAL-LEAK", "mechanical seal", (5, 5, 5), "gradual",
            (("pressure", "down", 0.6), ("flow", "down", 0.5)), ("replace_mechanical_seal",)),
        _fm("impeller_wear", "Impeller wear", "IMP-WEAR", "impeller", (5, 3, 6), "gradual",
            (("flow", "down", 0.8), ("pressure", "down", 0.6), ("current", "down", 0.4)), ("replace_impeller",)),
    ),
    "conveyor": (
        _fm("belt_misalignment", "Belt misalignment", "BELT-MIS", "belt", (3, 7, 4), "gradual",
            (("vibration", "up", 0.7), ("current", "up", 0.5)), ("realign_belt",)),
        _fm("motor_overload", "Drive motor overload", "MTR-OVLD", "drive motor", (6, 3, 4), "gradual",
            (("current", "up", 0.9), ("temperature", "up", 0.8), ("speed", "down", 0.4)), ("replace_drive_motor",)),
        _fm("roller_bearing_wear", "Roller bearing wear", "BRG-WEAR", "rollers", (4, 5, 5), "gradual",
            (("vibration", "up", 0.8), ("temperature", "up", 0.3)), ("replace_rollers",)),
    ),
}


@dataclass(frozen=True)
class ProductSpec:
    """A product and its routing: operations with the machine prefix group and base minutes."""

    id: str
    name: str
    line: str
    routing: tuple[tuple[str, tuple[str, ...], int], ...]  # (operation, eligible machines, base minutes)


PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("PRD-GH", "Gear housing", "L1", (
        ("turn", ("CNC-01", "CNC-02", "CNC-03", "CNC-04"), 45),
        ("mill", ("CNC-05", "CNC-06", "CNC-07", "CNC-08"), 60),
        ("deburr", ("RBT-01", "RBT-02"), 20))),
    ProductSpec("PRD-MF", "Motor flange", "L1", (
        ("turn", ("CNC-01", "CNC-02", "CNC-03"), 30),
        ("drill", ("CNC-06", "CNC-07"), 25),
        ("deburr", ("RBT-02",), 15))),
    ProductSpec("PRD-BB", "Brake bracket", "L2", (
        ("blank", ("PRS-01", "PRS-02"), 20),
        ("draw", ("PRS-03", "PRS-04"), 35),
        ("trim", ("PRS-05",), 15),
        ("handle", ("RBT-03", "RBT-04"), 10))),
    ProductSpec("PRD-PC", "Pump casing", "L3", (
        ("machine", ("CNC-09", "CNC-10"), 70),
        ("assemble", ("RBT-05", "RBT-06"), 40),
        ("test", ("RBT-07", "RBT-08"), 20))),
    ProductSpec("PRD-VB", "Valve body", "L3", (
        ("machine", ("CNC-09", "CNC-10"), 50),
        ("assemble", ("RBT-05", "RBT-06", "RBT-07"), 30))),
)

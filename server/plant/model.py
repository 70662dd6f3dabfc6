"""The live plant's signal model: the demo plant continued past its history, with a live fault.

The simulator publishes what this model computes; tests and the loop use it as ground truth.
Values come from the demo's own signal model (:func:`knowledge.demo.signals.readings_for_asset`)
on a time axis that starts where the demo's history ends (``start``). The demo's injected faults
keep playing out where they fall in the window, and one *live fault* is added: by default a
gradual spindle bearing wear on ``CNC-07`` (or the first CNC of the scale) starting at ``start``.

Everything is a pure function of ``(seed, scale, scenario)``: a restarted simulator publishes the
same value for the same source timestamp, which is what makes reconnects checkable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from knowledge.demo import Scale, demo_window
from knowledge.demo.catalog import FMEA, REMEDIES
from knowledge.demo.plant import Asset, build_layout
from knowledge.demo.signals import Fault, _load_profile, plan_faults, readings_for_asset, time_axis
from tools.errors import ConfigError, did_you_mean

__all__ = [
    "SETPOINT_TAGS",
    "LiveScenario",
    "MachineState",
    "PlantModel",
    "SetpointTag",
    "build_plant_model",
]

MachineState = Literal["running", "idle", "down"]

#: Writable setpoint tags per asset class: (tag, unit, initial value). Names match
#: ``tools.optimization.write_setpoints`` so approved setpoints map one to one.
SETPOINT_TAGS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "chiller": (("chws_setpoint", "degC", 6.7), ("load_setpoint", "kW", 0.0)),
    "compressor": (("pressure_setpoint", "barg", 7.5), ("load_fraction", "fraction", 1.0)),
}
#: The plant-level cooling tower of the chiller model (no sensors in the demo layout).
COOLING_TOWER = ("CT-01", "cws_setpoint", "degC", 29.4)


class LiveScenario(BaseModel):
    """What the live plant does after its history ends.

    Attributes:
        seed: The demo plant's seed (same plant, same faults as ``kg demo --seed``).
        scale: The demo scale ('tiny' or 'small'; 'large' works but is minute data).
        start: First simulated timestamp; default the end of the demo's history.
        days: How many simulated days the model covers.
        fault_asset: Asset with the live fault; default CNC-07 when the scale has it, else the first CNC.
        fault_mode: Failure-mode slug of the live fault (of the asset's class).
        fault_days: Days from the live fault's onset to its failure.
        fault_onset_h: Hours after ``start`` when the live fault begins.
    """

    seed: int = 0
    scale: Scale = "small"
    start: datetime | None = None
    days: float = Field(21.0, gt=0, le=366)
    fault_asset: str | None = None
    fault_mode: str = "spindle_bearing_wear"
    fault_days: float = Field(10.0, gt=0.5)
    fault_onset_h: float = Field(0.0, ge=0)


@dataclass(frozen=True)
class SetpointTag:
    """A writable setpoint of an asset."""

    asset_id: str
    tag: str
    unit: str
    initial: float

    @property
    def name(self) -> str:
        """The tag's id: ``<ASSET>.<tag>``."""
        return f"{self.asset_id}.{self.tag}"


@dataclass
class PlantModel:
    """Precomputed live signals: ``values[i, k]`` is sensor ``sensors[i]`` at ``ts[k]``."""

    scenario: LiveScenario
    start: datetime
    step: timedelta
    ts: np.ndarray
    assets: list[Asset]
    sensors: list[str]
    values: np.ndarray
    load: dict[str, np.ndarray]
    faults: list[Fault]
    live_fault: Fault
    setpoints: list[SetpointTag] = field(default_factory=list)

    @property
    def n_ticks(self) -> int:
        """Number of simulated timestamps."""
        return len(self.ts)

    def time_of(self, tick: int) -> datetime:
        """The source timestamp of a tick."""
        return self.start + self.step * tick

    def tick_of(self, t: datetime) -> int:
        """The tick at or after ``t`` (clipped to the model's range)."""
        k = int(np.ceil((t - self.start) / self.step))
        return min(max(k, 0), self.n_ticks)

    def state(self, asset_id: str, tick: int) -> MachineState:
        """Machine state at a tick: down (failed, in repair), running (loaded) or idle."""
        for f in self.faults:
            if f.asset.id == asset_id and f.failure <= self.time_of(tick) < f.repair_end:
                return "down"
        return "running" if self.load[asset_id][tick] > 0.5 else "idle"

    def fault_truth_row(self) -> dict[str, object]:
        """The live fault as a ``fault_truth`` row (the loop records it so evals can grade)."""
        f = self.live_fault
        return {"id": f"LIVE-{f.onset:%Y%m%d}-{f.asset.id}", "asset_id": f.asset.id, "failure_mode_id": f.fm_id,
                "kind": f.kind, "onset_ts": f.onset, "failure_ts": f.failure, "sensor_ids": f.sensor_ids,
                "description": f"live {f.kind} {f.fm.name.lower()} on {f.asset.id} (plant simulator)"}


def _pick_asset(assets: list[Asset], wanted: str | None) -> Asset:
    by_id = {a.id: a for a in assets}
    if wanted is not None:
        if wanted not in by_id:
            raise ConfigError(did_you_mean(wanted, sorted(by_id), what="asset for the live fault"))
        return by_id[wanted]
    if "CNC-07" in by_id:
        return by_id["CNC-07"]
    cncs = [a for a in assets if a.cls == "cnc"]
    if not cncs:
        raise ConfigError("The plant has no CNC machine; pass fault_asset explicitly.")
    return cncs[0]


def build_plant_model(scenario: LiveScenario) -> PlantModel:
    """Compute the live plant's signals for ``scenario`` (deterministic; ~0.1 s on the small plant).

    Args:
        scenario: Seed, scale, start, length and the live fault.
    """
    hist_start, hist_end, step, n_faults = demo_window(scenario.scale)
    rng = np.random.default_rng(scenario.seed)  # same draws as build_demo: same layout and faults
    lay = build_layout(scenario.scale, rng)
    faults = plan_faults(lay.assets, hist_start, hist_end, n_faults, rng)
    start = scenario.start or hist_end
    asset = _pick_asset(lay.assets, scenario.fault_asset)
    fms = {fm.slug: fm for fm in FMEA[asset.cls]}
    if scenario.fault_mode not in fms:
        raise ConfigError(did_you_mean(scenario.fault_mode, sorted(fms), what=f"failure mode of class {asset.cls!r}"))
    fm = fms[scenario.fault_mode]
    onset = start + timedelta(hours=scenario.fault_onset_h)
    failure = onset + timedelta(days=scenario.fault_days)
    repair = REMEDIES[fm.remedies[0]].duration_h
    live = Fault("LIVE", asset, fm, "gradual", onset, failure, failure + timedelta(hours=1),
                 failure + timedelta(hours=1 + repair))
    all_faults = [*faults, live]
    ts = time_axis(start, start + timedelta(days=scenario.days), step)
    hist_ts = time_axis(hist_start, hist_end, step)
    sensors: list[str] = []
    rows: list[np.ndarray] = []
    base = _load_profile(ts)
    load: dict[str, np.ndarray] = {}
    for a in lay.assets:
        # the live signals draw from a copy of the generator as it stands before this asset's history,
        # so the asset keeps its utilisation and noise level; the history is then replayed to advance it
        live_rng = np.random.Generator(type(rng.bit_generator)())
        live_rng.bit_generator.state = rng.bit_generator.state
        for sid, values in readings_for_asset(a, ts, all_faults, live_rng):
            sensors.append(sid)
            rows.append(values)
        for _ in readings_for_asset(a, hist_ts, faults, rng):
            pass
        load[a.id] = base
    setpoints = [SetpointTag(a.id, tag, unit, init) for a in lay.assets for tag, unit, init in SETPOINT_TAGS.get(a.cls, ())]
    if any(a.cls == "chiller" for a in lay.assets):
        setpoints.append(SetpointTag(*COOLING_TOWER))
    return PlantModel(scenario=scenario, start=start, step=step, ts=ts, assets=lay.assets, sensors=sensors,
                      values=np.vstack(rows), load=load, faults=all_faults, live_fault=live, setpoints=setpoints)

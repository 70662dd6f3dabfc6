"""Sensor signals of the demo plant: load profiles, seasonality, noise and injected faults (numpy)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy.signal import lfilter

from knowledge.demo.catalog import FMEA, REMEDIES, SENSOR_SPECS, FailureModeSpec, SensorSpec
from knowledge.demo.plant import Asset

__all__ = ["Fault", "plan_faults", "readings_for_asset", "time_axis"]

_UTILITIES = {"chiller", "compressor", "pump"}


@dataclass(frozen=True)
class Fault:
    """An injected fault: a gradual degradation or an abrupt fault ending in a failure and a repair."""

    id: str
    asset: Asset
    fm: FailureModeSpec
    kind: str  # gradual | abrupt
    onset: datetime
    failure: datetime
    repair_start: datetime
    repair_end: datetime

    @property
    def fm_id(self) -> str:
        """The failure-mode node id."""
        return f"fm:{self.asset.cls}.{self.fm.slug}"

    @property
    def sensor_ids(self) -> list[str]:
        """The sensors the fault shows on (its symptoms' sensor types on the asset)."""
        return [f"{self.asset.id}.{t}" for t, _d, _l in self.fm.symptoms]


def time_axis(start: datetime, end: datetime, step: timedelta) -> np.ndarray:
    """Timestamps [start, end) as numpy datetime64[us]."""
    return np.arange(np.datetime64(start, "us"), np.datetime64(end, "us"), np.timedelta64(step))


def _round_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def plan_faults(assets: list[Asset], start: datetime, end: datetime, n: int, rng: np.random.Generator) -> list[Fault]:
    """Choose ``n`` faults on distinct assets, one per time slot; every third one is abrupt.

    The first weeks (35 days, at most a third of the window) stay healthy so that detectors have
    a fault-free reference period, as a real plant's history would give them.
    """
    healthy = min(timedelta(days=35), (end - start) / 3)
    start = start + healthy
    span = (end - start) / n
    slots = rng.permutation(n)
    remaining = list(assets)
    faults: list[Fault] = []
    for i in range(n):
        kind = "abrupt" if i % 3 == 2 else "gradual"
        pool = [a for a in remaining if any(fm.onset == kind for fm in FMEA[a.cls])]
        if not pool:
            kind = "gradual"
            pool = remaining
        # prefer classes not used yet so that every class gets a fault
        used = {f.asset.cls for f in faults}
        fresh = [a for a in pool if a.cls not in used]
        asset = (fresh or pool)[int(rng.integers(len(fresh or pool)))]
        remaining.remove(asset)
        fms = [fm for fm in FMEA[asset.cls] if fm.onset == kind]
        w = np.array([fm.occurrence for fm in fms], dtype=float)
        fm = fms[int(rng.choice(len(fms), p=w / w.sum()))]
        slot_start = start + span * int(slots[i])
        failure = _round_hour(slot_start + span * float(rng.uniform(0.65, 0.95)))
        if kind == "gradual":
            days = float(rng.uniform(10, 30))
            onset = max(failure - timedelta(days=days), start)
        else:
            onset = failure - timedelta(hours=int(rng.integers(2, 9)))
        onset = _round_hour(onset)
        repair_start = failure + timedelta(hours=int(rng.integers(1, 3)))
        dur = REMEDIES[fm.remedies[0]].duration_h * float(rng.uniform(0.9, 1.4))
        repair_end = _round_hour(repair_start + timedelta(hours=max(1.0, dur)) + timedelta(minutes=59))
        faults.append(Fault(f"F-{i + 1:03d}", asset, fm, kind, onset, failure, repair_start, repair_end))
    faults.sort(key=lambda f: f.failure)
    return [Fault(f"F-{k + 1:03d}", f.asset, f.fm, f.kind, f.onset, f.failure, f.repair_start, f.repair_end)
            for k, f in enumerate(faults)]


def _load_profile(ts: np.ndarray) -> np.ndarray:
    """Plant load 0..1: two shifts on weekdays (06-22), low at night and weekends, shutdowns."""
    days = ts.astype("datetime64[D]")
    hour = (ts - days).astype("timedelta64[h]").astype(np.int64)
    dow = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday -> Monday = 0
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)
    load = np.where((hour >= 6) & (hour < 22), 1.0, 0.25)
    load = np.where(dow >= 5, 0.15, load)
    shutdown = ((doy >= 217) & (doy < 228)) | (doy >= 357)  # summer shutdown, Christmas
    return np.where(shutdown, 0.1, load)


def _seasonal(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Annual (peak mid-July) and daily (peak 15:00) cosine terms in -1..1."""
    days = ts.astype("datetime64[D]")
    doy = (days - days.astype("datetime64[Y]")).astype(np.float64)
    hour = (ts - days).astype("timedelta64[m]").astype(np.float64) / 60.0
    return np.cos(2 * np.pi * (doy - 196) / 366), np.cos(2 * np.pi * (hour - 15) / 24)


def _span(spec: SensorSpec, direction: str) -> float:
    """How far a fully developed symptom moves the signal (beyond the alarm limit)."""
    if direction == "up":
        return (spec.alarm_high - spec.load) * 1.2 if spec.alarm_high is not None else 8 * spec.sd + 0.3 * spec.load
    if spec.alarm_low is not None:
        return (spec.load - spec.alarm_low) * 1.2
    return max(8 * spec.sd, 0.35 * spec.load)


def readings_for_asset(
    asset: Asset, ts: np.ndarray, faults: list[Fault], rng: np.random.Generator
) -> Iterator[tuple[str, np.ndarray]]:
    """Yield (sensor id, values aligned with ``ts``) for every sensor of the asset."""
    base = _load_profile(ts)
    util = float(rng.uniform(0.8, 1.0))
    load = np.where(base > 0.5, base * util, base)
    if asset.cls in _UTILITIES:
        load = 0.4 + 0.6 * load
    mine = [f for f in faults if f.asset.id == asset.id]
    t64 = ts.astype(np.int64)

    def mask(a: datetime, b: datetime) -> np.ndarray:
        return (t64 >= np.datetime64(a, "us").astype(np.int64)) & (t64 < np.datetime64(b, "us").astype(np.int64))

    down = np.zeros(len(ts), dtype=bool)
    for f in mine:
        down |= mask(f.failure, f.repair_end)
    load = np.where(down, 0.0, load)
    annual, daily = _seasonal(ts)
    for spec in SENSOR_SPECS[asset.cls]:
        noise = lfilter([1.0], [1.0, -0.6], rng.normal(0.0, spec.sd * 0.8, len(ts)))
        v = spec.idle + (spec.load - spec.idle) * load + spec.annual_amp * annual + spec.daily_amp * daily + noise
        for f in mine:
            for stype, direction, lik in f.fm.symptoms:
                if stype != spec.type:
                    continue
                strength = float(np.clip(lik / 0.8, 0.35, 1.1)) * _span(spec, direction)
                sign = 1.0 if direction == "up" else -1.0
                m = mask(f.onset, f.failure)
                if f.kind == "gradual":
                    dur = (f.failure - f.onset).total_seconds() * 1e6
                    frac = (t64[m] - np.datetime64(f.onset, "us").astype(np.int64)) / dur
                    v[m] += sign * strength * frac**2
                else:
                    v[m] += sign * strength
        if spec.type in ("speed", "current", "power", "flow"):
            v = np.where(down, np.abs(rng.normal(0.0, spec.sd * 0.1, len(ts))), v)
        yield f"{asset.id}.{spec.type}", np.round(np.clip(v, 0.0, None), 3)

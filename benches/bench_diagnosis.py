"""Diagnosis bench: one year of minute data per asset, indagent's detection vs a static 3-sigma baseline.

Per asset: 5 sensors x one year of minute readings (527,040 per sensor) with a two-shift load
profile, weekends, a daily cycle, AR(1) noise and, on every other asset, a gradual drift. It
measures (process CPU seconds and tracemalloc peak) for

- ``indagent``: bucketing to hourly means + the rolling-reference univariate and PCA detectors
  with the plant load index as operating state,
- ``baseline``: a static mean +- 3 sigma band per sensor on the raw minute values,

and, once, the end-to-end path through DuckDB (minute rows in ``readings`` -> ``detect_asset``,
bucketing in SQL). The default run measures ``--assets 4`` and extrapolates linearly to 40
(assets are independent); ``--full`` measures all 40. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.store import KnowledgeStore
from tools.diagnosis.detectors import detect_static_3sigma
from tools.diagnosis.engine import DEFAULT_CONFIG, detect_asset, scan_frame

START = np.datetime64("2024-01-01T00:00")
MINUTES = 366 * 24 * 60
SENSORS = ("temperature", "vibration", "current", "power", "pressure")
DRIFT_START_DAY, DRIFT_DAYS = 200, 25


def _minute_index() -> np.ndarray:
    return START + np.arange(MINUTES).astype("timedelta64[m]")


def synth_asset(i: int, ts: np.ndarray) -> dict[str, np.ndarray]:
    """Five minute-resolution sensors for asset ``i`` (a drift on odd assets)."""
    rng = np.random.default_rng(1000 + i)
    minute = np.arange(MINUTES)
    hour = (minute // 60) % 24
    dow = (minute // 1440 + 0) % 7  # 2024-01-01 was a Monday
    load = np.where((hour >= 6) & (hour < 22) & (dow < 5), 1.0, 0.2)
    out = {}
    for k, name in enumerate(SENSORS):
        level, gain, sd = 10.0 * (k + 1), 5.0 * (k + 1), 0.5 * (k + 1)
        e = rng.normal(0, sd, MINUTES)
        noise = pd.Series(e).ewm(alpha=0.4).mean().to_numpy()  # autocorrelated, vectorised
        daily = 0.5 * sd * np.cos(2 * np.pi * (hour - 15) / 24)
        v = level + gain * load + daily + noise
        if i % 2 == 1 and name == "vibration":
            frac = np.clip((minute / 1440 - DRIFT_START_DAY) / DRIFT_DAYS, 0, None)
            v = v + 12 * sd * np.minimum(frac, 1.0) ** 2
        out[f"A{i:02d}.{name}"] = v.astype(np.float64)
    return out


def _hourly(values: np.ndarray) -> np.ndarray:
    return values.reshape(-1, 60).mean(axis=1)


def plant_load() -> np.ndarray:
    """Hourly plant load index (what the fleet median of load sensors gives detect_asset)."""
    minute = np.arange(MINUTES)
    hour, dow = (minute // 60) % 24, minute // 1440 % 7
    return _hourly(np.where((hour >= 6) & (hour < 22) & (dow < 5), 1.0, 0.2))


def run_indagent(data: dict[str, np.ndarray], load: np.ndarray) -> list[object]:
    """Bucket to hourly means and scan with the rolling reference (what detect_asset does after SQL)."""
    idx = pd.date_range("2024-01-01", periods=MINUTES // 60, freq="1h")
    frame = pd.DataFrame({k: _hourly(v) for k, v in data.items()}, index=idx)
    return scan_frame(frame, 0, DEFAULT_CONFIG, exog=load)


def run_baseline(data: dict[str, np.ndarray], load: np.ndarray) -> list[object]:
    """Static 3-sigma band on the raw minutes, learned on the first 28 days (no load model)."""
    del load
    ref = np.zeros(MINUTES, dtype=bool)
    ref[: 28 * 1440] = True
    eps: list[object] = []
    for k, v in data.items():
        eps.extend(detect_static_3sigma(k, v, ref))
    return eps


def _measure(fn, data, load):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    t0 = time.process_time()
    eps = fn(data, load)
    secs = time.process_time() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return eps, secs, peak / 2**20


def _hits(eps: list[object], i: int) -> tuple[bool, int]:
    """(drift detected before it is complete, alarms outside the drift) in hourly or minute units."""
    per_day = 24 if not eps or getattr(eps[0], "detector", "") != "static_3sigma" else 1440
    on, end = DRIFT_START_DAY * per_day, (DRIFT_START_DAY + DRIFT_DAYS) * per_day
    hit = i % 2 == 1 and any(on <= e.start < end for e in eps)  # type: ignore[attr-defined]
    fa = sum(not (i % 2 == 1 and on <= e.start < end + 3 * per_day) for e in eps)  # type: ignore[attr-defined]
    return hit, fa


def duckdb_end_to_end(data: dict[str, np.ndarray], ts: np.ndarray) -> dict[str, float]:
    """Load one asset's minute readings into DuckDB and time detect_asset over the year."""
    with tempfile.TemporaryDirectory() as d:
        kg = KnowledgeStore(Path(d) / "b.duckdb")
        with kg.transaction() as con:
            con.execute("INSERT INTO nodes VALUES ('A01', 'asset', 'A01', '{\"class\": \"cnc\"}')")
            for sid in data:
                con.execute("INSERT INTO nodes VALUES (?, 'sensor', ?, ?)",
                            [sid, sid, json.dumps({"type": sid.split(".")[1], "asset_id": "A01"})])
                con.execute("INSERT INTO edges VALUES ('A01', ?, 'has_sensor', '{}')", [sid])
            df = pd.DataFrame({"sensor_id": np.repeat(list(data), MINUTES), "ts": np.tile(ts, len(data)),
                               "value": np.concatenate(list(data.values()))})
            con.register("df", df)
            con.execute("INSERT INTO readings SELECT * FROM df")
            con.unregister("df")
        del df
        t0, c0 = time.perf_counter(), time.process_time()
        rep = detect_asset(kg, "A01", since=datetime(2024, 1, 1), until=datetime(2025, 1, 1))
        out = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(time.process_time() - c0, 3),
               "rows": len(data) * MINUTES, "anomalies": len(rep.anomalies)}
        kg.close()
        return out


def main(argv: list[str]) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--assets", type=int, default=4, help="assets to measure (default 4, extrapolated to 40)")
    ap.add_argument("--full", action="store_true", help="measure all 40 assets")
    args = ap.parse_args(argv)
    n = 40 if args.full else max(1, min(args.assets, 40))
    ts = _minute_index()
    load = plant_load()
    ours_s, base_s, ours_mem, base_mem = [], [], [], []
    ours_hits = base_hits = ours_fa = base_fa = 0
    drifts = 0
    e2e: dict[str, float] = {}
    t_all = time.perf_counter()
    for i in range(n):
        data = synth_asset(i, ts)
        eps, s, m = _measure(run_indagent, data, load)
        ours_s.append(s)
        ours_mem.append(m)
        h, fa = _hits(eps, i)
        ours_hits += h
        ours_fa += fa
        eps_b, s_b, m_b = _measure(run_baseline, data, load)
        base_s.append(s_b)
        base_mem.append(m_b)
        h, fa = _hits(eps_b, i)
        base_hits += h
        base_fa += fa
        drifts += i % 2
        if i == 1:
            e2e = duckdb_end_to_end(data, ts)
        print(f"[bench_diagnosis] asset {i + 1}/{n}: indagent {s:.2f}s, baseline {s_b:.2f}s", file=sys.stderr)
    per_asset = float(np.mean(ours_s))
    per_asset_base = float(np.mean(base_s))
    return {
        "bench": "diagnosis",
        "data": f"{len(SENSORS)} sensors x {MINUTES} minutes (one year) per asset",
        "assets_measured": n,
        "assets_target": 40,
        "extrapolated_to_40": n < 40,
        "indagent_cpu_s_per_asset_year": round(per_asset, 3),
        "baseline_cpu_s_per_asset_year": round(per_asset_base, 3),
        "ratio_time_indagent_vs_baseline": round(per_asset / per_asset_base, 2) if per_asset_base else None,
        "indagent_cpu_s_40_assets": round(per_asset * 40, 1),
        "baseline_cpu_s_40_assets": round(per_asset_base * 40, 1),
        "indagent_peak_mem_mib_per_asset": round(max(ours_mem), 1),
        "baseline_peak_mem_mib_per_asset": round(max(base_mem), 1),
        "duckdb_end_to_end_per_asset_year": e2e,
        "drifts_injected": drifts,
        "indagent_drifts_detected": ours_hits,
        "baseline_drifts_detected": base_hits,
        "indagent_false_alarms_per_asset_year": round(ours_fa / n, 2),
        "baseline_false_alarms_per_asset_year": round(base_fa / n, 2),
        "wall_s": round(time.perf_counter() - t_all, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))

"""Diagnosis maths on synthetic data with known answers: detectors, PCA, ranking, prognostics."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from tools.diagnosis.detectors import (
    DetectorConfig,
    calibrate,
    cusum_threshold,
    detect_series,
    detect_static_3sigma,
    episodes_from_statistic,
    merge_episodes,
)
from tools.diagnosis.engine import detect_frame, scan_frame
from tools.diagnosis.kg import AssetInfo, FmeaMode, SensorInfo
from tools.diagnosis.models import Anomaly, Remedy
from tools.diagnosis.multivariate import detect_multivariate, fit_pca
from tools.diagnosis.prognostics import theil_sen_batch, time_to_threshold
from tools.diagnosis.ranking import LEAK, rank_modes

DAYS = 60
IDX = pd.date_range("2024-01-01", periods=DAYS * 24, freq="1h")
REF = np.asarray(IDX < IDX[0] + pd.Timedelta(days=28))
CFG = DetectorConfig(multivariate=False)


def _healthy(seed: int, *, daily_amp: float = 3.0) -> np.ndarray:
    """AR(1) noise (sd ~1) around 50 with a daily profile of +-daily_amp."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.8, IDX.size)
    ar = np.empty_like(e)
    ar[0] = e[0]
    for i in range(1, e.size):  # test data only
        ar[i] = 0.6 * ar[i - 1] + e[i]
    return 50 + daily_amp * np.cos(2 * np.pi * (IDX.hour.to_numpy() - 15) / 24) + ar


def _at(day: float) -> int:
    return int(day * 24)


# -- univariate detectors --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_alarm_on_healthy_series_with_daily_profile(seed: int) -> None:
    x = _healthy(seed, daily_amp=8.0)  # profile 8x the noise: only seasonality removal keeps this quiet
    assert detect_series("s", x, IDX, REF, CFG) == []


def test_static_baseline_alarms_on_the_daily_profile_we_remove() -> None:
    x = _healthy(1, daily_amp=8.0)
    x[_at(40)] += 40  # one huge sample
    assert detect_static_3sigma("s", x, REF)  # the naive band is hit at least by the spike


@pytest.mark.parametrize("shift", [8.0, -8.0])
def test_level_shift_is_found_near_its_change_point(shift: float) -> None:
    x = _healthy(4)
    x[_at(40) :] += shift
    eps = merge_episodes(detect_series("s", x, IDX, REF, CFG), gap=12)
    assert eps, "an 8-sigma step must be detected"
    first = min(eps, key=lambda e: e.start)
    assert _at(40) <= first.start <= _at(40) + 6  # causal: not before the change, within 6 h
    assert first.sign == (1 if shift > 0 else -1)


def test_slow_drift_is_found_by_drift_detectors_before_it_is_large() -> None:
    x = _healthy(5)
    ramp = np.clip((np.arange(IDX.size) - _at(35)) / (24 * 25), 0, None) * 8.0  # 8 sigma after 25 days
    x = x + ramp
    eps = detect_series("s", x, IDX, REF, CFG)
    drift = [e for e in eps if e.detector in ("cusum", "ewma")]
    assert drift
    first = min(e.start for e in drift)
    assert _at(35) < first < _at(47)  # within 12 days, while the drift is still < 4 sigma
    assert all(e.start >= _at(35) for e in eps)


def test_one_noisy_sample_is_not_an_alarm() -> None:
    x = _healthy(6)
    x[_at(45)] += 12.0  # a single 12-sigma sample
    assert detect_series("s", x, IDX, REF, CFG) == []


def test_cusum_closed_form_matches_the_recursion() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(0.2, 1.0, 500)
    k = 0.5
    c = np.cumsum(y - k)
    closed = c - np.minimum(np.minimum.accumulate(c), 0.0)
    s, loop = 0.0, []
    for v in y:
        s = max(0.0, s + v - k)
        loop.append(s)
    assert np.allclose(closed, loop)


def test_thresholds_follow_the_false_alarm_target() -> None:
    rng = np.random.default_rng(1)
    stat = rng.normal(0, 1, 2000)
    ref = np.ones(2000, dtype=bool)
    loose, tight = calibrate(stat, ref, 1e-2), calibrate(stat, ref, 1e-5)
    assert loose.thr < tight.thr
    assert loose.thr == pytest.approx(2.576, rel=0.1)
    assert cusum_threshold(1000.0, 0.5) < cusum_threshold(100000.0, 0.5)


def test_hysteresis_and_minimum_duration() -> None:
    stat = np.zeros(100)
    stat[10:14] = [5, 3.0, 3.0, 1.0]  # alarm at 10, stays above 0.7*4 until 12
    stat[50] = 9.0  # one sample
    eps = episodes_from_statistic(stat, 4.0, hysteresis=0.7, min_duration=3)
    assert eps == [(10, 12, 5.0, 1)]


def test_rolling_scan_follows_a_slow_seasonal_cycle() -> None:
    # an annual-like cycle (amplitude 4 sigma, one-year period) over four months is a slow change,
    # not a fault: the rolling, de-trended reference follows it where a fixed reference alarms
    # for months (CUSUM may still flag the cycle's peak, where a linear trend bends)
    idx = pd.date_range("2024-03-01", periods=120 * 24, freq="1h")
    rng = np.random.default_rng(7)
    doy = np.arange(idx.size) / 24.0
    x = 50 + 4.0 * np.cos(2 * np.pi * (doy - 100) / 366) + rng.normal(0, 1, idx.size)
    frame = pd.DataFrame({"s": x}, index=idx)
    fixed_cfg = DetectorConfig(multivariate=False, detrend=False)
    fixed = detect_frame(frame, np.asarray(idx < idx[0] + pd.Timedelta(days=28)), fixed_cfg)
    rolling = scan_frame(frame, 0, CFG)

    def hours(eps: list) -> int:  # type: ignore[type-arg]
        return sum(e.end - e.start + 1 for e in eps)

    assert hours(fixed) > 30 * 24
    assert hours(rolling) < 0.1 * hours(fixed)


# -- multivariate ----------------------------------------------------------------------------------
def test_pca_spe_flags_a_broken_correlation_and_names_the_sensor() -> None:
    rng = np.random.default_rng(2)
    load = np.clip(np.sin(np.arange(IDX.size) / 30.0) * 2, -2, 2)
    a = load + rng.normal(0, 0.2, IDX.size)
    b = load + rng.normal(0, 0.2, IDX.size)
    c = rng.normal(0, 1, IDX.size)
    b[_at(40) :] -= 2.0 * np.sign(load[_at(40) :] + 1e-9) * 0.9  # b stops following the load
    z = np.column_stack([a, b, c])
    assert fit_pca(["a", "b", "c"], z[REF]) is not None
    eps = detect_multivariate(["a", "b", "c"], z, REF, CFG, alpha=1e-5)
    spe = [e for e in eps if e.detector == "pca_spe"]
    assert spe and min(e.start for e in spe) >= _at(40)
    assert max(spe, key=lambda e: e.score).sensors[0] in ("a", "b")
    assert "c" not in max(spe, key=lambda e: e.score).sensors


# -- ranking on a small hand-checked FMEA ------------------------------------------------------------
def _fmea() -> tuple[AssetInfo, list[SensorInfo], list[FmeaMode]]:
    asset = AssetInfo("P-9", "Pump 9", "pump", {})
    sensors = [SensorInfo("P-9.vibration", "vibration"), SensorInfo("P-9.temperature", "temperature"),
               SensorInfo("P-9.flow", "flow")]
    rem = Remedy(id="rem:bearing", name="Replace bearing", failure_mode="fm:pump.bearing", duration_h=5,
                 parts=["bearing"], cost=900)
    modes = [
        FmeaMode("fm:pump.bearing", "Bearing wear", "BRG", "bearing", 7, 5,
                 {"sym:vibration_up": 0.9, "sym:temperature_up": 0.6}, [rem]),
        FmeaMode("fm:pump.cavitation", "Cavitation", "CAV", "impeller", 6, 5,
                 {"sym:vibration_up": 0.8, "sym:flow_down": 0.7}, []),
    ]
    return asset, sensors, modes


def _anomaly(sensor: str, direction: str) -> Anomaly:
    t = datetime(2024, 3, 1)
    return Anomaly(asset="P-9", sensor=sensor, sensors=[sensor], start=t, end=t, score=5.0, detector="cusum",
                   detectors=["cusum"], direction=direction, severity="alarm")  # type: ignore[arg-type]


def test_ranking_matches_the_hand_computed_posterior() -> None:
    asset, sensors, modes = _fmea()
    r = rank_modes(asset, sensors, modes, [_anomaly("P-9.vibration", "up")], {})
    # bearing: 0.9 * (1-0.6) * (1-LEAK)^4 ; cavitation: 0.8 * (1-0.7) * (1-LEAK)^4 ; equal priors
    b, c = 0.9 * 0.4, 0.8 * 0.3
    assert [x.id for x in r.candidates] == ["fm:pump.bearing", "fm:pump.cavitation"]
    assert r.candidates[0].probability == pytest.approx(b / (b + c))
    top = r.candidates[0]
    assert top.path == ["P-9", "P-9.vibration", "sym:vibration_up", "fm:pump.bearing", "rem:bearing"]
    assert any("temperature" in s and "normal" in s for s in top.evidence.against)
    assert r.absent_symptoms and "sym:vibration_up" in r.observed_symptoms


def test_work_order_history_moves_the_prior() -> None:
    asset, sensors, modes = _fmea()
    r = rank_modes(asset, sensors, modes, [_anomaly("P-9.vibration", "up")], {"CAV": 2})
    # priors: bearing (0 + 0.5) / 3, cavitation (2 + 0.5) / 3
    b, c = 0.9 * 0.4 * 0.5, 0.8 * 0.3 * 2.5
    assert r.candidates[0].id == "fm:pump.cavitation"
    assert r.candidates[0].probability == pytest.approx(c / (b + c))
    assert any("earlier work order" in s for s in r.candidates[0].evidence.supporting)


def test_unlisted_symptom_uses_the_leak_and_counts_against() -> None:
    asset, sensors, modes = _fmea()
    r = rank_modes(asset, sensors, modes, [_anomaly("P-9.flow", "down")], {})
    assert r.candidates[0].id == "fm:pump.cavitation"
    bearing = next(x for x in r.candidates if x.id == "fm:pump.bearing")
    assert any("not a known symptom" in s for s in bearing.evidence.against)
    b = LEAK * (1 - 0.9) * (1 - 0.6)
    c = 0.7 * (1 - 0.8) * (1 - LEAK)
    assert bearing.probability == pytest.approx(b * (1 - LEAK) ** 3 / (b * (1 - LEAK) ** 3 + c * (1 - LEAK) ** 3))


def test_no_anomalies_means_no_candidates() -> None:
    asset, sensors, modes = _fmea()
    r = rank_modes(asset, sensors, modes, [], {})
    assert r.candidates == [] and "No anomalies" in r.message


# -- prognostics -------------------------------------------------------------------------------------
def _daily(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-03-01", periods=values.size, freq="1D"))


def test_linear_drift_days_to_threshold_within_interval() -> None:
    rng = np.random.default_rng(3)
    days = np.arange(20)
    y = 2.0 + 0.2 * days + rng.normal(0, 0.05, days.size)  # reaches 7.1 at day 25.5
    s = _daily(y)
    as_of = datetime(2024, 3, 20)  # = day 19
    p = time_to_threshold(s, 7.1, direction="up", as_of=as_of, baseline=2.0)
    assert p.status == "ok"
    assert p.estimate == pytest.approx(6.5, abs=0.8)
    assert p.low is not None and p.high is not None and p.low <= 6.5 <= p.high
    again = time_to_threshold(s, 7.1, direction="up", as_of=as_of, baseline=2.0)
    assert again == p  # seeded bootstrap: deterministic


def test_falling_signal_towards_a_low_limit() -> None:
    y = 90.0 - 1.5 * np.arange(15)  # 69 on 2024-03-15 (day 14), 1.5 per day to go down to 60
    p = time_to_threshold(_daily(y), 60.0, direction="down", as_of=datetime(2024, 3, 15))
    assert p.status == "ok" and p.estimate == pytest.approx(6.0, abs=0.3)


def test_noise_is_not_extrapolated() -> None:
    rng = np.random.default_rng(4)
    p = time_to_threshold(_daily(5 + rng.normal(0, 0.5, 30)), 7.1, direction="up", as_of=datetime(2024, 3, 30))
    assert p.status in ("no_significant_trend", "moving_away") and p.estimate is None


def test_too_few_days_is_not_enough_data() -> None:
    p = time_to_threshold(_daily(np.array([1.0, 2.0, 3.0])), 7.1, direction="up", as_of=datetime(2024, 3, 3))
    assert p.status == "not_enough_data" and "Not enough data" in p.message


def test_already_beyond_threshold() -> None:
    p = time_to_threshold(_daily(np.linspace(6, 8, 10)), 7.1, direction="up", as_of=datetime(2024, 3, 10))
    assert p.status == "already_exceeded" and p.estimate == 0.0


def test_batched_theil_sen_matches_scipy() -> None:
    from scipy import stats

    rng = np.random.default_rng(5)
    t = np.sort(rng.uniform(0, 30, (3, 25)), axis=1)
    y = 0.3 * t + rng.normal(0, 0.2, t.shape)
    slope, _ = theil_sen_batch(t, y)
    for i in range(3):
        assert slope[i] == pytest.approx(stats.theilslopes(y[i], t[i]).slope)
    assert not math.isnan(float(slope.mean()))

"""Vectorised univariate anomaly detectors with thresholds learned from a healthy reference.

Pipeline for one sensor series on a regular time grid (buckets, e.g. hourly means):

1. **Seasonality removal**: the median daily profile (hour of day, or hour x weekday/weekend)
   of the reference window is subtracted; the residual is scaled by its robust sigma
   (1.4826 * MAD) on the reference, giving ``z``.
2. **Statistics** on ``z`` (all causal: trailing windows only, so an alarm time is a real
   warning time):

   - ``robust_z``: rolling median of ``z`` (level changes and sustained drifts),
   - ``ewma``: exponentially weighted mean of ``z`` (slow drifts),
   - ``cusum``: two-sided tabular CUSUM on block means of ``z`` (slow drifts; the recursion is
     solved in closed form ``S_t = C_t - min(0, min_{s<=t} C_s)`` with ``np.minimum.accumulate``),
   - ``level_shift``: median of the last window minus median of the window before (steps),
   - ``spike``: deviation from a trailing rolling median scaled by a trailing MAD (bursts).

3. **Thresholds** for a target false-alarm rate: each statistic is standardised by its own
   robust spread on the reference; the threshold is the Gaussian quantile for the per-bucket
   false-alarm probability, inflated by the reference's tail heaviness (its empirical 99 %
   quantile against the Gaussian one). CUSUM's decision interval comes from Siegmund's ARL
   approximation for the same target, and is never below the reference's own maximum.
4. **Episodes** with hysteresis (the alarm is raised above ``thr`` and released below
   ``hysteresis * thr``) and a minimum duration, then merged per sensor across detectors.

No per-row Python loops: loops run over episodes (a handful), never over samples.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = [
    "UNIVARIATE_DETECTORS",
    "DetectorConfig",
    "Episode",
    "Threshold",
    "calibrate",
    "cusum_threshold",
    "detect_series",
    "detect_static_3sigma",
    "episodes_from_statistic",
    "merge_episodes",
    "standardized_residual",
]

UnivariateName = Literal["robust_z", "ewma", "cusum", "level_shift", "spike"]
UNIVARIATE_DETECTORS: tuple[UnivariateName, ...] = ("robust_z", "ewma", "cusum", "level_shift", "spike")
Seasonality = Literal["none", "daily", "weekly"]

_GAUSS_Q99 = float(stats.norm.isf(0.005))  # two-sided 99 % quantile, 2.576


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning of the detectors; window lengths are in buckets.

    Attributes:
        bucket: Time grid the readings are averaged to (pandas offset, e.g. "1h", "10min").
        detectors: Univariate detectors to run.
        multivariate: Also run the per-asset PCA (Hotelling T^2 and SPE) detectors.
        false_alarms_per_month: Target false alarms per asset-month, split evenly over every
            (sensor, detector) stream of the asset.
        seasonality: Profile removed before scoring.
        detrend: Remove (and extrapolate) the reference's linear trend.
        margin: Safety factor on every learned threshold (covers what a short reference misses).
        smooth: Rolling-median window of ``robust_z`` and smoothing of the PCA statistics.
        ewma_alpha: EWMA weight of the newest bucket.
        cusum_block: Buckets averaged into one CUSUM sample (reduces autocorrelation).
        cusum_k: CUSUM allowance in block sigmas (half the shift to detect).
        shift_window: Window of each side of the level-shift test.
        spike_window: Trailing window of the spike detector's median/MAD.
        min_duration: Buckets an episode must last from its alarm on (one sample is no alarm).
        spike_min_duration: The same for the spike detector.
        hysteresis: Release level as a fraction of the alarm threshold.
        merge_gap: Episodes of one sensor closer than this are merged.
        min_reference: Fewest valid reference buckets to learn thresholds from.
    """

    bucket: str = "1h"
    detectors: tuple[UnivariateName, ...] = UNIVARIATE_DETECTORS
    multivariate: bool = True
    false_alarms_per_month: float = 0.5
    seasonality: Seasonality = "daily"
    detrend: bool = True
    margin: float = 2.0
    smooth: int = 6
    ewma_alpha: float = 0.05
    cusum_block: int = 6
    cusum_k: float = 0.75
    shift_window: int = 24
    spike_window: int = 24
    min_duration: int = 3
    spike_min_duration: int = 2
    hysteresis: float = 0.7
    merge_gap: int = 12
    min_reference: int = 48

    @property
    def bucket_delta(self) -> pd.Timedelta:
        """The bucket length as a Timedelta."""
        return pd.Timedelta(self.bucket)

    @property
    def buckets_per_month(self) -> float:
        """Buckets in 30 days."""
        return pd.Timedelta(days=30) / self.bucket_delta

    def per_bucket_alpha(self, n_streams: int) -> float:
        """Per-bucket false-alarm probability of one stream for the asset-month budget."""
        return self.false_alarms_per_month / max(n_streams, 1) / self.buckets_per_month


@dataclass(frozen=True)
class Threshold:
    """A learned threshold: ``|stat - center| / scale > thr`` raises an alarm."""

    center: float
    scale: float
    thr: float


@dataclass
class Episode:
    """An anomaly episode as grid indices (``end`` inclusive) before conversion to timestamps."""

    sensors: list[str]
    detector: str
    start: int
    end: int
    score: float
    sign: int
    detectors: list[str] = field(default_factory=list)
    contributions: dict[str, float] = field(default_factory=dict)


def _mad_scale(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    s = 1.4826 * float(np.median(np.abs(x - np.median(x))))
    if s <= 0:
        s = float(np.std(x))
    return s


def _partial_slope(t: np.ndarray, y: np.ndarray, load: np.ndarray) -> float:
    design = np.column_stack([np.ones_like(t), load, t])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[2])


def standardized_residual(
    values: np.ndarray,
    index: pd.DatetimeIndex,
    ref: np.ndarray,
    *,
    seasonality: Seasonality = "daily",
    exog: np.ndarray | None = None,
    detrend: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Remove the operating state and the daily profile of the reference; scale by its robust sigma.

    With ``exog`` (the plant load index, 0..1 per bucket) the value is first regressed on it
    (least squares on the reference), so nights, weekends and shutdowns are not anomalies; the
    hour-of-day profile is then taken from the residual. With ``detrend``, a linear time trend
    that moves the level by more than the noise over the reference is fitted jointly and
    extrapolated: slow seasonal changes (the ambient temperature's annual cycle) are not
    anomalies, and a rolling reference keeps the extrapolation short.

    Args:
        values: The series on a regular grid (NaN for gaps).
        index: The grid timestamps.
        ref: Boolean mask of the reference (healthy) buckets.
        seasonality: "none", "daily" (hour of day) or "weekly" (hour of day x weekday/weekend).
        exog: Operating-state covariate on the same grid (NaN where unknown), or None.
        detrend: Remove the reference's linear trend.

    Returns:
        ``(z, baseline, sigma)``: the standardised residual, the per-bucket baseline subtracted
        and the residual's robust sigma on the reference.
    """
    x = np.asarray(values, dtype=float)
    cols = []
    ok = ref & np.isfinite(x)
    if exog is not None:
        ok &= np.isfinite(exog)
        if ok.sum() >= 10 and float(np.std(exog[ok])) > 1e-6:
            cols.append(np.nan_to_num(exog, nan=float(np.median(exog[ok]))))
    if detrend and ok.sum() >= 10:
        days = (index.asi8 - index.asi8[0]) / 86_400e9
        d_ok = days[ok]
        slope = float(np.polyfit(d_ok, x[ok], 1)[0]) if exog is None else _partial_slope(d_ok, x[ok], cols[0][ok])
        spread = _mad_scale(np.diff(x[ok])) / math.sqrt(2)
        if abs(slope) * float(np.ptp(d_ok)) >= spread:  # only a trend that matters over the reference
            cols.append(days - float(np.median(d_ok)))
    if cols:
        design = np.column_stack([np.ones_like(x), *cols])
        coef, *_ = np.linalg.lstsq(design[ok], x[ok], rcond=None)
        x = x - design @ coef + coef[0]
    ref_vals = x[ref]
    overall = float(np.nanmedian(ref_vals)) if np.isfinite(ref_vals).any() else 0.0
    step = index[1] - index[0] if len(index) > 1 else pd.Timedelta(days=1)
    if seasonality == "none" or step >= pd.Timedelta(days=1):
        baseline = np.full_like(x, overall)
    else:
        key = np.asarray(index.hour, dtype=np.int64)
        if seasonality == "weekly":
            key = key + 24 * (np.asarray(index.dayofweek) >= 5)
        prof = pd.Series(ref_vals).groupby(key[ref]).median()
        lut = np.full(48, overall)
        lut[prof.index.to_numpy()] = prof.to_numpy()
        lut[~np.isfinite(lut)] = overall
        baseline = lut[key]
    r = x - baseline
    sigma = _mad_scale(r[ref])
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = max(abs(overall) * 1e-3, 1e-9)
    return r / sigma, baseline, sigma


def calibrate(stat: np.ndarray, ref: np.ndarray, alpha: float) -> Threshold:
    """Learn center/scale/threshold of a statistic from its reference values.

    Args:
        stat: The statistic over the whole grid.
        ref: Boolean mask of the reference buckets.
        alpha: Target per-bucket probability of exceeding the threshold.
    """
    r = stat[ref]
    r = r[np.isfinite(r)]
    if r.size == 0:
        return Threshold(0.0, 1.0, math.inf)
    center = float(np.median(r))
    scale = _mad_scale(r)
    if not np.isfinite(scale) or scale <= 0:
        scale = 1e-9
    z_star = _gauss_isf(alpha / 2)
    q99 = float(np.quantile(np.abs(r - center) / scale, 0.99))
    tail = min(max(q99 / _GAUSS_Q99, 1.0), 3.0)
    return Threshold(center, scale, z_star * tail)


@functools.lru_cache(maxsize=256)
def _gauss_isf(p: float) -> float:
    return float(stats.norm.isf(p))


def _siegmund_arl(h: float, k: float) -> float:
    b = h + 1.166
    return (math.exp(2 * k * b) - 2 * k * b - 1) / (2 * k * k)


@functools.lru_cache(maxsize=256)
def cusum_threshold(arl0: float, k: float) -> float:
    """Decision interval ``h`` whose in-control average run length is ``arl0`` (Siegmund).

    Args:
        arl0: Wanted average number of samples between false alarms.
        k: Allowance in sigmas.
    """
    arl0 = max(arl0, 2.0)
    return float(optimize.brentq(lambda h: _siegmund_arl(h, k) - arl0, 0.0, 200.0))


def episodes_from_statistic(
    stat: np.ndarray, thr: float, *, hysteresis: float, min_duration: int
) -> list[tuple[int, int, float, int]]:
    """Alarm episodes of a standardised statistic with hysteresis and minimum duration.

    An episode starts where ``|stat|`` first exceeds ``thr`` inside a run of ``|stat| >
    hysteresis * thr`` and ends where that run ends; it is kept when it lasts at least
    ``min_duration`` samples from its alarm on.

    Args:
        stat: Standardised statistic (NaN counts as quiet).
        thr: Alarm threshold.
        hysteresis: Release level as a fraction of ``thr``.
        min_duration: Samples from the alarm to the end of the run needed to keep it.

    Returns:
        ``(alarm_index, end_index_inclusive, peak_abs, sign_at_peak)`` per episode.
    """
    if not math.isfinite(thr) or stat.size == 0:
        return []
    a = np.nan_to_num(np.abs(stat), nan=0.0)
    on = a > thr
    if not on.any():
        return []
    stay = a > thr * hysteresis
    d = np.diff(np.concatenate(([0], stay.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)  # exclusive
    on_idx = np.flatnonzero(on)
    pos = np.searchsorted(on_idx, starts)
    has_on = (pos < on_idx.size) & (on_idx[np.minimum(pos, on_idx.size - 1)] < ends)
    alarm = on_idx[np.minimum(pos, on_idx.size - 1)]
    keep = has_on & ((ends - alarm) >= min_duration)
    out = []
    for s, e in zip(alarm[keep], ends[keep], strict=True):
        seg = a[s:e]
        p = int(np.argmax(seg)) + int(s)
        out.append((int(s), int(e - 1), float(a[p]), 1 if stat[p] >= 0 else -1))
    return out


def _rolling_median(z: pd.Series, w: int) -> pd.Series:
    return z.rolling(w, min_periods=max(1, w // 2)).median()


def _statistic(name: str, z: pd.Series, cfg: DetectorConfig) -> np.ndarray:
    if name == "robust_z":
        return _rolling_median(z, cfg.smooth).to_numpy()
    if name == "ewma":
        return z.ewm(alpha=cfg.ewma_alpha, ignore_na=True).mean().to_numpy()
    if name == "level_shift":
        m = _rolling_median(z, cfg.shift_window)
        return (m - m.shift(cfg.shift_window)).to_numpy()
    if name == "spike":
        med = _rolling_median(z, cfg.spike_window).shift(1)
        mad = (z - med).abs().rolling(cfg.spike_window, min_periods=max(1, cfg.spike_window // 2)).median().shift(1)
        return ((z - med) / (1.4826 * mad.clip(lower=0.2))).to_numpy()
    raise ValueError(f"Unknown detector {name!r}; valid: {', '.join(UNIVARIATE_DETECTORS)}")


def _cusum(z: np.ndarray, ref: np.ndarray, cfg: DetectorConfig, alpha: float) -> list[tuple[int, int, float, int]]:
    b = max(cfg.cusum_block, 1)
    n = z.size
    nb = n // b
    if nb < 2:
        return []
    blocks = z[: nb * b].reshape(nb, b)
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(blocks).sum(axis=1)
        means = np.where(counts > 0, np.nansum(blocks, axis=1) / np.maximum(counts, 1), np.nan)
    ref_b = ref[: nb * b].reshape(nb, b).all(axis=1)
    rv = means[ref_b & np.isfinite(means)]
    if rv.size < 4:
        return []
    center, scale = float(np.median(rv)), _mad_scale(rv)
    if not np.isfinite(scale) or scale <= 0:
        return []
    y = np.nan_to_num((means - center) / scale, nan=0.0)
    cp = np.cumsum(y - cfg.cusum_k)
    cn = np.cumsum(-y - cfg.cusum_k)
    sp = cp - np.minimum(np.minimum.accumulate(cp), 0.0)
    sn = cn - np.minimum(np.minimum.accumulate(cn), 0.0)
    signed = np.where(sp >= sn, sp, -sn)
    h = cusum_threshold(1.0 / max(alpha * b, 1e-12), cfg.cusum_k)
    h = max(h, float(np.abs(signed[ref_b]).max(initial=0.0)) * 1.05) * cfg.margin
    eps = episodes_from_statistic(
        signed, h, hysteresis=cfg.hysteresis, min_duration=max(1, math.ceil(cfg.min_duration / b))
    )
    # block index -> grid index of the block's last bucket (the alarm is known only then)
    return [(s * b + b - 1, min(e * b + b - 1, n - 1), peak / h, sign) for s, e, peak, sign in eps]


def detect_series(
    sensor: str,
    values: np.ndarray,
    index: pd.DatetimeIndex,
    ref: np.ndarray,
    cfg: DetectorConfig,
    *,
    n_streams: int | None = None,
    exog: np.ndarray | None = None,
    z: np.ndarray | None = None,
) -> list[Episode]:
    """Run the configured univariate detectors on one sensor series.

    Args:
        sensor: Sensor id (copied into the episodes).
        values: Series on a regular grid, NaN for gaps.
        index: The grid (a regular DatetimeIndex).
        ref: Boolean mask of the healthy reference buckets.
        cfg: Detector configuration.
        n_streams: Streams sharing the asset's false-alarm budget (default: this sensor's detectors).
        exog: Operating-state covariate (plant load index) on the same grid, or None.
        z: The standardised residual when the caller already has it.

    Returns:
        Episodes per detector (not yet merged); ``score`` is peak / threshold.
    """
    if int(np.isfinite(values[ref]).sum()) < cfg.min_reference:
        return []
    z_arr = z if z is not None else standardized_residual(
        values, index, ref, seasonality=cfg.seasonality, exog=exog, detrend=cfg.detrend
    )[0]
    zs = pd.Series(z_arr)
    alpha = cfg.per_bucket_alpha(n_streams or len(cfg.detectors))
    out: list[Episode] = []
    for name in cfg.detectors:
        if name == "cusum":
            eps = _cusum(z_arr, ref, cfg, alpha)
        else:
            st = _statistic(name, zs, cfg)
            th = calibrate(st, ref, alpha)
            thr = th.thr * cfg.margin
            scaled = (st - th.center) / th.scale
            mind = cfg.spike_min_duration if name == "spike" else cfg.min_duration
            eps = [
                (s, e, peak / thr, sign)
                for s, e, peak, sign in episodes_from_statistic(scaled, thr, hysteresis=cfg.hysteresis, min_duration=mind)
            ]
        out.extend(
            Episode([sensor], name, s, e, score, sign, [name], {sensor: 1.0}) for s, e, score, sign in eps
        )
    return out


def detect_static_3sigma(sensor: str, values: np.ndarray, ref: np.ndarray, *, k: float = 3.0) -> list[Episode]:
    """The naive baseline: raw value outside mean +- k * std of the reference; no smoothing.

    Every run of consecutive out-of-band samples is one episode.

    Args:
        sensor: Sensor id.
        values: Series (any grid).
        ref: Boolean mask of the reference samples.
        k: Band half-width in standard deviations.
    """
    rv = values[ref]
    rv = rv[np.isfinite(rv)]
    if rv.size < 2:
        return []
    mu, sd = float(rv.mean()), float(rv.std())
    if sd <= 0:
        return []
    dev = (values - mu) / sd
    return [
        Episode([sensor], "static_3sigma", s, e, peak / k, sign, ["static_3sigma"], {sensor: 1.0})
        for s, e, peak, sign in episodes_from_statistic(dev, k, hysteresis=1.0, min_duration=1)
    ]


def merge_episodes(episodes: list[Episode], *, gap: int) -> list[Episode]:
    """Merge overlapping or close episodes of the same sensor set across detectors.

    The merged episode keeps the earliest alarm (and its detector), the latest end, the highest
    score and the direction of the highest-scoring part.

    Args:
        episodes: Episodes (any order).
        gap: Episodes whose start is within ``gap`` buckets of the current end are merged.
    """
    by_key: dict[tuple[str, ...], list[Episode]] = {}
    for ep in episodes:
        key = ("__pca__",) if ep.detector.startswith("pca") else (ep.sensors[0],)
        by_key.setdefault(key, []).append(ep)
    merged: list[Episode] = []
    for group in by_key.values():
        group.sort(key=lambda e: (e.start, e.end))
        cur: Episode | None = None
        for ep in group:
            if cur is not None and ep.start <= cur.end + gap:
                cur.end = max(cur.end, ep.end)
                for d in ep.detectors:
                    if d not in cur.detectors:
                        cur.detectors.append(d)
                if ep.score > cur.score:
                    cur.score, cur.sign = ep.score, ep.sign
                    if ep.contributions:
                        cur.contributions = dict(ep.contributions)
                continue
            cur = Episode(list(ep.sensors), ep.detector, ep.start, ep.end, ep.score, ep.sign,
                          list(ep.detectors), dict(ep.contributions))
            merged.append(cur)
    merged.sort(key=lambda e: (e.start, e.sensors[0]))
    return merged

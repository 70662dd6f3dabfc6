"""Early warning: days until a drifting health indicator reaches its alarm threshold.

The health indicator is the daily median of a sensor (the median also removes the daily
profile). A robust Theil-Sen line is fitted to it, and, when the values have left the healthy
baseline, also a Theil-Sen line on ``log(|value - baseline|)`` (exponential degradation); the
model with the smaller median absolute error on the recent half wins. The trend must be
significant (the 90 % confidence interval of the slope excludes zero, in the direction of the
threshold), otherwise the answer is "not enough data" / "no significant trend" rather than an
extrapolation of noise. The interval is the 10th-90th percentile of the days over a seeded
bootstrap of the daily points (vectorised Theil-Sen over all resamples at once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["Prognosis", "theil_sen_batch", "time_to_threshold"]

HORIZON_DAYS = 365.0


@dataclass(frozen=True)
class Prognosis:
    """Outcome of :func:`time_to_threshold` (days counted from ``as_of``)."""

    status: Literal["ok", "already_exceeded", "not_enough_data", "no_significant_trend", "moving_away"]
    estimate: float | None
    low: float | None
    high: float | None
    model: Literal["linear", "exponential"] | None
    slope_per_day: float | None
    current_level: float | None
    n_days: int
    message: str


def theil_sen_batch(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Theil-Sen slope and intercept of every row of ``(B, n)`` arrays at once.

    Args:
        t: Times, shape (B, n).
        y: Values, shape (B, n).
    """
    i, j = np.triu_indices(t.shape[1], k=1)
    dt = t[:, j] - t[:, i]
    dy = y[:, j] - y[:, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.where(dt != 0, dy / dt, np.nan)
    slope = np.nanmedian(slopes, axis=1)
    intercept = np.nanmedian(y - slope[:, None] * t, axis=1)
    return slope, intercept


def time_to_threshold(
    daily: pd.Series,
    threshold: float,
    *,
    direction: Literal["up", "down"],
    as_of: datetime,
    baseline: float | None = None,
    min_days: int = 7,
    n_boot: int = 300,
    seed: int = 0,
) -> Prognosis:
    """Days from ``as_of`` until the daily health indicator crosses ``threshold``.

    Args:
        daily: Daily values indexed by day (NaN allowed).
        threshold: The alarm level.
        direction: "up" when the alarm is above the values, "down" when below.
        as_of: Time the estimate refers to (days are counted from it).
        baseline: Healthy level, enabling the exponential model.
        min_days: Fewest daily points for any estimate.
        n_boot: Bootstrap resamples for the interval.
        seed: Bootstrap seed (results are deterministic).
    """
    s = daily.dropna()
    n = int(s.size)
    if n < min_days:
        return Prognosis("not_enough_data", None, None, None, None, None, None, n,
                         f"Not enough data: {n} daily point(s), need {min_days} to fit a trend.")
    sign = 1.0 if direction == "up" else -1.0
    t0 = pd.Timestamp(s.index[0])
    t = ((pd.DatetimeIndex(s.index) - t0) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    y = sign * s.to_numpy(dtype=float)  # work as if the threshold is above
    thr = sign * threshold
    t_asof = (pd.Timestamp(as_of) - t0) / pd.Timedelta(days=1)
    res = stats.theilslopes(y, t, alpha=0.90)
    slope, intercept, lo_s, hi_s = float(res.slope), float(res.intercept), float(res.low_slope), float(res.high_slope)
    level_now = intercept + slope * t_asof
    recent = float(np.median(y[-min(3, n):]))
    if recent >= thr or level_now >= thr:
        return Prognosis("already_exceeded", 0.0, 0.0, 0.0, "linear", sign * slope, sign * max(level_now, recent), n,
                         f"The indicator is already at or beyond the threshold {threshold:g}.")
    if hi_s < 0:
        return Prognosis("moving_away", None, None, None, "linear", sign * slope, sign * level_now, n,
                         "The indicator is moving away from the threshold.")
    if lo_s <= 0:
        return Prognosis("no_significant_trend", None, None, None, "linear", sign * slope, sign * level_now, n,
                         f"No significant trend towards {threshold:g} over {n} days (90 % CI of the slope "
                         f"{sign * lo_s:.3g}..{sign * hi_s:.3g} per day includes 0); not extrapolating noise.")
    # candidate models on the full data
    model: Literal["linear", "exponential"] = "linear"
    est = (thr - level_now) / slope
    half = t >= np.median(t)
    err_lin = float(np.median(np.abs(y[half] - (intercept + slope * t[half]))))
    base = None if baseline is None else sign * baseline
    if base is not None and np.all(y[half] > base) and thr > base:
        ly = np.log(np.maximum(y - base, 1e-12))
        rexp = stats.theilslopes(ly, t, alpha=0.90)
        if rexp.low_slope > 0:
            pred = base + np.exp(rexp.intercept + rexp.slope * t[half])
            err_exp = float(np.median(np.abs(y[half] - pred)))
            if err_exp < 0.8 * err_lin:
                model = "exponential"
                est = (math.log(thr - base) - (rexp.intercept + rexp.slope * t_asof)) / rexp.slope
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.integers(0, n, size=(n_boot, n)), axis=1)
    tb, yb = t[idx], y[idx]
    if model == "exponential" and base is not None:
        bs, bi = theil_sen_batch(tb, np.log(np.maximum(yb - base, 1e-12)))
        with np.errstate(divide="ignore", invalid="ignore"):
            days = np.where(bs > 0, (math.log(thr - base) - (bi + bs * t_asof)) / bs, np.inf)
    else:
        bs, bi = theil_sen_batch(tb, yb)
        with np.errstate(divide="ignore", invalid="ignore"):
            days = np.where(bs > 0, (thr - (bi + bs * t_asof)) / bs, np.inf)
    days = np.clip(np.nan_to_num(days, nan=np.inf), 0.0, HORIZON_DAYS)
    low, high = (float(v) for v in np.quantile(days, [0.1, 0.9]))
    est = float(min(max(est, 0.0), HORIZON_DAYS))
    capped = " (capped at the 365-day horizon)" if high >= HORIZON_DAYS else ""
    return Prognosis(
        "ok", round(est, 2), round(min(low, est), 2), round(max(high, est), 2), model, sign * slope,
        sign * level_now, n,
        f"{model.capitalize()} trend of {sign * slope:+.3g}/day over {n} days reaches {threshold:g} in about "
        f"{est:.1f} days (10-90 %: {min(low, est):.1f}..{max(high, est):.1f}){capped}.",
    )

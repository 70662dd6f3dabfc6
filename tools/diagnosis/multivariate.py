"""Per-asset multivariate detection: PCA fitted on the healthy reference, Hotelling T^2 and SPE/Q.

The input is the matrix of standardised, de-seasonalised residuals of the asset's sensors
(see :func:`tools.diagnosis.detectors.standardized_residual`). A PCA keeps the components
explaining ``variance`` of the reference; T^2 measures unusual moves inside that subspace, SPE
(the squared prediction error, Q) moves that break the sensors' usual correlation. Both are
smoothed over ``smooth`` buckets and thresholded with Box's ``g * chi2(h)`` approximation whose
``g, h`` match the reference statistic's mean and variance, at the per-bucket false-alarm
probability of the asset's budget. Per-sensor contributions (SPE: squared residual of the sensor;
T^2: ``sum_i t_i / lambda_i * p_ij * z_j``, clipped at zero) say which sensors drive an episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tools.diagnosis.detectors import DetectorConfig, Episode, episodes_from_statistic

__all__ = ["PcaModel", "PcaScores", "box_threshold", "detect_multivariate", "fit_pca", "score_pca"]


@dataclass(frozen=True)
class PcaModel:
    """A PCA of the reference residuals."""

    sensors: list[str]
    components: np.ndarray  # (k, p) rows are loadings
    eigvals: np.ndarray  # (k,)
    explained: float


@dataclass(frozen=True)
class PcaScores:
    """T^2 and SPE per bucket with per-sensor contributions."""

    t2: np.ndarray
    spe: np.ndarray
    contrib_t2: np.ndarray  # (n, p)
    contrib_spe: np.ndarray  # (n, p)


def fit_pca(sensors: list[str], z_ref: np.ndarray, *, variance: float = 0.9) -> PcaModel | None:
    """Fit the PCA on complete reference rows; None when there are too few rows or sensors.

    Args:
        sensors: Column names of ``z_ref``.
        z_ref: Reference residual matrix (n, p).
        variance: Share of variance the kept components explain (at least one is left for SPE).
    """
    rows = z_ref[np.isfinite(z_ref).all(axis=1)]
    p = rows.shape[1] if rows.ndim == 2 else 0
    if p < 2 or rows.shape[0] < 5 * p:
        return None
    rows = np.clip(rows, -6.0, 6.0)  # a few reference outliers must not shape the model
    cov = np.cov(rows, rowvar=False)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.maximum(vals[order], 1e-9), vecs[:, order]
    share = np.cumsum(vals) / vals.sum()
    k = int(min(np.searchsorted(share, variance) + 1, p - 1))
    return PcaModel(list(sensors), vecs[:, :k].T.copy(), vals[:k].copy(), float(share[k - 1]))


def score_pca(model: PcaModel, z: np.ndarray) -> PcaScores:
    """T^2, SPE and contributions of every row (gaps count as the reference median, 0).

    Args:
        model: The fitted PCA.
        z: Residual matrix (n, p) in the model's sensor order.
    """
    x = np.nan_to_num(z, nan=0.0)
    t = x @ model.components.T  # (n, k)
    recon = t @ model.components
    e = x - recon
    spe = (e * e).sum(axis=1)
    w = t / model.eigvals  # (n, k)
    t2 = (t * w).sum(axis=1)
    contrib_t2 = np.clip((w @ model.components) * x, 0.0, None)
    return PcaScores(t2, spe, contrib_t2, e * e)


def box_threshold(ref_stat: np.ndarray, alpha: float) -> float:
    """Threshold of a non-negative statistic with Box's ``g * chi2(h)`` fitted by moments.

    Args:
        ref_stat: Statistic values on the reference.
        alpha: Target per-bucket exceedance probability.
    """
    r = ref_stat[np.isfinite(ref_stat)]
    if r.size < 10:
        return math.inf
    m, v = float(r.mean()), float(r.var())
    if m <= 0 or v <= 0:
        return math.inf
    g, h = v / (2 * m), 2 * m * m / v
    thr = g * float(stats.chi2.isf(alpha, h))
    q99_model = g * float(stats.chi2.isf(0.01, h))
    tail = min(max(float(np.quantile(r, 0.99)) / q99_model, 1.0), 3.0)
    return thr * tail


def detect_multivariate(
    sensors: list[str], z: np.ndarray, ref: np.ndarray, cfg: DetectorConfig, *, alpha: float
) -> list[Episode]:
    """PCA T^2 / SPE episodes of one asset with per-sensor contributions.

    Args:
        sensors: Column names of ``z``.
        z: Standardised residual matrix (n, p) on the asset's grid.
        ref: Boolean mask of the reference rows.
        cfg: Detector configuration (smoothing, hysteresis, minimum duration).
        alpha: Per-bucket false-alarm probability of each of the two statistics.
    """
    model = fit_pca(sensors, z[ref])
    if model is None:
        return []
    sc = score_pca(model, z)
    out: list[Episode] = []
    w = max(cfg.smooth, 1)
    for name, raw, contrib in (("pca_t2", sc.t2, sc.contrib_t2), ("pca_spe", sc.spe, sc.contrib_spe)):
        stat = pd.Series(raw).rolling(w, min_periods=max(1, w // 2)).mean().to_numpy()
        thr = box_threshold(stat[ref], alpha) * cfg.margin
        for s, e, peak, _ in episodes_from_statistic(stat, thr, hysteresis=cfg.hysteresis,
                                                     min_duration=cfg.min_duration):
            c = contrib[s : e + 1].sum(axis=0)
            total = float(c.sum()) or 1.0
            shares = {sensors[j]: float(c[j] / total) for j in np.argsort(c)[::-1]}
            top = [sid for sid, sh in shares.items() if sh >= 0.15] or [next(iter(shares))]
            j0 = sensors.index(top[0])
            seg = z[s : e + 1, j0]
            sign = 1 if float(np.nanmean(seg)) >= 0 else -1 if np.isfinite(seg).any() else 1
            out.append(Episode(top, name, s, e, peak / thr, sign, [name],
                               {k: round(v, 4) for k, v in shares.items()}))
    return out

"""Data-driven surrogates fitted to plant readings, with cross-validated error and a trust region.

A :class:`Surrogate` predicts one target (e.g. plant power, kW) from a few features (load,
weather, setpoints). It is fitted with scikit-learn (gradient boosting by default, or a Gaussian
process), its error is K-fold cross-validated, and it knows where it may be trusted: the
bounding box of the training data **and** the convex hull of the (standardized) training points.
Predictions outside that region are flagged, and :func:`optimize_surrogate` never searches
outside it: it clips the requested bounds to the data and says so, and it refuses conditions
(load, weather) that the data never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.spatial import Delaunay, QhullError
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tools.errors import ToolFailed
from tools.optimization.search import SubProblem, Var, solve_de

__all__ = ["Surrogate", "SurrogateMethod", "SurrogateOptimum", "fit_surrogate", "optimize_surrogate"]

SurrogateMethod = Literal["gbr", "gp"]
MAX_HULL_POINTS = 1500


def _estimator(method: SurrogateMethod, seed: int, n_features: int) -> Any:
    if method == "gbr":
        return GradientBoostingRegressor(n_estimators=150, max_depth=3, learning_rate=0.1, subsample=0.9, random_state=seed)
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.ones(n_features)) + WhiteKernel(1e-2)
    return make_pipeline(StandardScaler(), GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=seed))


@dataclass
class Surrogate:
    """A fitted surrogate with its cross-validated error and trust region.

    Attributes:
        features: Feature names (column order of ``predict``).
        target: Target name.
        method: ``gbr`` or ``gp``.
        model: The fitted scikit-learn estimator.
        lo: Per-feature minimum of the training data.
        hi: Per-feature maximum of the training data.
        cv_rmse: K-fold cross-validated RMSE, target units.
        cv_mape: K-fold cross-validated mean absolute percentage error, %.
        n_samples: Training rows.
    """

    features: list[str]
    target: str
    method: SurrogateMethod
    model: Any
    lo: np.ndarray
    hi: np.ndarray
    cv_rmse: float
    cv_mape: float
    n_samples: int
    _hull: Delaunay | None = None
    _mu: np.ndarray | None = None
    _sd: np.ndarray | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predict the target for rows of features (2-D array, ``features`` order)."""
        return np.asarray(self.model.predict(np.atleast_2d(x)), dtype=float)

    def inside(self, x: np.ndarray) -> np.ndarray:
        """Whether each row lies in the trust region (box and convex hull of the data)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        ok = np.all((x >= self.lo - 1e-9) & (x <= self.hi + 1e-9), axis=1)
        if self._hull is not None:
            ok &= self._hull.find_simplex((x - self._mu) / self._sd) >= 0
        return ok

    def check(self, values: dict[str, float]) -> list[str]:
        """Reasons why a point is outside the trust region (empty when inside).

        Args:
            values: Feature name -> value.
        """
        x = np.array([values[f] for f in self.features], dtype=float)
        out = [f"{f}={v:g} outside the data range [{lo:g}, {hi:g}]"
               for f, v, lo, hi in zip(self.features, x, self.lo, self.hi, strict=True) if v < lo - 1e-9 or v > hi + 1e-9]
        if not out and not bool(self.inside(x)[0]):
            out.append("inside the data box but outside the convex hull of the training points "
                       "(this combination was never observed)")
        return out


def fit_surrogate(
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    *,
    method: SurrogateMethod = "gbr",
    folds: int = 5,
    seed: int = 0,
) -> Surrogate:
    """Fit a surrogate on ``frame`` and cross-validate it.

    Args:
        frame: Training rows (one column per feature and the target; NaN rows are dropped).
        features: Feature columns.
        target: Target column.
        method: ``gbr`` (gradient boosting) or ``gp`` (Gaussian process).
        folds: Folds of the cross-validation.
        seed: Random seed.
    """
    missing = [c for c in [*features, target] if c not in frame.columns]
    if missing:
        raise ToolFailed(f"Training data lacks columns {missing}; it has {list(frame.columns)}.")
    data = frame[[*features, target]].dropna()
    if len(data) < max(20, folds * 4):
        raise ToolFailed(f"Only {len(data)} complete rows to fit a surrogate of {target!r}; at least "
                         f"{max(20, folds * 4)} are needed. Use model='physics' or load more readings.")
    x = data[features].to_numpy(dtype=float)
    y = data[target].to_numpy(dtype=float)
    if method == "gp" and len(x) > 800:  # exact GP is O(n³): keep it to a spread-out subsample
        keep = np.random.default_rng(seed).choice(len(x), 800, replace=False)
        x, y = x[keep], y[keep]
    est = _estimator(method, seed, len(features))
    pred = cross_val_predict(est, x, y, cv=KFold(folds, shuffle=True, random_state=seed))
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    mape = float(100 * np.mean(np.abs(pred - y) / np.maximum(np.abs(y), 1e-9)))
    est.fit(x, y)
    sur = Surrogate(features, target, method, est, x.min(axis=0), x.max(axis=0), rmse, mape, len(data))
    rng = np.random.default_rng(seed)
    pts = x if len(x) <= MAX_HULL_POINTS else x[rng.choice(len(x), MAX_HULL_POINTS, replace=False)]
    mu, sd = pts.mean(axis=0), np.where(pts.std(axis=0) > 0, pts.std(axis=0), 1.0)
    try:
        sur._hull, sur._mu, sur._sd = Delaunay((pts - mu) / sd), mu, sd
    except QhullError:  # degenerate data (a constant feature): the box alone is the trust region
        sur._hull = None
    return sur


@dataclass(frozen=True)
class SurrogateOptimum:
    """The best decision found on a surrogate.

    Attributes:
        values: Decision feature -> value.
        predicted: Predicted target there.
        evaluations: Surrogate evaluations used.
        binding: Bounds the optimum sits on (named).
        notes: What was clipped to the trust region.
    """

    values: dict[str, float]
    predicted: float
    evaluations: int
    binding: list[str]
    notes: list[str]


def optimize_surrogate(
    sur: Surrogate,
    conditions: dict[str, float],
    bounds: dict[str, tuple[float, float]],
    *,
    budget: int = 1500,
    seed: int = 0,
) -> SurrogateOptimum:
    """Minimize the surrogate over the decision features by differential evolution, inside the trust region.

    Args:
        sur: The surrogate.
        conditions: Values of the non-decision features (load, weather...).
        bounds: Requested (lo, hi) per decision feature; clipped to the data range.
        budget: Surrogate evaluations.
        seed: Seed of the evolution.
    """
    idx = {f: i for i, f in enumerate(sur.features)}
    unknown = [k for k in [*conditions, *bounds] if k not in idx]
    if unknown or set(conditions) | set(bounds) != set(sur.features):
        raise ToolFailed(f"The surrogate's features are {sur.features}; got conditions {list(conditions)} "
                         f"and decisions {list(bounds)}.")
    for f, val in conditions.items():
        lo, hi = sur.lo[idx[f]], sur.hi[idx[f]]
        if val < lo or val > hi:
            raise ToolFailed(f"Refusing to optimize on the data-driven model: {f}={val:g} is outside the range the "
                             f"data covers [{lo:g}, {hi:g}]. Use model='physics' or collect data at these conditions.")
    notes: list[str] = []
    vars_: list[Var] = []
    for f, (rlo, rhi) in bounds.items():
        dlo, dhi = float(sur.lo[idx[f]]), float(sur.hi[idx[f]])
        lo, hi = max(rlo, dlo), min(rhi, dhi)
        if lo > hi:
            raise ToolFailed(f"Requested {f} in [{rlo:g}, {rhi:g}] but the data only covers [{dlo:g}, {dhi:g}]; "
                             "the surrogate cannot be trusted there. Use model='physics'.")
        if lo > rlo or hi < rhi:
            notes.append(f"{f}: requested [{rlo:g}, {rhi:g}], searched only [{lo:g}, {hi:g}] (the data's range, "
                         "the surrogate's trust region).")
        vars_.append(Var(f, lo, hi, f"trust region min {f}" if lo > rlo else f"band min {f}",
                         f"trust region max {f}" if hi < rhi else f"band max {f}"))

    def point(x: np.ndarray) -> np.ndarray:
        row = np.zeros(len(sur.features))
        for f, val in conditions.items():
            row[idx[f]] = val
        for v, xi in zip(vars_, x, strict=True):
            row[idx[v.name]] = xi
        return row

    def evaluate(x: np.ndarray) -> tuple[float, np.ndarray]:
        row = point(x)
        return float(sur.predict(row)[0]), np.array([1.0 if sur.inside(row)[0] else -1.0])

    prob = SubProblem("surrogate", vars_, evaluate, ["trust region (convex hull of the data)"])
    res = solve_de([prob], budget=budget, seed=seed)
    if res.x is None:
        raise ToolFailed("No point inside the surrogate's trust region at these conditions; use model='physics'.")
    bind = [v.lo_reason for v, xi in zip(vars_, res.x, strict=True) if xi - v.lo <= 1e-3 * max(v.hi - v.lo, 1e-9)]
    bind += [v.hi_reason for v, xi in zip(vars_, res.x, strict=True) if v.hi - xi <= 1e-3 * max(v.hi - v.lo, 1e-9)]
    return SurrogateOptimum({v.name: float(xi) for v, xi in zip(vars_, res.x, strict=True)}, res.value,
                            res.evaluations, bind, notes)

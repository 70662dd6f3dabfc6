"""Budgeted search over box-bounded sub-problems: SLSQP multi-start, differential evolution, random.

A *sub-problem* is one discrete configuration (which chillers or compressors run) with continuous
variables in a box and inequality constraints ``g(x) >= 0``. Every search here counts model
evaluations against one shared budget, so that methods can be compared at equal cost (the
regret eval does that). The best *feasible* point ever evaluated is what a search returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution, minimize

__all__ = ["Budget", "SearchResult", "SubProblem", "Var", "binding", "solve_de", "solve_random", "solve_slsqp"]

FEAS_TOL = 1e-7


@dataclass(frozen=True)
class Var:
    """A continuous decision variable with its bounds and why each bound is there.

    Attributes:
        name: Variable name (e.g. ``chws_c``).
        lo: Lower bound.
        hi: Upper bound.
        lo_reason: Constraint name reported when the optimum sits on ``lo``.
        hi_reason: Constraint name reported when the optimum sits on ``hi``.
    """

    name: str
    lo: float
    hi: float
    lo_reason: str = ""
    hi_reason: str = ""


@dataclass
class SubProblem:
    """One configuration: ``evaluate(x) -> (objective, g)`` with feasibility ``g >= 0``.

    Attributes:
        label: Human label, e.g. ``CHL-01+CHL-02``.
        vars: The continuous variables.
        evaluate: Objective (to minimize) and inequality constraint values.
        ineq_names: Names of the inequality constraints (same order as ``g``).
        start: A heuristic first start point, or None for the box centre.
        payload: Anything the builder needs to decode a point (e.g. the subset).
    """

    label: str
    vars: list[Var]
    evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]]
    ineq_names: list[str]
    start: np.ndarray | None = None
    payload: Any = None

    @property
    def lo(self) -> np.ndarray:
        """Lower bounds."""
        return np.array([v.lo for v in self.vars], dtype=float)

    @property
    def hi(self) -> np.ndarray:
        """Upper bounds."""
        return np.array([v.hi for v in self.vars], dtype=float)


class _Exhausted(Exception):
    pass


@dataclass
class Budget:
    """Counts distinct model evaluations and keeps the best feasible point.

    Attributes:
        limit: Most evaluations allowed.
        used: Evaluations so far.
        best_value: Best feasible objective seen.
        best_x: Its point.
        best_problem: Index of its sub-problem.
    """

    limit: int
    used: int = 0
    best_value: float = float("inf")
    best_x: np.ndarray | None = None
    best_problem: int = -1
    _cache: dict[tuple[int, bytes], tuple[float, np.ndarray]] = field(default_factory=dict)

    def __call__(self, k: int, prob: SubProblem, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Evaluate sub-problem ``k`` at ``x`` (cached; raises when the budget is spent)."""
        x = np.clip(np.asarray(x, dtype=float), prob.lo, prob.hi)
        key = (k, x.tobytes())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        if self.used >= self.limit:
            raise _Exhausted
        self.used += 1
        val, g = prob.evaluate(x)
        g = np.asarray(g, dtype=float)
        out = (float(val), g)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = out
        if np.isfinite(val) and (g.size == 0 or g.min() >= -FEAS_TOL) and val < self.best_value:
            self.best_value, self.best_x, self.best_problem = float(val), x.copy(), k
        return out

    @property
    def left(self) -> int:
        """Evaluations left."""
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a budgeted search.

    Attributes:
        problem: Index of the winning sub-problem (-1 when nothing feasible was found).
        x: Its point (None when nothing feasible was found).
        value: Its objective.
        evaluations: Model evaluations used.
        method: ``slsqp``, ``de`` or ``random``.
    """

    problem: int
    x: np.ndarray | None
    value: float
    evaluations: int
    method: str


def _result(b: Budget, method: str) -> SearchResult:
    return SearchResult(b.best_problem, b.best_x, b.best_value, b.used, method)


def _slsqp_once(b: Budget, k: int, prob: SubProblem, x0: np.ndarray, maxiter: int) -> None:
    lo, hi = prob.lo, prob.hi
    width = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    fixed = hi - lo <= 1e-12
    scale = abs(b(k, prob, x0)[0]) or 1.0

    def to_x(u: np.ndarray) -> np.ndarray:
        return np.where(fixed, lo, lo + np.clip(u, 0.0, 1.0) * width)

    def fun(u: np.ndarray) -> float:
        return b(k, prob, to_x(u))[0] / scale

    def cons(u: np.ndarray) -> np.ndarray:
        return b(k, prob, to_x(u))[1]

    u0 = np.where(fixed, 0.0, (x0 - lo) / width)
    constraints = [{"type": "ineq", "fun": cons}] if prob.ineq_names else []
    bounds = [(0.0, 0.0) if f else (0.0, 1.0) for f in fixed]
    minimize(fun, u0, method="SLSQP", bounds=bounds, constraints=constraints,
             options={"maxiter": maxiter, "ftol": 1e-10, "eps": 1e-7})


def solve_slsqp(
    problems: list[SubProblem], *, budget: int = 3000, starts: int = 4, seed: int = 0, maxiter: int = 60
) -> SearchResult:
    """Multi-start SLSQP (finite-difference gradients) over every sub-problem within ``budget``.

    Each sub-problem is first started from its heuristic point; further random starts go to the
    sub-problems in order of their best value so far, round robin, until ``starts`` per
    sub-problem or the budget run out.

    Args:
        problems: The sub-problems.
        budget: Most model evaluations in all.
        starts: Starts per sub-problem (the first is the heuristic one).
        seed: Seed for the random starts.
        maxiter: SLSQP iterations per start.
    """
    b = Budget(budget)
    rng = np.random.default_rng(seed)
    best_per: dict[int, float] = {}
    try:
        for k, p in enumerate(problems):
            x0 = p.start if p.start is not None else (p.lo + p.hi) / 2
            before = b.best_value
            _slsqp_once(b, k, p, np.asarray(x0, dtype=float), maxiter)
            best_per[k] = b.best_value if b.best_problem == k and b.best_value < before else float("inf")
        for _ in range(starts - 1):
            for k in sorted(best_per, key=lambda i: best_per[i]):
                p = problems[k]
                _slsqp_once(b, k, p, p.lo + rng.random(len(p.vars)) * (p.hi - p.lo), maxiter)
    except _Exhausted:
        pass
    return _result(b, "slsqp")


def solve_random(problems: list[SubProblem], *, budget: int = 3000, seed: int = 0) -> SearchResult:
    """Uniform random search: a random sub-problem, a uniform point in its box; ``budget`` evaluations.

    Args:
        problems: The sub-problems.
        budget: Model evaluations.
        seed: Random seed.
    """
    b = Budget(budget)
    rng = np.random.default_rng(seed)
    try:
        while b.left > 0:
            k = int(rng.integers(len(problems)))
            p = problems[k]
            b(k, p, p.lo + rng.random(len(p.vars)) * (p.hi - p.lo))
    except _Exhausted:
        pass
    return _result(b, "random")


def solve_de(
    problems: list[SubProblem], *, budget: int = 3000, seed: int = 0, penalty: float = 1e3
) -> SearchResult:
    """Differential evolution per sub-problem (for non-smooth surrogates), constraints as penalties.

    The budget is split evenly between the sub-problems.

    Args:
        problems: The sub-problems.
        budget: Most model evaluations in all.
        seed: Seed of the evolution.
        penalty: Penalty per unit of constraint violation (relative to the objective scale).
    """
    b = Budget(budget)
    share = max(1, budget // max(1, len(problems)))
    try:
        for k, p in enumerate(problems):
            dim = len(p.vars)
            popsize = max(5, min(15, share // (dim * 20) or 5))
            maxiter = max(1, share // (popsize * dim) - 1)
            center = p.start if p.start is not None else (p.lo + p.hi) / 2
            scale = abs(b(k, p, np.asarray(center, dtype=float))[0]) or 1.0

            def fun(x: np.ndarray, k: int = k, p: SubProblem = p, scale: float = scale) -> float:
                val, g = b(k, p, x)
                viol = float(np.clip(-g, 0, None).sum()) if g.size else 0.0
                return val / scale + penalty * viol

            bounds = [(v.lo, v.hi if v.hi > v.lo else v.lo + 1e-12) for v in p.vars]
            differential_evolution(fun, bounds, maxiter=maxiter, popsize=popsize, seed=seed, tol=1e-8,
                                   polish=False, init="sobol" if dim > 1 else "latinhypercube")
    except _Exhausted:
        pass
    return _result(b, "de")


def binding(prob: SubProblem, x: np.ndarray, *, tol: float = 1e-3) -> list[str]:
    """Names of the constraints active at ``x``: variable bounds (relative tol) and inequalities.

    Args:
        prob: The sub-problem.
        x: The point.
        tol: Tolerance, relative to the box width for bounds and absolute for ``g``.
    """
    out: list[str] = []
    for v, xi in zip(prob.vars, x, strict=True):
        w = max(v.hi - v.lo, 1e-9)
        if v.lo_reason and xi - v.lo <= tol * w:
            out.append(v.lo_reason)
        elif v.hi_reason and v.hi - xi <= tol * w:
            out.append(v.hi_reason)
    _, g = prob.evaluate(np.asarray(x, dtype=float))
    out += [n for n, gi in zip(prob.ineq_names, g, strict=True) if gi <= tol]
    return list(dict.fromkeys(out))

"""CP-SAT model of the flexible job shop: interval variables, NoOverlap per machine.

The *strong* model (default):

- one start/end pair per operation; one optional interval per alternative machine, sharing the
  operation's start and end (presence literals, exactly one per operation);
- downtime windows as fixed intervals inside each machine's NoOverlap;
- tight domains: an operation cannot start before its job's release plus the shortest work
  ahead of it, nor end after the horizon minus the shortest work after it; the horizon is the
  makespan of the best dispatching-rule schedule (MWKR/SPT/MOPNR/EDD), which is also given to
  CP-SAT as a solution hint;
- the lower bound CP-SAT proves (``BestObjectiveBound``) is reported with the schedule;
- search portfolio: with one or two workers CP-SAT runs a single full-search subsolver (the other
  worker cycles through its LNS neighbourhoods and first-solution heuristics). On a classic job
  shop that subsolver is ``no_lp`` (propagation only) instead of CP-SAT's ``default_lp``: there
  the LP has no rows (linearization level 1 does not linearize NoOverlap), so it proves no better
  bound (same bounds on ft10, la16, abz5, ta01 at 2-5 s) while its LP-driven search found worse
  schedules in the same time: at 2-5 s it lost to the hint-less textbook run on ft10, la16 and
  abz5 across seeds, ``no_lp`` did not (docs/scheduling.md, Benchmark). Flexible shops keep
  ``default_lp`` (no measured difference on mk02/06/08/10). :data:`FULL_SUBSOLVER` holds the choice.

The *textbook* model (``model="textbook"``, the benchmark baseline) is the same formulation
with a naive horizon (sum of all durations) and no hint.

:class:`JobShopModel` exposes the variables so that rescheduling and maintenance insertion add
their own terms; :func:`solve` is the one-call entry point.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ortools.sat.python import cp_model

from tools.errors import ToolFailed
from tools.scheduling.heuristics import best_dispatch
from tools.scheduling.model import Instance, Objective, ProgressPoint, ScheduledOp, Solution, SolveStatus
from tools.scheduling.validate import makespan_of, validate, weighted_tardiness_of

__all__ = ["FULL_SUBSOLVER", "JobShopModel", "ModelKind", "default_workers", "full_subsolver", "solve"]

ModelKind = Literal["strong", "textbook"]

#: CP-SAT full-search subsolver of the strong model when it has at most two workers, by shop kind
#: (measured choice, docs/scheduling.md Benchmark): classic job shop -> no LP, flexible -> default LP
FULL_SUBSOLVER: dict[Literal["job_shop", "flexible"], str] = {"job_shop": "no_lp", "flexible": "default_lp"}

_STATUS: dict[Any, SolveStatus] = {
    cp_model.OPTIMAL: "OPTIMAL",
    cp_model.FEASIBLE: "FEASIBLE",
    cp_model.INFEASIBLE: "INFEASIBLE",
    cp_model.UNKNOWN: "UNKNOWN",
}


def default_workers() -> int:
    """CP-SAT workers when none are asked for: the CPU count, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def full_subsolver(instance: Instance, *, model: ModelKind, workers: int) -> str | None:
    """The full-search subsolver the strong model asks CP-SAT for, or None for CP-SAT's own portfolio.

    Only with one or two workers, where CP-SAT runs a single full-search subsolver; with more it
    runs several and the choice is left to CP-SAT (not measured here). The textbook model keeps
    CP-SAT's defaults.
    """
    if model != "strong" or workers > 2:
        return None
    return FULL_SUBSOLVER["flexible" if instance.is_flexible else "job_shop"]


class _Progress(cp_model.CpSolverSolutionCallback):
    """Records (time, objective, makespan) at each improving solution; optionally hands the schedule on."""

    def __init__(
        self,
        makespan: cp_model.IntVar,
        t0: float,
        on_solution: Callable[[cp_model.CpSolverSolutionCallback], None] | None = None,
    ) -> None:
        super().__init__()
        self._makespan = makespan
        self._t0 = t0
        self._on_solution = on_solution
        self.points: list[ProgressPoint] = []

    def on_solution_callback(self) -> None:
        self.points.append(
            ProgressPoint(
                t=round(time.perf_counter() - self._t0, 4),
                objective=round(self.objective_value),
                makespan=int(self.value(self._makespan)),
            )
        )
        if self._on_solution is not None:
            self._on_solution(self)


@dataclass
class _OpVars:
    start: cp_model.IntVar | int
    end: cp_model.IntVar | int
    presence: dict[int, cp_model.IntVar | bool] = field(default_factory=dict)  # machine -> literal


class JobShopModel:
    """The CP-SAT model of one instance; add terms, then :meth:`run`.

    Args:
        instance: The instance.
        objective: makespan, weighted_tardiness or mix (``mix_weights`` of makespan and tardiness).
        model: strong (tight horizon, dispatching hint) or textbook (naive horizon, no hint).
        fixed: Operations that must keep their machine and start (started before ``not_before``).
        not_before: Free operations start at or after this time.
        mix_weights: (makespan weight, weighted-tardiness weight) for the mix objective.
        horizon: Override the horizon (latest end of any free operation).
        min_horizon: Make the horizon at least this (e.g. the makespan of a hint schedule).
        start_hint: The strong model's start schedule (hint and horizon) when the caller has a
            better one than the dispatching rules (e.g. a repaired plan); not computed then.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        objective: Objective = "makespan",
        model: ModelKind = "strong",
        fixed: Mapping[tuple[int, int], ScheduledOp] | None = None,
        not_before: int = 0,
        mix_weights: tuple[int, int] = (1, 1),
        horizon: int | None = None,
        min_horizon: int = 0,
        start_hint: list[ScheduledOp] | None = None,
    ) -> None:
        self.instance = instance
        self.objective: Objective = objective
        self.kind: ModelKind = model
        self.fixed = dict(fixed or {})
        self.not_before = not_before
        self.mix_weights = mix_weights
        self.model = cp_model.CpModel()
        self.start_hint: list[ScheduledOp] | None = start_hint
        if model == "strong" and start_hint is None:
            self.start_hint = best_dispatch(instance, objective=objective, fixed=self.fixed, not_before=not_before)
        self.horizon = max(horizon if horizon is not None else self._horizon(), min_horizon)
        self.ops: dict[tuple[int, int], _OpVars] = {}
        self.machine_intervals: list[list[cp_model.IntervalVar]] = [[] for _ in range(instance.n_machines)]
        self.extra_terms: list[tuple[int, cp_model.LinearExprT]] = []
        self.solver: cp_model.CpSolver | None = None
        self._build()

    # -- construction ----------------------------------------------------------------------
    def _naive_horizon(self) -> int:
        inst = self.instance
        total = sum(op.max_duration for job in inst.jobs for op in job.operations)
        rel = max([job.release for job in inst.jobs] + [self.not_before])
        down = sum(d.end - d.start for d in inst.downtimes) + max([d.end for d in inst.downtimes], default=0)
        fixed_end = max([s.end for s in self.fixed.values()], default=0)
        return total + rel + down + fixed_end

    def _horizon(self) -> int:
        if self.kind == "strong" and self.start_hint is not None and self.objective == "makespan":
            return makespan_of(self.start_hint)
        if self.kind == "strong" and self.start_hint is not None:
            # tardiness-optimal schedules can be longer than the hint, but never longer than
            # the hint's makespan plus all the work (any job can be delayed behind all others)
            total = sum(op.max_duration for job in self.instance.jobs for op in job.operations)
            return min(self._naive_horizon(), makespan_of(self.start_hint) + total)
        return self._naive_horizon()

    def _build(self) -> None:
        inst, m = self.instance, self.model
        strong = self.kind == "strong"
        hz = self.horizon
        for d in inst.downtimes:
            self.machine_intervals[d.machine].append(
                m.new_fixed_size_interval_var(d.start, d.end - d.start, f"down_m{d.machine}_{d.start}")
            )
        job_ends: list[cp_model.IntVar | int] = []
        for j, job in enumerate(inst.jobs):
            n_ops = len(job.operations)
            head = [0] * (n_ops + 1)  # shortest work before op o
            for o, op in enumerate(job.operations):
                head[o + 1] = head[o] + op.min_duration
            tail = [head[n_ops] - head[o] for o in range(n_ops + 1)]  # shortest work from op o on
            ready = max(job.release, self.not_before)
            prev_end: cp_model.IntVar | int | None = None
            for o, op in enumerate(job.operations):
                key = (j, o)
                if key in self.fixed:
                    s = self.fixed[key]
                    iv = m.new_fixed_size_interval_var(s.start, s.end - s.start, f"fix_{j}_{o}")
                    self.machine_intervals[s.machine].append(iv)
                    self.ops[key] = _OpVars(start=s.start, end=s.end, presence={s.machine: True})
                    prev_end = s.end
                    ready = max(ready, s.end)
                    continue
                lo = ready + (head[o] - head[self._first_free(j)] if strong else 0)
                hi_end = hz - (tail[o + 1] if strong else 0)
                lo = min(lo, max(0, hi_end - op.min_duration))
                start = m.new_int_var(lo, max(lo, hi_end - op.min_duration), f"s_{j}_{o}")
                end = m.new_int_var(lo + op.min_duration, max(lo + op.min_duration, hi_end), f"e_{j}_{o}")
                vars_ = _OpVars(start=start, end=end)
                if len(op.alternatives) == 1:
                    alt = op.alternatives[0]
                    iv = m.new_interval_var(start, alt.duration, end, f"i_{j}_{o}")
                    self.machine_intervals[alt.machine].append(iv)
                    vars_.presence[alt.machine] = True
                else:
                    lits = []
                    for alt in op.alternatives:
                        lit = m.new_bool_var(f"x_{j}_{o}_{alt.machine}")
                        iv = m.new_optional_interval_var(start, alt.duration, end, lit, f"i_{j}_{o}_{alt.machine}")
                        self.machine_intervals[alt.machine].append(iv)
                        vars_.presence[alt.machine] = lit
                        lits.append(lit)
                    m.add_exactly_one(lits)
                self.ops[key] = vars_
                if prev_end is not None:
                    m.add(start >= prev_end)
                else:
                    m.add(start >= max(job.release, self.not_before))
                prev_end = end
            assert prev_end is not None
            job_ends.append(prev_end)
        self.job_ends = job_ends
        ms_lo = max([e if isinstance(e, int) else 0 for e in job_ends] + [0])
        self.makespan = m.new_int_var(ms_lo, max(ms_lo, hz, *(e for e in job_ends if isinstance(e, int))), "makespan")
        m.add_max_equality(self.makespan, job_ends)
        self.tardiness: list[tuple[int, cp_model.IntVar]] = []
        for j, job in enumerate(inst.jobs):
            if job.due is None or job.weight == 0:
                continue
            job_end = job_ends[j]
            ub = max(0, (job_end if isinstance(job_end, int) else hz) - job.due)
            t = m.new_int_var(0, ub, f"tard_{j}")
            m.add(t >= job_end - job.due)
            self.tardiness.append((job.weight, t))
        self.weighted_tardiness = sum(w * t for w, t in self.tardiness) if self.tardiness else 0

    def add_window(self, machine: int, earliest: int, latest_end: int, length: int, name: str) -> cp_model.IntVar:
        """A movable block of ``length`` on ``machine`` inside [earliest, latest_end); returns its start."""
        start = self.model.new_int_var(earliest, latest_end - length, f"{name}_start")
        self.machine_intervals[machine].append(self.model.new_fixed_size_interval_var(start, length, name))
        return start

    def _first_free(self, j: int) -> int:
        o = 0
        while (j, o) in self.fixed:
            o += 1
        return o

    # -- objective and hints -----------------------------------------------------------------
    def primary(self) -> cp_model.LinearExprT:
        """The objective expression without extra terms."""
        if self.objective == "makespan":
            return self.makespan
        if self.objective == "weighted_tardiness":
            return self.weighted_tardiness
        wm, wt = self.mix_weights
        return wm * self.makespan + wt * self.weighted_tardiness

    def add_term(self, coef: int, expr: cp_model.LinearExprT) -> None:
        """Add ``coef * expr`` to the minimised objective (stability, maintenance start...)."""
        self.extra_terms.append((coef, expr))

    def hint(self, ops: list[ScheduledOp]) -> None:
        """Hint a schedule (machines and starts) to CP-SAT; unknown operations are skipped."""
        for s in ops:
            v = self.ops.get((s.job, s.op))
            if v is None or (s.job, s.op) in self.fixed:
                continue
            if s.machine not in v.presence:
                continue
            if isinstance(v.start, cp_model.IntVar):
                self.model.add_hint(v.start, s.start)
                if isinstance(v.end, cp_model.IntVar):
                    self.model.add_hint(v.end, s.end)
            for mach, lit in v.presence.items():
                if isinstance(lit, cp_model.IntVar):
                    self.model.add_hint(lit, mach == s.machine)

    # -- solve -------------------------------------------------------------------------------
    def run(
        self,
        *,
        time_limit: float = 10.0,
        workers: int | None = None,
        seed: int = 0,
        hint: list[ScheduledOp] | None = None,
        primary_weight: int = 1,
        on_solution: Callable[[list[ScheduledOp]], None] | None = None,
    ) -> Solution:
        """Solve and return a validated solution (the dispatching schedule if CP-SAT found none).

        Args:
            time_limit: Seconds for CP-SAT.
            workers: Parallel CP-SAT workers (None = CPU count, at most 8).
            seed: Random seed for reproducible runs.
            hint: A schedule to hint instead of the dispatching-rule one.
            primary_weight: Multiplier of the primary objective against the extra terms.
            on_solution: Called with each improving schedule CP-SAT finds (in its thread, not validated).
        """
        t0 = time.perf_counter()
        use_hint = hint if hint is not None else self.start_hint
        if use_hint:
            self.hint(use_hint)
        for ivs in self.machine_intervals:
            if len(ivs) > 1:
                self.model.add_no_overlap(ivs)
        terms: list[Any] = [primary_weight * self.primary()]
        terms += [coef * e for coef, e in self.extra_terms]
        self.model.minimize(sum(terms))
        solver = self.solver = cp_model.CpSolver()  # set before solving: another thread may stop_search() it
        solver.parameters.max_time_in_seconds = max(0.01, float(time_limit))
        solver.parameters.num_workers = workers or default_workers()
        solver.parameters.random_seed = seed
        sub = full_subsolver(self.instance, model=self.kind, workers=solver.parameters.num_workers)
        if sub is not None and sub != "default_lp":
            solver.parameters.subsolvers.append(sub)
        cb = _Progress(self.makespan, t0, None if on_solution is None else lambda c: on_solution(self._extract(c)))
        code = solver.solve(self.model, cb)
        status = _STATUS.get(int(code))
        if status is None:
            raise ToolFailed(f"CP-SAT rejected the model ({solver.status_name(code)}); this is a bug, please report it")
        elapsed = time.perf_counter() - t0
        bound = solver.best_objective_bound
        lb = math.ceil(bound - 1e-6) if math.isfinite(bound) else 0
        lower = lb if not self.extra_terms and primary_weight == 1 else 0
        if status in ("OPTIMAL", "FEASIBLE"):
            ops = self._extract(solver)
            source: Literal["cpsat", "heuristic", "input"] = "cpsat"
        elif self.start_hint is not None and status == "UNKNOWN":
            ops, source, status = list(self.start_hint), "heuristic", "FEASIBLE"
        else:
            return Solution(status=status, objective=self.objective, lower_bound=lower, solve_s=elapsed)
        sol = self._solution(ops, status=status, lower=lower, elapsed=elapsed, source=source)
        sol.progress = cb.points
        return sol

    def _extract(self, solver: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> list[ScheduledOp]:
        out = []
        for (j, o), v in self.ops.items():
            if (j, o) in self.fixed:
                out.append(self.fixed[(j, o)])
                continue
            start = solver.value(v.start)
            machine = next(mach for mach, lit in v.presence.items() if lit is True or solver.boolean_value(lit))
            dur = self.instance.jobs[j].operations[o].duration_on(machine)
            assert dur is not None
            out.append(ScheduledOp(job=j, op=o, machine=machine, start=start, end=start + dur))
        return out

    def _solution(
        self,
        ops: list[ScheduledOp],
        *,
        status: SolveStatus,
        lower: int,
        elapsed: float,
        source: Literal["cpsat", "heuristic", "input"],
    ) -> Solution:
        problems = validate(self.instance, ops)
        if problems:
            raise ToolFailed(
                f"internal error: the {source} schedule breaks {len(problems)} rule(s), first: {problems[0].message}"
            )
        ms = makespan_of(ops)
        wt = weighted_tardiness_of(self.instance, ops)
        value = (
            ms
            if self.objective == "makespan"
            else wt
            if self.objective == "weighted_tardiness"
            else (self.mix_weights[0] * ms + self.mix_weights[1] * wt)
        )
        return Solution(
            status=status,
            makespan=ms,
            lower_bound=min(lower, value) if lower else 0,
            objective=self.objective,
            objective_value=value,
            weighted_tardiness=wt,
            solve_s=elapsed,
            source=source,
            operations=sorted(ops, key=lambda s: (s.job, s.op)),
        )


def solve(
    instance: Instance,
    *,
    time_limit: float = 10.0,
    workers: int | None = None,
    objective: Objective = "makespan",
    mix_weights: tuple[int, int] = (1, 1),
    model: ModelKind = "strong",
    hint: list[ScheduledOp] | None = None,
    seed: int = 0,
) -> Solution:
    """Solve a (flexible) job-shop instance with CP-SAT; the schedule is validated before return.

    Args:
        instance: The instance (downtime windows, release and due dates included).
        time_limit: Seconds for CP-SAT.
        workers: Parallel CP-SAT workers (None = CPU count, at most 8).
        objective: makespan, weighted_tardiness or mix.
        mix_weights: (makespan weight, weighted-tardiness weight) for ``mix``.
        model: strong (default) or textbook (benchmark baseline).
        hint: A schedule to hint instead of the dispatching-rule one.
        seed: CP-SAT random seed.
    """
    jsm = JobShopModel(instance, objective=objective, model=model, mix_weights=mix_weights)
    return jsm.run(time_limit=time_limit, workers=workers, seed=seed, hint=hint)

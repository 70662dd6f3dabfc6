"""Large-neighbourhood search (LNS) from a feasible schedule: the warm-started half of a repair.

A repair starts from a feasible incumbent (the old plan right-shifted past the event). Each
iteration relaxes a *time window* of the incumbent (the first one starts where the disruption
starts, the next ones are random): operations that start inside the window may take any eligible
machine and position; later operations keep their machine and their order on it (precedence
between consecutive kept operations) but may shift in time; operations that end before the window
are frozen. CP-SAT solves that small model for a fraction of a second with the incumbent as a
complete hint and the incumbent's objective as an upper bound; an equal or better schedule
becomes the incumbent. The window size adapts: it grows while sub-problems are solved to
optimality and shrinks when they time out. A window that covers every free operation and is
solved to optimality proves the incumbent optimal, and the search stops.

With a proven makespan lower bound (:func:`~tools.scheduling.heuristics.makespan_lower_bound`),
every other iteration is a *targeted* search instead: the whole free part with the makespan
capped at a target, searched depth-first (CP-SAT fixed search, a hundred conflicts at most) with
every operation in turn at its earliest start, in the start order of a guide plan. Targets
alternate between the bound (guides in turn: the starting plan, i.e. the old plan's order, then
dispatching-rule plans, later the incumbent, with random perturbation) and half-way between the
highest target missed and the incumbent. After a disruption on the bottleneck machine the bound is
often the optimum and one such search finds it; the search stops as soon as the incumbent meets
the bound, and a target proven infeasible raises it.

``workers`` threads search in parallel on the shared incumbent (CP-SAT releases the GIL while
it solves). With a ``side`` search (a :class:`SideSearch`, e.g. CP-SAT on the full model hinted
with the incumbent), one of the threads runs it instead: every schedule it finds is offered to the
shared incumbent, it is stopped when the others finish, and a proof of optimality it returns ends
the search. Guides may be given as callables: they are computed by the first worker that needs
them, so the first targeted search starts at once.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from ortools.sat.python import cp_model

from tools.scheduling.model import Instance, Objective, ProgressPoint, ScheduledOp
from tools.scheduling.validate import makespan_of, objective_of

__all__ = ["LnsResult", "SideSearch", "improve"]

Key = tuple[int, int]
#: CP-SAT parameters of a sub-solve: light presolve (sub-models are small and re-built each time)
SUB_PARAMS: dict[str, int] = {"symmetry_level": 0, "cp_model_probing_level": 0, "max_presolve_iterations": 1}
#: conflicts a guided (depth-first) search may hit before it gives up: it succeeds quickly or thrashes
GUIDED_CONFLICTS = 100


@dataclass
class LnsResult:
    """The best schedule found and how the search went."""

    operations: list[ScheduledOp]
    objective_value: int
    progress: list[ProgressPoint] = field(default_factory=list)
    iterations: int = 0
    improvements: int = 0
    optimal_subproblems: int = 0
    proven_optimal: bool = False
    stopped: Literal["time_limit", "target", "optimal"] = "time_limit"
    lower_bound: int = 0


class SideSearch(Protocol):
    """A search that runs in one of :func:`improve`'s threads and offers the schedules it finds."""

    def run(self, offer: Callable[[list[ScheduledOp]], None], time_limit: float) -> int | None:
        """Search for at most ``time_limit`` s, calling ``offer`` with each schedule found.

        Returns a proven lower bound of the objective (e.g. the optimum it proved), or None.
        """
        ...

    def stop(self) -> None:
        """Ask a running :meth:`run` to return soon (called from another thread)."""
        ...


#: a guide plan, or a function that builds it (run by the first worker that needs it)
Guide = list[ScheduledOp] | Callable[[], list[ScheduledOp]]


@dataclass
class _Vars:
    start: cp_model.IntVar
    end: cp_model.IntVar
    presence: dict[int, cp_model.IntVar | bool]


class _SubModel:
    """A small CP-SAT model: relaxed operations free, later ones in their machine order, earlier ones frozen.

    Operations of the incumbent that end before the first relaxed operation starts are frozen
    (fixed intervals); the other non-relaxed free operations keep their machine and their order
    on it (precedence between consecutive ones) but may shift in time; relaxed operations may
    take any eligible machine and any position.
    """

    def __init__(
        self,
        instance: Instance,
        fixed: Mapping[Key, ScheduledOp],
        inc: Mapping[Key, ScheduledOp],
        relaxed: set[Key],
        *,
        not_before: int,
        bound: int,
        horizon: int,
        objective: Objective,
        floor: int = 0,
        order: list[Key] | None = None,
    ) -> None:
        self.instance = instance
        self.guided = order is not None
        self.inc = inc
        m = self.model = cp_model.CpModel()
        self.ops: dict[Key, _Vars] = {}
        freeze_before = min(inc[k].start for k in relaxed)
        per_machine: list[list[cp_model.IntervalVar]] = [[] for _ in range(instance.n_machines)]
        for d in instance.downtimes:
            if d.end > not_before:
                per_machine[d.machine].append(m.new_fixed_size_interval_var(d.start, d.end - d.start, "down"))
        seqs: dict[int, list[ScheduledOp]] = {}
        ends: list[cp_model.LinearExprT] = []
        tardiness: list[cp_model.LinearExprT] = []
        for j, job in enumerate(instance.jobs):
            n = len(job.operations)
            tail = [0] * (n + 1)
            for o in range(n - 1, -1, -1):
                tail[o] = tail[o + 1] + job.operations[o].min_duration
            ready = max(job.release, not_before)
            prev: cp_model.LinearExprT = ready
            for o, op in enumerate(job.operations):
                key = (j, o)
                s = inc[key]
                if key in fixed or (key not in relaxed and s.end <= freeze_before):
                    if s.end > not_before and s.end > s.start:
                        per_machine[s.machine].append(m.new_fixed_size_interval_var(s.start, s.end - s.start, "frozen"))
                    ready = max(ready, s.end)
                    prev = s.end
                    continue
                hi = max(ready + op.min_duration, horizon - tail[o + 1])
                start = m.new_int_var(ready, max(ready, hi - op.min_duration), f"s{j}_{o}")
                end = m.new_int_var(ready + op.min_duration, hi, f"e{j}_{o}")
                pres: dict[int, cp_model.IntVar | bool] = {}
                alts = op.alternatives if key in relaxed else tuple(a for a in op.alternatives if a.machine == s.machine)
                if len(alts) == 1:
                    a = alts[0]
                    per_machine[a.machine].append(m.new_interval_var(start, a.duration, end, f"i{j}_{o}"))
                    pres[a.machine] = True
                else:
                    lits = []
                    for a in alts:
                        lit = m.new_bool_var(f"x{j}_{o}_{a.machine}")
                        per_machine[a.machine].append(m.new_optional_interval_var(start, a.duration, end, lit, "i"))
                        pres[a.machine] = lit
                        lits.append(lit)
                    m.add_exactly_one(lits)
                m.add(start >= prev)
                ready += op.min_duration
                prev = end
                self.ops[key] = _Vars(start, end, pres)
                if key not in relaxed:
                    seqs.setdefault(s.machine, []).append(s)
                if order is None:  # a guided search starts elsewhere: the incumbent misses its target
                    m.add_hint(start, s.start)
                    m.add_hint(end, s.end)
                    for mach, present in pres.items():
                        if isinstance(present, cp_model.IntVar):
                            m.add_hint(present, mach == s.machine)
            ends.append(prev)
            if job.due is not None and job.weight > 0:
                t = m.new_int_var(0, max(0, horizon - job.due), f"t{j}")
                m.add(t >= prev - job.due)
                tardiness.append(job.weight * t)
        for seq in seqs.values():
            seq.sort(key=lambda s: s.start)
            for first, then in itertools.pairwise(seq):
                m.add(self.ops[(then.job, then.op)].start >= self.ops[(first.job, first.op)].end)
        for ivs in per_machine:
            if len(ivs) > 1:
                m.add_no_overlap(ivs)
        inc_ms = max(s.end for s in inc.values())
        self.makespan = m.new_int_var(0, max(horizon, inc_ms), "makespan")
        m.add_max_equality(self.makespan, ends)
        if order is None:
            m.add_hint(self.makespan, inc_ms)
        terms: list[cp_model.LinearExprT] = [self.makespan] if objective != "weighted_tardiness" else []
        if objective != "makespan":
            terms += tardiness
        expr = cp_model.LinearExpr.sum(terms or [self.makespan * 0])
        m.add(expr <= bound)
        if floor > 0 and objective == "makespan":
            m.add(expr >= floor)
        m.minimize(expr)
        if order is not None:  # depth-first: each operation in turn at its earliest start
            starts = [self.ops[k].start for k in order if k in self.ops]
            m.add_decision_strategy(starts, cp_model.CHOOSE_FIRST, cp_model.SELECT_MIN_VALUE)

    def extract(self, solver: cp_model.CpSolver) -> dict[Key, ScheduledOp]:
        out = dict(self.inc)
        for (j, o), v in self.ops.items():
            start = solver.value(v.start)
            mach = next(mm for mm, lit in v.presence.items() if lit is True or solver.boolean_value(lit))
            dur = self.instance.jobs[j].operations[o].duration_on(mach)
            assert dur is not None
            out[(j, o)] = ScheduledOp(job=j, op=o, machine=mach, start=start, end=start + dur)
        return out


def _window(rng: random.Random, inc: Mapping[Key, ScheduledOp], free: list[Key], size: int, at: int | None) -> set[Key]:
    """``size`` free operations consecutive in start order: from time ``at`` on, or at random."""
    size = max(1, min(size, len(free)))
    by_start = sorted(free, key=lambda k: (inc[k].start, k))
    if at is not None:
        first = next((i for i, k in enumerate(by_start) if inc[k].start >= at), 0)
        first = max(0, min(first, len(by_start) - size))
    else:
        first = rng.randrange(0, len(by_start) - size + 1)
    return set(by_start[first : first + size])


class _Search:
    """Shared state of the LNS threads: the incumbent, its value, the window size."""

    def __init__(self, incumbent: list[ScheduledOp], value: int, size: int) -> None:
        self.lock = threading.Lock()
        self.inc = {(s.job, s.op): s for s in incumbent}
        self.best = value
        self.size = size
        self.iterations = 0
        self.improvements = 0
        self.optimal = 0
        self.proven = False
        self.lower = 0  # proven lower bound of the objective
        self.tries = 0  # targeted searches so far
        self.failed = -1  # the highest target a guided search missed (heuristic, not a proof)


def improve(
    instance: Instance,
    incumbent: list[ScheduledOp],
    *,
    fixed: Mapping[Key, ScheduledOp],
    not_before: int,
    time_limit: float,
    workers: int = 1,
    seed: int = 0,
    objective: Objective = "makespan",
    focus: int | None = None,
    target: int | None = None,
    sub_time: float = 0.25,
    t0: float | None = None,
    lower_bound: int | None = None,
    guides: Sequence[Guide] = (),
    side: SideSearch | None = None,
) -> LnsResult:
    """Improve a feasible schedule by LNS with CP-SAT sub-solves until ``time_limit``.

    With a makespan ``lower_bound``, every worker alternates targeted searches (see the module
    docstring) with LNS iterations, starting with a targeted one. A schedule found becomes the
    incumbent; a target proven infeasible raises the bound. The search stops when the incumbent
    meets the bound (it is then optimal).

    Args:
        instance: The instance (downtime windows included).
        incumbent: A feasible schedule of every operation (fixed ones included).
        fixed: Operations that must not move (a prefix of their job).
        not_before: No free operation starts before this time.
        time_limit: Seconds for the whole search.
        workers: Parallel sub-solves (threads, one CP-SAT worker each).
        seed: Random seed (window choice and CP-SAT).
        objective: makespan, weighted_tardiness or mix (makespan + weighted tardiness).
        focus: Time where the disruption starts: the first window starts there.
        target: Stop as soon as the objective is <= this.
        sub_time: Seconds per sub-solve at most.
        t0: ``time.perf_counter()`` origin of the progress times (default: now).
        lower_bound: A proven lower bound of the makespan (e.g. :func:`~tools.scheduling.heuristics.makespan_lower_bound`);
            used with the makespan objective only.
        guides: Other feasible schedules of every operation (e.g. dispatching-rule plans), or functions
            that build them: a better one becomes the incumbent, and the targeted search also tries
            their start orders.
        side: A search one of the ``workers`` threads runs instead of LNS iterations (see
            :class:`SideSearch`); ignored with one worker.
    """
    start_clock = time.perf_counter()
    t0 = start_clock if t0 is None else t0
    value0 = objective_of(instance, incumbent, objective)
    progress = [ProgressPoint(t=round(start_clock - t0, 4), objective=value0, makespan=makespan_of(incumbent))]
    free = sorted((s.job, s.op) for s in incumbent if (s.job, s.op) not in fixed)
    if not free:
        return LnsResult(list(incumbent), value0, progress, proven_optimal=True, stopped="optimal")
    horizon = makespan_of(incumbent)
    if objective != "makespan":  # a lower tardiness may need a longer plan
        horizon += sum(op.max_duration for job in instance.jobs for op in job.operations)
    min_size = min(len(free), 8)
    st = _Search(incumbent, value0, min(len(free), max(min_size, len(free) // 2)))
    st.lower = lower_bound if objective == "makespan" and lower_bound is not None else 0
    targeted = objective == "makespan" and lower_bound is not None
    deadline = start_clock + time_limit
    margin = min(0.05, 0.1 * time_limit)  # no new sub-solve this close to the deadline
    side = side if workers >= 2 else None

    def finished() -> bool:
        if st.best <= st.lower:
            st.proven = True
        return st.proven or (target is not None and st.best <= target) or deadline - time.perf_counter() < margin

    def solve_sub(sub: _SubModel, w: int, it: int) -> tuple[int, dict[Key, ScheduledOp] | None]:
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.02, min(sub_time, deadline - time.perf_counter()))
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = seed + 7919 * w + it
        for k, v in SUB_PARAMS.items():
            setattr(solver.parameters, k, v)
        if not instance.is_flexible:  # no LP rows in a classic job shop: propagation only (see solver.FULL_SUBSOLVER)
            solver.parameters.linearization_level = 0
        if sub.guided:
            solver.parameters.search_branching = cp_model.FIXED_SEARCH
            solver.parameters.max_number_of_conflicts = GUIDED_CONFLICTS
            solver.parameters.linearization_level = 0
            solver.parameters.stop_after_first_solution = True  # the next target is lower
        code = solver.solve(sub.model)
        return code, (sub.extract(solver) if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None)

    def accept(cand: dict[Key, ScheduledOp] | None) -> None:  # under st.lock
        value = objective_of(instance, list(cand.values()), objective) if cand is not None else None
        if cand is None or value is None or value > st.best:
            return
        if value < st.best:
            st.improvements += 1
            progress.append(
                ProgressPoint(
                    t=round(time.perf_counter() - t0, 4),
                    objective=value,
                    makespan=value if objective == "makespan" else makespan_of(list(cand.values())),
                )
            )
        st.best, st.inc = value, cand

    first_starts = {(s.job, s.op): s.start for s in incumbent}
    guide_starts: list[dict[Key, int]] = []
    guide_lock = threading.Lock()

    def load_guides() -> list[dict[Key, int]]:
        """Build the guides once (the first worker that needs them); a better one becomes the incumbent."""
        with guide_lock:
            if len(guide_starts) < len(guides):
                for guide in guides[len(guide_starts) :]:
                    plan = guide() if callable(guide) else guide
                    guide_starts.append({(g.job, g.op): g.start for g in plan})
                    if objective_of(instance, plan, objective) < st.best:  # an equal one is not: it moves more
                        with st.lock:
                            accept({(g.job, g.op): g for g in plan})
        return guide_starts

    def run_side(sd: SideSearch) -> None:
        def offer(ops: list[ScheduledOp]) -> None:
            with st.lock:
                accept({(s.job, s.op): s for s in ops})

        proven = sd.run(offer, max(0.0, deadline - time.perf_counter() - 0.01))
        if proven is not None:
            with st.lock:
                st.lower = max(st.lower, proven)
                if st.best <= proven:
                    st.proven = True

    def worker(w: int) -> None:
        rng = random.Random(seed * 1000 + w)
        it = 0
        focused = False
        while not finished():
            with st.lock:
                inc, best, size, lower = st.inc, st.best, st.size, st.lower
            it += 1
            if targeted and it % 2 == 1:  # every worker starts with a targeted search, then alternates with LNS
                with st.lock:
                    tries = st.tries = st.tries + 1
                    failed = st.failed
                # tries 1, 2, 4, 6... aim at the bound, taking in turn the start order of the starting plan (later:
                # the incumbent) and of each guide; 3, 5, 7... aim half-way between the highest target missed and
                # the incumbent, in the incumbent's order; orders are randomly perturbed after the first round
                at_bound = tries <= 2 or tries % 2 == 0
                starts_of = load_guides() if tries > 1 else []
                rnd, g = divmod((tries - 1 if tries <= 2 else tries // 2) % (4 * (1 + len(guides))), 1 + len(guides))
                if not at_bound:
                    goal, starts = (max(lower, failed + 1) + best - 1) // 2, {k: s.start for k, s in inc.items()}
                elif g > 0:
                    goal, starts = lower, starts_of[g - 1]
                else:
                    goal, starts = lower, first_starts if rnd == 0 else {k: s.start for k, s in inc.items()}
                noise = (0.0, 0.02, 0.05, 0.1)[rnd % 4] * max(1, best - not_before)
                key = {k: starts[k] + rng.uniform(0, noise) for k in free}
                sub = _SubModel(
                    instance, fixed, inc, set(free), not_before=not_before, bound=goal, horizon=goal, objective=objective,
                    order=sorted(free, key=key.__getitem__),
                )  # fmt: skip
                code, cand = solve_sub(sub, w, it)
                with st.lock:
                    st.iterations += 1
                    if code == cp_model.INFEASIBLE:  # the whole free part cannot end by `goal`
                        st.lower = max(st.lower, goal + 1)
                    if cand is None and goal > lower:
                        st.failed = max(st.failed, goal)
                        if goal >= st.best - 1:  # nothing left between: retry lower targets with other orders
                            st.failed = st.lower - 1
                    accept(cand)
                continue
            relaxed = _window(rng, inc, free, size, focus if (w == 0 and not focused) else None)
            focused = True
            sub = _SubModel(
                instance, fixed, inc, relaxed, not_before=not_before, bound=best, horizon=horizon, objective=objective,
                floor=lower,
            )  # fmt: skip
            code, cand = solve_sub(sub, w, it)
            with st.lock:
                st.iterations += 1
                if code == cp_model.OPTIMAL:
                    st.optimal += 1
                    st.size = min(len(free), int(st.size * 1.15) + 1)
                    # the whole free part re-optimised from the same bound: nothing better exists
                    st.proven = st.proven or len(relaxed) == len(free)
                else:
                    st.size = max(min_size, int(st.size * 0.85))
                accept(cand)

    n_lns = max(1, workers) - (side is not None)
    lns_threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(n_lns)]
    side_thread = None if side is None else threading.Thread(target=run_side, args=(side,), daemon=True)
    for th in [*lns_threads, *([side_thread] if side_thread else [])]:
        th.start()
    for th in lns_threads:
        th.join()
    if side is not None and side_thread is not None:  # the LNS is done (time, target or proof): the side stops too
        side.stop()
        side_thread.join()
    stopped: Literal["time_limit", "target", "optimal"] = (
        "optimal" if st.proven else "target" if target is not None and st.best <= target else "time_limit"
    )
    return LnsResult(
        operations=sorted(st.inc.values(), key=lambda s: (s.job, s.op)),
        objective_value=st.best,
        progress=progress,
        iterations=st.iterations,
        improvements=st.improvements,
        optimal_subproblems=st.optimal,
        proven_optimal=st.proven,
        stopped=stopped,
        lower_bound=st.lower,
    )

"""Repair a running schedule after an event: machine down, rush order, operation running late.

At time ``now`` every operation that started before ``now`` is fixed (it ran or is running),
except those the event invalidates (an operation on a machine that went down while it was, or
would have been, running restarts after the repair; its job's later operations follow).

The rest is repaired in two phases:

1. *objective*: the old plan, right-shifted past the event (always feasible), is the incumbent;
   a large-neighbourhood search (:mod:`tools.scheduling.lns`) re-optimises time windows of it with
   CP-SAT, the first window where the disruption starts. For the makespan it also knows a lower
   bound (one-machine relaxations around the new downtime and the running operations) and
   alternates with searches targeted at that bound, guided by the old plan's order and by two
   dispatching-rule plans of the new situation; it stops when it meets the bound. With two or
   more workers one thread instead runs CP-SAT on the whole post-event model, hinted with the
   right-shifted plan (a portfolio: on 20x15 job shops neither search dominates the other); each
   schedule it finds joins the shared incumbent, and its optimality proof ends the search;
2. *stability*: CP-SAT on the full model, hinted with the phase-1 schedule, minimises the number
   of moved operations (machine or start changed) with the objective bounded by phase 1's
   (lexicographic), or a weighted sum of objective and moves when ``stability_weight > 1``.

The repair is never worse than the right-shifted old plan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial
from typing import Annotated, Literal

from ortools.sat.python import cp_model
from pydantic import BaseModel, Field

from tools.errors import ToolFailed, ToolRetry
from tools.scheduling.heuristics import Rule, dispatch, makespan_lower_bound, repair
from tools.scheduling.lns import improve
from tools.scheduling.model import Alternative, Downtime, Instance, Job, Objective, ProgressPoint, ScheduledOp, Solution
from tools.scheduling.solver import JobShopModel, default_workers
from tools.scheduling.validate import makespan_of, objective_of, validate, weighted_tardiness_of

__all__ = [
    "Event",
    "MachineDown",
    "OpMove",
    "OperationLate",
    "RescheduleResult",
    "RushOrder",
    "apply_event",
    "fixed_prefix",
    "moved_operations",
    "reschedule",
    "right_shift",
    "stability_terms",
]


#: dispatching rules whose plans of the post-event problem guide the targeted search (besides the old plan)
GUIDE_RULES: tuple[Rule, ...] = ("MWKR", "MOPNR")


class _FullModelSearch:
    """CP-SAT on the whole post-event model, started from the right-shifted plan (the portfolio's side search).

    The strong model of the post-event problem with the right-shifted plan as start schedule (hint
    and horizon) and the makespan floored at the relaxation bound, so CP-SAT stops when it meets it.
    The model is built in the search's own thread, so the LNS's first targeted search starts at once.
    """

    def __init__(
        self,
        after: Instance,
        shifted: list[ScheduledOp],
        fixed: dict[tuple[int, int], ScheduledOp],
        now: int,
        objective: Objective,
        bound: int | None,
        seed: int,
    ) -> None:
        self.after, self.shifted, self.fixed, self.now = after, shifted, fixed, now
        self.objective, self.bound, self.seed = objective, bound, seed
        self.jsm: JobShopModel | None = None
        self.stopped = False

    def run(self, offer: Callable[[list[ScheduledOp]], None], time_limit: float) -> int | None:
        t0 = time.perf_counter()
        jsm = JobShopModel(self.after, objective=self.objective, fixed=self.fixed, not_before=self.now, start_hint=self.shifted)
        if self.bound is not None:
            jsm.model.add(jsm.makespan >= self.bound)
        self.jsm = jsm
        left = time_limit - (time.perf_counter() - t0)
        if self.stopped or left < 0.02:
            return None
        sol = jsm.run(time_limit=left, workers=1, seed=self.seed, on_solution=offer)
        return sol.objective_value if sol.status == "OPTIMAL" else (sol.lower_bound or None)

    def stop(self) -> None:
        self.stopped = True
        if self.jsm is not None and self.jsm.solver is not None:
            self.jsm.solver.stop_search()


class MachineDown(BaseModel):
    """Machine ``machine`` cannot work in [start, end) (breakdown, unplanned stop)."""

    kind: Literal["machine_down"] = "machine_down"
    machine: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class RushOrder(BaseModel):
    """A new job arrives and must be fitted in (released at ``now`` at the earliest)."""

    kind: Literal["rush_order"] = "rush_order"
    job: Job


class OperationLate(BaseModel):
    """Operation (job, op) takes ``delay`` longer than planned on its machine."""

    kind: Literal["operation_late"] = "operation_late"
    job: int = Field(ge=0)
    op: int = Field(ge=0)
    delay: int = Field(gt=0)


Event = Annotated[MachineDown | RushOrder | OperationLate, Field(discriminator="kind")]


class OpMove(BaseModel):
    """An operation whose machine or start changed in the repair."""

    job: int
    op: int
    machine_before: int
    machine_after: int
    start_before: int
    start_after: int


class RescheduleResult(BaseModel):
    """The repaired schedule and what changed."""

    instance: Instance
    solution: Solution
    now: int
    fixed: int
    restarted: list[tuple[int, int]]
    moved: list[OpMove]
    n_moved: int
    makespan_before: int
    makespan_after: int
    weighted_tardiness_before: int
    weighted_tardiness_after: int
    repair_s: float


def apply_event(instance: Instance, current: list[ScheduledOp], event: Event, *, now: int) -> Instance:
    """The instance after ``event`` (new downtime, longer duration, or one more job).

    Args:
        instance: The instance before the event.
        current: The running schedule (to find the machine of a late operation).
        event: What happened.
        now: The current time.
    """
    if isinstance(event, MachineDown):
        if event.machine >= instance.n_machines:
            raise ToolRetry(f"Unknown machine {event.machine}; valid: 0..{instance.n_machines - 1}")
        if event.end <= max(event.start, now):
            raise ToolRetry(f"machine_down ends at {event.end}, not after now={now} and start={event.start}")
        return instance.with_downtimes([Downtime(machine=event.machine, start=event.start, end=event.end)])
    if isinstance(event, RushOrder):
        job = event.job.model_copy(update={"release": max(event.job.release, now)})
        for o, op in enumerate(job.operations):
            for alt in op.alternatives:
                if alt.machine >= instance.n_machines:
                    raise ToolRetry(f"rush order op {o}: unknown machine {alt.machine}; valid: 0..{instance.n_machines - 1}")
        return instance.model_copy(update={"jobs": (*instance.jobs, job)})
    by_key = {(s.job, s.op): s for s in current}
    placed = by_key.get((event.job, event.op))
    if placed is None:
        raise ToolRetry(f"operation_late: job {event.job} op {event.op} is not in the current schedule")
    if placed.end <= now:
        raise ToolRetry(f"operation_late: job {event.job} op {event.op} already finished at {placed.end} (now={now})")
    jobs = list(instance.jobs)
    job = jobs[event.job]
    ops = list(job.operations)
    op = ops[event.op]
    alts = tuple(
        Alternative(machine=a.machine, duration=a.duration + event.delay) if a.machine == placed.machine else a
        for a in op.alternatives
    )
    ops[event.op] = op.model_copy(update={"alternatives": alts})
    jobs[event.job] = job.model_copy(update={"operations": tuple(ops)})
    return instance.model_copy(update={"jobs": tuple(jobs)})


def fixed_prefix(
    instance: Instance, current: list[ScheduledOp], *, now: int
) -> tuple[dict[tuple[int, int], ScheduledOp], list[tuple[int, int]]]:
    """Operations that stay: started before ``now`` and not hit by a downtime; plus the restarted ones.

    An operation that started before ``now`` but overlaps a downtime window of its machine was
    interrupted (or never started): it and the rest of its job are re-planned. A started
    operation whose duration grew keeps its start and gets its new end.

    Args:
        instance: The instance after the event.
        current: The running schedule.
        now: The current time.
    """
    by_job: dict[int, list[ScheduledOp]] = {}
    for s in current:
        by_job.setdefault(s.job, []).append(s)
    fixed: dict[tuple[int, int], ScheduledOp] = {}
    restarted: list[tuple[int, int]] = []
    for j, lst in by_job.items():
        for s in sorted(lst, key=lambda s: s.op):
            if s.start >= now:
                break
            dur = instance.jobs[j].operations[s.op].duration_on(s.machine)
            assert dur is not None
            end = s.start + dur
            hit = any(d.machine == s.machine and s.start < d.end and d.start < end for d in instance.downtimes)
            if hit:
                restarted.append((j, s.op))
                break
            fixed[(j, s.op)] = s.model_copy(update={"end": end})
    return fixed, restarted


def _stability_vars(jsm: JobShopModel, old: list[ScheduledOp]) -> list[tuple[tuple[int, int], cp_model.IntVar]]:
    m = jsm.model
    moved = []
    for s in old:
        v = jsm.ops.get((s.job, s.op))
        if v is None or (s.job, s.op) in jsm.fixed or not isinstance(v.start, cp_model.IntVar):
            continue
        lit = v.presence.get(s.machine)
        mv = m.new_bool_var(f"moved_{s.job}_{s.op}")
        if lit is None:
            m.add(mv == 1)
        else:
            stay = ~mv
            m.add(v.start == s.start).only_enforce_if(stay)
            if lit is not True:
                m.add_implication(stay, lit)
        moved.append(((s.job, s.op), mv))
    return moved


def stability_terms(jsm: JobShopModel, old: list[ScheduledOp]) -> list[cp_model.IntVar]:
    """One Boolean per free operation of the old schedule: true when it moved (machine or start)."""
    return [mv for _, mv in _stability_vars(jsm, old)]


def moved_operations(old: list[ScheduledOp], new: list[ScheduledOp]) -> list[OpMove]:
    """Operations whose machine or start differ between two schedules."""
    before = {(s.job, s.op): s for s in old}
    out = []
    for s in new:
        b = before.get((s.job, s.op))
        if b is not None and (b.machine != s.machine or b.start != s.start):
            out.append(
                OpMove(
                    job=s.job,
                    op=s.op,
                    machine_before=b.machine,
                    machine_after=s.machine,
                    start_before=b.start,
                    start_after=s.start,
                )
            )
    return out


def right_shift(
    instance: Instance,
    old: list[ScheduledOp],
    *,
    fixed: dict[tuple[int, int], ScheduledOp],
    now: int,
    objective: Objective = "makespan",
) -> list[ScheduledOp]:
    """The old plan made feasible after an event: the better of two right-shift repairs.

    One keeps every start it can (operations the event does not touch stay in place), the other
    also pulls work forward; ties go to the one that moves fewer operations.

    Args:
        instance: The instance after the event.
        old: The schedule before the event.
        fixed: Operations that stay where they are.
        now: No free operation starts before this time.
        objective: What "better" means.
    """
    cands = [repair(instance, old, fixed=fixed, not_before=now, keep_starts=k) for k in (True, False)]
    return min(cands, key=lambda ops: (objective_of(instance, ops, objective), len(moved_operations(old, ops))))


def reschedule(
    instance: Instance,
    current: Solution | list[ScheduledOp],
    event: Event | None,
    *,
    now: int,
    time_limit: float = 5.0,
    workers: int | None = None,
    objective: Objective = "makespan",
    stability_weight: int = 1,
    seed: int = 0,
    stability_share: float = 0.3,
) -> RescheduleResult:
    """Repair ``current`` after ``event`` at time ``now``.

    Args:
        instance: The instance the current schedule solves.
        current: The running schedule.
        event: What happened (None: just re-optimise the unstarted part).
        now: The current time; operations started before it stay (unless the event hits them).
        time_limit: Seconds for the whole repair.
        workers: Parallel CP-SAT workers (None = CPU count, at most 8); the neighbourhood search
            runs that many sub-solves at once.
        objective: makespan, weighted_tardiness or mix.
        stability_weight: Weight of each moved operation against (n+1) x the objective, n = number
            of operations that could move: 1 (default) = fewest moves among the best plans found;
            k x (n+1) = a move costs k objective units; 0 = ignore stability (no second phase).
        seed: Random seed (neighbourhoods and CP-SAT).
        stability_share: Share of ``time_limit`` kept for the stability phase (when
            ``stability_weight > 0``); the neighbourhood search stops earlier when it proves its
            schedule optimal, and the stability phase gets the rest.
    """
    t0 = time.perf_counter()
    old = current.operations if isinstance(current, Solution) else list(current)
    problems = validate(instance, old)
    if problems:
        raise ToolRetry(f"The current schedule does not fit the instance: {problems[0].message}")
    if not 0.0 <= stability_share < 1.0:
        raise ToolRetry(f"stability_share must be in [0, 1), got {stability_share}")
    after = apply_event(instance, old, event, now=now) if event is not None else instance
    fixed, restarted = fixed_prefix(after, old, now=now)
    workers = workers or default_workers()
    shifted = right_shift(after, old, fixed=fixed, now=now, objective=objective)
    bound, guides = None, []
    if objective == "makespan":  # a bound to aim at, and two dispatching-rule plans of the new situation as guides
        bound = makespan_lower_bound(after, fixed=fixed, not_before=now)[0]
        guides = [partial(dispatch, after, rule, fixed=fixed, not_before=now) for rule in GUIDE_RULES]
    # phase 1: the objective, by LNS from the right-shifted plan
    share = stability_share if stability_weight > 0 else 0.0
    lns = improve(
        after,
        shifted,
        fixed=fixed,
        not_before=now,
        time_limit=max(0.05, time_limit * (1.0 - share) - (time.perf_counter() - t0)),
        workers=workers,
        seed=seed,
        objective=objective,
        focus=_focus_time(event, now),
        t0=t0,
        lower_bound=bound,
        guides=guides,
        side=_FullModelSearch(after, shifted, fixed, now, objective, bound, seed),  # run with >= 2 workers
    )
    best = lns.operations
    sol = _phase2(after, old, best, shifted, fixed, now, t0, time_limit, workers, objective, stability_weight, seed)
    if sol is None:  # no stability phase (or it found nothing in time): the LNS schedule
        sol = _input_solution(after, best, objective, lns.proven_optimal)
    if lns.proven_optimal:  # the LNS value is the optimum of the objective
        sol.lower_bound = max(sol.lower_bound, lns.objective_value)
    sol.lower_bound = max(sol.lower_bound, min(lns.lower_bound, sol.objective_value))
    sol.progress = list(lns.progress)
    if sol.objective_value < lns.objective_value:
        sol.progress.append(
            ProgressPoint(t=round(time.perf_counter() - t0, 4), objective=sol.objective_value, makespan=sol.makespan)
        )
    sol.solve_s = time.perf_counter() - t0
    moves = moved_operations(old, sol.operations)
    return RescheduleResult(
        instance=after,
        solution=sol,
        now=now,
        fixed=len(fixed),
        restarted=restarted,
        moved=moves,
        n_moved=len(moves),
        makespan_before=makespan_of(old),
        makespan_after=sol.makespan,
        weighted_tardiness_before=weighted_tardiness_of(instance, old),
        weighted_tardiness_after=sol.weighted_tardiness,
        repair_s=sol.solve_s,
    )


#: the stability phase runs only with this much time left; it stops this much before the limit (validation, result)
_MIN_PHASE2_S = 0.1
_WRAP_UP_S = 0.02


def _focus_time(event: Event | None, now: int) -> int:
    """Where the disruption starts (the first LNS window starts there)."""
    return max(now, event.start) if isinstance(event, MachineDown) else now


def _input_solution(instance: Instance, ops: list[ScheduledOp], objective: Objective, optimal: bool) -> Solution:
    problems = validate(instance, ops)
    if problems:
        raise ToolFailed(f"internal error: the repaired schedule breaks {len(problems)} rule(s), first: {problems[0].message}")
    value = objective_of(instance, ops, objective)
    return Solution(
        status="OPTIMAL" if optimal else "FEASIBLE",
        makespan=makespan_of(ops),
        lower_bound=value if optimal else 0,
        objective=objective,
        objective_value=value,
        weighted_tardiness=weighted_tardiness_of(instance, ops),
        source="cpsat",
        operations=sorted(ops, key=lambda s: (s.job, s.op)),
    )


def _phase2(
    after: Instance,
    old: list[ScheduledOp],
    best: list[ScheduledOp],
    shifted: list[ScheduledOp],
    fixed: dict[tuple[int, int], ScheduledOp],
    now: int,
    t0: float,
    time_limit: float,
    workers: int,
    objective: Objective,
    stability_weight: int,
    seed: int,
) -> Solution | None:
    """Fewest moved operations: bounded objective (weight 1) or weighted sum (weight > 1)."""
    if stability_weight <= 0 or time_limit - (time.perf_counter() - t0) < _MIN_PHASE2_S:
        return None
    best_value = objective_of(after, best, objective)
    hint = best
    horizon = makespan_of(best)
    if stability_weight > 1:  # a move may be worth some objective: start from the better trade-off
        horizon = max(horizon, makespan_of(shifted))
        n = len(old)
        hint = min(
            (best, shifted),
            key=lambda ops: (n + 1) * objective_of(after, ops, objective) + stability_weight * len(moved_operations(old, ops)),
        )
    if objective != "makespan":
        horizon += sum(op.max_duration for job in after.jobs for op in job.operations)
    jsm = JobShopModel(after, objective=objective, model="textbook", fixed=fixed, not_before=now, horizon=horizon)
    moved = _stability_vars(jsm, old)
    if stability_weight == 1:
        jsm.model.add(jsm.primary() <= best_value)
    hint_moves = {(m.job, m.op) for m in moved_operations(old, hint)}
    for key, mv in moved:
        jsm.model.add_hint(mv, key in hint_moves)
        jsm.add_term(stability_weight, mv)
    jsm.model.add_hint(jsm.makespan, makespan_of(hint))
    primary_weight = len(moved) + 1
    left = time_limit - (time.perf_counter() - t0) - _WRAP_UP_S  # the model is built: what is left to solve
    if left < _MIN_PHASE2_S / 2:
        return None
    sol = jsm.run(time_limit=left, workers=workers, seed=seed, hint=hint, primary_weight=primary_weight)
    if not sol.operations:
        return None
    if jsm.solver is not None and math.isfinite(jsm.solver.best_objective_bound):
        # bound on (n+1) * primary + w * moved, with moved <= n: a bound on the primary objective
        bound = jsm.solver.best_objective_bound - stability_weight * len(moved)
        sol.lower_bound = max(0, min(sol.objective_value, math.ceil(bound / primary_weight - 1e-9)))
    return sol

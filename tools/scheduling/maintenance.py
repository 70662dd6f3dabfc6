"""Place a maintenance window on a machine before a deadline at the least cost to the plan.

The window is a movable block in the machine's NoOverlap. Operations started before ``now``
stay; the rest may move. The objective is lexicographic: first the production objective
(makespan or weighted tardiness), then the number of moved operations, then the window's start
(earliest). The cost reported is the increase of the production objective over the plan
without the window. An idle gap of the current plan long enough is found first (zero cost,
nothing moves) and given to CP-SAT as the hint.
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import BaseModel

from tools.errors import ToolRetry
from tools.scheduling.heuristics import _Timeline, repair
from tools.scheduling.model import Downtime, Instance, Objective, ScheduledOp, Solution
from tools.scheduling.reschedule import OpMove, fixed_prefix, moved_operations, stability_terms
from tools.scheduling.solver import JobShopModel
from tools.scheduling.validate import makespan_of, objective_of, validate, weighted_tardiness_of

__all__ = ["MaintenanceResult", "find_idle_gap", "insert_maintenance"]


class MaintenanceResult(BaseModel):
    """Where the maintenance window goes and what it costs."""

    machine: int
    start: int
    end: int
    cost: int
    objective: Objective
    makespan_before: int
    makespan_after: int
    weighted_tardiness_before: int
    weighted_tardiness_after: int
    n_moved: int
    moved: list[OpMove]
    idle_gap: bool
    status: Literal["OPTIMAL", "FEASIBLE"]
    solution: Solution


def find_idle_gap(
    instance: Instance, ops: list[ScheduledOp], machine: int, length: int, *, earliest: int, deadline: int
) -> int | None:
    """Earliest start s >= earliest with [s, s+length) idle on ``machine`` and s+length <= deadline.

    Args:
        instance: The instance (its downtime windows count as busy).
        ops: The current schedule.
        machine: The machine.
        length: The window's length.
        earliest: Not before this time.
        deadline: The window must end by this time.
    """
    line = _Timeline()
    for d in instance.downtimes:
        if d.machine == machine:
            line.add(d.start, d.end)
    for s in ops:
        if s.machine == machine:
            line.add(s.start, s.end)
    t = line.earliest(earliest, length)
    return t if t + length <= deadline else None


def insert_maintenance(
    instance: Instance,
    current: Solution | list[ScheduledOp],
    machine: int,
    length: int,
    *,
    deadline: int,
    now: int = 0,
    objective: Objective = "makespan",
    time_limit: float = 5.0,
    workers: int | None = None,
    seed: int = 0,
) -> MaintenanceResult:
    """Find the least-cost window of ``length`` on ``machine`` ending by ``deadline``.

    Args:
        instance: The instance the current plan solves.
        current: The current plan.
        machine: The machine to maintain (0-based).
        length: The window's length (instance time units).
        deadline: The window must end by this time.
        now: Nothing starts before this time; operations started before it stay.
        objective: makespan, weighted_tardiness or mix (the cost is its increase).
        time_limit: Seconds for CP-SAT.
        workers: Parallel CP-SAT workers (None = CPU count, at most 8).
        seed: CP-SAT random seed.
    """
    if not 0 <= machine < instance.n_machines:
        raise ToolRetry(f"Unknown machine {machine}; valid: 0..{instance.n_machines - 1}")
    if length <= 0:
        raise ToolRetry(f"The maintenance length must be positive, got {length}")
    if deadline - length < now:
        raise ToolRetry(f"No room: a {length}-long window cannot end by {deadline} when it starts at {now} or later")
    old = current.operations if isinstance(current, Solution) else list(current)
    problems = validate(instance, old)
    if problems:
        raise ToolRetry(f"The current schedule does not fit the instance: {problems[0].message}")
    before = objective_of(instance, old, objective)
    fixed, _ = fixed_prefix(instance, old, now=now)
    gap = find_idle_gap(instance, old, machine, length, earliest=now, deadline=deadline)
    if gap is not None:
        hint_start, hint_ops = gap, old
    else:
        # latest possible window, then right-shift the plan around it
        hint_start = deadline - length
        blocked = instance.with_downtimes([Downtime(machine=machine, start=hint_start, end=deadline)])
        fixed_b, _ = fixed_prefix(blocked, old, now=now)
        hint_ops = repair(blocked, old, fixed=fixed_b, not_before=now)
        fixed = fixed_b
    jsm = JobShopModel(instance, objective=objective, fixed=fixed, not_before=now, min_horizon=makespan_of(hint_ops))
    start = jsm.add_window(machine, now, deadline, length, "maintenance")
    moved = stability_terms(jsm, old)
    n_free = jsm.horizon + 1
    # lexicographic weights: objective >> moved operations >> start time
    w_moved = n_free
    w_obj = w_moved * (len(moved) + 1)
    # cost = how much worse than the current plan (re-optimising below it is not rewarded, so
    # that untouched operations stay where they are)
    excess = jsm.model.new_int_var(0, 2**31 - 1, "excess")
    jsm.model.add(excess >= jsm.primary() - before)
    jsm.add_term(w_obj, excess)
    for mv in moved:
        jsm.add_term(w_moved, mv)
    jsm.add_term(1, start)
    jsm.model.add_hint(start, hint_start)
    sol = jsm.run(time_limit=time_limit, workers=workers, seed=seed, hint=hint_ops, primary_weight=0)
    if sol.status not in ("OPTIMAL", "FEASIBLE") or sol.source != "cpsat":
        if gap is None:
            raise ToolRetry(
                f"No feasible {length}-long window on machine {machine} before {deadline} was found in "
                f"{time_limit:g} s; allow more time or a later deadline"
            )
        window_start, ops, status = gap, old, cast(Literal["OPTIMAL", "FEASIBLE"], "FEASIBLE")
    else:
        assert jsm.solver is not None
        window_start = int(jsm.solver.value(start))
        ops, status = sol.operations, sol.status
    with_window = instance.with_downtimes([Downtime(machine=machine, start=window_start, end=window_start + length)])
    problems = validate(with_window, ops)
    if problems:
        raise ToolRetry(f"internal error: the plan with maintenance breaks a rule: {problems[0].message}")
    after = objective_of(instance, ops, objective)
    moves = moved_operations(old, ops)
    if ops is sol.operations:
        final = sol
    else:
        final = Solution(
            status="FEASIBLE",
            makespan=makespan_of(ops),
            objective=objective,
            objective_value=after,
            weighted_tardiness=weighted_tardiness_of(instance, ops),
            source="input",
            operations=list(ops),
        )
    return MaintenanceResult(
        machine=machine,
        start=window_start,
        end=window_start + length,
        cost=after - before,
        objective=objective,
        makespan_before=makespan_of(old),
        makespan_after=makespan_of(ops),
        weighted_tardiness_before=weighted_tardiness_of(instance, old),
        weighted_tardiness_after=weighted_tardiness_of(instance, ops),
        n_moved=len(moves),
        moved=moves,
        idle_gap=not moves,
        status=status,
        solution=final,
    )

"""Rescheduling after events and maintenance insertion: fixed prefix kept, schedules valid."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tools.errors import ToolRetry
from tools.scheduling import (
    Alternative,
    Downtime,
    Job,
    MachineDown,
    Operation,
    OperationLate,
    RushOrder,
    ScheduledOp,
    best_dispatch,
    find_idle_gap,
    insert_maintenance,
    load_instance,
    reschedule,
    solve,
    validate,
)
from tools.scheduling.heuristics import makespan_lower_bound
from tools.scheduling.lns import improve
from tools.scheduling.reschedule import apply_event, fixed_prefix, right_shift
from tools.scheduling.solver import JobShopModel
from tools.scheduling.validate import makespan_of

BENCH = Path(__file__).resolve().parents[2] / "benches" / "instances"


@pytest.fixture(scope="module")
def la01():
    inst = load_instance(BENCH / "jsp" / "la01.txt")
    sol = solve(inst, time_limit=5, workers=2)
    assert validate(inst, sol) == []
    return inst, sol


def _started_before(sol, now):
    return {(s.job, s.op): s for s in sol.operations if s.start < now}


def test_machine_down_keeps_started_ops_and_respects_window(la01) -> None:
    inst, sol = la01
    now = sol.makespan // 3
    ev = MachineDown(machine=1, start=now, end=now + 80)
    res = reschedule(inst, sol, ev, now=now, time_limit=3, workers=2)
    assert validate(res.instance, res.solution) == []
    new = res.solution.by_key()
    restarted = set(res.restarted)
    kept = 0
    for key, s in _started_before(sol, now).items():
        if key in restarted or any(r[0] == key[0] and r[1] <= key[1] for r in restarted):
            continue
        assert new[key] == s, key  # finished / running operations did not move
        kept += 1
    assert kept == res.fixed > 0
    # only operations started before now may start before now
    assert all(s.start >= now for k, s in new.items() if k not in _started_before(sol, now))
    assert all(not (s.machine == 1 and s.start < now + 80 and s.end > now) for s in res.solution.operations)
    # the old plan was optimal for an easier instance: the repair cannot beat it
    assert sol.status == "OPTIMAL" and res.makespan_after >= sol.makespan


def test_running_op_hit_by_breakdown_restarts(la01) -> None:
    inst, sol = la01
    running = next(s for s in sorted(sol.operations, key=lambda s: s.start) if s.start > 0 and s.end - s.start > 2)
    now = running.start + 1
    res = reschedule(inst, sol, MachineDown(machine=running.machine, start=now, end=now + 30), now=now, time_limit=2, workers=2)
    assert (running.job, running.op) in res.restarted
    moved_to = res.solution.by_key()[(running.job, running.op)]
    assert moved_to.start >= now + 30 or moved_to.machine != running.machine
    assert validate(res.instance, res.solution) == []


def test_operation_late_extends_running_op(la01) -> None:
    inst, sol = la01
    now = sol.makespan // 2
    running = next(s for s in sol.operations if s.start < now < s.end)
    res = reschedule(inst, sol, OperationLate(job=running.job, op=running.op, delay=25), now=now, time_limit=2, workers=2)
    after = res.solution.by_key()[(running.job, running.op)]
    assert (after.start, after.end) == (running.start, running.end + 25)
    assert validate(res.instance, res.solution) == []
    with pytest.raises(ToolRetry, match="already finished"):
        done = next(s for s in sol.operations if s.end <= now)
        reschedule(inst, sol, OperationLate(job=done.job, op=done.op, delay=5), now=now, time_limit=1)


def test_rush_order_is_inserted_after_now(la01) -> None:
    inst, sol = la01
    now = 100
    rush = Job(
        operations=(
            Operation(alternatives=(Alternative(machine=0, duration=10),)),
            Operation(alternatives=(Alternative(machine=4, duration=10),)),
        ),
        due=200,
        weight=10,
        name="rush",
    )
    res = reschedule(inst, sol, RushOrder(job=rush), now=now, time_limit=2, workers=2, objective="mix")
    assert res.instance.n_jobs == inst.n_jobs + 1
    new = res.solution.by_key()
    assert new[(inst.n_jobs, 0)].start >= now
    assert validate(res.instance, res.solution) == []


def test_stability_term_limits_moves(la01) -> None:
    inst, sol = la01
    now = 50
    stable = reschedule(inst, sol, None, now=now, time_limit=2, workers=2, stability_weight=1000)
    assert stable.n_moved == 0 and stable.makespan_after == sol.makespan


def test_bad_current_schedule_is_refused(la01) -> None:
    inst, sol = la01
    broken = [s.model_copy(update={"start": 0, "end": s.end - s.start}) for s in sol.operations]
    with pytest.raises(ToolRetry, match="does not fit"):
        reschedule(inst, broken, None, now=0, time_limit=1)


def test_maintenance_uses_idle_gap_at_zero_cost(la01) -> None:
    inst, sol = la01
    length = 10
    gap = find_idle_gap(inst, sol.operations, 0, length, earliest=0, deadline=sol.makespan)
    assert gap is not None
    res = insert_maintenance(inst, sol, 0, length, deadline=sol.makespan, time_limit=2, workers=2)
    assert res.cost == 0 and res.n_moved == 0 and res.idle_gap
    assert res.end <= sol.makespan and res.end - res.start == length
    with_window = inst.with_downtimes([Downtime(machine=0, start=res.start, end=res.end)])
    assert validate(with_window, res.solution) == []


def test_maintenance_without_gap_reports_cost(la01) -> None:
    inst, sol = la01
    # a long window that must end early: work has to move, the makespan may grow
    res = insert_maintenance(inst, sol, 2, 150, deadline=160, time_limit=3, workers=2)
    assert res.start <= 10 and res.end <= 160
    assert res.cost == res.makespan_after - res.makespan_before >= 0
    with_window = inst.with_downtimes([Downtime(machine=2, start=res.start, end=res.end)])
    assert validate(with_window, res.solution) == []
    with pytest.raises(ToolRetry, match="No room"):
        insert_maintenance(inst, sol, 2, 150, deadline=100, time_limit=1)


# -- the two-phase repair (right-shift incumbent, LNS, stability phase) --------------------------


@pytest.mark.parametrize(
    "event",
    [
        MachineDown(machine=3, start=120, end=200),
        OperationLate(job=0, op=0, delay=1),  # replaced below by the op running at `now`
        None,
    ],
    ids=["machine_down", "operation_late", "no_event"],
)
def test_repair_keeps_finished_ops_is_valid_and_never_worse_than_right_shift(la01, event) -> None:
    inst, sol = la01
    now = 120
    if isinstance(event, OperationLate):
        running = next(s for s in sol.operations if s.start < now < s.end)
        event = OperationLate(job=running.job, op=running.op, delay=40)
    res = reschedule(inst, sol, event, now=now, time_limit=2, workers=2)
    assert validate(res.instance, res.solution) == []
    new = res.solution.by_key()
    finished = [s for s in sol.operations if s.end <= now]
    assert finished and all(new[(s.job, s.op)] == s for s in finished)
    fixed, _ = fixed_prefix(res.instance, sol.operations, now=now)
    shifted = right_shift(res.instance, sol.operations, fixed=fixed, now=now)
    assert validate(res.instance, shifted) == []
    assert res.makespan_after <= makespan_of(shifted)
    assert res.solution.progress[0].makespan == makespan_of(shifted)  # the search starts from the right shift
    assert makespan_lower_bound(res.instance, fixed=fixed, not_before=now)[0] <= res.solution.lower_bound
    assert res.solution.lower_bound <= res.makespan_after


def test_lns_improves_a_20x15_repair_and_keeps_the_prefix() -> None:
    inst = load_instance(BENCH / "jsp" / "abz7.txt")
    plan = best_dispatch(inst)
    now = makespan_of(plan) // 4
    event = MachineDown(machine=plan[0].machine, start=now, end=now + 60)
    after = apply_event(inst, plan, event, now=now)
    fixed, _ = fixed_prefix(after, plan, now=now)
    start = right_shift(after, plan, fixed=fixed, now=now)
    res = improve(after, start, fixed=fixed, not_before=now, time_limit=3, workers=2, focus=now)
    assert validate(after, res.operations) == []
    assert res.objective_value == makespan_of(res.operations) < makespan_of(start)  # a dispatch plan is easy to beat
    assert [p.makespan for p in res.progress] == sorted((p.makespan for p in res.progress), reverse=True)
    got = {(s.job, s.op): s for s in res.operations}
    assert all(got[k] == s for k, s in fixed.items())
    assert all(s.start >= now for k, s in got.items() if k not in fixed)


def test_lns_proves_a_small_instance_optimal() -> None:
    inst = load_instance(BENCH / "jsp" / "ft06.txt")
    res = improve(inst, best_dispatch(inst), fixed={}, not_before=0, time_limit=20, workers=1)
    assert res.proven_optimal and res.stopped == "optimal"
    assert res.objective_value == 55  # ft06's optimum
    assert validate(inst, res.operations) == []


def test_lower_bound_counts_downtime_fixed_ops_and_tails() -> None:
    def op(machine: int, duration: int) -> Operation:
        return Operation(alternatives=(Alternative(machine=machine, duration=duration),))

    jobs = (Job(operations=(op(0, 3),)), Job(operations=(op(0, 4), op(1, 2))), Job(operations=(op(0, 5),)))
    inst = load_instance(BENCH / "jsp" / "ft06.txt").model_copy(update={"n_machines": 2, "jobs": jobs})
    assert makespan_lower_bound(inst) == (12, 0)  # 3 + 4 + 5 on machine 0
    down = inst.with_downtimes([Downtime(machine=0, start=2, end=5)])
    assert makespan_lower_bound(down) == (15, 0)  # machine 0 loses [2, 5) before its work is done
    # a running operation blocks its machine until it ends; free work starts at `not_before` at the earliest
    running = {(0, 0): ScheduledOp(job=0, op=0, machine=0, start=0, end=3)}
    assert makespan_lower_bound(inst, fixed=running, not_before=1) == (12, 0)  # 3 + 4 + 5
    assert makespan_lower_bound(inst, fixed=running, not_before=10) == (19, 0)  # 10 + 4 + 5
    # a long chain: the job bound (its shortest work) wins
    chain = Job(operations=(op(1, 9), op(2, 9), op(3, 9)))
    assert makespan_lower_bound(inst.model_copy(update={"n_machines": 4, "jobs": (*jobs, chain)}))[0] == 27


@pytest.mark.parametrize("machine", range(6))
def test_lower_bound_never_exceeds_the_optimum(machine: int) -> None:
    inst = load_instance(BENCH / "jsp" / "ft06.txt").with_downtimes([Downtime(machine=machine, start=0, end=40)])
    best = solve(inst, time_limit=10, workers=2)
    assert best.status == "OPTIMAL"
    bound, _ = makespan_lower_bound(inst)
    assert 0 < bound <= best.makespan


@pytest.mark.parametrize("workers", [1, 2])
def test_lns_stops_when_it_meets_the_bound(workers: int) -> None:
    # machine 5 down for [0, 40) makes it the bottleneck: the one-machine bound (83) is the optimum
    inst = load_instance(BENCH / "jsp" / "ft06.txt").with_downtimes([Downtime(machine=5, start=0, end=40)])
    bound, machine = makespan_lower_bound(inst)
    start = best_dispatch(inst)
    assert machine == 5 and makespan_of(start) > bound
    res = improve(inst, start, fixed={}, not_before=0, time_limit=20, workers=workers, lower_bound=bound)
    assert validate(inst, res.operations) == []
    assert res.objective_value == bound == res.lower_bound
    assert res.proven_optimal and res.stopped == "optimal"
    assert res.progress[-1].t < 10  # stopped early, not at the time limit


class _Offers:
    """A side search that offers given plans, then (optionally) waits for stop() before returning its bound."""

    def __init__(self, plans: list[list[ScheduledOp]], proven: int | None, wait: bool = False) -> None:
        self.plans, self.proven, self.wait = plans, proven, wait
        self.stopped = threading.Event()
        self.ran_s = 0.0

    def run(self, offer, time_limit: float) -> int | None:
        t0 = time.perf_counter()
        for plan in self.plans:
            offer(plan)
        if self.wait:
            self.stopped.wait(time_limit)
        self.ran_s = time.perf_counter() - t0
        return self.proven

    def stop(self) -> None:
        self.stopped.set()


def test_side_search_offers_join_the_incumbent_and_its_proof_ends_the_search() -> None:
    inst = load_instance(BENCH / "jsp" / "abz7.txt")
    best = solve(inst, time_limit=3, workers=2)
    side = _Offers([best.operations], proven=best.makespan)  # "proved" optimal: the LNS has nothing left to do
    t0 = time.perf_counter()
    res = improve(inst, best_dispatch(inst), fixed={}, not_before=0, time_limit=30, workers=2, side=side)
    assert time.perf_counter() - t0 < 10  # stopped by the proof, not the 30 s limit
    assert res.objective_value == best.makespan and res.proven_optimal and res.stopped == "optimal"
    assert validate(inst, res.operations) == []
    # one worker: no thread is left for a side search, it is not run
    lone = _Offers([best.operations], proven=best.makespan)
    res1 = improve(inst, best_dispatch(inst), fixed={}, not_before=0, time_limit=0.5, workers=1, side=lone)
    assert not res1.proven_optimal and res1.objective_value > best.makespan


def test_side_search_is_stopped_when_the_lns_finishes() -> None:
    # ft06 with machine 5 down: the LNS meets the one-machine bound (the optimum) and stops early
    inst = load_instance(BENCH / "jsp" / "ft06.txt").with_downtimes([Downtime(machine=5, start=0, end=40)])
    bound, _ = makespan_lower_bound(inst)
    side = _Offers([], proven=None, wait=True)
    res = improve(inst, best_dispatch(inst), fixed={}, not_before=0, time_limit=30, workers=2, lower_bound=bound, side=side)
    assert res.objective_value == bound and res.stopped == "optimal"
    assert side.stopped.is_set() and side.ran_s < 10


def test_repair_portfolio_on_20x15_is_valid_keeps_the_prefix_and_beats_the_right_shift() -> None:
    inst = load_instance(BENCH / "jsp" / "abz7.txt")
    plan = solve(inst, time_limit=2, workers=2).operations
    now = makespan_of(plan) // 4
    busiest = max(range(inst.n_machines), key=lambda m: sum(s.end - s.start for s in plan if s.machine == m and s.start >= now))
    event = MachineDown(machine=busiest, start=now, end=now + 50)
    after = apply_event(inst, plan, event, now=now)
    fixed, _ = fixed_prefix(after, plan, now=now)
    shifted = right_shift(after, plan, fixed=fixed, now=now)
    res = reschedule(inst, plan, event, now=now, time_limit=3, workers=2)
    assert validate(res.instance, res.solution) == []
    assert all(res.solution.by_key()[k] == s for k, s in fixed.items())
    assert res.makespan_after <= makespan_of(shifted)
    assert makespan_lower_bound(after, fixed=fixed, not_before=now)[0] <= res.solution.lower_bound <= res.makespan_after


def test_strong_model_takes_a_given_start_schedule() -> None:
    inst = load_instance(BENCH / "jsp" / "la01.txt")
    plan = solve(inst, time_limit=1, workers=1).operations
    jsm = JobShopModel(inst, start_hint=plan)
    assert jsm.start_hint is plan and jsm.horizon == makespan_of(plan)  # no dispatching rules run
    found: list[int] = []
    sol = jsm.run(time_limit=5, workers=1, on_solution=lambda ops: found.append(makespan_of(ops)))
    assert validate(inst, sol) == [] and found and found[-1] == sol.makespan

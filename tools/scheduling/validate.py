"""Check a schedule against its instance: every rule, every violation listed."""

from __future__ import annotations

from collections import defaultdict

from tools.scheduling.model import Instance, Objective, ScheduledOp, Solution, Violation

__all__ = ["makespan_of", "objective_of", "validate", "weighted_tardiness_of"]


def validate(instance: Instance, solution: Solution | list[ScheduledOp]) -> list[Violation]:
    """All the ways ``solution`` breaks ``instance`` (empty list = feasible).

    Checks: every operation scheduled exactly once, on an eligible machine, with that machine's
    duration; job precedence; release dates; no two operations overlapping on a machine; no
    operation overlapping a downtime window of its machine.

    Args:
        instance: The instance.
        solution: A solution or its list of scheduled operations.
    """
    ops = solution.operations if isinstance(solution, Solution) else solution
    out: list[Violation] = []
    seen: dict[tuple[int, int], ScheduledOp] = {}
    for s in ops:
        key = (s.job, s.op)
        if s.job >= instance.n_jobs or s.op >= len(instance.jobs[s.job].operations):
            out.append(Violation(kind="missing", message=f"job {s.job} op {s.op} does not exist", job=s.job, op=s.op))
            continue
        if key in seen:
            out.append(Violation(kind="duplicate", message=f"job {s.job} op {s.op} is scheduled twice", job=s.job, op=s.op))
            continue
        seen[key] = s
        dur = instance.jobs[s.job].operations[s.op].duration_on(s.machine)
        if dur is None:
            out.append(
                Violation(
                    kind="eligibility",
                    message=f"job {s.job} op {s.op} cannot run on machine {s.machine}",
                    job=s.job,
                    op=s.op,
                    machine=s.machine,
                )
            )
        elif s.end - s.start != dur:
            out.append(
                Violation(
                    kind="duration",
                    message=f"job {s.job} op {s.op} lasts {s.end - s.start} on machine {s.machine}, needs {dur}",
                    job=s.job,
                    op=s.op,
                    machine=s.machine,
                )
            )
    for j, job in enumerate(instance.jobs):
        prev: ScheduledOp | None = None
        for o in range(len(job.operations)):
            got = seen.get((j, o))
            if got is None:
                out.append(Violation(kind="missing", message=f"job {j} op {o} is not scheduled", job=j, op=o))
                prev = None
                continue
            if o == 0 and got.start < job.release:
                out.append(
                    Violation(
                        kind="release",
                        message=f"job {j} starts at {got.start} before its release {job.release}",
                        job=j,
                        op=o,
                    )
                )
            if prev is not None and got.start < prev.end:
                out.append(
                    Violation(
                        kind="precedence",
                        message=f"job {j} op {o} starts at {got.start} before op {o - 1} ends at {prev.end}",
                        job=j,
                        op=o,
                    )
                )
            prev = got
    per_machine: dict[int, list[ScheduledOp]] = defaultdict(list)
    for s in seen.values():
        per_machine[s.machine].append(s)
    for m, lst in per_machine.items():
        lst.sort(key=lambda s: (s.start, s.end))
        busy: ScheduledOp | None = None  # the operation reaching furthest so far
        for b in lst:
            if b.end <= b.start:
                continue
            if busy is not None and b.start < busy.end:
                out.append(
                    Violation(
                        kind="overlap",
                        message=(
                            f"machine {m}: job {busy.job} op {busy.op} [{busy.start},{busy.end}) overlaps "
                            f"job {b.job} op {b.op} [{b.start},{b.end})"
                        ),
                        job=b.job,
                        op=b.op,
                        machine=m,
                    )
                )
            if busy is None or b.end > busy.end:
                busy = b
    for d in instance.downtimes:
        for s in per_machine.get(d.machine, []):
            if s.end > s.start and s.start < d.end and d.start < s.end:
                out.append(
                    Violation(
                        kind="downtime",
                        message=(
                            f"machine {d.machine}: job {s.job} op {s.op} [{s.start},{s.end}) overlaps "
                            f"downtime [{d.start},{d.end})"
                        ),
                        job=s.job,
                        op=s.op,
                        machine=d.machine,
                    )
                )
    return out


def makespan_of(ops: list[ScheduledOp]) -> int:
    """Latest end over the operations (0 for none)."""
    return max((s.end for s in ops), default=0)


def weighted_tardiness_of(instance: Instance, ops: list[ScheduledOp]) -> int:
    """Sum over jobs with a due date of weight * max(0, completion - due)."""
    done: dict[int, int] = defaultdict(int)
    for s in ops:
        done[s.job] = max(done[s.job], s.end)
    total = 0
    for j, job in enumerate(instance.jobs):
        if job.due is not None:
            total += job.weight * max(0, done.get(j, 0) - job.due)
    return total


def objective_of(instance: Instance, ops: list[ScheduledOp], objective: Objective) -> int:
    """The objective value of a schedule (mix = makespan + weighted tardiness)."""
    ms, wt = makespan_of(ops), weighted_tardiness_of(instance, ops)
    return ms if objective == "makespan" else wt if objective == "weighted_tardiness" else ms + wt

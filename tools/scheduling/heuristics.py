"""Dispatching-rule schedules: a fast feasible start (hint and horizon) for CP-SAT.

A non-delay list scheduler: at each step every job's next operation is placed at its earliest
feasible start on each eligible machine (inserted into the first idle gap long enough, so
downtime windows and fixed operations are respected); the operation with the earliest start
wins, ties broken by the priority rule. Several rules run and the best schedule is kept.

Also here: the right-shift :func:`repair` of an old plan after an event, and
:func:`makespan_lower_bound` (one-machine and job relaxations), which a repair aims at.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Literal

from tools.scheduling.model import Instance, ScheduledOp
from tools.scheduling.validate import makespan_of, weighted_tardiness_of

__all__ = ["Rule", "best_dispatch", "dispatch", "makespan_lower_bound", "repair"]

Rule = Literal["MWKR", "SPT", "MOPNR", "EDD"]
RULES: tuple[Rule, ...] = ("MWKR", "SPT", "MOPNR", "EDD")


class _Timeline:
    """Busy intervals of one machine, sorted; finds the earliest gap of a given length."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)

    def earliest(self, t: int, dur: int) -> int:
        """Earliest s >= t such that [s, s+dur) hits no busy interval."""
        if dur == 0:
            return t
        s = t
        i = max(0, bisect.bisect_right(self.starts, s) - 1)
        while i < len(self.starts):
            a, b = self.starts[i], self.ends[i]
            if b > s:
                if s + dur <= a:
                    return s
                s = b
            i += 1
        return s


def dispatch(
    instance: Instance,
    rule: Rule = "MWKR",
    *,
    fixed: Mapping[tuple[int, int], ScheduledOp] | None = None,
    not_before: int = 0,
) -> list[ScheduledOp]:
    """Build a feasible schedule with one priority rule.

    Args:
        instance: The instance (downtime windows are respected).
        rule: MWKR (most work remaining), SPT (shortest processing time), MOPNR (most
            operations remaining) or EDD (earliest due date).
        fixed: Operations that must stay where they are (a prefix of their job).
        not_before: No free operation starts before this time (the "now" of a repair).
    """
    fixed = dict(fixed or {})
    lines = [_Timeline() for _ in range(instance.n_machines)]
    for d in instance.downtimes:
        lines[d.machine].add(d.start, d.end)
    out: list[ScheduledOp] = []
    nxt = [0] * instance.n_jobs
    ready = [max(job.release, not_before) for job in instance.jobs]
    for _key, s in sorted(fixed.items(), key=lambda kv: kv[0]):
        lines[s.machine].add(s.start, s.end)
        out.append(s)
    for j, job in enumerate(instance.jobs):
        while nxt[j] < len(job.operations) and (j, nxt[j]) in fixed:
            ready[j] = max(ready[j], fixed[(j, nxt[j])].end)
            nxt[j] += 1
    remaining = [
        [sum(op.min_duration for op in job.operations[o:]) for o in range(len(job.operations) + 1)] for job in instance.jobs
    ]
    big = 1 << 40
    while True:
        best: tuple[int, int, int, int, int, int] | None = None  # (start, prio, end, job, machine, dur)
        for j, job in enumerate(instance.jobs):
            o = nxt[j]
            if o >= len(job.operations):
                continue
            op = job.operations[o]
            if rule == "MWKR":
                prio = -remaining[j][o]
            elif rule == "SPT":
                prio = op.min_duration
            elif rule == "MOPNR":
                prio = -(len(job.operations) - o)
            else:
                prio = job.due if job.due is not None else big
            for alt in op.alternatives:
                t = lines[alt.machine].earliest(ready[j], alt.duration)
                cand = (t, prio, t + alt.duration, j, alt.machine, alt.duration)
                if best is None or cand[:3] < best[:3]:
                    best = cand
        if best is None:
            break
        t, _, e, j, m, _dur = best
        lines[m].add(t, e)
        out.append(ScheduledOp(job=j, op=nxt[j], machine=m, start=t, end=e))
        ready[j] = e
        nxt[j] += 1
    return out


def best_dispatch(
    instance: Instance,
    *,
    objective: Literal["makespan", "weighted_tardiness", "mix"] = "makespan",
    fixed: Mapping[tuple[int, int], ScheduledOp] | None = None,
    not_before: int = 0,
) -> list[ScheduledOp]:
    """Run every rule and keep the best schedule for ``objective``.

    Args:
        instance: The instance.
        objective: What "best" means.
        fixed: Operations that must stay where they are.
        not_before: No free operation starts before this time.
    """

    def score(ops: list[ScheduledOp]) -> tuple[int, int]:
        ms, wt = makespan_of(ops), weighted_tardiness_of(instance, ops)
        if objective == "makespan":
            return (ms, wt)
        if objective == "weighted_tardiness":
            return (wt, ms)
        return (ms + wt, ms)

    results = [dispatch(instance, r, fixed=fixed, not_before=not_before) for r in RULES]
    return min(results, key=score)


def repair(
    instance: Instance,
    old: list[ScheduledOp],
    *,
    fixed: Mapping[tuple[int, int], ScheduledOp] | None = None,
    not_before: int = 0,
    keep_starts: bool = True,
) -> list[ScheduledOp]:
    """Right-shift repair: keep the old machine and order, push operations to the first feasible gap.

    Operations are placed in the order of their old start on their old machine (when still
    eligible) at the earliest gap after their job's previous operation and ``not_before``;
    operations without an old placement (a rush order) follow, each on its best machine.

    Args:
        instance: The instance after the event (new downtime, longer durations, extra jobs).
        old: The schedule before the event.
        fixed: Operations that must stay where they are.
        not_before: No free operation starts before this time.
        keep_starts: Never start an operation earlier than in the old schedule (True: operations
            the event does not touch stay exactly in place; False: also pull work forward).
    """
    fixed = dict(fixed or {})
    lines = [_Timeline() for _ in range(instance.n_machines)]
    for d in instance.downtimes:
        lines[d.machine].add(d.start, d.end)
    out: list[ScheduledOp] = list(fixed.values())
    for s in fixed.values():
        lines[s.machine].add(s.start, s.end)
    ready = [max(job.release, not_before) for job in instance.jobs]
    for (j, _o), s in fixed.items():
        ready[j] = max(ready[j], s.end)
    old_by_key = {(s.job, s.op): s for s in old}
    todo = [(j, o) for j, job in enumerate(instance.jobs) for o in range(len(job.operations)) if (j, o) not in fixed]
    # old start order; unknown ops last, in job order (precedence within a job is kept)
    big = 1 << 60
    todo.sort(key=lambda k: (old_by_key[k].start if k in old_by_key else big, k[1], k[0]))
    for j, o in todo:
        op = instance.jobs[j].operations[o]
        prev = old_by_key.get((j, o))
        alts = [a for a in op.alternatives if prev is not None and a.machine == prev.machine] or list(op.alternatives)
        best: tuple[int, int, int] | None = None
        for alt in alts:
            keep = prev.start if keep_starts and prev is not None and len(alts) == 1 else 0
            t = lines[alt.machine].earliest(max(ready[j], keep), alt.duration)
            if best is None or t + alt.duration < best[0] + best[2]:
                best = (t, alt.machine, alt.duration)
        assert best is not None
        t, m, dur = best
        lines[m].add(t, t + dur)
        out.append(ScheduledOp(job=j, op=o, machine=m, start=t, end=t + dur))
        ready[j] = t + dur
    return sorted(out, key=lambda s: (s.job, s.op))


def makespan_lower_bound(
    instance: Instance,
    *,
    fixed: Mapping[tuple[int, int], ScheduledOp] | None = None,
    not_before: int = 0,
) -> tuple[int, int | None]:
    """A makespan lower bound from one-machine relaxations, and the machine that gives it.

    For every machine, the operations that can only run there (one eligible machine) get a head
    (their job's ready time plus the shortest work before them) and a tail (the shortest work
    after them). For every head threshold ``h`` and tail threshold ``q``, the operations with
    head >= h and tail >= q need their total duration of machine time from ``h`` on, around the
    machine's blocked periods (downtime, fixed operations), plus ``q``. The job bound (ready
    time plus the shortest remaining work) is included. Returns ``(bound, machine)``; the
    machine is None when a job bound is the largest.

    Args:
        instance: The instance (downtime windows included).
        fixed: Operations that stay where they are (a prefix of their job).
        not_before: No free operation starts before this time.
    """
    fixed = dict(fixed or {})
    per_machine: dict[int, list[tuple[int, int, int]]] = {}  # machine -> (head, duration, tail)
    bound, machine = max((s.end for s in fixed.values()), default=0), None
    for j, job in enumerate(instance.jobs):
        ready = max(job.release, not_before)
        first = 0
        while (j, first) in fixed:
            ready = max(ready, fixed[(j, first)].end)
            first += 1
        ops = job.operations[first:]
        head = ready
        rest = sum(op.min_duration for op in ops)
        if ready + rest > bound:
            bound, machine = ready + rest, None
        for op in ops:
            rest -= op.min_duration
            if len(op.alternatives) == 1:
                a = op.alternatives[0]
                per_machine.setdefault(a.machine, []).append((head, a.duration, rest))
            head += op.min_duration
    blocked: dict[int, list[tuple[int, int]]] = {}
    for d in instance.downtimes:
        blocked.setdefault(d.machine, []).append((d.start, d.end))
    for s in fixed.values():
        blocked.setdefault(s.machine, []).append((s.start, s.end))
    for m, ops in per_machine.items():
        gaps = sorted(blocked.get(m, []))
        for h in sorted({o[0] for o in ops}):
            sel = sorted((o for o in ops if o[0] >= h), key=lambda o: -o[2])
            work = 0
            for i, (_hd, dur, tail) in enumerate(sel):
                work += dur
                if i + 1 < len(sel) and sel[i + 1][2] == tail:
                    continue  # same tail threshold: take the whole group
                end = _finish(gaps, h, work) + tail
                if end > bound:
                    bound, machine = end, m
    return bound, machine


def _finish(blocked: list[tuple[int, int]], t: int, work: int) -> int:
    """When ``work`` units of machine time starting at ``t`` are done, skipping ``blocked`` periods (sorted)."""
    for a, b in blocked:
        if b <= t:
            continue
        if t + work <= a:
            break
        if a > t:
            work -= a - t
        t = max(t, b)
    return t + work

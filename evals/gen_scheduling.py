"""Generate the ``scheduling`` suite: ground truth from the solver's validated output, computed here.

For each question the same inputs the agent should derive (line, planning clock, downtime
window, maintenance length and deadline) are worked out here independently from the question's
words (date arithmetic in this file, not the agent's parser), then the scheduling functions are
called directly: ``instance_from_kg`` -> ``solve`` -> ``validate`` (every plan must be valid) ->
``plan_from_solution``. A case is emitted only when its answer is stable: the solve is proven
optimal and two solves (different seeds) agree on it, so the expected value does not depend on
which of several equally good plans CP-SAT happens to find.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agents.state import AskResult
from knowledge.store import KnowledgeStore
from tools.registry import ToolContext
from tools.scheduling import earliest_maintenance_slot, instance_from_kg, plan_from_solution, solve, validate
from tools.scheduling.kg import DowntimeWindow, ProductionSchedule

__all__ = ["check_plan", "generate"]

Case = dict[str, Any]
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _plan(kg: KnowledgeStore, line: str | None, now: datetime | None, *, seed: int, time_limit_s: float,
          downtime: list[DowntimeWindow] | None = None) -> ProductionSchedule | None:
    """A validated, proven-optimal plan (None when CP-SAT did not prove optimality in time)."""
    ki = instance_from_kg(kg, line=line, origin=now, downtime=downtime)
    sol = solve(ki.instance, time_limit=time_limit_s, objective="mix", seed=seed)
    bad = validate(ki.instance, sol)
    if bad:
        raise AssertionError(f"scheduler returned an invalid plan for {line}: {bad[:3]}")
    return plan_from_solution(ki, sol, downtime=downtime) if sol.status == "OPTIMAL" else None


def _stable_plan(kg: KnowledgeStore, line: str | None, now: datetime | None, time_limit_s: float,
                 downtime: list[DowntimeWindow] | None = None) -> ProductionSchedule | None:
    plans = [_plan(kg, line, now, seed=s, time_limit_s=time_limit_s, downtime=downtime) for s in (0, 1)]
    if any(p is None for p in plans):
        return None
    a, b = plans
    assert a is not None and b is not None
    same = set(a.late_orders) == set(b.late_orders) and \
        a.makespan_min + a.weighted_tardiness_min == b.makespan_min + b.weighted_tardiness_min
    return a if same else None


def _line_name(kg: KnowledgeStore, line: str) -> str:
    return str(kg.scalar("SELECT name FROM nodes WHERE id = ?", [line]) or line)


def _setup(now: datetime | None) -> dict[str, Any]:
    return {"now": now.isoformat()} if now is not None else {}


def _late_cases(kg: KnowledgeStore, now: datetime, lines: list[str], time_limit_s: float) -> list[Case]:
    out: list[Case] = []
    scopes: list[tuple[str | None, datetime | None]] = [(None, now), *[(ln, now) for ln in lines], (lines[0], None)]
    for i, (line, clock) in enumerate(scopes):
        plan = _stable_plan(kg, line, clock, time_limit_s)
        if plan is None:
            continue
        where = "" if line is None else (f" on line {line}" if i % 2 else f" in the {_line_name(kg, line).lower()}")
        base: Case = {"group": "late_orders", "expect_tools": ["schedule_production"], "expect_agent": "scheduling",
                      "metadata": {"line": line, "now": str(clock), "objective": plan.makespan_min + plan.weighted_tardiness_min,
                                   "source": "instance_from_kg -> solve (2 seeds, OPTIMAL) -> validate -> plan_from_solution"}}
        if clock is not None:
            base["setup"] = _setup(clock)
        late = sorted(plan.late_orders)
        out.append({**base, "id": f"late-{line or 'all'}-{i}", "text": f"Which orders{where} will be late?",
                    "expected": late, "check": "set_equal"})
        if i == 1:
            out.append({**base, "id": f"late-count-{line}", "expected": len(late), "check": "exact_count",
                        "text": f"How many production orders{where} will miss their due date?"})
        if i == 2:
            out.append({**base, "id": f"late-yn-{line}", "text": f"Will any orders{where} be late?",
                        "expected": bool(late), "check": "yes_no"})
    return out


def _slot_cases(kg: KnowledgeStore, now: datetime, machines: list[tuple[str, float]], time_limit_s: float) -> list[Case]:
    out = []
    day = (now.weekday() + 3) % 7
    deadline = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=(day - now.weekday()) % 7 or 7)
    ctx = ToolContext(kg=kg, now=now)
    for machine, hours in machines:
        starts = {earliest_maintenance_slot(ctx, machine, hours, deadline, time_limit_s=time_limit_s).start
                  for _ in range(2)}
        if len(starts) != 1:
            continue
        start = starts.pop()
        out.append({"id": f"slot-{machine}", "group": "maintenance", "setup": _setup(now),
                    "text": f"When is the earliest slot for {hours:g} h of maintenance on {machine} before {_WEEKDAYS[day]}?",
                    "expected": start.isoformat(), "check": "exact", "expect_tools": ["earliest_maintenance_slot"],
                    "metadata": {"deadline": deadline.isoformat(), "source": "earliest_maintenance_slot, 2 runs agree"}})
    return out


def _down_cases(kg: KnowledgeStore, now: datetime, line: str, machine: str, until_hour: int, time_limit_s: float) -> list[Case]:
    end = now.replace(hour=until_hour, minute=0, second=0, microsecond=0)
    end = end if end > now else end + timedelta(days=1)
    plan = _stable_plan(kg, line, now, time_limit_s, downtime=[DowntimeWindow(machine=machine, end=end)])
    if plan is None:
        return []
    number = line.removeprefix("L")
    cls = kg.scalar("SELECT props->>'class' FROM nodes WHERE id = ?", [machine]) or "machine"
    return [{"id": f"down-{machine}", "group": "reschedule", "setup": _setup(now),
             "text": f"Reschedule line {number}, {cls} {machine} is down until {until_hour}:00",
             "expected": {"late_orders": sorted(plan.late_orders), "objective": plan.makespan_min + plan.weighted_tardiness_min,
                          "down_until": end.isoformat(), "gantt": True},
             "check": "call:evals.gen_scheduling:check_plan", "expect_tools": ["schedule_production"],
             "metadata": {"source": "schedule with DowntimeWindow(machine, end) solved and validated here"}}]


def _plan_cases(kg: KnowledgeStore, now: datetime, line: str, time_limit_s: float) -> list[Case]:
    plan = _stable_plan(kg, line, now, time_limit_s)
    if plan is None:
        return []
    return [
        {"id": f"plan-{line}", "group": "plan", "setup": _setup(now), "text": f"Make a production schedule for line {line}",
         "expected": {"late_orders": sorted(plan.late_orders), "objective": plan.makespan_min + plan.weighted_tardiness_min,
                      "gantt": True},
         "check": "call:evals.gen_scheduling:check_plan", "expect_tools": ["schedule_production"]},
        {"id": f"publish-{line}", "group": "publish", "setup": _setup(now), "text": f"Publish draft {plan.draft_id}",
         "expected": "Waiting for approval: publish_schedule", "check": "text_contains", "expect_agent": "scheduling"},
    ]


def generate(store: KnowledgeStore, *, now: str, lines: list[str] | None = None,
             machines: list[list[Any]] | None = None, down: list[Any] | None = None,
             time_limit_s: float = 6.0) -> list[Case]:
    """The scheduling cases for the open knowledge graph.

    Args:
        store: The suite's knowledge graph (read-only).
        now: The planning clock for the cases (ISO), e.g. in the middle of the orders' release window.
        lines: Lines to ask about (default: every line with production orders).
        machines: ``[machine, hours]`` pairs for maintenance-slot questions.
        down: ``[line, machine, until_hour]`` for the breakdown question.
        time_limit_s: Solver time limit per solve.
    """
    clock = datetime.fromisoformat(now)
    lines = lines or [r["line_id"] for r in store.query(
        "SELECT DISTINCT line_id FROM production_orders WHERE line_id IS NOT NULL ORDER BY 1")]
    cases = _late_cases(store, clock, lines, time_limit_s)
    cases += _slot_cases(store, clock, [(str(m), float(h)) for m, h in machines or []], 2 * time_limit_s)
    if down:
        cases += _down_cases(store, clock, str(down[0]), str(down[1]), int(down[2]), time_limit_s)
    cases += _plan_cases(store, clock, lines[0], time_limit_s)
    return cases


def check_plan(expected: dict[str, Any], result: AskResult) -> tuple[bool, str]:
    """A plan answer matches the solver's: same late orders, same optimal objective, window and Gantt as asked."""
    v = result.result.value
    if not isinstance(v, dict):
        return False, f"expected a table, got {result.result.type}: {str(v)[:80]}"
    late, want = sorted(v.get("late_orders") or []), expected["late_orders"]
    if late != want:
        return False, f"late orders {late} != {want}"
    obj = int(v.get("makespan_min", -1)) + int(v.get("weighted_tardiness_min", -1))
    if obj != expected["objective"]:
        return False, f"objective (makespan + weighted tardiness) {obj} != {expected['objective']}"
    if "down_until" in expected and v.get("down_until") != expected["down_until"]:
        return False, f"downtime until {v.get('down_until')} != {expected['down_until']}"
    if expected.get("gantt") and not (v.get("gantt_html") and Path(v["gantt_html"]).is_file()):
        return False, "no Gantt chart written"
    return True, f"late {late}, objective {obj}"

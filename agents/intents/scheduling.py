"""Scheduling-agent intents: plans, late orders, downtime rescheduling, maintenance slots, publishing.

Times in questions ("until 14:00", "before Friday", "by 2025-01-10 12:00", "for 3 hours") are
read against the *plan clock*: the context clock when set, else the time the scheduling tool
would start planning (the earliest release of the orders it plans), so an answer refers to the
same minutes as the plan. Clock times mean their next occurrence after that moment; "before
Friday" is Friday 00:00, "by Friday" the end of Friday.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agents.context import AgentContext
from agents.intents.analysis import Analysis, analyze, has
from agents.intents.common import composed, fmt_list, is_yes_no
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["INTENTS", "TIME_LIMIT_S", "parse_clock", "parse_deadline", "parse_hours", "plan_clock"]

Params = dict[str, Any]
#: Solver time limit per planned call (the demo's lines prove optimal well within it).
TIME_LIMIT_S = 6.0
#: Deadline for a maintenance window when the question gives none.
DEFAULT_WINDOW_DAYS = 7

_WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_WEEKDAYS.update({k[:3]: v for k, v in list(_WEEKDAYS.items())})
_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|h\b)?|noon|midnight"
_ISO = r"(\d{4}-\d{2}-\d{2})(?:[ t](\d{2}):(\d{2}))?"
_ORDERS = r"\b(production )?(orders?|jobs?|batches|batch)\b"
_WORK_ORDERS = r"\bwork ?orders?\b|\bwos?\b|\btickets?\b"


# -- time words -----------------------------------------------------------------------------------
def parse_clock(text: str) -> tuple[int, int] | None:
    """'14:00', '2pm', '2:30 pm', '14h', 'noon', 'midnight' -> (hour, minute); None when absent."""
    low = text.lower().strip()
    if low == "noon":
        return 12, 0
    if low == "midnight":
        return 0, 0
    m = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm|h)?", low)
    if not m or (m.group(2) is None and m.group(3) is None):
        return None
    h, mi = int(m.group(1)), int(m.group(2) or 0)
    if m.group(3) == "pm" and h < 12:
        h += 12
    if m.group(3) == "am" and h == 12:
        h = 0
    return (h, mi) if h < 24 and mi < 60 else None


def _next_at(base: datetime, hm: tuple[int, int]) -> datetime:
    """The first time of day ``hm`` strictly after ``base``."""
    t = base.replace(hour=hm[0], minute=hm[1], second=0, microsecond=0)
    return t if t > base else t + timedelta(days=1)


def _day(base: datetime, word: str) -> datetime:
    """Midnight starting the day a word names: today, tomorrow, a weekday (next one after today)."""
    d0 = base.replace(hour=0, minute=0, second=0, microsecond=0)
    if word == "today":
        return d0
    if word == "tomorrow":
        return d0 + timedelta(days=1)
    ahead = (_WEEKDAYS[word] - d0.weekday()) % 7 or 7
    return d0 + timedelta(days=ahead)


def parse_hours(low: str) -> float | None:
    """A duration in hours: '4 h', '4 hours', '90 min', 'an hour', 'half an hour', 'a shift' (8 h)."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*-?\s*(h|hrs?|hours?|min|mins|minutes?)\b", low)
    if m:
        v = float(m.group(1))
        return v / 60 if m.group(2).startswith("min") else v
    if re.search(r"\bhalf an? hour\b", low):
        return 0.5
    if re.search(r"\b(an|one) hour\b", low):
        return 1.0
    if re.search(r"\b(a|one) (full )?shift\b", low):
        return 8.0
    return None


def parse_deadline(low: str, base: datetime) -> tuple[datetime, str] | None:
    """'before Friday', 'by tomorrow 14:00', 'by 2025-01-10', 'within 3 days', 'this week' -> (time, label)."""
    m = re.search(rf"\b(before|by|until|till|no later than|on)\s+(?:the\s+)?{_ISO}", low)
    if m:
        day = datetime.strptime(m.group(2), "%Y-%m-%d")
        if m.group(3):
            at = day.replace(hour=int(m.group(3)), minute=int(m.group(4)))
            return at, f"{m.group(1)} {at:%Y-%m-%d %H:%M}"
        end = day if m.group(1) == "before" else day + timedelta(days=1)
        return end, f"{m.group(1)} {day:%Y-%m-%d}"
    m = re.search(rf"\b(before|by|until|till|no later than|on)\s+(?:next\s+|this\s+)?(today|tomorrow|{_WD})\b"
                  rf"(?:\s+(?:at\s+)?({_CLOCK}))?", low)
    if m:
        day = _day(base, m.group(2))
        name = m.group(2) if m.group(2) in ("today", "tomorrow") else f"{day:%A}"
        hm = parse_clock(m.group(3)) if m.group(3) else None
        if hm is not None:
            return day.replace(hour=hm[0], minute=hm[1]), f"{m.group(1)} {name} {hm[0]:02d}:{hm[1]:02d} ({day:%Y-%m-%d})"
        end = day if m.group(1) == "before" else day + timedelta(days=1)
        return end, f"{m.group(1)} {name} ({day:%Y-%m-%d})"
    m = re.search(r"\b(?:within|in)\s+(?:the\s+)?(?:next\s+)?(\d+(?:\.\d+)?)\s*(h|hours?|days?|weeks?)\b", low)
    if m:
        n, unit = float(m.group(1)), m.group(2)
        delta = timedelta(hours=n) if unit.startswith("h") else timedelta(days=n * (7 if unit.startswith("w") else 1))
        return base + delta, f"within {m.group(1)} {unit}"
    if re.search(r"\b(this week|end of (?:the )?week|before the weekend)\b", low):
        wd = 5 if "weekend" in low else 7
        d0 = base.replace(hour=0, minute=0, second=0, microsecond=0)
        return d0 + timedelta(days=wd - d0.weekday()), "this week"
    return None


def _window_end(low: str, base: datetime) -> tuple[datetime | None, datetime | None, str | None]:
    """(start, end, label) of a machine's downtime: 'until 14:00', 'from 10:00 to 14:00', 'for 3 hours'."""
    m = re.search(rf"\bfrom\s+({_CLOCK})\s+(?:to|until|till|-)\s+({_CLOCK})", low)
    if m:
        a, b = parse_clock(m.group(1)), parse_clock(m.group(5))
        if a and b:
            start = _next_at(base - timedelta(minutes=1), a)
            end = _next_at(start, b)
            return start, end, f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    m = re.search(rf"\b(?:until|till|til|back (?:at|by|on)|up again (?:at|by)|repaired by|fixed by)\s+{_ISO}", low)
    if m:
        day = datetime.strptime(m.group(1), "%Y-%m-%d")
        end = day.replace(hour=int(m.group(2)), minute=int(m.group(3))) if m.group(2) else day + timedelta(days=1)
        return None, end, f"until {end:%Y-%m-%d %H:%M}"
    m = re.search(rf"\b(?:until|till|til|back (?:at|by|on)|up again (?:at|by)|repaired by|fixed by)\s+"
                  rf"(?:(today|tomorrow|{_WD})\b\s*(?:at\s+)?)?({_CLOCK})?", low)
    if m and (m.group(1) or m.group(2)):
        hm = parse_clock(m.group(2)) if m.group(2) else None
        if m.group(1):
            day = _day(base, m.group(1))
            end = day.replace(hour=hm[0], minute=hm[1]) if hm else day + timedelta(days=1)
        elif hm:
            end = _next_at(base, hm)
        else:
            return None, None, None
        return None, end, f"until {end:%Y-%m-%d %H:%M}"
    m = re.search(r"\bfor\s+(?:the\s+next\s+|another\s+|about\s+)?(\d+(?:\.\d+)?\s*-?\s*(?:h|hrs?|hours?|min|mins|minutes?)\b|"
                  r"an hour|half an hour|a shift)", low)
    if m:
        hours = parse_hours(m.group(1))
        if hours:
            return None, base + timedelta(hours=hours), f"for {hours:g} h (until {base + timedelta(hours=hours):%Y-%m-%d %H:%M})"
    return None, None, None


# -- plan clock and entities ------------------------------------------------------------------------
def plan_clock(ctx: AgentContext, line: str | None) -> datetime:
    """'Now' of a plan: the context clock, else the earliest release of the orders the tool would plan."""
    if ctx.now is not None:
        return ctx.now.replace(tzinfo=None)
    from tools.scheduling.kg import ACTIVE_STATUSES

    if ctx.kg is not None:
        marks = ", ".join("?" for _ in ACTIVE_STATUSES)
        sql = f"SELECT min(release_ts) FROM production_orders WHERE status IN ({marks})"
        args: list[Any] = list(ACTIVE_STATUSES)
        if line:
            sql += " AND line_id = ?"
            args.append(line)
        first = ctx.kg.scalar(sql, args)
        if first is not None:
            return first
    from agents.intents.analysis import reference_now

    return reference_now(ctx)


def _asset_rows(ctx: AgentContext, ids: list[str]) -> dict[str, dict[str, Any]]:
    assert ctx.kg is not None
    rows = ctx.kg.query("SELECT id, props->>'class' AS cls, props->>'line' AS line FROM nodes "
                        "WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    return {r["id"]: r for r in rows}


def _machine(a: Analysis, ctx: AgentContext) -> tuple[str, str | None] | None:
    """The machine a question names and its line; 'press P3' resolves to the press numbered 3, not pump P-3."""
    if not a.assets or ctx.kg is None:
        return None
    mid = a.assets[0]
    info = _asset_rows(ctx, [mid]).get(mid, {})
    said = [c for c in a.classes if c != info.get("cls")]
    digits = re.findall(r"\d+", mid)
    if said and digits:
        rows = ctx.kg.query("SELECT id, props->>'line' AS line FROM nodes WHERE kind = 'asset' AND props->>'class' = ? "
                            "ORDER BY id", [said[0]])
        same = [r for r in rows if re.findall(r"\d+", r["id"]) and int(re.findall(r"\d+", r["id"])[-1]) == int(digits[-1])]
        if len(same) == 1:
            return same[0]["id"], same[0]["line"]
    return mid, info.get("line")


def _orders_on(ctx: AgentContext, line: str | None) -> bool:
    assert ctx.kg is not None
    from tools.scheduling.kg import ACTIVE_STATUSES

    marks = ", ".join("?" for _ in ACTIVE_STATUSES)
    n = ctx.kg.scalar(f"SELECT count(*) FROM production_orders WHERE status IN ({marks}) AND line_id = ?",
                      [*ACTIVE_STATUSES, line])
    return bool(n)


def _fmt_t(ts: Any) -> str:
    return str(ts).replace("T", " ")[:16]


def _plan_call(line: str | None, *, plots: bool, downtime: list[dict[str, Any]] | None = None) -> PlannedCall:
    args: dict[str, Any] = {"line": line, "objective": "mix", "time_limit_s": TIME_LIMIT_S, "plots": plots}
    if downtime:
        args["downtime"] = downtime
    return PlannedCall(name="schedule_production", args={k: v for k, v in args.items() if v is not None})


def _ok(results: list[dict[str, Any]], i: int) -> dict[str, Any] | None:
    r = results[i] if i < len(results) else None
    return r.get("data") if r and r.get("ok") else None


def _err(results: list[dict[str, Any]]) -> str:
    return "; ".join(str(r.get("error")) for r in results if not r.get("ok")) or "the scheduler returned nothing"


def _late_text(plan: dict[str, Any], *, limit: int = 8) -> str:
    late = [o for o in plan.get("orders", []) if o.get("late")]
    if not late:
        return "no order is late"
    parts = [f"{o['order_id']} (+{o['lateness_min']} min, due {_fmt_t(o['due'])})" for o in late[:limit]]
    more = f" and {len(late) - limit} more" if len(late) > limit else ""
    return f"{len(late)} late: {', '.join(parts)}{more}"


def _where(plan: dict[str, Any]) -> str:
    return f"line {plan['line']}" if plan.get("line") else "all lines"


def _summary(plan: dict[str, Any]) -> str:
    b = plan.get("bottleneck") or {}
    bott = f"; bottleneck {b['machine_id']} at {100 * b['utilisation']:.0f} % utilisation" if b else ""
    skipped = f"; skipped (no routing): {fmt_list(plan['skipped_orders'])}" if plan.get("skipped_orders") else ""
    return (f"{len(plan.get('orders', []))} orders from {_fmt_t(plan['origin'])}, all done by {_fmt_t(plan['end'])} "
            f"(makespan {plan['makespan_min']} min, {plan['status']}); {_late_text(plan)}{bott}{skipped}")


def _gantt(plan: dict[str, Any]) -> str:
    links = [p for p in (plan.get("gantt_html"), plan.get("gantt_png")) if p]
    return f" Gantt chart: {' and '.join(links)}." if links else ""


def _table(plan: dict[str, Any]) -> dict[str, Any]:
    b = plan.get("bottleneck") or {}
    return {"draft_id": plan["draft_id"], "line": plan.get("line"), "status": plan["status"],
            "start": plan["origin"], "end": plan["end"], "makespan_min": plan["makespan_min"],
            "weighted_tardiness_min": plan["weighted_tardiness_min"], "late_orders": plan.get("late_orders", []),
            "bottleneck": b.get("machine_id"), "orders": len(plan.get("orders", [])),
            "gantt_html": plan.get("gantt_html"), "gantt_png": plan.get("gantt_png")}


_PUBLISH_HINT = " To make it the line's plan say 'publish draft {id}' (needs approval)."


# -- late orders ----------------------------------------------------------------------------------------
def _match_late(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not re.search(_ORDERS, a.low) or re.search(_WORK_ORDERS, a.low):
        return None
    if not re.search(r"\b(late|overdue|tardy|behind schedule|miss(?:es|ed)? (?:the |their |its )?(?:due|deadline)s?|"
                     r"on time|delayed)\b", a.low):
        return None
    mode = "bool" if is_yes_no(a.low) and not has(a.low, "how many", "which") else \
        "count" if has(a.low, "how many", "number of") else "list"
    return {"line": a.lines[0] if a.lines else None, "mode": mode, "on_time": has(a.low, "on time")}


def _late_calls(p: Params) -> list[PlannedCall]:
    return [_plan_call(p.get("line"), plots=False)]


def _late_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    plan = _ok(results, 0)
    if plan is None:
        return composed("text", _err(results), f"I could not plan the orders: {_err(results)}")
    late = list(plan.get("late_orders", []))
    head = f"Planning {_where(plan)} from {_fmt_t(plan['origin'])} (draft {plan['draft_id']}): {_late_text(plan)}."
    if p["mode"] == "bool":
        yes = not late if p.get("on_time") else bool(late)
        return composed("boolean", yes, f"{'Yes' if yes else 'No'}. {head}")
    if p["mode"] == "count":
        return composed("count", len(late), head)
    return composed("list", late, head)


# -- make a plan -------------------------------------------------------------------------------------------
def _match_plan(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    low = a.low
    if re.search(_WORK_ORDERS, low) or has(low, "publish", "maintenance"):
        return None
    verb = re.search(r"\b(re)?schedul(e|ing)\b|\bplan (the |our )?(production|orders|line)|production (plan|schedule)|"
                     r"\bgantt\b|\bsequence the orders\b|\bbottleneck\b", low)
    if not verb:
        return None
    if not (a.lines or re.search(_ORDERS, low) or has(low, "production", "gantt", "bottleneck", "schedule")):
        return None
    if a.assets and not a.lines and not has(low, "production", "orders", "gantt", "bottleneck"):
        return None  # "schedule maintenance on CNC-07" is not a production plan
    return {"line": a.lines[0] if a.lines else None, "bottleneck": has(low, "bottleneck")}


def _plan_calls(p: Params) -> list[PlannedCall]:
    return [_plan_call(p.get("line"), plots=not p.get("bottleneck"))]


def _plan_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    plan = _ok(results, 0)
    if plan is None:
        return composed("text", _err(results), f"I could not plan the orders: {_err(results)}")
    if p.get("bottleneck"):
        b = plan.get("bottleneck") or {}
        loads = ", ".join(f"{m['machine_id']} {100 * m['utilisation']:.0f} %" for m in plan.get("machine_loads", [])[:4])
        return composed("text", b.get("machine_id", "none"), f"The bottleneck of {_where(plan)} is {b.get('machine_id')} "
                        f"(busiest machines: {loads}) in draft plan {plan['draft_id']}.")
    changes = plan.get("changes_vs_published")
    diff = (f" Against the published plan {changes['published_id']}: {changes['moved_operations']} operations moved, "
            f"{len(changes['completion_changes'])} orders finish at another time." if changes else "")
    answer = (f"Draft plan {plan['draft_id']} for {_where(plan)}: {_summary(plan)}.{diff}{_gantt(plan)}"
              + _PUBLISH_HINT.format(id=plan["draft_id"]))
    return composed("table", _table(plan), answer)


# -- machine down: reschedule -------------------------------------------------------------------------------
_DOWN = (r"\b(is |are |went |goes |will be )?(down|broke(?:n)?(?: down)?|breakdown|failed|out of (?:service|order)|"
         r"unavailable|offline|stopped|not available)\b")


def _match_down(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    if not re.search(_DOWN, a.low) or re.search(_WORK_ORDERS, a.low):
        return None
    found = _machine(a, ctx)
    if found is None:
        return None
    machine, mline = found
    line = a.lines[0] if a.lines else mline
    assert ctx.kg is not None
    if line is None or not _orders_on(ctx, line):
        line = None
    base = plan_clock(ctx, line)
    start, end, label = _window_end(a.low, base)
    if end is None:
        return None
    down: dict[str, Any] = {"machine": machine, "end": end.isoformat(), "reason": "breakdown"}
    if start is not None:
        down["start"] = start.isoformat()
    return {"line": line, "machine": machine, "downtime": [down], "label": label, "base": base.isoformat()}


def _down_calls(p: Params) -> list[PlannedCall]:
    return [_plan_call(p.get("line"), plots=False), _plan_call(p.get("line"), plots=True, downtime=p["downtime"])]


def _down_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    before, after = _ok(results, 0), _ok(results, 1)
    if after is None:
        return composed("text", _err(results), f"I could not reschedule: {_err(results)}")
    down = p["downtime"][0]
    d0, d1 = down.get("start") or after["origin"], down["end"]
    hit = [o for o in (before or {}).get("operations", [])
           if o["machine_id"] == p["machine"] and str(o["start"]) < d1 and str(o["end"]) > d0]
    newly = sorted(set(after["late_orders"]) - set(before["late_orders"] if before else []))
    delta = f"makespan {before['makespan_min']} -> {after['makespan_min']} min, " if before else ""
    changes = after.get("changes_vs_published")
    pub = (f" Against the published plan {changes['published_id']}: {changes['moved_operations']} operations moved."
           if changes else "")
    table = _table(after) | {"machine": p["machine"], "down_until": d1, "affected_operations": len(hit),
                             "newly_late": newly}
    ops = fmt_list([f"{o['order_id']}/{o['seq']}" for o in hit], limit=8)
    answer = (f"With {p['machine']} down {p['label']}, the new draft plan {after['draft_id']} for {_where(after)}: "
              f"{_summary(after)}. Compared with the plan without the breakdown: {delta}{len(hit)} operations of "
              f"{p['machine']} fell in the window ({ops}), newly late: {fmt_list(newly)}.{pub}{_gantt(after)}"
              + _PUBLISH_HINT.format(id=after["draft_id"]))
    return composed("table", table, answer)


# -- maintenance slot ------------------------------------------------------------------------------------------
def _match_slot(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    low = a.low
    if not re.search(r"\b(maintenance|service|servicing|pm|inspection|overhaul|repair|downtime)\b", low):
        return None
    if not re.search(r"\b(slot|window|when|fit|schedule|plan|place|earliest|best time|can we take)\b", low):
        return None
    if re.search(r"history|record|summary|how many|mtbf|mttr|work ?orders?", low):
        return None
    found = _machine(a, ctx)
    hours = parse_hours(low)
    if found is None or hours is None:
        return None
    machine, _ = found
    base = plan_clock(ctx, None)
    dl = parse_deadline(low, base)
    if dl is None:
        dl = base + timedelta(days=DEFAULT_WINDOW_DAYS), f"within {DEFAULT_WINDOW_DAYS} days (no deadline given)"
    return {"machine": machine, "hours": hours, "before": dl[0].isoformat(), "label": dl[1], "base": base.isoformat()}


def _slot_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="earliest_maintenance_slot", args={
        "machine": p["machine"], "hours": p["hours"], "before": p["before"], "objective": "mix",
        "time_limit_s": 2 * TIME_LIMIT_S})]


def _slot_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    s = _ok(results, 0)
    if s is None:
        return composed("text", _err(results), f"I could not place the window: {_err(results)}")
    cost = "free: it fits an idle gap of the plan" if s["idle_gap"] and not s["cost_min"] else \
        f"it costs {s['cost_min']} min of the plan objective ({s['objective']}) and moves {s['moved_operations']} operations"
    newly = sorted(set(s["late_orders_after"]) - set(s["late_orders_before"]))
    answer = (f"The earliest least-cost slot for {p['hours']:g} h of maintenance on {s['machine_id']} {p['label']} is "
              f"{_fmt_t(s['start'])} to {_fmt_t(s['end'])}; {cost}. Makespan {s['makespan_before_min']} -> "
              f"{s['makespan_after_min']} min; orders made late by it: {fmt_list(newly)}.")
    return composed("text", str(s["start"]), answer)


# -- publish ----------------------------------------------------------------------------------------------------
_DRAFT = re.compile(r"\bsch-[0-9a-f]{6,}\b")


def _latest_draft(data_dir: Path | None, line: str | None) -> str | None:
    if data_dir is None or not (data_dir / "schedules").is_dir():
        return None
    import json

    drafts = sorted((data_dir / "schedules").glob("sch-*.json"), key=lambda q: q.stat().st_mtime, reverse=True)
    for q in drafts:
        if line is None or json.loads(q.read_text(encoding="utf-8")).get("line") == line:
            return q.stem
    return None


def _match_publish(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"\b(publish|release|activate|make it live|put into effect)\b", low):
        return None
    m = _DRAFT.search(low)
    if not (m or re.search(r"\b(schedule|plan|draft)\b", low)):
        return None
    a = analyze(text, ctx)
    line = a.lines[0] if a.lines else None
    draft = m.group(0) if m else _latest_draft(ctx.data_dir, line)
    return {"draft_id": draft, "line": line}


def _publish_calls(p: Params) -> list[PlannedCall]:
    if p.get("draft_id"):
        return [PlannedCall(name="publish_schedule", args={"draft_id": p["draft_id"], "note": "published from chat"})]
    return [_plan_call(p.get("line"), plots=True)]


def _publish_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = _ok(results, 0)
    if data is None:
        return composed("text", _err(results), f"Nothing was published: {_err(results)}")
    if not p.get("draft_id"):
        return composed("text", data["draft_id"], f"There was no draft to publish, so I planned {_where(data)}: "
                        f"draft {data['draft_id']}, {_summary(data)}.{_gantt(data)} Review it, then say 'publish draft "
                        f"{data['draft_id']}' (needs approval).")
    sup = f"; superseded {fmt_list(data['superseded'])}" if data.get("superseded") else ""
    return composed("text", data["schedule_id"], f"Published {data['schedule_id']} as the plan of "
                    f"{'line ' + data['line'] if data.get('line') else 'all lines'} ({data['operations']} operations, "
                    f"by {data['created_by']} at {_fmt_t(data['created_at'])}){sup}.")


INTENTS: list[Intent] = [
    Intent("schedule_publish", "scheduling", _match_publish, _publish_calls, _publish_compose, "publish the schedule"),
    Intent("maintenance_slot", "scheduling", _match_slot, _slot_calls, _slot_compose,
           "when is the earliest slot for 4 h of maintenance on CNC-07 before Friday?"),
    Intent("reschedule_downtime", "scheduling", _match_down, _down_calls, _down_compose,
           "reschedule line 2, press PRS-03 is down until 14:00"),
    Intent("late_orders", "scheduling", _match_late, _late_calls, _late_compose, "which orders will be late?"),
    Intent("production_plan", "scheduling", _match_plan, _plan_calls, _plan_compose,
           "make a production schedule for line L1"),
]

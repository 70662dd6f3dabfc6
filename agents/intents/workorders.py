"""Work-order intents: counts, lists, latest, breakdown by type, maintenance history."""

from __future__ import annotations

import re
from typing import Any

from agents.context import AgentContext
from agents.intents.analysis import analyze, has
from agents.intents.common import composed, first_ok, fmt_list, is_yes_no, iso, wo_type_of
from agents.plan import Composed, PlannedCall
from agents.planner import Intent

__all__ = ["INTENTS"]

Params = dict[str, Any]
_WO = r"\b(work ?orders?|wos?|jobs?|tickets?|maintenance (?:orders?|records?|jobs?)|repairs?|breakdowns?|inspections?)\b"


def _base(text: str, ctx: AgentContext) -> Params | None:
    a = analyze(text, ctx)
    scope = a.asset or (a.lines[0] if a.lines else None)
    if scope is None or not re.search(_WO, a.low):
        return None
    p = a.period
    return {"asset_id": scope, "type": wo_type_of(a.low), "start": iso(p.start) if p else None,
            "end": iso(p.end) if p else None, "label": p.label if p else None}


def _when(p: Params) -> str:
    return f" in {p['label']}" if p.get("label") else ""


def _kind(p: Params) -> str:
    return f"{p['type']} " if p.get("type") else ""


# latest -------------------------------------------------------------------------------------------
def _match_latest(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"\b(most recent|latest|last|newest)\b", low) or has(low, "how many"):
        return None
    p = _base(text, ctx)
    if p is None:
        return None
    p["before"] = p.pop("end")
    return p


def _latest_calls(p: Params) -> list[PlannedCall]:
    args = {"asset_id": p["asset_id"], "type": p.get("type"), "before": p.get("before")}
    return [PlannedCall(name="latest_work_order", args={k: v for k, v in args.items() if v is not None})]


def _latest_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    wo = (first_ok(results) or {}).get("work_order")
    if not wo:
        return composed("text", "none", f"{p['asset_id']} has no {_kind(p)}work orders{_when(p)}.")
    return composed("text", wo["id"], f"The most recent {_kind(p)}work order of {p['asset_id']} is {wo['id']} "
                    f"({wo['type']}, reported {wo.get('reported_at')}, {wo['status']}): {wo.get('description') or ''}".strip())


# breakdown by type ----------------------------------------------------------------------------------
def _match_by_type(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"\b(by|per|each) (type|kind|category)\b|\bbreak(?: it)? ?down\b|\bbreakdown by\b|\bsplit\b", low):
        return None
    return _base(text, ctx)


def _period_args(p: Params) -> dict[str, Any]:
    return {k: p[k] for k in ("start", "end") if p.get(k)}


def _by_type_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="count_work_orders_by_type", args={"asset_id": p["asset_id"], **_period_args(p)})]


def _by_type_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    counts = {k: int(v) for k, v in sorted((data.get("counts") or {}).items())}
    txt = ", ".join(f"{v} {k}" for k, v in counts.items()) or "none"
    return composed("table", counts, f"Work orders of {p['asset_id']}{_when(p)}: {txt} ({data.get('total', 0)} in all).")


# count / yes-no --------------------------------------------------------------------------------------
def _match_count(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    yes_no = is_yes_no(low)
    if not (has(low, "how many", "number of", "count") or yes_no):
        return None
    p = _base(text, ctx)
    if p is None:
        return None
    p["mode"] = "bool" if yes_no and not has(low, "how many") else "count"
    return p


def _count_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="count_work_orders_by_type", args={"asset_id": p["asset_id"], **_period_args(p)})]


def _count_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    counts = data.get("counts") or {}
    n = int(counts.get(p["type"], 0)) if p.get("type") else int(data.get("total", 0))
    if p.get("mode") == "bool":
        return composed("boolean", n > 0, f"{'Yes' if n else 'No'}: {p['asset_id']} had {n} {_kind(p)}work orders{_when(p)}.")
    return composed("count", n, f"{p['asset_id']} had {n} {_kind(p)}work orders{_when(p)}.")


# list -----------------------------------------------------------------------------------------------------
def _match_list(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"\b(list|show|which|what|give me|find|display)\b", low):
        return None
    return _base(text, ctx)


def _list_calls(p: Params) -> list[PlannedCall]:
    args = {"asset_id": p["asset_id"], "type": p.get("type"), **_period_args(p), "limit": 200}
    return [PlannedCall(name="search_work_orders", args={k: v for k, v in args.items() if v is not None})]


def _list_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    data = first_ok(results) or {}
    items = data.get("items", [])
    ids = [w["id"] for w in items]
    lines = "; ".join(f"{w['id']} {str(w.get('reported_at'))[:10]} {w['type']}" for w in items[:10])
    return composed("list", ids, f"{data.get('total', len(ids))} {_kind(p)}work orders of {p['asset_id']}{_when(p)}"
                    + (f": {lines}" + (" ..." if len(items) > 10 else "") + "." if items else "."))


# maintenance history (diagnosis agent) ---------------------------------------------------------------------
def _match_history(text: str, ctx: AgentContext) -> Params | None:
    low = text.lower()
    if not re.search(r"maintenance (history|record|summary)|summari[sz]e .*maintenance|\bmtbf\b|\bmttr\b|reliability", low):
        return None
    a = analyze(text, ctx)
    if not a.asset:
        return None
    p = a.period
    return {"asset_id": a.asset, "start": iso(p.start) if p else None, "end": iso(p.end) if p else None,
            "label": p.label if p else None}


def _history_calls(p: Params) -> list[PlannedCall]:
    return [PlannedCall(name="maintenance_summary", args={"asset_id": p["asset_id"], **_period_args(p)})]


def _history_compose(p: Params, results: list[dict[str, Any]]) -> Composed:
    d = first_ok(results) or {}
    codes = ", ".join(f"{c['code']} x{c['count']}" for c in d.get("top_failure_codes", [])[:5]) or "none"
    mtbf = f"{d['mtbf_h']:.0f} h" if d.get("mtbf_h") else "n/a"
    mttr = f"{d['mttr_h']:.1f} h" if d.get("mttr_h") else "n/a"
    counts = d.get("counts_by_type") or {}
    table = {"total": d.get("total", 0), **counts, "failures": d.get("failures", 0), "mtbf_h": d.get("mtbf_h"),
             "mttr_h": d.get("mttr_h"), "downtime_h": d.get("downtime_h")}
    return composed("table", table, f"{p['asset_id']}{_when(p)}: {d.get('total', 0)} work orders "
                    f"({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}), {d.get('failures', 0)} failures, "
                    f"MTBF {mtbf}, MTTR {mttr}, top codes {codes}; open orders: {fmt_list(d.get('open_work_orders') or [])}.")


INTENTS: list[Intent] = [
    Intent("maintenance_history", "diagnosis", _match_history, _history_calls, _history_compose,
           "summarise the maintenance history of compressor C-1 in 2024"),
    Intent("wo_latest", "knowledge", _match_latest, _latest_calls, _latest_compose,
           "what was the most recent corrective work order on P-3?"),
    Intent("wo_by_type", "knowledge", _match_by_type, _by_type_calls, _by_type_compose,
           "break down CNC-07's work orders in 2023 by type"),
    Intent("wo_count", "knowledge", _match_count, _count_calls, _count_compose,
           "how many corrective work orders did CNC-07 have in 2023?"),
    Intent("wo_list", "knowledge", _match_list, _list_calls, _list_compose, "list the work orders of CHL-01 in June 2024"),
]

"""Markdown and HTML reports of an autonomous run, written under ``<data_dir>/reports/runs/``."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from agents.approvals import plan_actions
from server.runs.store import RunRecord

__all__ = ["render_html", "render_markdown", "write_report"]


def _cell(value: Any, *, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _facts(run: RunRecord) -> list[tuple[str, str]]:
    route = (run.trace or {}).get("route") or {}
    return [
        ("Run", run.id),
        ("Schedule", run.schedule_id or "(manual)"),
        ("Goal", run.goal),
        ("Policy", run.policy),
        ("Status", run.status),
        ("Fire time (UTC)", str(run.fire_time or "-")),
        ("Started (UTC)", str(run.started_at or "-")),
        ("Finished (UTC)", str(run.finished_at or "-")),
        ("Worker", run.owner or "-"),
        ("Thread", run.thread_id),
        ("Route", f"{route.get('agent', '-')} / {route.get('model', '-')} ({route.get('tier', '-')})"),
    ]


def _call_rows(run: RunRecord) -> list[list[str]]:
    rows = []
    for tc in (run.trace or {}).get("tool_calls") or []:
        outcome = "ok" if tc.get("ok") else f"error: {tc.get('error')}"
        decided = tc.get("approval") or ("-" if not tc.get("mutating") else "pending")
        rows.append([tc.get("name", ""), _cell(tc.get("args", {})), "yes" if tc.get("mutating") else "no", decided,
                     _cell(outcome)])
    return rows


def _pending_rows(run: RunRecord) -> list[list[str]]:
    rows = []
    for p in run.pending_approvals:
        plan = plan_actions(p.get("tool"), p.get("args"))
        if plan is not None:  # a closed-loop plan: one row per proposed action
            rows += [[a.get("tool", ""), _cell(a.get("args", {})), p.get("policy", "") + (
                "" if a.get("needs_approval") else " (allowed)"), _cell(f"{a.get('agent')}: {a.get('why')}")]
                for a in plan]
        else:
            rows.append([p.get("tool", ""), _cell(p.get("args", {})), p.get("policy", ""),
                         _cell(p.get("description", ""))])
    return rows


def _loop_rows(run: RunRecord) -> list[tuple[str, str]]:
    """Key facts of a closed-loop cycle (empty for goal runs)."""
    loop = (run.trace or {}).get("loop")
    if not loop:
        return []
    m = loop.get("maintenance") or {}
    opt = loop.get("optimization") or {}
    fm = loop.get("failure_modes") or []
    rows = [("Plant time", str(loop.get("now") or "-")),
            ("Screen", ", ".join(f"{h['sensor_id']} z={h['z']}" for h in loop.get("screen", [])[:6]) or "quiet"),
            ("Degrading asset", loop.get("asset") or "none")]
    if loop.get("asset"):
        rows += [("Failure modes", "; ".join(f"{c['name']} ({c['probability']:.2f})" for c in fm[:3]) or "-"),
                 ("Days to threshold", str((loop.get("days_to_threshold") or {}).get("message", "-"))),
                 ("Deadline", str(loop.get("deadline") or "-")),
                 ("Maintenance window", f"{m.get('start')} .. {m.get('end')} on {m.get('machine_id')}" if m else "-"),
                 ("Plan after", "feasible" if not loop.get("plan_violations") else "; ".join(loop["plan_violations"])),
                 ("Setpoints", ", ".join(f"{s['asset_id']}.{s['tag']}={s['value']:g}" for s in opt.get("setpoints", []))
                  or "-")]
    writes = loop.get("opcua_writes") or []
    rows += [("OPC UA", f"{len(writes)} setpoints written to {loop.get('opcua_endpoint')}" if writes
              else loop.get("opcua_error") or (f"endpoint {loop['opcua_endpoint']}" if loop.get("opcua_endpoint")
                                               else "no endpoint configured (setpoints stored in the KG only)"))]
    if loop.get("report_md"):
        rows.append(("Loop report (plots)", f"{loop['report_md']} / {loop.get('report_html')}"))
    return rows


def render_markdown(run: RunRecord) -> str:
    """The run report as Markdown."""
    out = [f"# Autonomous run {run.id}", ""]
    out += ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in _facts(run)] + [""]
    answer = (run.trace or {}).get("answer") or ""
    out += ["## Outcome", "", answer or "(no answer)", ""]
    loop = _loop_rows(run)
    if loop:
        out += ["## Closed loop", "", "| | |", "|---|---|"] + [f"| {k} | {_cell(v, limit=400)} |" for k, v in loop] + [""]
    if run.error:
        out += ["## Error", "", run.error, ""]
    calls = _call_rows(run)
    out += ["## Tool calls and decisions", ""]
    if calls:
        out += ["| Tool | Arguments | Mutating | Decision | Result |", "|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in calls]
    else:
        out.append("No tool was called.")
    out.append("")
    pending = _pending_rows(run)
    out += ["## Pending approvals", ""]
    if pending:
        out += ["Nothing below has been applied. A person decides with "
                f"`indagent runs approve {run.id}` (or `--reject`).", "",
                "| Tool | Arguments | Policy | What it does |", "|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in pending]
    else:
        out.append("None.")
    out.append("")
    return "\n".join(out)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(run: RunRecord) -> str:
    """The run report as a standalone HTML page (no external assets)."""
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in _facts(run))
    answer = html.escape((run.trace or {}).get("answer") or "(no answer)")
    calls = _call_rows(run)
    pending = _pending_rows(run)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>indagent run {html.escape(run.id)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
        "text-align:left;vertical-align:top}.status{font-weight:bold}</style></head><body>",
        f"<h1>Autonomous run {html.escape(run.id)}</h1>",
        f"<p class='status'>Status: {html.escape(run.status)}</p>",
        f"<table>{facts}</table>",
        f"<h2>Outcome</h2><p>{answer}</p>",
    ]
    loop = _loop_rows(run)
    if loop:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in loop)
        parts.append(f"<h2>Closed loop</h2><table>{rows}</table>")
    if run.error:
        parts.append(f"<h2>Error</h2><pre>{html.escape(run.error)}</pre>")
    parts.append("<h2>Tool calls and decisions</h2>")
    parts.append(_table(["Tool", "Arguments", "Mutating", "Decision", "Result"], calls) if calls
                 else "<p>No tool was called.</p>")
    parts.append("<h2>Pending approvals</h2>")
    if pending:
        parts.append(f"<p>Nothing below has been applied. Decide with <code>indagent runs approve "
                     f"{html.escape(run.id)}</code> (or <code>--reject</code>).</p>")
        parts.append(_table(["Tool", "Arguments", "Policy", "What it does"], pending))
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run: RunRecord, reports_dir: Path) -> tuple[Path, Path]:
    """Write ``<reports_dir>/runs/<run_id>.md`` and ``.html``; return both paths."""
    d = reports_dir / "runs"
    d.mkdir(parents=True, exist_ok=True)
    md, page = d / f"{run.id}.md", d / f"{run.id}.html"
    md.write_text(render_markdown(run), encoding="utf-8")
    page.write_text(render_html(run), encoding="utf-8")
    return md, page

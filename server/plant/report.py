"""The loop's report: Markdown + HTML (with plots) and the full trace as JSON.

Files: ``<data_dir>/reports/loop-<ts>.md``, ``.html``, ``.json`` (trace, routed-model decisions,
approvals, OPC UA writes) and ``loop-<ts>-signal.png`` (the drifting sensor, the alarm limit,
the detection time, the maintenance window and the true failure time of the live fault).
"""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore
    from server.plant.loop import LoopResult

__all__ = ["write_report"]


def _signal_plot(res: LoopResult, kg: KnowledgeStore, path: Path, live_start: datetime) -> Path | None:
    dtt = res.days_to_threshold or {}
    sensor = dtt.get("sensor") or (res.fault_truth or {}).get("sensor_ids", [None])[0]
    if not sensor or res.detected_at is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = kg.query("SELECT ts, value FROM readings WHERE sensor_id = ? AND ts >= ? ORDER BY ts",
                    [sensor, live_start - timedelta(days=14)])
    fig, ax = plt.subplots(figsize=(9, 3.4))
    ax.plot([r["ts"] for r in rows], [r["value"] for r in rows], lw=0.8, label=sensor)
    if dtt.get("threshold") is not None:
        ax.axhline(dtt["threshold"], color="crimson", ls="--", lw=1, label=f"alarm limit {dtt['threshold']:g}")
    ax.axvline(live_start, color="grey", ls=":", lw=1, label="live data from")
    ax.axvline(res.detected_at, color="darkorange", lw=1.2, label="anomaly confirmed")
    m = res.maintenance or {}
    if m.get("start"):
        ax.axvspan(datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"]), color="green", alpha=0.3,
                   label="maintenance window")
    truth = res.fault_truth or {}
    if truth.get("failure_ts"):
        ax.axvline(datetime.fromisoformat(str(truth["failure_ts"])), color="black", lw=1, label="true failure (sim)")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"{sensor}: live stream over OPC UA")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _markdown(res: LoopResult, images: dict[str, str]) -> str:
    fm = res.failure_modes
    dtt = res.days_to_threshold or {}
    m = res.maintenance or {}
    opt = res.optimization or {}
    lines = [
        f"# Closed loop on the live plant: {res.asset or 'no anomaly'}", "",
        res.outcome, "",
        f"Run time {res.seconds:.1f} s. Connector: {res.connector.get('inserted', 0)} readings inserted, "
        f"{res.connector.get('duplicates', 0)} duplicates skipped, {res.connector.get('reconnects', 0)} reconnects.", "",
        "## 1. Perception", "",
        f"Anomaly confirmed on **{res.asset}** at {res.detected_at}.", "",
    ]
    if "signal" in images:
        lines += [f"![signal]({images['signal']})", ""]
    lines += ["## 2. Diagnosis", "", "| # | failure mode | code | probability |", "|---|---|---|---|"]
    lines += [f"| {i + 1} | {c['name']} | {c.get('code') or ''} | {c['probability']:.3f} |" for i, c in enumerate(fm)]
    lines += ["", f"Days to the alarm limit: {dtt.get('message', 'n/a')}", "",
              f"Maintenance deadline: {res.deadline}.", "",
              "## 3. Scheduling", "",
              f"Window {m.get('start')} .. {m.get('end')} on {m.get('machine_id')} ({m.get('remedy')}, {m.get('hours')} h): "
              f"cost {m.get('cost_min')} min of the objective, {m.get('moved_operations')} operations moved, "
              f"idle gap: {m.get('idle_gap')}. Plan after: "
              f"{'feasible (validated)' if not res.plan_violations else '; '.join(res.plan_violations)}.", ""]
    for key, title in (("gantt_before", "Gantt before"), ("gantt_after", "Gantt after")):
        if key in images:
            lines += [f"**{title}**", "", f"![{title}]({images[key]})", ""]
    saving = opt.get("saving") or {}
    lines += ["## 4. Optimization", "",
              f"Chiller plant for the next shift (8 h) of the new plan: {saving.get('kwh', 0):.1f} kWh saved "
              f"({saving.get('percent', 0):.1f} %).", "", "| asset | tag | value | unit |", "|---|---|---|---|"]
    lines += [f"| {s['asset_id']} | {s['tag']} | {s['value']} | {s['unit']} |" for s in opt.get("setpoints", [])]
    if "optimization" in images:
        lines += ["", f"![optimization]({images['optimization']})"]
    lines += ["", "## 5. Approvals and actions", "", "| agent | tool | approval | ok | note |", "|---|---|---|---|---|"]
    lines += [f"| {a.agent} | {a.tool} | {a.approval} | {a.ok} | {a.error or ''} |" for a in res.actions]
    lines += ["", "OPC UA writes: " + (", ".join(f"{w.tag}={w.value:g} (read back {w.read_back:g})" for w in res.opcua_writes)
                                       or "none"), "",
              "## 6. Trace", "", "| step | agent | tool | s | routed model | summary |", "|---|---|---|---|---|---|"]
    for t in res.trace:
        model = (t.route or {}).get("model") or ""
        summary = t.summary.replace("|", "/").replace("\n", " ")[:160]
        lines.append(f"| {t.step} | {t.agent} | {t.tool or ''} | {t.seconds:.2f} | {model} | {summary} |")
    return "\n".join(lines) + "\n"


def _html(md_text: str, images: dict[str, Path]) -> str:
    """A self-contained HTML page: the Markdown as preformatted text plus the images inlined."""
    parts = ["<!doctype html><meta charset='utf-8'><title>indagent closed loop</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}pre{white-space:pre-wrap}"
             "img{max-width:100%}</style>"]
    for line in md_text.splitlines():
        if line.startswith("!["):
            continue
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            parts.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            parts.append(f"<pre>{html.escape(line)}</pre>")
    for name, p in images.items():
        if p.suffix == ".png" and p.exists():
            data = base64.b64encode(p.read_bytes()).decode()
            parts.append(f"<h3>{html.escape(name)}</h3><img alt='{name}' src='data:image/png;base64,{data}'>")
    return "\n".join(parts)


def write_report(res: LoopResult, kg: KnowledgeStore, *, data_dir: Path, live_start: datetime,
                 name: str | None = None) -> None:
    """Write the Markdown, HTML and JSON trace of a loop run and set their paths on ``res``.

    Args:
        res: The loop's result.
        kg: The knowledge store (for the signal plot).
        data_dir: The data directory (reports go under ``reports/``).
        live_start: Where the live data began.
        name: File stem (default ``loop-<UTC timestamp>``).
    """
    out = data_dir / "reports"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base = out / (name or f"loop-{stamp}")
    paths: dict[str, Path] = {}
    sig = _signal_plot(res, kg, base.with_name(base.name + "-signal.png"), live_start)
    if sig is not None:
        paths["signal"] = sig
    for key, plan in (("gantt_before", res.plan_before), ("gantt_after", res.plan_after)):
        if plan and plan.get("gantt_png"):
            paths[key] = Path(plan["gantt_png"])
    if res.optimization and res.optimization.get("plot_png"):
        paths["optimization"] = Path(res.optimization["plot_png"])
    md_text = _markdown(res, {k: str(p) for k, p in paths.items()})
    md, page, trace = base.with_suffix(".md"), base.with_suffix(".html"), base.with_suffix(".json")
    res.report_md, res.report_html, res.trace_json = str(md), str(page), str(trace)
    md.write_text(md_text, encoding="utf-8")
    page.write_text(_html(md_text, paths), encoding="utf-8")
    trace.write_text(json.dumps(res.model_dump(mode="json"), indent=1, default=str), encoding="utf-8")

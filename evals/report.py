"""Eval results: per-case rows, summaries (pass rates, latency, tokens, tiers), thresholds, reports.

:func:`summarize` turns rows into a :class:`Summary`; :func:`check_thresholds` lists missed
thresholds; :func:`write_reports` writes Markdown, HTML (chart embedded as base64), the chart PNG
and the JSON document under ``<data_dir>/reports/``.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from evals.cases import Thresholds
from evals.scorers import Outcome

__all__ = [
    "CaseRow",
    "GroupStat",
    "ReportPaths",
    "SuiteResult",
    "Summary",
    "chart_png",
    "check_thresholds",
    "summarize",
    "to_markdown",
    "write_reports",
]


class CaseRow(BaseModel):
    """One graded case (or one graded metric of a metrics suite)."""

    suite: str
    id: str
    group: str = "default"
    kind: Literal["case", "metric"] = "case"
    text: str = ""
    passed: bool = False
    error: str | None = None
    answer: str = ""
    result_type: str = ""
    value: Any = None
    expected: Any = None
    check: str | None = None
    outcomes: list[Outcome] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    agent: str = ""
    model: str = ""
    tier: str = ""
    degraded: bool = False
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def failure_reason(self) -> str:
        """Why the row failed ('' when it passed)."""
        if self.passed:
            return ""
        if self.error:
            return self.error
        return "; ".join(f"{o.evaluator}: {o.reason}" for o in self.outcomes if not o.passed)


class GroupStat(BaseModel):
    """Pass rate of one group against its threshold."""

    group: str
    cases: int
    passed: int
    pass_rate: float
    threshold: float | None = None
    ok: bool = True


class Summary(BaseModel):
    """Aggregate numbers of a run."""

    cases: int
    passed: int
    failed: int
    errors: int
    pass_rate: float
    threshold: float | None = None
    groups: list[GroupStat] = Field(default_factory=list)
    latency_mean_ms: float = 0.0
    latency_p95_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tiers: dict[str, int] = Field(default_factory=dict)
    agents: dict[str, int] = Field(default_factory=dict)
    tools: dict[str, int] = Field(default_factory=dict)


class ReportPaths(BaseModel):
    """Files written for one run."""

    markdown: Path
    html: Path
    chart: Path
    json_path: Path


class SuiteResult(BaseModel):
    """The outcome of running one suite (a composite has ``parts``)."""

    suite: str
    description: str = ""
    kind: str = "cases"
    passed: bool
    missed: list[str] = Field(default_factory=list, description="Thresholds that were not met.")
    summary: Summary
    rows: list[CaseRow] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    parts: list[SuiteResult] = Field(default_factory=list)
    model: str = "auto"
    models: str = "default"
    jobs: int = 1
    wall_s: float = 0.0
    started_at: datetime = Field(default_factory=datetime.now)
    report: ReportPaths | None = None


def summarize(rows: list[CaseRow], thresholds: Thresholds | None = None) -> Summary:
    """Aggregate rows; group stats carry their thresholds.

    Args:
        rows: Graded rows.
        thresholds: Pass-rate thresholds to annotate (None = none).
    """
    th = thresholds or Thresholds()
    n = len(rows)
    passed = sum(r.passed for r in rows)
    groups: dict[str, list[CaseRow]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r)
    stats = []
    for g, rs in groups.items():
        p = sum(r.passed for r in rs)
        rate = p / len(rs)
        t = th.groups.get(g)
        stats.append(GroupStat(group=g, cases=len(rs), passed=p, pass_rate=round(rate, 4), threshold=t,
                               ok=t is None or rate + 1e-12 >= t))
    lat = np.array([r.latency_ms for r in rows if r.kind == "case" and r.error is None], dtype=float)
    case_rows = [r for r in rows if r.kind == "case"]
    return Summary(
        cases=n, passed=passed, failed=n - passed, errors=sum(r.error is not None for r in rows),
        pass_rate=round(passed / n, 4) if n else 0.0, threshold=th.overall, groups=stats,
        latency_mean_ms=round(float(lat.mean()), 3) if lat.size else 0.0,
        latency_p95_ms=round(float(np.percentile(lat, 95)), 3) if lat.size else 0.0,
        prompt_tokens=sum(r.prompt_tokens for r in rows), completion_tokens=sum(r.completion_tokens for r in rows),
        tiers=dict(Counter(r.tier or "none" for r in case_rows)), agents=dict(Counter(r.agent or "none" for r in case_rows)),
        tools=dict(Counter(t for r in case_rows for t in r.tools)),
    )


def check_thresholds(summary: Summary) -> list[str]:
    """The thresholds a summary misses, as sentences (empty = all met; no cases = missed)."""
    missed = []
    if summary.cases == 0:
        missed.append("the suite ran no cases")
    if summary.threshold is not None and summary.pass_rate + 1e-12 < summary.threshold:
        missed.append(f"overall pass rate {summary.pass_rate:.1%} < {summary.threshold:.1%}")
    for g in summary.groups:
        if not g.ok:
            missed.append(f"group {g.group!r} pass rate {g.pass_rate:.1%} < {g.threshold:.1%}")
    return missed


# -- rendering --------------------------------------------------------------------------------------
def chart_png(result: SuiteResult) -> bytes:
    """A small PNG: pass rate per group (threshold marks) and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.summary
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), dpi=100)
    names = [g.group for g in s.groups] or ["(none)"]
    rates = [g.pass_rate * 100 for g in s.groups] or [0]
    colors = ["#2e7d32" if g.ok else "#c62828" for g in s.groups] or ["#9e9e9e"]
    ax1.barh(names, rates, color=colors)
    for i, g in enumerate(s.groups):
        if g.threshold is not None:
            ax1.plot([g.threshold * 100] * 2, [i - 0.4, i + 0.4], color="black", lw=2)
    if s.threshold is not None:
        ax1.axvline(s.threshold * 100, color="black", ls="--", lw=1)
    ax1.set_xlim(0, 100)
    ax1.set_xlabel("pass rate (%)")
    ax1.set_title(f"{result.suite}: {s.passed}/{s.cases} passed")
    lat = [r.latency_ms for r in result.rows if r.kind == "case" and r.error is None]
    if lat:
        ax2.hist(lat, bins=min(20, max(5, len(lat) // 2)), color="#1565c0")
        ax2.axvline(s.latency_p95_ms, color="black", ls="--", lw=1, label=f"p95 {s.latency_p95_ms:.0f} ms")
        ax2.legend(fontsize=8)
    else:
        ax2.text(0.5, 0.5, "no latency data", ha="center", va="center", transform=ax2.transAxes)
    ax2.set_xlabel("latency (ms)")
    ax2.set_title("latency per case")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _cell(v: Any, n: int = 80) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)
    s = " ".join(str(s).split()).replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def _head(result: SuiteResult) -> list[str]:
    s = result.summary
    verdict = "PASSED" if result.passed else "FAILED"
    lines = [
        f"# Eval `{result.suite}`: {verdict}",
        "",
        result.description,
        "",
        f"- pass rate **{s.pass_rate:.1%}** ({s.passed}/{s.cases}, {s.errors} errors)"
        + (f", threshold {s.threshold:.0%}" if s.threshold is not None else ""),
        f"- latency mean {s.latency_mean_ms:.1f} ms, p95 {s.latency_p95_ms:.1f} ms; wall {result.wall_s:.1f} s,"
        f" jobs {result.jobs}",
        f"- tokens: {s.prompt_tokens} prompt + {s.completion_tokens} completion",
        f"- models: {result.models}, requested `{result.model}`; tiers {s.tiers}; agents {s.agents}",
    ]
    lines += [f"- **missed**: {m}" for m in result.missed]
    return lines


def to_markdown(result: SuiteResult, *, chart_name: str | None = None) -> str:
    """The Markdown report: verdict, summary, groups, failures, every row."""
    s = result.summary
    lines = _head(result)
    if chart_name:
        lines += ["", f"![chart]({chart_name})"]
    lines += ["", "## Groups", "", "| group | passed | rate | threshold |", "|---|---|---|---|"]
    lines += [f"| {g.group} | {g.passed}/{g.cases} | {g.pass_rate:.1%} | "
              f"{'' if g.threshold is None else f'{g.threshold:.0%}'}{'' if g.ok else ' ✗'} |" for g in s.groups]
    if result.metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in result.metrics.items()]
    failed = [r for r in result.rows if not r.passed]
    if failed:
        lines += ["", "## Failures", "", "| suite | id | why |", "|---|---|---|"]
        lines += [f"| {r.suite} | {r.id} | {_cell(r.failure_reason(), 160)} |" for r in failed]
    lines += ["", "## Cases", "", "| ok | suite | id | group | question | value | expected | tools | tier | ms |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result.rows:
        lines.append(
            f"| {'✓' if r.passed else '✗'} | {r.suite} | {r.id} | {r.group} | {_cell(r.text, 60)} | {_cell(r.value, 40)} "
            f"| {_cell(r.expected, 40)} | {_cell(', '.join(r.tools), 40)} | {r.tier} | {r.latency_ms:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _to_html(result: SuiteResult, png: bytes) -> str:
    s = result.summary
    esc = html.escape
    head = "".join(f"<li>{esc(x.lstrip('- ').replace('**', ''))}</li>" for x in _head(result)[4:])
    rows = "".join(
        f"<tr class={'ok' if r.passed else 'bad'}><td>{'✓' if r.passed else '✗'}</td><td>{esc(r.suite)}</td>"
        f"<td>{esc(r.id)}</td><td>{esc(r.group)}</td><td>{esc(_cell(r.text, 120))}</td><td>{esc(_cell(r.value, 60))}</td>"
        f"<td>{esc(_cell(r.expected, 60))}</td><td>{esc(', '.join(r.tools))}</td><td>{esc(r.tier)}</td>"
        f"<td>{r.latency_ms:.0f}</td><td>{esc(r.failure_reason())}</td></tr>"
        for r in result.rows
    )
    groups = "".join(
        f"<tr class={'ok' if g.ok else 'bad'}><td>{esc(g.group)}</td><td>{g.passed}/{g.cases}</td>"
        f"<td>{g.pass_rate:.1%}</td><td>{'' if g.threshold is None else f'{g.threshold:.0%}'}</td></tr>"
        for g in s.groups
    )
    img = base64.b64encode(png).decode("ascii")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>eval {esc(result.suite)}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}} tr.bad{{background:#fdecea}}
</style></head><body><h1>Eval <code>{esc(result.suite)}</code>: {'PASSED' if result.passed else 'FAILED'}</h1>
<p>{esc(result.description)}</p><ul>{head}</ul><img alt="chart" src="data:image/png;base64,{img}">
<h2>Groups</h2><table><tr><th>group</th><th>passed</th><th>rate</th><th>threshold</th></tr>{groups}</table>
<h2>Cases</h2><table><tr><th></th><th>suite</th><th>id</th><th>group</th><th>question</th><th>value</th><th>expected</th>
<th>tools</th><th>tier</th><th>ms</th><th>why failed</th></tr>{rows}</table></body></html>
"""


def write_reports(result: SuiteResult, target: Path) -> ReportPaths:
    """Write ``.md``, ``.html``, ``.png`` and ``.json`` reports.

    Args:
        result: The run's result.
        target: A directory (files named ``eval-<suite>-<timestamp>.*`` go in it) or a file path
            whose suffix is replaced for each format.
    """
    if target.suffix in (".md", ".html", ".json", ".png"):
        stem = target.with_suffix("")
    else:
        stem = target / f"eval-{result.suite}-{result.started_at:%Y%m%d-%H%M%S}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(markdown=stem.with_suffix(".md"), html=stem.with_suffix(".html"),
                        chart=stem.with_suffix(".png"), json_path=stem.with_suffix(".json"))
    png = chart_png(result)
    paths.chart.write_bytes(png)
    paths.markdown.write_text(to_markdown(result, chart_name=paths.chart.name), encoding="utf-8")
    paths.html.write_text(_to_html(result, png), encoding="utf-8")
    doc = result.model_copy(update={"report": paths}).model_dump(mode="json")
    paths.json_path.write_text(json.dumps(doc, indent=1, default=str, ensure_ascii=False), encoding="utf-8")
    return paths

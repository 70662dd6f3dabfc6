"""Gantt charts of a schedule: a PNG (matplotlib, Agg) and a self-contained interactive HTML (plotly).

The HTML embeds plotly.js (no CDN): plants are often offline.
"""

from __future__ import annotations

from pathlib import Path

from tools.scheduling.model import Instance, ScheduledOp, Solution

__all__ = ["gantt_html", "gantt_png", "write_gantt"]


def _ops(solution: Solution | list[ScheduledOp]) -> list[ScheduledOp]:
    return solution.operations if isinstance(solution, Solution) else list(solution)


def _color(j: int) -> str:
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    r, g, b, _ = cmap(j % 20)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def gantt_png(
    instance: Instance,
    solution: Solution | list[ScheduledOp],
    path: str | Path,
    *,
    title: str = "",
    maintenance: list[tuple[int, int, int]] | None = None,
) -> Path:
    """Write a PNG Gantt chart (one row per machine, one colour per job, downtime hatched).

    Args:
        instance: The instance (machine and job names, downtime windows).
        solution: The schedule.
        path: Where to write the PNG.
        title: Chart title.
        maintenance: Extra (machine, start, end) windows to draw (e.g. a planned maintenance).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    ops = _ops(solution)
    n_m = instance.n_machines
    fig, ax = plt.subplots(figsize=(12, max(2.5, 0.45 * n_m + 1.2)), dpi=110)
    for s in ops:
        ax.barh(s.machine, s.end - s.start, left=s.start, height=0.7, color=_color(s.job), edgecolor="black", lw=0.4)
        if instance.n_jobs <= 30 and s.end - s.start > 0:
            ax.text((s.start + s.end) / 2, s.machine, instance.job_label(s.job), ha="center", va="center", fontsize=6)
    windows = [(d.machine, d.start, d.end) for d in instance.downtimes] + list(maintenance or [])
    for m, a, b in windows:
        ax.barh(m, b - a, left=a, height=0.8, color="none", edgecolor="red", hatch="///", lw=0.8)
    ax.set_yticks(range(n_m), [instance.machine_label(m) for m in range(n_m)], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time")
    ax.set_title(title or f"{instance.name or 'schedule'}  makespan {max((s.end for s in ops), default=0)}")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def gantt_html(
    instance: Instance,
    solution: Solution | list[ScheduledOp],
    path: str | Path,
    *,
    title: str = "",
    maintenance: list[tuple[int, int, int]] | None = None,
) -> Path:
    """Write an interactive Gantt chart as one self-contained HTML file (plotly.js embedded).

    Args:
        instance: The instance (machine and job names, downtime windows).
        solution: The schedule.
        path: Where to write the HTML.
        title: Chart title.
        maintenance: Extra (machine, start, end) windows to draw.
    """
    import plotly.graph_objects as go

    ops = _ops(solution)
    fig = go.Figure()
    by_job: dict[int, list[ScheduledOp]] = {}
    for s in ops:
        by_job.setdefault(s.job, []).append(s)
    for j, lst in sorted(by_job.items()):
        fig.add_trace(
            go.Bar(
                name=instance.job_label(j),
                orientation="h",
                base=[s.start for s in lst],
                x=[s.end - s.start for s in lst],
                y=[instance.machine_label(s.machine) for s in lst],
                marker_color=_color(j),
                customdata=[[s.op, s.start, s.end] for s in lst],
                hovertemplate=f"{instance.job_label(j)} op %{{customdata[0]}}<br>%{{customdata[1]}} - %{{customdata[2]}}"
                "<extra>%{y}</extra>",
            )
        )
    windows = [(d.machine, d.start, d.end, d.reason or "downtime") for d in instance.downtimes]
    windows += [(m, a, b, "maintenance") for m, a, b in (maintenance or [])]
    if windows:
        fig.add_trace(
            go.Bar(
                name="unavailable",
                orientation="h",
                base=[w[1] for w in windows],
                x=[w[2] - w[1] for w in windows],
                y=[instance.machine_label(w[0]) for w in windows],
                marker={"color": "rgba(220,0,0,0.25)", "pattern": {"shape": "/"}},
                text=[w[3] for w in windows],
            )
        )
    order = [instance.machine_label(m) for m in range(instance.n_machines)]
    fig.update_layout(
        barmode="overlay",
        title=title or f"{instance.name or 'schedule'}  makespan {max((s.end for s in ops), default=0)}",
        xaxis_title="time",
        yaxis={"categoryorder": "array", "categoryarray": order[::-1]},
        height=max(300, 28 * instance.n_machines + 150),
    )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(out, include_plotlyjs=True, full_html=True)
    return out


def write_gantt(instance: Instance, solution: Solution | list[ScheduledOp], path: str | Path, *, title: str = "") -> Path:
    """Write a Gantt chart; the format follows the suffix (.png or .html).

    Args:
        instance: The instance.
        solution: The schedule.
        path: Target file ending in .png or .html.
        title: Chart title.
    """
    p = Path(path)
    if p.suffix.lower() == ".png":
        return gantt_png(instance, solution, p, title=title)
    if p.suffix.lower() in (".html", ".htm"):
        return gantt_html(instance, solution, p, title=title)
    raise ValueError(f"Gantt path {p} must end in .png or .html")

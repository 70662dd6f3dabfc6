"""Placement plot: tiers as lanes (device / edge / cloud), one bar per node = peak utilisation.

``plot_placement(result, path)`` writes a PNG (matplotlib, Agg backend) or a self-contained HTML
(plotly, JS inlined) chosen by the file extension. Lanes show at most ``max_per_lane`` nodes (the
busiest); the title says how many were left out.
"""

from __future__ import annotations

from pathlib import Path

from tools.errors import ToolRetry
from tools.placement.model import NodeUsage, PlacementResult

__all__ = ["plot_placement"]

_TIERS = ("device", "edge", "cloud")


def _lanes(result: PlacementResult, max_per_lane: int) -> tuple[dict[str, list[NodeUsage]], int]:
    lanes: dict[str, list[NodeUsage]] = {}
    hidden = 0
    for tier in _TIERS:
        rows = sorted((u for u in result.usage if u.tier == tier), key=lambda u: -max(u.compute_util, u.memory_util))
        hidden += max(0, len(rows) - max_per_lane)
        lanes[tier] = rows[:max_per_lane]
    return lanes, hidden


def _title(result: PlacementResult, hidden: int) -> str:
    more = f" ({hidden} idler nodes not shown)" if hidden else ""
    return (f"{result.method} {result.status}: objective {result.objective:.4g}, gap {result.gap:.2%}, "
            f"SLO hit {result.slo_hit_rate:.1%}, {result.carbon_kg:.3g} kg CO2{more}")


def plot_placement(result: PlacementResult, path: str | Path, *, max_per_lane: int = 40) -> Path:
    """Write the plot to ``path`` (.png or .html) and return it.

    Args:
        result: A solved placement (its ``usage`` rows are drawn).
        path: Output file; the extension picks the format.
        max_per_lane: Most nodes drawn per tier lane (the busiest ones).
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".html"):
        raise ToolRetry(f"Plot path must end in .png or .html; got {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    lanes, hidden = _lanes(result, max_per_lane)
    if suffix == ".png":
        _png(lanes, _title(result, hidden), out)
    else:
        _html(lanes, _title(result, hidden), out)
    return out


def _png(lanes: dict[str, list[NodeUsage]], title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    widest = max(1, *(len(v) for v in lanes.values()))
    fig, axes = plt.subplots(len(_TIERS), 1, figsize=(max(8.0, 0.35 * widest + 3), 7.5), squeeze=False)
    for ax, tier in zip(axes[:, 0], _TIERS, strict=True):
        rows = lanes[tier]
        x = list(range(len(rows)))
        ax.bar([i - 0.2 for i in x], [u.compute_util * 100 for u in rows], width=0.4, label="compute", color="#3b7dd8")
        ax.bar([i + 0.2 for i in x], [u.memory_util * 100 for u in rows], width=0.4, label="memory", color="#e8a33d")
        ax.set_xticks(x, [u.node for u in rows], rotation=60, ha="right", fontsize=7)
        ax.set_ylim(0, 110)
        ax.axhline(100, color="grey", lw=0.8, ls="--")
        ax.set_ylabel(f"{tier}\n% peak", fontsize=9)
        ax.set_xlim(-0.6, widest - 0.4)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _html(lanes: dict[str, list[NodeUsage]], title: str, out: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=len(_TIERS), cols=1, subplot_titles=[f"{t} lane" for t in _TIERS], vertical_spacing=0.12)
    for r, tier in enumerate(_TIERS, start=1):
        rows = lanes[tier]
        names = [u.node for u in rows]
        for key, color in (("compute_util", "#3b7dd8"), ("memory_util", "#e8a33d")):
            fig.add_trace(go.Bar(x=names, y=[getattr(u, key) * 100 for u in rows], name=key.split("_")[0],
                                 marker_color=color, showlegend=r == 1,
                                 customdata=[u.workloads for u in rows],
                                 hovertemplate="%{x}<br>%{y:.1f}% peak<br>%{customdata} workloads"), row=r, col=1)
        fig.update_yaxes(title_text="% peak", range=[0, 110], row=r, col=1)
    fig.update_layout(title=title, barmode="group", height=900)
    fig.write_html(out, include_plotlyjs=True, full_html=True)

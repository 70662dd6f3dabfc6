"""Before/after plots of an optimization: a PNG (matplotlib, Agg) and a self-contained HTML (plotly).

Left panel: the power breakdown (per chiller, pumps, fans / per compressor) at the baseline and at
the recommendation for the first hour, with the saving band. Right panel: baseline and optimized
power per hour of the horizon.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tools.optimization.optimize import OptimizationResult

__all__ = ["plot_html", "plot_png", "write_plots"]


def _title(res: OptimizationResult) -> str:
    s = res.saving
    return (f"{res.system.replace('_', ' ')}: {res.baseline_kw:.1f} → {res.optimized_kw:.1f} kW; saving "
            f"{s.kwh:.1f} kWh ({s.percent:.1f} %, 90 % band {s.kwh_band.low:.1f}–{s.kwh_band.high:.1f})")


def plot_png(res: OptimizationResult, path: str | Path) -> Path:
    """Write the before/after PNG.

    Args:
        res: The optimization result.
        path: Where to write the PNG.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h0 = res.hours[0]
    keys = list(h0.baseline_breakdown_kw)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100)
    bottom_b = bottom_a = 0.0
    for k in keys:
        b, a = h0.baseline_breakdown_kw[k], h0.optimized_breakdown_kw.get(k, 0.0)
        ax1.bar(["baseline", "recommended"], [b, a], bottom=[bottom_b, bottom_a], label=k)
        bottom_b += b
        bottom_a += a
    ax1.set_ylabel("electric power, kW")
    ax1.set_title("first hour, by component")
    ax1.legend(fontsize=7, loc="upper right")
    hours = [h.hour for h in res.hours]
    ax2.plot(hours, [h.baseline_kw for h in res.hours], marker="o", label="baseline")
    ax2.plot(hours, [h.optimized_kw for h in res.hours], marker="o", label="recommended")
    ax2.set_xlabel("hour of the horizon")
    ax2.set_ylabel("kW")
    ax2.set_title("power per hour")
    ax2.legend(fontsize=8)
    fig.suptitle(_title(res), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_html(res: OptimizationResult, path: str | Path) -> Path:
    """Write the before/after plot as one self-contained HTML file (plotly.js embedded).

    Args:
        res: The optimization result.
        path: Where to write the HTML.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h0 = res.hours[0]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("first hour, by component", "power per hour"))
    for k in h0.baseline_breakdown_kw:
        fig.add_trace(go.Bar(name=k, x=["baseline", "recommended"],
                             y=[h0.baseline_breakdown_kw[k], h0.optimized_breakdown_kw.get(k, 0.0)]), row=1, col=1)
    hours = [h.hour for h in res.hours]
    fig.add_trace(go.Scatter(x=hours, y=[h.baseline_kw for h in res.hours], name="baseline kW"), row=1, col=2)
    fig.add_trace(go.Scatter(x=hours, y=[h.optimized_kw for h in res.hours], name="recommended kW"), row=1, col=2)
    fig.update_layout(barmode="stack", title=_title(res), height=460)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


def write_plots(res: OptimizationResult, path: str | Path) -> OptimizationResult:
    """Write ``<path>.png`` and ``<path>.html`` (suffix replaced) and return the result with their paths.

    Args:
        res: The optimization result.
        path: Base path; ``.png``/``.html`` replace any suffix.
    """
    base = Path(path)
    png = plot_png(res, base.with_suffix(".png"))
    html = plot_html(res, base.with_suffix(".html"))
    return res.model_copy(update={"plot_png": str(png), "plot_html": str(html)})

"""The diagnosis ``@tool`` functions the agents call (all read-only).

Storing alerts is not among them: it is bookkeeping done by the CLI (``--store-alerts``) and the
autonomous monitoring runs through :func:`tools.diagnosis.alerts.store_alerts` (see that module).
"""

from __future__ import annotations

from datetime import datetime

from tools.diagnosis.engine import detect_asset, resolve_window
from tools.diagnosis.kg import require_store
from tools.diagnosis.models import (
    AnomalyReport,
    AssetsWithAnomalies,
    DaysToThreshold,
    DiagnosisResult,
    FailureModeRanking,
    RemedyList,
)
from tools.diagnosis.ranking import rank_with_kg
from tools.diagnosis.service import assets_with_anomalies_in, diagnose, prognose, remedies_of_mode
from tools.registry import ToolContext, tool

__all__ = [
    "assets_with_anomalies",
    "days_to_threshold",
    "detect_anomalies",
    "diagnose_asset",
    "rank_failure_modes",
    "remedies_for",
]

_TAGS = ("diagnosis",)


@tool(mutating=False, tags=_TAGS)
def detect_anomalies(
    ctx: ToolContext, asset: str, *, since: datetime | None = None, until: datetime | None = None
) -> AnomalyReport:
    """Detect anomalies on an asset's sensors (drifts, level shifts, spikes, broken correlations).

    Thresholds are learned from a healthy reference window before the period.

    Args:
        ctx: Tool context (knowledge graph, clock).
        asset: Asset id, name or alias, e.g. "CNC-07".
        since: Start of the period; default 30 days before `until`.
        until: End of the period (exclusive); default now or the last reading.
    """
    return detect_asset(require_store(ctx.kg), asset, since=since, until=until, now=ctx.now)


@tool(mutating=False, tags=_TAGS)
def rank_failure_modes(
    ctx: ToolContext, asset: str, *, since: datetime | None = None, until: datetime | None = None, top: int = 5
) -> FailureModeRanking:
    """Rank the likely failure modes of an asset from its anomalies, with evidence and KG paths.

    Args:
        ctx: Tool context (knowledge graph, clock).
        asset: Asset id, name or alias, e.g. "P-3".
        since: Start of the period the anomalies are taken from; default 30 days before `until`.
        until: End of the period (exclusive); default now or the last reading.
        top: How many failure modes to return.
    """
    kg = require_store(ctx.kg)
    rep = detect_asset(kg, asset, since=since, until=until, now=ctx.now)
    w = resolve_window(kg, rep.asset, since=rep.since, until=rep.until)
    return rank_with_kg(kg, w.asset, w.sensors, rep.anomalies, as_of=rep.since, top=top)


@tool(mutating=False, tags=_TAGS)
def remedies_for(ctx: ToolContext, failure_mode: str) -> RemedyList:
    """List the remedies of a failure mode with typical duration, parts and cost.

    Args:
        ctx: Tool context (knowledge graph, clock).
        failure_mode: Failure mode id (e.g. "fm:cnc.spindle-bearing-wear"), code (e.g. "BRG-WEAR") or name.
    """
    return remedies_of_mode(require_store(ctx.kg), failure_mode)


@tool(mutating=False, tags=_TAGS)
def days_to_threshold(
    ctx: ToolContext, asset: str, *, sensor: str | None = None, until: datetime | None = None
) -> DaysToThreshold:
    """Estimate the days until a drifting sensor of an asset reaches its alarm limit, with a 10-90 % interval.

    Says "not enough data" or "no significant trend" instead of extrapolating noise.

    Args:
        ctx: Tool context (knowledge graph, clock).
        asset: Asset id, name or alias, e.g. "CNC-07".
        sensor: Sensor id or type (e.g. "vibration"); default: the sensors with anomalies.
        until: Time the estimate is made at; default now or the last reading.
    """
    return prognose(require_store(ctx.kg), asset, sensor=sensor, until=until, now=ctx.now)


@tool(mutating=False, tags=_TAGS)
def diagnose_asset(
    ctx: ToolContext, asset: str, *, since: datetime | None = None, until: datetime | None = None
) -> DiagnosisResult:
    """Diagnose an asset: anomalies, ranked failure modes, days to the alarm limit and remedies.

    Args:
        ctx: Tool context (knowledge graph, clock).
        asset: Asset id, name or alias, e.g. "CHL-02".
        since: Start of the period; default 30 days before `until`.
        until: End of the period (exclusive); default now or the last reading.
    """
    return diagnose(require_store(ctx.kg), asset, since=since, until=until, now=ctx.now)


@tool(mutating=False, tags=_TAGS)
def assets_with_anomalies(
    ctx: ToolContext, start: datetime | None = None, end: datetime | None = None
) -> AssetsWithAnomalies:
    """List the assets that had anomalies in a period (e.g. last week), most severe first.

    Args:
        ctx: Tool context (knowledge graph, clock).
        start: Start of the period; default 7 days before `end`.
        end: End of the period (exclusive); default now or the last reading.
    """
    return assets_with_anomalies_in(require_store(ctx.kg), start=start, end=end, now=ctx.now)

"""KG-level diagnosis functions: diagnose an asset, days to threshold, assets with anomalies.

These take a :class:`~knowledge.store.KnowledgeStore` (the tools in ``toolset`` wrap them with a
``ToolContext``); the evaluation harness and the CLI call them directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from tools.diagnosis.detectors import DetectorConfig
from tools.diagnosis.engine import DEFAULT_CONFIG, detect_asset, resolve_window
from tools.diagnosis.kg import SensorInfo, list_assets, load_frame, remedies_of, resolve_failure_mode
from tools.diagnosis.models import (
    AnomalyReport,
    AssetAnomalySummary,
    AssetsWithAnomalies,
    DaysToThreshold,
    DiagnosisResult,
    RemedyList,
)
from tools.diagnosis.prognostics import time_to_threshold
from tools.diagnosis.ranking import rank_with_kg
from tools.errors import ToolFailed, ToolRetry, did_you_mean

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["assets_with_anomalies_in", "diagnose", "prognose", "remedies_of_mode"]


def _threshold(s: SensorInfo, direction: Literal["up", "down"]) -> tuple[float, str] | None:
    if direction == "up":
        if s.alarm_high is not None:
            return s.alarm_high, "alarm_high"
        return (s.normal_high, "normal_high") if s.normal_high is not None else None
    if s.alarm_low is not None:
        return s.alarm_low, "alarm_low"
    return (s.normal_low, "normal_low") if s.normal_low is not None else None


def prognose(
    store: KnowledgeStore,
    asset: str,
    *,
    sensor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    report: AnomalyReport | None = None,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    max_trend_days: float = 60.0,
) -> DaysToThreshold:
    """Days until a sensor of the asset reaches its alarm limit (the earliest over candidates).

    The health indicator is the daily 90th percentile (10th for a low limit) of the hourly values:
    the loaded hours reach a limit first. Candidates: ``sensor`` when given (id or type, e.g.
    "vibration"); otherwise the sensors with anomalies in the window (trend from a day before the
    latest anomaly's start, direction of the anomaly), otherwise every sensor with a limit (trend over the last 30 days).

    Args:
        store: The knowledge store.
        asset: Asset id, name or alias.
        sensor: Sensor id or type to estimate for.
        since: Window start (for the anomaly search).
        until: Window end; the estimate is counted from here (or the last reading).
        now: The clock.
        report: Anomalies already detected for this window (saves a detection run).
        cfg: Detector configuration.
        max_trend_days: Longest history the trend is fitted on.
    """
    w = resolve_window(store, asset, since=since, until=until, now=now)
    rep = report or detect_asset(store, w.asset.id, since=w.since, until=w.until, cfg=cfg)
    by_id = {s.id: s for s in w.sensors}
    if sensor is not None:
        key = sensor.strip().lower()
        hits = [s for s in w.sensors if key in (s.id.lower(), s.type.lower(), s.id.rsplit(".", 1)[-1].lower())]
        if not hits:
            raise ToolRetry(did_you_mean(sensor, [s.id for s in w.sensors], what=f"sensor of {w.asset.id}"))
        pool = hits
    else:
        pool = []
    as_of = min(w.until, w.data_end + timedelta(seconds=1))
    cands: list[tuple[SensorInfo, Literal["up", "down"], datetime]] = []
    latest = sorted(rep.anomalies, key=lambda a: a.start, reverse=True)
    for a in latest:
        s = by_id.get(a.sensor)
        if s is not None and (not pool or s in pool) and all(c[0].id != s.id for c in cands):
            cands.append((s, a.direction, a.start - timedelta(days=1)))
    if not cands:
        for s in pool or w.sensors:
            for d in ("up", "down"):
                if _threshold(s, d) is not None:  # type: ignore[arg-type]
                    cands.append((s, d, as_of - timedelta(days=30)))  # type: ignore[arg-type]
    if not cands:
        return DaysToThreshold(asset=w.asset.id, sensor=pool[0].id if pool else None, status="no_threshold",
                               as_of=as_of, message=f"No sensor of {w.asset.id} has an alarm limit in the KG.")
    start = min(max(c[2], as_of - timedelta(days=max_trend_days)) for c in cands)
    start = min(start, as_of - timedelta(days=7))
    ids = list(dict.fromkeys(c[0].id for c in cands))
    frame = load_frame(store, ids, start, as_of, bucket=cfg.bucket)
    ref = load_frame(store, ids, w.reference_start, w.reference_end, bucket=cfg.bucket)
    results: list[DaysToThreshold] = []
    for s, d, t0 in cands:
        thr = _threshold(s, d)
        if thr is None:
            results.append(DaysToThreshold(asset=w.asset.id, sensor=s.id, status="no_threshold", as_of=as_of,
                                           message=f"{s.id} has no {'high' if d == 'up' else 'low'} limit in the KG."))
            continue
        t0 = min(max(t0, as_of - timedelta(days=max_trend_days)), as_of - timedelta(days=7))
        col = frame[s.id]
        q = 0.9 if d == "up" else 0.1  # the loaded hours reach a limit first; weekends/nights do not
        daily = col[col.index >= pd.Timestamp(t0)].resample("1D").quantile(q)
        ref_daily = ref[s.id].resample("1D").quantile(q).to_numpy()
        baseline = float(np.nanmedian(ref_daily)) if np.isfinite(ref_daily).any() else None
        p = time_to_threshold(daily, thr[0], direction=d, as_of=as_of, baseline=baseline)
        results.append(DaysToThreshold(
            asset=w.asset.id, sensor=s.id, status=p.status, estimate=p.estimate, low=p.low, high=p.high,
            threshold=thr[0], threshold_kind=thr[1], model=p.model, slope_per_day=p.slope_per_day,  # type: ignore[arg-type]
            current_level=p.current_level, n_days=p.n_days, as_of=as_of, message=f"{s.id}: {p.message}",
        ))
    ok = [r for r in results if r.estimate is not None]
    return min(ok, key=lambda r: r.estimate or 0.0) if ok else results[0]


def diagnose(
    store: KnowledgeStore,
    asset: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    top: int = 5,
) -> DiagnosisResult:
    """Anomalies, ranked failure modes, days to threshold and remedies of one asset.

    Args:
        store: The knowledge store.
        asset: Asset id, name or alias.
        since: Window start (default 30 days before ``until``).
        until: Window end (default: now, or the last reading).
        now: The clock.
        cfg: Detector configuration.
        top: How many failure modes to return.
    """
    rep = detect_asset(store, asset, since=since, until=until, now=now, cfg=cfg)
    w = resolve_window(store, rep.asset, since=rep.since, until=rep.until)
    ranking = rank_with_kg(store, w.asset, w.sensors, rep.anomalies, as_of=rep.since, top=top)
    dtt = prognose(store, rep.asset, since=rep.since, until=rep.until, report=rep, cfg=cfg) if rep.anomalies else None
    remedies = ranking.candidates[0].remedies if ranking.candidates else []
    parts = [rep.message]
    if ranking.candidates:
        parts.append(ranking.message)
    if dtt is not None:
        parts.append(dtt.message)
    return DiagnosisResult(
        asset=rep.asset, since=rep.since, until=rep.until, anomalies=rep.anomalies,
        failure_modes=ranking.candidates, days_to_threshold=dtt, remedies=remedies, message=" ".join(parts),
    )


def remedies_of_mode(store: KnowledgeStore, failure_mode: str) -> RemedyList:
    """The remedies of a failure mode given by id, code or name.

    Args:
        store: The knowledge store.
        failure_mode: Failure mode id, code or name.
    """
    fm_id, name = resolve_failure_mode(store, failure_mode)
    return RemedyList(failure_mode=fm_id, name=name, remedies=remedies_of(store, [fm_id])[fm_id])


def assets_with_anomalies_in(
    store: KnowledgeStore,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
    cfg: DetectorConfig = DEFAULT_CONFIG,
) -> AssetsWithAnomalies:
    """Every asset with at least one anomaly in ``[start, end)``, highest score first.

    Args:
        store: The knowledge store.
        start: Period start (default 7 days before ``end``).
        end: Period end (default: now, or the last reading of the plant).
        now: The clock.
        cfg: Detector configuration.
    """
    if end is None:
        end = now or store.scalar("SELECT max(ts) FROM readings")
        if end is None:
            raise ToolFailed("The knowledge graph has no readings; load a plant first ('indagent demo').")
        end = end + timedelta(seconds=1) if now is None else end
    start = start or end - timedelta(days=7)
    if start >= end:
        raise ToolRetry(f"'start' ({start:%Y-%m-%d}) must be before 'end' ({end:%Y-%m-%d}).")
    rows: list[AssetAnomalySummary] = []
    scanned = 0
    for a in list_assets(store):
        try:
            rep = detect_asset(store, a.id, since=start, until=end, cfg=cfg)
        except ToolFailed:
            continue  # no sensors / no readings in the period
        scanned += 1
        if rep.anomalies:
            rows.append(AssetAnomalySummary(
                asset=a.id, name=a.name, anomalies=len(rep.anomalies),
                sensors=sorted({s for x in rep.anomalies for s in x.sensors}),
                first_start=min(x.start for x in rep.anomalies), last_end=max(x.end for x in rep.anomalies),
                max_score=max(x.score for x in rep.anomalies),
            ))
    rows.sort(key=lambda r: (-r.max_score, r.asset))
    return AssetsWithAnomalies(
        start=start, end=end, scanned=scanned, assets=rows,
        message=f"{len(rows)} of {scanned} assets had anomalies between {start:%Y-%m-%d} and {end:%Y-%m-%d}.",
    )

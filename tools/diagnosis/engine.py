"""Detection on an asset: choose the window and healthy reference, load, detect, convert.

``detect_frame`` is the pure core (a DataFrame in, anomalies out); ``detect_asset`` adds the KG:
asset resolution, sensors, data bounds, reference choice and bucketed loading.

Reference choice (thresholds are learned there): an explicit ``reference`` wins; otherwise the
``reference_days`` before ``since`` when at least ``min_reference_days`` of data exist there; otherwise
the first ``reference_days`` of data in the window (for a scan of the whole history).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tools.diagnosis.detectors import DetectorConfig, Episode, detect_series, merge_episodes, standardized_residual
from tools.diagnosis.kg import (
    AssetInfo,
    SensorInfo,
    asset_sensors,
    data_bounds,
    load_frame,
    plant_load_index,
    resolve_asset,
)
from tools.diagnosis.models import Anomaly, AnomalyReport
from tools.diagnosis.multivariate import detect_multivariate
from tools.errors import ToolFailed, ToolRetry

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["DEFAULT_CONFIG", "AssetWindow", "detect_asset", "detect_frame", "episodes_to_anomalies", "resolve_window",
           "scan_frame"]

DEFAULT_CONFIG = DetectorConfig()


@dataclass(frozen=True)
class AssetWindow:
    """A resolved detection request: asset, sensors, scoring window and reference."""

    asset: AssetInfo
    sensors: list[SensorInfo]
    since: datetime
    until: datetime
    reference_start: datetime
    reference_end: datetime
    data_start: datetime
    data_end: datetime


def _ts(v: datetime | pd.Timestamp) -> datetime:
    return pd.Timestamp(v).tz_localize(None).to_pydatetime() if pd.Timestamp(v).tzinfo else pd.Timestamp(v).to_pydatetime()


def resolve_window(
    store: KnowledgeStore,
    asset: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    reference: tuple[datetime, datetime] | None = None,
    window_days: float = 30.0,
    reference_days: float = 28.0,
    min_reference_days: float = 7.0,
) -> AssetWindow:
    """Resolve the asset, its sensors, the scoring window and the healthy reference window.

    Args:
        store: The knowledge store.
        asset: Asset id, name or alias.
        since: Window start; default ``until - window_days``.
        until: Window end (exclusive); default ``now`` or the end of the asset's data.
        now: The clock, when the caller has one.
        reference: Explicit reference window ``(start, end)``.
        window_days: Default window length.
        reference_days: Default reference length.
        min_reference_days: Fewest days of data before ``since`` to use them as reference.
    """
    info = resolve_asset(store, asset)
    sensors = asset_sensors(store, info.id)
    if not sensors:
        raise ToolFailed(f"Asset {info.id!r} has no sensors in the knowledge graph; nothing to diagnose.")
    lo, hi = data_bounds(store, [s.id for s in sensors])
    if lo is None or hi is None:
        raise ToolFailed(f"Asset {info.id!r} has no readings; load readings for {sensors[0].id!r} and its siblings.")
    lo, hi = _ts(lo), _ts(hi)
    end = _ts(until) if until is not None else (_ts(now) if now is not None else hi + timedelta(seconds=1))
    start = _ts(since) if since is not None else end - timedelta(days=window_days)
    if start >= end:
        raise ToolRetry(f"'since' ({start:%Y-%m-%d %H:%M}) must be before 'until' ({end:%Y-%m-%d %H:%M}).")
    if start > hi or end <= lo:
        raise ToolFailed(
            f"No readings for {info.id} between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M}; its data covers "
            f"{lo:%Y-%m-%d %H:%M} .. {hi:%Y-%m-%d %H:%M}. Pass --since/--until inside that range."
        )
    if reference is not None:
        r0, r1 = _ts(reference[0]), _ts(reference[1])
        if r0 >= r1:
            raise ToolRetry("The reference window must have start < end.")
    elif (start - max(lo, start - timedelta(days=reference_days))) >= timedelta(days=min_reference_days):
        r0, r1 = max(lo, start - timedelta(days=reference_days)), start
    else:
        r0 = max(lo, start)
        r1 = min(r0 + timedelta(days=reference_days), hi + timedelta(seconds=1))
    return AssetWindow(info, sensors, start, end, r0, r1, lo, hi)


def detect_frame(
    frame: pd.DataFrame,
    ref: np.ndarray,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    *,
    exog: np.ndarray | None = None,
) -> list[Episode]:
    """All detectors on one asset's bucketed frame with one reference; merged episodes (grid indices).

    Args:
        frame: Regular grid (DatetimeIndex) x sensor columns, NaN for gaps.
        ref: Boolean mask of the reference rows.
        cfg: Detector configuration.
        exog: Operating-state covariate (plant load index) on the same grid, or None.
    """
    cols = [c for c in frame.columns if int(np.isfinite(frame[c].to_numpy()[ref]).sum()) >= cfg.min_reference]
    if not cols:
        return []
    multi = cfg.multivariate and len(cols) > 1
    n_streams = len(cols) * len(cfg.detectors) + (2 if multi else 0)
    index = pd.DatetimeIndex(frame.index)
    episodes: list[Episode] = []
    zs = []
    for c in cols:
        vals = frame[c].to_numpy(dtype=float)
        z = standardized_residual(vals, index, ref, seasonality=cfg.seasonality, exog=exog, detrend=cfg.detrend)[0]
        episodes.extend(detect_series(c, vals, index, ref, cfg, n_streams=n_streams, z=z))
        zs.append(z)
    if multi:
        episodes.extend(detect_multivariate(cols, np.column_stack(zs), ref, cfg, alpha=cfg.per_bucket_alpha(n_streams)))
    return merge_episodes(episodes, gap=cfg.merge_gap)


def scan_frame(
    frame: pd.DataFrame,
    scan_start: int,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    *,
    exog: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    chunk_days: float = 14.0,
    reference_days: float = 28.0,
) -> list[Episode]:
    """Detect from row ``scan_start`` on with a rolling, anomaly-free reference.

    The rows are scored in chunks of ``chunk_days``; each chunk's thresholds are learned on the
    ``reference_days`` before it, minus the rows (and a day before them) of episodes already
    found, so slow seasonal changes are followed while a fault never becomes the reference.
    When fewer than ``reference_days`` precede ``scan_start``, the first ``reference_days`` are
    both the reference and the first chunk. An explicit ``reference`` mask disables the rolling.

    Args:
        frame: Regular grid x sensor columns (the reference rows included).
        scan_start: First row to report episodes for.
        cfg: Detector configuration.
        exog: Plant load index on the same grid, or None.
        reference: Explicit reference mask (one pass, no rolling).
        chunk_days: Chunk length.
        reference_days: Reference length.
    """
    n = len(frame)
    if reference is not None:
        return [e for e in detect_frame(frame, reference, cfg, exog=exog) if e.end >= scan_start]
    per_day = pd.Timedelta(days=1) / cfg.bucket_delta
    chunk, ref_len, pad = max(1, round(chunk_days * per_day)), max(1, round(reference_days * per_day)), round(per_day)
    excluded = np.zeros(n, dtype=bool)
    found: list[Episode] = []
    a = scan_start
    if a < ref_len:  # not enough history before the window: the first block is its own reference
        a = 0
    while a < n:
        if a == 0:
            b, ref_lo = min(ref_len, n), 0
            ref_hi = b
        else:
            b = min(a + chunk, n)
            ref_lo, ref_hi = max(0, a - ref_len), a
            for k in (2, 3):  # reach further back when anomalies ate the reference
                if int((~excluded[ref_lo:ref_hi]).sum()) >= ref_len // 2 or ref_lo == 0:
                    break
                ref_lo = max(0, a - k * ref_len)
        ref = np.zeros(b - ref_lo, dtype=bool)
        ref[: ref_hi - ref_lo] = ~excluded[ref_lo:ref_hi]
        sub = frame.iloc[ref_lo:b]
        eps = detect_frame(sub, ref, cfg, exog=None if exog is None else exog[ref_lo:b])
        for e in eps:
            e.start += ref_lo
            e.end += ref_lo
            if e.start >= a or a == 0:
                found.append(e)
                excluded[max(0, e.start - pad) : e.end + 1] = True
        a = b
    return [e for e in merge_episodes(found, gap=cfg.merge_gap) if e.end >= scan_start]


def episodes_to_anomalies(
    asset: str, episodes: list[Episode], index: pd.DatetimeIndex, sensor_types: dict[str, str], cfg: DetectorConfig
) -> list[Anomaly]:
    """Convert grid episodes to :class:`Anomaly` records with KG symptom ids.

    Args:
        asset: Asset id.
        episodes: Merged episodes.
        index: The grid the episode indices refer to.
        sensor_types: Sensor id -> sensor type (for the symptom id).
        cfg: Detector configuration (bucket length for the end time).
    """
    out = []
    last = len(index) - 1
    for ep in episodes:
        direction = "up" if ep.sign >= 0 else "down"
        primary = ep.sensors[0]
        stype = sensor_types.get(primary)
        out.append(
            Anomaly(
                asset=asset, sensor=primary, sensors=list(ep.sensors),
                start=index[ep.start].to_pydatetime(),
                end=(index[ep.end] + cfg.bucket_delta).to_pydatetime(),
                score=round(float(ep.score), 4), detector=ep.detector,  # type: ignore[arg-type]
                detectors=list(ep.detectors), direction=direction,  # type: ignore[arg-type]
                severity="alarm" if ep.score >= 2.0 else "warning",
                contributions={k: round(float(v), 4) for k, v in ep.contributions.items()},
                symptom=f"sym:{stype}_{direction}" if stype else None, ongoing=ep.end >= last,
            )
        )
    return out


def detect_asset(
    store: KnowledgeStore,
    asset: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    reference: tuple[datetime, datetime] | None = None,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    use_load: bool = True,
) -> AnomalyReport:
    """Detect anomalies of one asset in ``[since, until)`` (see :func:`resolve_window`).

    Args:
        store: The knowledge store.
        asset: Asset id, name or alias.
        since: Window start.
        until: Window end (exclusive).
        now: The clock.
        reference: Explicit healthy reference window (disables the rolling reference).
        cfg: Detector configuration.
        use_load: Condition on the plant load index (shifts, weekends, shutdowns are normal).
    """
    w = resolve_window(store, asset, since=since, until=until, now=now, reference=reference)
    ids = [s.id for s in w.sensors]
    rolling = reference is None
    start = min(w.reference_start, w.since)
    if rolling:  # the rolling reference may reach back further when anomalies were excluded
        start = max(w.data_start, min(start, w.since - timedelta(days=3 * 28)))
    end = max(w.until, w.reference_end)
    frame = load_frame(store, ids, start, end, bucket=cfg.bucket)
    index = pd.DatetimeIndex(frame.index)
    load = plant_load_index(store, start, end, bucket=cfg.bucket) if use_load else None
    exog = None if load is None else load.reindex(index).to_numpy(dtype=float)
    ref = np.asarray((index >= w.reference_start) & (index < w.reference_end))
    if int(np.isfinite(frame.to_numpy()[ref]).any(axis=1).sum()) < cfg.min_reference:
        raise ToolFailed(
            f"Not enough reference data for {w.asset.id} in {w.reference_start:%Y-%m-%d} .. {w.reference_end:%Y-%m-%d} "
            f"(need {cfg.min_reference} buckets of {cfg.bucket}); pass an earlier --since or a longer window."
        )
    types = {s.id: s.type for s in w.sensors}
    scan_start = int(np.searchsorted(index.values, np.datetime64(pd.Timestamp(w.since).floor(cfg.bucket_delta))))
    eps = scan_frame(frame, scan_start, cfg, exog=exog, reference=None if rolling else ref)
    anomalies = [
        a for a in episodes_to_anomalies(w.asset.id, eps, index, types, cfg)
        if a.end > w.since and a.start < w.until
    ]
    msg = (
        f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} on {w.asset.id} between "
        f"{w.since:%Y-%m-%d %H:%M} and {w.until:%Y-%m-%d %H:%M} (thresholds learned on "
        f"{w.reference_start:%Y-%m-%d} .. {w.reference_end:%Y-%m-%d})."
    )
    return AnomalyReport(
        asset=w.asset.id, since=w.since, until=w.until, reference_start=w.reference_start,
        reference_end=w.reference_end, bucket=cfg.bucket, sensors=ids, anomalies=anomalies, message=msg,
    )

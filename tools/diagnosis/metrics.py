"""The diagnosis evaluation against the KG's ``fault_truth`` table, with a naive baseline.

For every asset the whole history is scanned (rolling reference, as the monitoring run would
do). Per injected fault (window ``[onset_ts, failure_ts]``):

- **detection**: an anomaly of the asset starts inside the window;
- **lead time**: ``failure_ts`` minus the first such anomaly's start; a gradual fault counts as
  warned when the lead is at least ``lead_days`` (7);
- **top-1 / top-3**: the true failure mode is among the best 1 / 3 candidates ranked from the
  anomalies starting in the window (work-order priors before the onset); an undetected fault
  counts as a miss;
- **false alarms**: asset-level alarm episodes (the union of the asset's anomalies) starting
  outside every fault period ``[onset - 1 day, failure + 3 days]`` (the repair and restart
  belong to the fault), per fault-free asset-month (30 days).

The **naive baseline** runs in the same call: a static mean +- 3 sigma band per sensor learned on
the first 28 days, every out-of-band run is an alarm, and the failure modes are ranked by how
often each occurred on the asset class before the onset (FMEA occurrence breaks ties).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from tools.diagnosis.detectors import DetectorConfig, detect_static_3sigma, merge_episodes
from tools.diagnosis.engine import DEFAULT_CONFIG, detect_asset, episodes_to_anomalies
from tools.diagnosis.kg import (
    AssetInfo,
    asset_sensors,
    class_failure_counts,
    data_bounds,
    failure_counts,
    fmea,
    list_assets,
    load_frame,
)
from tools.diagnosis.models import Anomaly
from tools.diagnosis.ranking import rank_modes
from tools.errors import ToolFailed

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["TARGETS", "DiagnosisReport", "FaultOutcome", "MethodScores", "diagnosis_report"]

Method = Literal["indagent", "naive_3sigma"]

#: The issue's targets (checked on the indagent method only).
TARGETS = {"top1": 0.80, "top3": 0.95, "lead_ok_rate": 0.80, "false_alarms_per_asset_month": 1.0}
_BEFORE, _AFTER = timedelta(days=1), timedelta(days=3)


class FaultOutcome(BaseModel):
    """How one method did on one injected fault."""

    fault: str
    asset: str
    kind: str
    failure_mode: str
    method: Method
    detected: bool
    first_alarm: datetime | None
    lead_days: float | None
    ranked: list[str]
    rank: int | None


class MethodScores(BaseModel):
    """The metrics of one method."""

    method: Method
    faults: int
    gradual_faults: int
    detection_rate: float
    top1: float
    top3: float
    lead_ok_rate: float
    median_lead_days_gradual: float | None
    false_alarms: int
    fault_free_asset_months: float
    false_alarms_per_asset_month: float
    seconds: float


class DiagnosisReport(BaseModel):
    """The diagnosis evaluation: both methods, per-fault outcomes, targets and verdict."""

    assets: int
    faults: int
    lead_days_required: float
    indagent: MethodScores
    baseline: MethodScores
    targets: dict[str, float]
    passed: bool
    failures: list[str]
    outcomes: list[FaultOutcome]


def _asset_episodes(anoms: list[Anomaly]) -> list[tuple[datetime, datetime]]:
    spans = sorted((a.start, a.end) for a in anoms)
    out: list[tuple[datetime, datetime]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _baseline_anomalies(
    store: KnowledgeStore, asset: AssetInfo, lo: datetime, hi: datetime, cfg: DetectorConfig
) -> list[Anomaly]:
    sensors = asset_sensors(store, asset.id)
    frame = load_frame(store, [s.id for s in sensors], lo, hi, bucket=cfg.bucket)
    index = pd.DatetimeIndex(frame.index)
    ref = np.asarray(index < index[0] + pd.Timedelta(days=28))
    eps = []
    for s in sensors:
        eps.extend(detect_static_3sigma(s.id, frame[s.id].to_numpy(dtype=float), ref))
    eps = merge_episodes(eps, gap=0)
    return episodes_to_anomalies(asset.id, eps, index, {s.id: s.type for s in sensors}, cfg)


def _score(
    store: KnowledgeStore,
    method: Method,
    assets: list[AssetInfo],
    anomalies: dict[str, list[Anomaly]],
    spans: dict[str, tuple[datetime, datetime]],
    truth: list[dict[str, object]],
    lead_days: float,
    seconds: float,
) -> tuple[MethodScores, list[FaultOutcome]]:
    outcomes: list[FaultOutcome] = []
    by_id = {a.id: a for a in assets}
    for f in truth:
        aid, onset, failure = str(f["asset_id"]), f["onset_ts"], f["failure_ts"]
        asset = by_id.get(aid)
        anoms = [a for a in anomalies.get(aid, []) if onset <= a.start <= failure]  # type: ignore[operator]
        first = min((a.start for a in anoms), default=None)
        lead = (failure - first).total_seconds() / 86400 if first else None  # type: ignore[operator]
        ranked: list[str] = []
        if anoms and asset is not None:
            modes = fmea(store, asset.asset_class or "")
            if method == "indagent":
                hist = failure_counts(store, aid, before=onset)  # type: ignore[arg-type]
                ranking = rank_modes(asset, asset_sensors(store, aid), modes, anoms, hist)
                ranked = [c.id for c in ranking.candidates]
            else:
                counts = class_failure_counts(store, asset.asset_class or "", before=onset)  # type: ignore[arg-type]
                ranked = [m.id for m in sorted(modes, key=lambda m: (-(counts.get(m.id, 0) + counts.get(m.code or "", 0)),
                                                                      -m.occurrence, m.id))]
        fm = str(f["failure_mode_id"])
        outcomes.append(FaultOutcome(
            fault=str(f["id"]), asset=aid, kind=str(f["kind"]), failure_mode=fm, method=method, detected=bool(anoms),
            first_alarm=first, lead_days=None if lead is None else round(lead, 2), ranked=ranked[:3],
            rank=ranked.index(fm) + 1 if fm in ranked else None,
        ))
    # false alarms on fault-free time
    periods: dict[str, list[tuple[datetime, datetime]]] = {}
    for f in truth:
        onset, failure = f["onset_ts"], f["failure_ts"]
        assert isinstance(onset, datetime) and isinstance(failure, datetime)
        periods.setdefault(str(f["asset_id"]), []).append((onset - _BEFORE, failure + _AFTER))
    false_alarms, free_days = 0, 0.0
    for aid, (lo, hi) in spans.items():
        ps = periods.get(aid, [])
        busy = sum(((min(e, hi) - max(s, lo)).total_seconds() for s, e in ps if min(e, hi) > max(s, lo)), 0.0)
        free_days += ((hi - lo).total_seconds() - busy) / 86400
        for s, _e in _asset_episodes(anomalies.get(aid, [])):
            if not any(ps_s <= s <= ps_e for ps_s, ps_e in ps):
                false_alarms += 1
    n = len(outcomes)
    grad = [o for o in outcomes if o.kind == "gradual"]
    leads = [o.lead_days for o in grad if o.lead_days is not None]
    months = free_days / 30.0
    scores = MethodScores(
        method=method, faults=n, gradual_faults=len(grad),
        detection_rate=round(sum(o.detected for o in outcomes) / n, 4) if n else 0.0,
        top1=round(sum(o.rank == 1 for o in outcomes) / n, 4) if n else 0.0,
        top3=round(sum(o.rank is not None and o.rank <= 3 for o in outcomes) / n, 4) if n else 0.0,
        lead_ok_rate=round(sum((o.lead_days or 0) >= lead_days for o in grad) / len(grad), 4) if grad else 0.0,
        median_lead_days_gradual=round(float(np.median(leads)), 2) if leads else None,
        false_alarms=false_alarms, fault_free_asset_months=round(months, 2),
        false_alarms_per_asset_month=round(false_alarms / months, 4) if months else 0.0, seconds=round(seconds, 3),
    )
    return scores, outcomes


def diagnosis_report(
    store: KnowledgeStore,
    *,
    assets: list[str] | None = None,
    cfg: DetectorConfig = DEFAULT_CONFIG,
    lead_days: float = 7.0,
) -> DiagnosisReport:
    """Score indagent's detection + ranking and the naive baseline on the KG's injected faults.

    Args:
        store: A knowledge store with readings and a ``fault_truth`` table (e.g. the demo plant).
        assets: Only these asset ids (default: every asset with readings).
        cfg: Detector configuration.
        lead_days: Warning lead a gradual fault needs to count as warned.
    """
    truth = store.query("SELECT * FROM fault_truth ORDER BY failure_ts, id")
    pool = [a for a in list_assets(store) if assets is None or a.id in assets]
    if assets is not None:
        truth = [f for f in truth if f["asset_id"] in assets]
    if not truth:
        raise ToolFailed("The knowledge graph has no fault_truth rows; build the demo plant ('indagent demo').")
    spans: dict[str, tuple[datetime, datetime]] = {}
    ours: dict[str, list[Anomaly]] = {}
    base: dict[str, list[Anomaly]] = {}
    t_ours = t_base = 0.0
    used: list[AssetInfo] = []
    for a in pool:
        lo, hi = data_bounds(store, [s.id for s in asset_sensors(store, a.id)])
        if lo is None or hi is None:
            continue
        used.append(a)
        hi = hi + timedelta(seconds=1)
        spans[a.id] = (lo, hi)
        t0 = time.perf_counter()
        ours[a.id] = detect_asset(store, a.id, since=lo, until=hi, cfg=cfg).anomalies
        t1 = time.perf_counter()
        base[a.id] = _baseline_anomalies(store, a, lo, hi, cfg)
        t_ours += t1 - t0
        t_base += time.perf_counter() - t1
    s_ours, o_ours = _score(store, "indagent", used, ours, spans, truth, lead_days, t_ours)
    s_base, o_base = _score(store, "naive_3sigma", used, base, spans, truth, lead_days, t_base)
    failures = []
    if s_ours.top1 < TARGETS["top1"]:
        failures.append(f"top-1 {s_ours.top1:.2f} < {TARGETS['top1']}")
    if s_ours.top3 < TARGETS["top3"]:
        failures.append(f"top-3 {s_ours.top3:.2f} < {TARGETS['top3']}")
    if s_ours.gradual_faults and s_ours.lead_ok_rate < TARGETS["lead_ok_rate"]:
        failures.append(f"lead >= {lead_days:g} d on {s_ours.lead_ok_rate:.2f} of gradual faults < {TARGETS['lead_ok_rate']}")
    if s_ours.false_alarms_per_asset_month > TARGETS["false_alarms_per_asset_month"]:
        failures.append(f"{s_ours.false_alarms_per_asset_month:.2f} false alarms per asset-month > 1")
    return DiagnosisReport(
        assets=len(used), faults=len(truth), lead_days_required=lead_days, indagent=s_ours, baseline=s_base,
        targets=TARGETS, passed=not failures, failures=failures, outcomes=o_ours + o_base,
    )

"""Rank an asset's failure modes from its anomalies with naive Bayes over FMEA symptoms.

Symptoms are KG nodes ``sym:<sensor_type>_<up|down>``. Over the symptoms the asset can observe
(its sensors' types, both directions) a failure mode ``m`` scores

    log P(m) + sum_{s observed} log P(s | m) + sum_{s measurable, not observed} log(1 - P(s | m))

with ``P(s | m)`` the ``shows_symptom`` edge likelihood, or a small leak ``LEAK`` when the FMEA does
not list the symptom (sensors also move for reasons outside the FMEA). Symptoms of sensor types
the asset does not have are unknown and ignored. Posteriors are the softmax of the scores
(single-fault assumption). The prior is the asset's own work-order history per failure mode
(before ``as_of``) plus ``PRIOR_PSEUDO`` pseudo-counts shared out by the FMEA occurrence ratings.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from tools.diagnosis.kg import AssetInfo, FmeaMode, SensorInfo, failure_counts, fmea
from tools.diagnosis.models import Anomaly, Evidence, FailureModeCandidate, FailureModeRanking

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["LEAK", "PRIOR_PSEUDO", "observed_symptoms", "rank_modes", "rank_with_kg"]

LEAK = 0.05
PRIOR_PSEUDO = 1.0


def observed_symptoms(anomalies: list[Anomaly], sensor_types: dict[str, str]) -> dict[str, list[Anomaly]]:
    """Symptom id -> the anomalies showing it (the primary sensor of each anomaly, its direction).

    Args:
        anomalies: Anomalies of one asset.
        sensor_types: Sensor id -> type.
    """
    out: dict[str, list[Anomaly]] = {}
    for a in anomalies:
        stype = sensor_types.get(a.sensor)
        if stype:
            out.setdefault(f"sym:{stype}_{a.direction}", []).append(a)
    return out


def _verb(direction: str) -> str:
    return "rising" if direction == "up" else "falling"


def rank_modes(
    asset: AssetInfo,
    sensors: list[SensorInfo],
    modes: list[FmeaMode],
    anomalies: list[Anomaly],
    history: dict[str, int],
    *,
    top: int | None = None,
) -> FailureModeRanking:
    """Rank failure modes (pure function of the FMEA, the anomalies and the history).

    Args:
        asset: The asset.
        sensors: Its sensors.
        modes: The FMEA of its class.
        anomalies: Its anomalies in the window.
        history: Work orders per failure-mode id or failure code on this asset.
        top: Keep the best ``top`` candidates (all when None).
    """
    types = {s.id: s.type for s in sensors}
    obs = observed_symptoms(anomalies, types)
    measurable = sorted({f"sym:{t}_{d}" for t in types.values() for d in ("up", "down")})
    absent = [s for s in measurable if s not in obs]
    sensor_of_type: dict[str, str] = {}
    for s in sensors:
        sensor_of_type.setdefault(s.type, s.id)
    if not modes:
        return FailureModeRanking(
            asset=asset.id, asset_class=asset.asset_class, observed_symptoms=sorted(obs), absent_symptoms=absent,
            candidates=[], message=f"No FMEA for class {asset.asset_class!r} in the knowledge graph.",
        )
    if not obs:
        return FailureModeRanking(
            asset=asset.id, asset_class=asset.asset_class, observed_symptoms=[], absent_symptoms=absent,
            candidates=[], message=f"No anomalies on {asset.id} in the window: no failure mode is indicated.",
        )
    occ_total = sum(max(m.occurrence, 0.1) for m in modes)
    counts = [history.get(m.id, 0) + (history.get(m.code, 0) if m.code and m.code != m.id else 0) for m in modes]
    n_total = sum(counts)
    scored = []
    for m, n in zip(modes, counts, strict=True):
        prior = (n + PRIOR_PSEUDO * max(m.occurrence, 0.1) / occ_total) / (n_total + PRIOR_PSEUDO)
        logp = math.log(prior)
        ev = Evidence()
        if n:
            ev.supporting.append(f"{n} earlier work order(s) on {asset.id} for {m.code or m.id}")
        best: tuple[float, str, str] | None = None
        for sym, anos in obs.items():
            p = m.symptoms.get(sym)
            a = max(anos, key=lambda x: x.score)
            if p is None:
                logp += math.log(LEAK)
                ev.against.append(f"{a.sensor} {_verb(a.direction)} is not a known symptom of {m.name} ({sym})")
                continue
            logp += math.log(p)
            ev.supporting.append(
                f"{a.sensor} {_verb(a.direction)} since {a.start:%Y-%m-%d %H:%M} ({a.detector}, score {a.score:.1f}) "
                f"matches {sym} (likelihood {p:.2f})"
            )
            if best is None or p * a.score > best[0]:
                best = (p * a.score, a.sensor, sym)
        for sym in absent:
            p = m.symptoms.get(sym, LEAK)
            logp += math.log(1.0 - p)
            if p >= 0.3:
                stype = sym.removeprefix("sym:").rsplit("_", 1)[0]
                ev.against.append(f"expected {sym} (likelihood {p:.2f}) but {sensor_of_type.get(stype, stype)} is normal")
        for sym, p in m.symptoms.items():
            if sym not in obs and sym not in absent and p >= 0.3:
                ev.against.append(f"{sym} cannot be checked: {asset.id} has no such sensor")
        rem = m.remedies[0].id if m.remedies else None
        path = [asset.id, best[1], best[2], m.id] if best else [asset.id, f"class:{asset.asset_class}", m.id]
        if rem:
            path.append(rem)
        scored.append((logp, prior, m, ev, path))
    mx = max(s[0] for s in scored)
    z = sum(math.exp(s[0] - mx) for s in scored)
    cands = [
        FailureModeCandidate(
            id=m.id, name=m.name, code=m.code, component=m.component, severity=m.severity,
            probability=math.exp(lp - mx) / z, prior=prior, evidence=ev, path=path, remedies=list(m.remedies),
        )
        for lp, prior, m, ev, path in scored
    ]
    cands.sort(key=lambda c: (-c.probability, c.id))
    if top is not None:
        cands = cands[:top]
    lead = cands[0]
    msg = f"Most likely failure mode of {asset.id}: {lead.name} (p={lead.probability:.2f}) from {', '.join(sorted(obs))}."
    return FailureModeRanking(
        asset=asset.id, asset_class=asset.asset_class, observed_symptoms=sorted(obs), absent_symptoms=absent,
        candidates=cands, message=msg,
    )


def rank_with_kg(
    store: KnowledgeStore,
    asset: AssetInfo,
    sensors: list[SensorInfo],
    anomalies: list[Anomaly],
    *,
    as_of: datetime | None,
    top: int | None = None,
) -> FailureModeRanking:
    """Rank with the FMEA and the asset's work-order history (before ``as_of``) from the KG.

    Args:
        store: The knowledge store.
        asset: The asset.
        sensors: Its sensors.
        anomalies: Its anomalies.
        as_of: Only work orders reported before this time count for the prior.
        top: Keep the best ``top`` candidates.
    """
    modes = fmea(store, asset.asset_class) if asset.asset_class else []
    history = failure_counts(store, asset.id, before=as_of)
    return rank_modes(asset, sensors, modes, anomalies, history, top=top)

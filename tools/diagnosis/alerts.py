"""Store anomalies as KG ``alerts``, idempotently.

The alert id is deterministic: ``al-`` + the first 16 hex digits of SHA-1 over
``asset | sorted sensors | detector | start``. Writing the same anomalies twice inserts nothing
new; an episode that grew (same start, later end or higher score) is updated in place; an alert
an operator has acknowledged or closed keeps its status.

Alert writes are internal bookkeeping of the monitoring run, not a plant action: they never
go through the approval interrupt and are not an LLM tool. The read-only tools detect on the
fly; the CLI (``indagent diagnose ASSET --store-alerts``) and the autonomous runs call
:func:`store_alerts` with a writable store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tools.diagnosis.models import Anomaly

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["AlertWrite", "alert_id", "store_alerts", "stored_alerts"]


@dataclass(frozen=True)
class AlertWrite:
    """What :func:`store_alerts` did."""

    inserted: int
    updated: int
    unchanged: int
    ids: list[str]


def alert_id(asset: str, sensors: list[str], detector: str, start: datetime) -> str:
    """Deterministic alert id from asset, sensors (order-free), detector and start.

    Args:
        asset: Asset id.
        sensors: Sensor ids of the alert.
        detector: Detector name.
        start: Alarm start time.
    """
    key = "|".join([asset, ",".join(sorted(sensors)), detector, start.replace(microsecond=0).isoformat()])
    return "al-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def store_alerts(store: KnowledgeStore, anomalies: list[Anomaly], *, created_at: datetime) -> AlertWrite:
    """Insert or update one alert per anomaly in one transaction (idempotent).

    Args:
        store: A writable knowledge store.
        anomalies: Anomalies to record.
        created_at: Time stamped on newly inserted alerts.
    """
    ids = [alert_id(a.asset, a.sensors, a.detector, a.start) for a in anomalies]
    if not anomalies:
        return AlertWrite(0, 0, 0, [])
    existing = {
        r["id"]: r
        for r in store.query("SELECT id, end_ts, score FROM alerts WHERE id IN (SELECT unnest(?))", [ids])
    }
    inserted = updated = unchanged = 0
    with store.transaction() as con:
        for aid, a in zip(ids, anomalies, strict=True):
            old = existing.get(aid)
            if old is None:
                con.execute(
                    "INSERT INTO alerts (id, asset_id, sensor_ids, start_ts, end_ts, score, detector, severity, "
                    "contributions, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
                    [aid, a.asset, list(a.sensors), a.start, a.end, a.score, a.detector, a.severity,
                     json.dumps(a.contributions), created_at],
                )
                existing[aid] = {"id": aid, "end_ts": a.end, "score": a.score}
                inserted += 1
            elif old["end_ts"] != a.end or abs((old["score"] or 0.0) - a.score) > 1e-9:
                con.execute(
                    "UPDATE alerts SET end_ts = ?, score = ?, severity = ?, contributions = ? WHERE id = ?",
                    [a.end, a.score, a.severity, json.dumps(a.contributions), aid],
                )
                updated += 1
            else:
                unchanged += 1
    return AlertWrite(inserted, updated, unchanged, ids)


def stored_alerts(
    store: KnowledgeStore, *, start: datetime, end: datetime, asset: str | None = None
) -> list[dict[str, object]]:
    """Alerts overlapping ``[start, end)`` (optionally of one asset), oldest first.

    Args:
        store: The knowledge store.
        start: Period start.
        end: Period end (exclusive).
        asset: Only this asset's alerts.
    """
    return store.query(
        """
        SELECT id, asset_id, sensor_ids, start_ts, end_ts, score, detector, severity, status FROM alerts
        WHERE start_ts < ? AND coalesce(end_ts, start_ts) >= ? AND (CAST(? AS TEXT) IS NULL OR asset_id = ?)
        ORDER BY start_ts, id
        """,
        [end, start, asset, asset],
    )

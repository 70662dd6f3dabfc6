"""Time-window aggregates over readings: per-sensor stats, bucketed series, data range."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from knowledge.graph.models import BucketStats, SensorStats, SeriesPoint
from tools.errors import ToolRetry

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["Agg", "bucket_stats", "check_bucket", "data_range", "sensor_series", "sensor_stats"]

Agg = Literal["mean", "min", "max", "last", "first", "count", "sum"]
_AGG_SQL = {"mean": "avg(value)", "min": "min(value)", "max": "max(value)", "last": "arg_max(value, ts)",
            "first": "arg_min(value, ts)", "count": "count(value)", "sum": "sum(value)"}
_BUCKET = re.compile(r"^\s*(\d+)\s*(minute|minutes|min|hour|hours|h|day|days|d|week|weeks|w|month|months)\s*$", re.I)
_UNIT = {"min": "minute", "h": "hour", "d": "day", "w": "week"}


def check_bucket(bucket: str) -> str:
    """Validate a bucket width such as '15 minutes', '1 hour', '1 day', '1 week'; returns the SQL interval."""
    m = _BUCKET.match(bucket)
    if not m:
        raise ToolRetry(f"Invalid bucket {bucket!r}; use e.g. '15 minutes', '1 hour', '1 day', '1 week' or '1 month'.")
    unit = m.group(2).lower().rstrip("s")
    unit = _UNIT.get(unit, unit)
    return f"{int(m.group(1))} {unit}"


def _window(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
    cond, p = [], []
    if start is not None:
        cond.append("ts >= ?")
        p.append(start)
    if end is not None:
        cond.append("ts < ?")
        p.append(end)
    return (" AND " + " AND ".join(cond)) if cond else "", p


def data_range(store: KnowledgeStore, sensor_ids: Sequence[str] | None = None) -> tuple[datetime | None, datetime | None]:
    """(first, last) reading timestamps, overall or for some sensors."""
    if sensor_ids:
        row = store.query("SELECT min(ts) AS a, max(ts) AS b FROM readings WHERE sensor_id IN "
                          "(SELECT unnest(?::VARCHAR[]))", [list(sensor_ids)])[0]
    else:
        row = store.query("SELECT min(ts) AS a, max(ts) AS b FROM readings")[0]
    return row["a"], row["b"]


def _f(x: Any) -> float | None:
    return None if x is None else round(float(x), 6)


def sensor_stats(
    store: KnowledgeStore, sensor_ids: Sequence[str], *, start: datetime | None = None, end: datetime | None = None
) -> list[SensorStats]:
    """count/mean/min/max/std/latest of each sensor's readings in [start, end) (all time when None)."""
    win, p = _window(start, end)
    sql = f"""
    WITH ids AS (SELECT unnest(?::VARCHAR[]) AS sensor_id),
    agg AS (
        SELECT sensor_id, count(value) AS n, avg(value) AS mean, min(value) AS lo, max(value) AS hi,
               stddev_samp(value) AS sd, min(ts) AS first_ts, max(ts) AS last_ts, arg_max(value, ts) AS latest
        FROM readings WHERE sensor_id IN (SELECT sensor_id FROM ids) {win} GROUP BY sensor_id
    )
    SELECT i.sensor_id, a.n, a.mean, a.lo, a.hi, a.sd, a.first_ts, a.last_ts, a.latest, n.props
    FROM ids i LEFT JOIN agg a USING (sensor_id)
    LEFT JOIN nodes n ON n.id = i.sensor_id
    """
    out = []
    for r in store.query(sql, [list(sensor_ids), *p]):
        props = json.loads(r["props"]) if r["props"] else {}
        out.append(SensorStats(
            sensor_id=r["sensor_id"], asset_id=props.get("asset_id"), type=props.get("type"), unit=props.get("unit"),
            count=int(r["n"] or 0), mean=_f(r["mean"]), min=_f(r["lo"]), max=_f(r["hi"]), std=_f(r["sd"]),
            first_ts=r["first_ts"], last_ts=r["last_ts"], latest_value=_f(r["latest"]),
            normal_low=props.get("normal_low"), normal_high=props.get("normal_high"),
        ))
    return out


def sensor_series(
    store: KnowledgeStore, sensor_id: str, *, start: datetime | None = None, end: datetime | None = None,
    bucket: str = "1 hour", agg: Agg = "mean",
) -> list[SeriesPoint]:
    """One sensor's readings aggregated into time buckets (``time_bucket``), oldest first."""
    interval = check_bucket(bucket)
    win, p = _window(start, end)
    sql = (f"SELECT time_bucket(INTERVAL '{interval}', ts) AS t, {_AGG_SQL[agg]} AS v FROM readings "
           f"WHERE sensor_id = ? {win} GROUP BY t ORDER BY t")
    cur = store.cursor()
    try:
        rows = cur.execute(sql, [sensor_id, *p]).fetchall()
    finally:
        cur.close()
    return [SeriesPoint(ts=t, value=_f(v)) for t, v in rows]


def bucket_stats(
    store: KnowledgeStore, sensor_ids: Sequence[str], *, start: datetime | None = None, end: datetime | None = None,
    bucket: str = "1 day",
) -> list[BucketStats]:
    """count/mean/min/max per sensor per time bucket, ordered by sensor then time."""
    interval = check_bucket(bucket)
    win, p = _window(start, end)
    sql = (f"SELECT sensor_id, time_bucket(INTERVAL '{interval}', ts) AS t, count(value), avg(value), min(value), "
           f"max(value) FROM readings WHERE sensor_id IN (SELECT unnest(?::VARCHAR[])) {win} "
           f"GROUP BY sensor_id, t ORDER BY sensor_id, t")
    cur = store.cursor()
    try:
        rows = cur.execute(sql, [list(sensor_ids), *p]).fetchall()
    finally:
        cur.close()
    return [BucketStats(sensor_id=s, ts=t, count=int(n), mean=_f(a), min=_f(lo), max=_f(hi))
            for s, t, n, a, lo, hi in rows]

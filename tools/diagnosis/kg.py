"""The knowledge-graph reads of the diagnosis tools (assets, sensors, FMEA, readings, history).

Follows the KG contract: ``asset -has_sensor-> sensor``, ``class:<cls> -may_fail_by-> fm``,
``fm -shows_symptom-> sym:<type>_<up|down>`` (edge ``likelihood``), ``fm -fixed_by-> rem``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from tools.diagnosis.models import Remedy
from tools.errors import ToolFailed, ToolRetry, did_you_mean

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = [
    "AssetInfo",
    "FmeaMode",
    "SensorInfo",
    "asset_sensors",
    "class_failure_counts",
    "data_bounds",
    "failure_counts",
    "fmea",
    "list_assets",
    "load_frame",
    "plant_load_index",
    "remedies_of",
    "require_store",
    "resolve_asset",
    "resolve_failure_mode",
]


def require_store(kg: KnowledgeStore | None) -> KnowledgeStore:
    """The store from a tool context, or a ToolFailed naming the fix."""
    if kg is None:
        raise ToolFailed("No knowledge graph is open; run 'indagent demo' or 'indagent kg init' first.")
    return kg


def _props(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        val = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return val if isinstance(val, dict) else {}


def _float(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class AssetInfo:
    """An asset node."""

    id: str
    name: str | None
    asset_class: str | None
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SensorInfo:
    """A sensor node with its limits."""

    id: str
    type: str
    unit: str | None = None
    normal_low: float | None = None
    normal_high: float | None = None
    alarm_low: float | None = None
    alarm_high: float | None = None


@dataclass
class FmeaMode:
    """A failure mode of an asset class with its symptoms (likelihoods) and remedies."""

    id: str
    name: str
    code: str | None
    component: str | None
    severity: int | None
    occurrence: float
    symptoms: dict[str, float]
    remedies: list[Remedy]


def list_assets(store: KnowledgeStore) -> list[AssetInfo]:
    """Every asset node, sorted by id."""
    rows = store.query("SELECT id, name, props FROM nodes WHERE kind = 'asset' ORDER BY id")
    out = []
    for r in rows:
        p = _props(r["props"])
        out.append(AssetInfo(r["id"], r["name"], p.get("class"), p))
    return out


def resolve_asset(store: KnowledgeStore, text: str) -> AssetInfo:
    """Find an asset by id, name or alias (case-insensitive); ToolRetry with suggestions otherwise.

    Args:
        store: The knowledge store.
        text: What the user typed, e.g. "CNC-07", "cnc-07" or an alias.
    """
    assets = list_assets(store)
    if not assets:
        raise ToolFailed("The knowledge graph has no assets; load a plant first ('indagent demo').")
    key = text.strip().lower()
    for a in assets:
        names = [a.id, a.name or "", *[str(x) for x in a.props.get("aliases", []) or []]]
        if key in (n.lower() for n in names if n):
            return a
    raise ToolRetry(did_you_mean(text, [a.id for a in assets], what="asset"))


def asset_sensors(store: KnowledgeStore, asset_id: str) -> list[SensorInfo]:
    """The asset's sensors (``has_sensor`` edges, or sensors whose props name the asset)."""
    rows = store.query(
        """
        SELECT n.id, n.props FROM nodes n
        WHERE n.kind = 'sensor' AND (
            n.id IN (SELECT dst FROM edges WHERE src = ? AND rel = 'has_sensor')
            OR json_extract_string(n.props, '$.asset_id') = ?)
        ORDER BY n.id
        """,
        [asset_id, asset_id],
    )
    out = []
    for r in rows:
        p = _props(r["props"])
        out.append(
            SensorInfo(
                r["id"], str(p.get("type") or r["id"].rsplit(".", 1)[-1]), p.get("unit"),
                _float(p.get("normal_low")), _float(p.get("normal_high")),
                _float(p.get("alarm_low")), _float(p.get("alarm_high")),
            )
        )
    return out


def remedies_of(store: KnowledgeStore, fm_ids: list[str]) -> dict[str, list[Remedy]]:
    """Remedies per failure mode id (``fixed_by`` edges)."""
    if not fm_ids:
        return {}
    rows = store.query(
        """
        SELECT e.src AS fm, n.id, n.name, n.props FROM edges e JOIN nodes n ON n.id = e.dst
        WHERE e.rel = 'fixed_by' AND e.src IN (SELECT unnest(?)) ORDER BY e.src, n.id
        """,
        [fm_ids],
    )
    out: dict[str, list[Remedy]] = {f: [] for f in fm_ids}
    for r in rows:
        p = _props(r["props"])
        parts = p.get("parts") or []
        out[r["fm"]].append(
            Remedy(
                id=r["id"], name=r["name"] or r["id"], failure_mode=r["fm"], duration_h=_float(p.get("duration_h")),
                parts=[str(x) for x in parts] if isinstance(parts, list) else [str(parts)], cost=_float(p.get("cost")),
            )
        )
    return out


def fmea(store: KnowledgeStore, asset_class: str) -> list[FmeaMode]:
    """The failure modes of an asset class with symptoms and remedies."""
    cls_node = asset_class if asset_class.startswith("class:") else f"class:{asset_class}"
    rows = store.query(
        """
        SELECT n.id, n.name, n.props FROM edges e JOIN nodes n ON n.id = e.dst
        WHERE e.src = ? AND e.rel = 'may_fail_by' AND n.kind = 'failure_mode' ORDER BY n.id
        """,
        [cls_node],
    )
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    syms = store.query(
        """
        SELECT src, dst, props FROM edges WHERE rel = 'shows_symptom' AND src IN (SELECT unnest(?))
        """,
        [ids],
    )
    sym_map: dict[str, dict[str, float]] = {i: {} for i in ids}
    for s in syms:
        lk = _float(_props(s["props"]).get("likelihood"))
        sym_map[s["src"]][s["dst"]] = min(max(lk if lk is not None else 0.8, 0.01), 0.99)
    rem = remedies_of(store, ids)
    out = []
    for r in rows:
        p = _props(r["props"])
        sev = p.get("severity")
        out.append(
            FmeaMode(
                id=r["id"], name=r["name"] or r["id"], code=p.get("code"), component=p.get("component"),
                severity=int(sev) if isinstance(sev, int | float) else None,
                occurrence=float(p.get("occurrence") or 5), symptoms=sym_map[r["id"]], remedies=rem[r["id"]],
            )
        )
    return out


def resolve_failure_mode(store: KnowledgeStore, text: str) -> tuple[str, str]:
    """Find a failure mode by id, code or name; returns ``(id, name)`` or ToolRetry.

    Args:
        store: The knowledge store.
        text: Failure mode id ("fm:cnc.spindle-bearing-wear"), code ("BRG-WEAR") or name.
    """
    rows = store.query("SELECT id, name, props FROM nodes WHERE kind = 'failure_mode' ORDER BY id")
    key = text.strip().lower()
    for r in rows:
        code = str(_props(r["props"]).get("code") or "")
        if key in {r["id"].lower(), (r["name"] or "").lower(), code.lower()}:
            return r["id"], r["name"] or r["id"]
    raise ToolRetry(did_you_mean(text, [r["id"] for r in rows], what="failure mode"))


def failure_counts(store: KnowledgeStore, asset_id: str, *, before: datetime | None) -> dict[str, int]:
    """Work orders per failure-mode id (or failure code) on one asset before a time."""
    rows = store.query(
        """
        SELECT coalesce(failure_mode_id, failure_code) AS k, count(*) AS n FROM work_orders
        WHERE asset_id = ? AND coalesce(failure_mode_id, failure_code) IS NOT NULL
          AND (CAST(? AS TIMESTAMP) IS NULL OR coalesce(reported_at, started_at) < CAST(? AS TIMESTAMP))
        GROUP BY 1
        """,
        [asset_id, before, before],
    )
    return {r["k"]: int(r["n"]) for r in rows}


def class_failure_counts(store: KnowledgeStore, asset_class: str, *, before: datetime | None) -> dict[str, int]:
    """Work orders per failure-mode id (or code) over every asset of a class before a time."""
    rows = store.query(
        """
        SELECT coalesce(w.failure_mode_id, w.failure_code) AS k, count(*) AS n
        FROM work_orders w JOIN nodes a ON a.id = w.asset_id
        WHERE json_extract_string(a.props, '$.class') = ? AND coalesce(w.failure_mode_id, w.failure_code) IS NOT NULL
          AND (CAST(? AS TIMESTAMP) IS NULL OR coalesce(w.reported_at, w.started_at) < CAST(? AS TIMESTAMP))
        GROUP BY 1
        """,
        [asset_class, before, before],
    )
    return {r["k"]: int(r["n"]) for r in rows}


def data_bounds(store: KnowledgeStore, sensor_ids: list[str]) -> tuple[datetime | None, datetime | None]:
    """First and last reading time of some sensors."""
    if not sensor_ids:
        return None, None
    row = store.query(
        "SELECT min(ts) AS lo, max(ts) AS hi FROM readings WHERE sensor_id IN (SELECT unnest(?))", [sensor_ids]
    )[0]
    return row["lo"], row["hi"]


def load_frame(
    store: KnowledgeStore, sensor_ids: list[str], start: datetime, end: datetime, *, bucket: str
) -> pd.DataFrame:
    """Bucket-averaged readings on a regular grid ``[start, end)``: one column per sensor, NaN gaps.

    The averaging runs inside DuckDB (``time_bucket``), so minute data never reaches Python raw.

    Args:
        store: The knowledge store.
        sensor_ids: Sensors to load (column order).
        start: First bucket (floored to the bucket).
        end: End of the window (exclusive).
        bucket: Bucket length (pandas offset, e.g. "1h").
    """
    delta = pd.Timedelta(bucket)
    t0 = pd.Timestamp(start).floor(delta)
    grid = pd.date_range(t0, pd.Timestamp(end), freq=delta, inclusive="left")
    secs = int(delta.total_seconds())
    cur = store.cursor()
    try:
        df = cur.execute(
            f"""
            SELECT sensor_id, time_bucket(INTERVAL '{secs} seconds', ts, TIMESTAMP '2000-01-01') AS b,
                   avg(value) AS v
            FROM readings
            WHERE sensor_id IN (SELECT unnest(?)) AND ts >= ? AND ts < ? AND value IS NOT NULL
            GROUP BY ALL
            """,
            [sensor_ids, t0.to_pydatetime(), pd.Timestamp(end).to_pydatetime()],
        ).df()
    finally:
        cur.close()
    if df.empty:
        return pd.DataFrame(index=grid, columns=sensor_ids, dtype=float)
    wide = df.pivot(index="b", columns="sensor_id", values="v")
    wide.index = pd.DatetimeIndex(wide.index)
    return wide.reindex(index=grid, columns=sensor_ids).astype(float)


_LOAD_TYPES = ["current", "power", "speed"]


def plant_load_index(store: KnowledgeStore, start: datetime, end: datetime, *, bucket: str) -> pd.Series | None:
    """The plant's operating state per bucket: the fleet median of min-max scaled load sensors.

    Every current/power/speed sensor is scaled to 0..1 by its 5th/95th percentile in the
    window; the median over the fleet at each bucket follows shifts, weekends and shutdowns, and
    one asset's fault or downtime does not move it. None when the plant has no load sensors.

    Args:
        store: The knowledge store.
        start: First bucket.
        end: End of the window (exclusive).
        bucket: Bucket length (pandas offset).
    """
    delta = pd.Timedelta(bucket)
    t0 = pd.Timestamp(start).floor(delta)
    secs = int(delta.total_seconds())
    cur = store.cursor()
    try:
        df = cur.execute(
            f"""
            WITH s AS (SELECT id FROM nodes WHERE kind = 'sensor'
                       AND json_extract_string(props, '$.type') IN (SELECT unnest(?))),
            b AS (SELECT sensor_id, time_bucket(INTERVAL '{secs} seconds', ts, TIMESTAMP '2000-01-01') AS b,
                         avg(value) AS v
                  FROM readings WHERE sensor_id IN (SELECT id FROM s) AND ts >= ? AND ts < ? GROUP BY ALL),
            n AS (SELECT sensor_id, quantile_cont(v, 0.05) AS lo, quantile_cont(v, 0.95) AS hi FROM b GROUP BY 1)
            SELECT b.b AS b, median((b.v - n.lo) / (n.hi - n.lo)) AS load
            FROM b JOIN n USING (sensor_id) WHERE n.hi > n.lo GROUP BY 1 ORDER BY 1
            """,
            [_LOAD_TYPES, t0.to_pydatetime(), pd.Timestamp(end).to_pydatetime()],
        ).df()
    finally:
        cur.close()
    if df.empty:
        return None
    grid = pd.date_range(t0, pd.Timestamp(end), freq=delta, inclusive="left")
    return pd.Series(df["load"].to_numpy(dtype=float), index=pd.DatetimeIndex(df["b"])).reindex(grid)

"""Work-order and alert queries: filters (asset, period, type, code, text), counts, reliability figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from knowledge.graph.models import Alert, WorkOrder

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["GroupBy", "Reliability", "WorkOrderFilter", "count_work_orders", "get_work_order", "query_alerts",
           "query_work_orders", "reliability", "row_work_order"]

GroupBy = Literal["type", "asset_id", "failure_code", "failure_mode_id", "status", "year", "month", "component"]
_GROUP_SQL = {"year": "CAST(year(reported_at) AS VARCHAR)", "month": "strftime(reported_at, '%Y-%m')"}
_WO_COLS = ("id, asset_id, type, description, failure_code, failure_mode_id, component, reported_at, started_at, "
            "finished_at, status, alert_id, created_by, props")


@dataclass
class WorkOrderFilter:
    """Filters on work orders; a period is [start, end) on ``reported_at``; text is a case-insensitive substring."""

    asset_ids: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    types: Sequence[str] | None = None
    failure_code: str | None = None
    failure_mode_id: str | None = None
    status: Sequence[str] | None = None
    text: str | None = None

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause (or '') and its parameters."""
        cond: list[str] = []
        p: list[Any] = []
        if self.asset_ids:
            cond.append("asset_id IN (SELECT unnest(?::VARCHAR[]))")
            p.append(list(self.asset_ids))
        if self.start is not None:
            cond.append("reported_at >= ?")
            p.append(self.start)
        if self.end is not None:
            cond.append("reported_at < ?")
            p.append(self.end)
        if self.types:
            cond.append("type IN (SELECT unnest(?::VARCHAR[]))")
            p.append(list(self.types))
        if self.failure_code:
            cond.append("upper(failure_code) = upper(?)")
            p.append(self.failure_code)
        if self.failure_mode_id:
            cond.append("failure_mode_id = ?")
            p.append(self.failure_mode_id)
        if self.status:
            cond.append("status IN (SELECT unnest(?::VARCHAR[]))")
            p.append(list(self.status))
        if self.text:
            cond.append("(contains(lower(coalesce(description, '')), lower(?)) OR "
                        "contains(lower(coalesce(component, '')), lower(?)))")
            p += [self.text, self.text]
        return ("WHERE " + " AND ".join(cond)) if cond else "", p


def row_work_order(r: dict[str, Any]) -> WorkOrder:
    """A work_orders row as a model."""
    props = r.get("props")
    return WorkOrder(**{**r, "props": json.loads(props) if isinstance(props, str) else props})


def get_work_order(store: KnowledgeStore, work_order_id: str) -> WorkOrder | None:
    """The work order with this id, or None."""
    rows = store.query(f"SELECT {_WO_COLS} FROM work_orders WHERE id = ?", [work_order_id])
    return row_work_order(rows[0]) if rows else None


def query_work_orders(
    store: KnowledgeStore, flt: WorkOrderFilter | None = None, *, limit: int = 50, offset: int = 0,
    newest_first: bool = True,
) -> tuple[int, list[WorkOrder]]:
    """(total matching, one page of work orders) ordered by ``reported_at``."""
    where, p = (flt or WorkOrderFilter()).sql()
    total = int(store.scalar(f"SELECT count(*) FROM work_orders {where}", p) or 0)
    order = "DESC" if newest_first else "ASC"
    rows = store.query(
        f"SELECT {_WO_COLS} FROM work_orders {where} ORDER BY reported_at {order} NULLS LAST, id {order} "
        f"LIMIT ? OFFSET ?", [*p, limit, offset])
    return total, [row_work_order(r) for r in rows]


def count_work_orders(
    store: KnowledgeStore, flt: WorkOrderFilter | None = None, *, group_by: GroupBy = "type"
) -> dict[str, int]:
    """Counts of matching work orders per group (largest first); NULL groups are '(none)'."""
    where, p = (flt or WorkOrderFilter()).sql()
    key = _GROUP_SQL.get(group_by, group_by)
    rows = store.query(f"SELECT coalesce({key}, '(none)') AS k, count(*) AS n FROM work_orders {where} "
                       f"GROUP BY k ORDER BY n DESC, k", p)
    return {r["k"]: int(r["n"]) for r in rows}


@dataclass(frozen=True)
class Reliability:
    """Failures (corrective work orders) of an asset over a period with MTBF/MTTR in hours."""

    failures: int
    period_h: float
    mtbf_h: float | None
    mttr_h: float | None
    downtime_h: float


def reliability(store: KnowledgeStore, asset_id: str, start: datetime, end: datetime) -> Reliability:
    """MTBF = period hours / failures; MTTR = mean(finished - reported) over closed corrective work orders."""
    row = store.query(
        "SELECT count(*) AS n, avg(date_diff('second', reported_at, finished_at)) / 3600.0 AS mttr, "
        "coalesce(sum(date_diff('second', reported_at, finished_at)), 0) / 3600.0 AS down FROM work_orders "
        "WHERE asset_id = ? AND type = 'corrective' AND reported_at >= ? AND reported_at < ?",
        [asset_id, start, end])[0]
    period = (end - start).total_seconds() / 3600
    n = int(row["n"])
    return Reliability(failures=n, period_h=round(period, 3), mtbf_h=round(period / n, 2) if n else None,
                       mttr_h=round(float(row["mttr"]), 2) if row["mttr"] is not None else None,
                       downtime_h=round(float(row["down"]), 2))


def query_alerts(
    store: KnowledgeStore, *, asset_id: str | None = None, sensor_id: str | None = None,
    start: datetime | None = None, end: datetime | None = None, status: str | None = None, limit: int = 50,
) -> tuple[int, list[Alert]]:
    """(total, newest alerts first) filtered by asset, sensor, overlap with [start, end) and status."""
    cond, p = [], []
    if asset_id:
        cond.append("asset_id = ?")
        p.append(asset_id)
    if sensor_id:
        cond.append("list_contains(sensor_ids, ?)")
        p.append(sensor_id)
    if start is not None:
        cond.append("coalesce(end_ts, start_ts) >= ?")
        p.append(start)
    if end is not None:
        cond.append("start_ts < ?")
        p.append(end)
    if status:
        cond.append("status = ?")
        p.append(status)
    where = ("WHERE " + " AND ".join(cond)) if cond else ""
    total = int(store.scalar(f"SELECT count(*) FROM alerts {where}", p) or 0)
    rows = store.query(f"SELECT * FROM alerts {where} ORDER BY start_ts DESC, id LIMIT ?", [*p, limit])
    out = []
    for r in rows:
        contrib = r.get("contributions")
        r["contributions"] = json.loads(contrib) if isinstance(contrib, str) else contrib
        r["sensor_ids"] = list(r.get("sensor_ids") or [])
        out.append(Alert(**r))
    return total, out

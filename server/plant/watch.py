"""Watching the streamed readings: a cheap screen, then the diagnosis detectors on what it flags.

The diagnosis detectors (:func:`tools.diagnosis.detect_asset`) take about half a second per asset
on the small plant, too slow to sweep every asset after every simulated hour. The screen is one
DuckDB query: the mean week-over-week difference of each sensor over the last day (the weekly
shift pattern cancels out), in units of the spread of that statistic over a healthy reference
period. Assets with a sensor beyond ``z`` go to the detectors, which decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from knowledge.store import KnowledgeStore
from tools.diagnosis import Anomaly, detect_asset

__all__ = ["ScreenHit", "Watch"]


@dataclass(frozen=True)
class ScreenHit:
    """A sensor whose last day moved away from the same hours a week earlier."""

    sensor_id: str
    asset_id: str
    z: float


@dataclass
class Watch:
    """Screen + confirm over the readings of a live plant.

    Args:
        kg: The knowledge store the connector writes.
        live_start: Where the live data begins (anomalies must start after it to count).
        reference_days: Healthy reference period before ``live_start`` for the screen's spread.
        z: Screen threshold (robust units of the reference spread).
    """

    kg: KnowledgeStore
    live_start: datetime
    reference_days: int = 28
    z: float = 4.0

    def __post_init__(self) -> None:
        ref_end = self.live_start
        ref_start = ref_end - timedelta(days=self.reference_days)
        rows = self.kg.query(
            """
            WITH d AS (
              SELECT r.sensor_id, date_trunc('day', r.ts) AS day, avg(r.value - p.value) AS dd
              FROM readings r JOIN readings p ON p.sensor_id = r.sensor_id AND p.ts = r.ts - INTERVAL 7 DAY
              WHERE r.ts >= ? AND r.ts < ? AND p.ts >= ? GROUP BY ALL)
            SELECT sensor_id, median(abs(dd - (SELECT median(dd) FROM d d2 WHERE d2.sensor_id = d.sensor_id))) * 1.4826
                   AS spread
            FROM d GROUP BY 1
            """,
            [ref_start, ref_end, ref_start - timedelta(days=7)],
        )
        self.spread = {r["sensor_id"]: float(r["spread"]) for r in rows if r["spread"]}

    def screen(self, until: datetime) -> list[ScreenHit]:
        """Sensors whose last 24 h differ from a week earlier by more than ``z`` spreads."""
        rows = self.kg.query(
            """
            SELECT r.sensor_id, avg(r.value - p.value) AS dm
            FROM readings r JOIN readings p ON p.sensor_id = r.sensor_id AND p.ts = r.ts - INTERVAL 7 DAY
            WHERE r.ts >= ? AND r.ts < ? AND p.ts >= ? GROUP BY 1
            """,
            [until - timedelta(days=1), until, until - timedelta(days=8)],
        )
        hits = []
        for r in rows:
            sd = self.spread.get(r["sensor_id"])
            if sd and r["dm"] is not None and abs(r["dm"]) / sd > self.z:
                hits.append(ScreenHit(r["sensor_id"], r["sensor_id"].split(".", 1)[0], round(abs(r["dm"]) / sd, 2)))
        return sorted(hits, key=lambda h: -h.z)

    def confirm(self, assets: list[str], until: datetime) -> dict[str, list[Anomaly]]:
        """Run the diagnosis detectors on ``assets``; keep anomalies that began in the live data."""
        out: dict[str, list[Anomaly]] = {}
        for a in dict.fromkeys(assets):
            rep = detect_asset(self.kg, a, since=self.live_start, until=until)
            live = [x for x in rep.anomalies if x.start >= self.live_start]
            if live:
                out[a] = live
        return out

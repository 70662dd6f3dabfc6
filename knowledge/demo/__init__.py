"""The demo plant: a deterministic (seeded) plant with sensors, faults, FMEA and orders.

``build_demo(store, seed=0, scale="small")`` fills an empty store with one site, lines L1-L4
(~41 assets), an FMEA, a year (2024) of readings with injected faults recorded in
``fault_truth``, three years of work orders consistent with the faults (2022-2024), and planned
production orders with routings. ``scale="tiny"`` (one line, 9 assets, 60 days hourly) is for tests;
``scale="large"`` has the same plant with minute readings. Alerts are left empty (diagnosis fills them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel

from knowledge.demo.orders import production_orders, work_orders
from knowledge.demo.plant import SITE_ID, Scale, build_layout
from knowledge.demo.signals import plan_faults, readings_for_asset, time_axis
from knowledge.graph.traverse import refresh_adjacency
from tools.errors import ConfigError

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["DATA_TABLES", "SITE_ID", "DemoSummary", "Scale", "build_demo", "demo_window"]

#: Tables a demo build fills (and ``replace=True`` empties first).
DATA_TABLES = ("nodes", "edges", "readings", "work_orders", "alerts", "production_orders", "order_operations",
               "fault_truth", "setpoints")

_BATCH_ROWS = 4_000_000


class DemoSummary(BaseModel):
    """What :func:`build_demo` created."""

    seed: int
    scale: Scale
    start: datetime
    end: datetime
    step: str
    lines: list[str]
    assets: int
    sensors: int
    nodes: int
    edges: int
    readings: int
    work_orders: int
    faults: int
    production_orders: int
    operations: int
    seconds: float


def demo_window(scale: Scale) -> tuple[datetime, datetime, timedelta, int]:
    """(start, end, step, number of faults) of the readings for a scale."""
    if scale == "tiny":
        return datetime(2024, 1, 1), datetime(2024, 3, 1), timedelta(hours=1), 3
    if scale == "large":
        return datetime(2024, 1, 1), datetime(2025, 1, 1), timedelta(minutes=1), 12
    if scale == "small":
        return datetime(2024, 1, 1), datetime(2025, 1, 1), timedelta(hours=1), 12
    raise ConfigError(f"Unknown demo scale {scale!r}; use 'tiny', 'small' or 'large'.")


def _insert_df(con: object, table: str, df: pd.DataFrame) -> None:
    con.register("_demo_df", df)  # type: ignore[attr-defined]
    try:
        cols = ", ".join(df.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _demo_df")  # type: ignore[attr-defined]
    finally:
        con.unregister("_demo_df")  # type: ignore[attr-defined]


def build_demo(
    store: KnowledgeStore,
    *,
    seed: int = 0,
    scale: Scale = "small",
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Generate the demo plant into ``store`` (one transaction), deterministically from ``seed``.

    Args:
        store: A writable, migrated knowledge store.
        seed: Random seed; the same seed gives the same plant, readings and orders.
        scale: 'tiny' (tests), 'small' (hourly readings for 2024) or 'large' (minute readings).
        replace: Empty the data tables first; otherwise the store must have no nodes.
        progress: Optional callback receiving one line per step (for CLI progress output).
    """
    t0 = time.perf_counter()
    say = progress or (lambda _m: None)
    start, end, step, n_faults = demo_window(scale)
    existing = store.scalar("SELECT count(*) FROM nodes")
    if existing and not replace:
        raise ConfigError(
            f"The knowledge graph {store.path} already has {existing} nodes; use replace (CLI: --replace) "
            "or another --db to build the demo."
        )
    rng = np.random.default_rng(seed)
    lay = build_layout(scale, rng)
    faults = plan_faults(lay.assets, start, end, n_faults, rng)
    ts = time_axis(start, end, step)
    sensor_index = {sid: i for i, (sid, _a, _t) in enumerate(lay.sensors)}
    with store.transaction() as con:
        if replace:
            for table in DATA_TABLES:
                con.execute(f"DELETE FROM {table}")
        say(f"graph: {len(lay.nodes)} nodes, {len(lay.edges)} edges")
        _insert_df(con, "nodes", pd.DataFrame(lay.nodes, columns=["id", "kind", "name", "props"]))
        edges = pd.DataFrame(lay.edges, columns=["src", "dst", "rel", "props"]).drop_duplicates(["src", "dst", "rel"])
        _insert_df(con, "edges", edges)
        refresh_adjacency(con)
        con.register("_demo_sensors", pd.DataFrame({"idx": np.arange(len(lay.sensors), dtype=np.int32),
                                                    "sensor_id": [s for s, _a, _t in lay.sensors]}))
        n_readings = 0
        idx_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []

        def flush() -> None:
            nonlocal n_readings
            if not idx_parts:
                return
            frame = pd.DataFrame({"idx": np.concatenate(idx_parts), "ts": np.tile(ts, len(idx_parts)),
                                  "value": np.concatenate(val_parts)})
            con.register("_demo_readings", frame)
            con.execute("INSERT INTO readings SELECT s.sensor_id, r.ts, r.value FROM _demo_readings r "
                        "JOIN _demo_sensors s USING (idx) ORDER BY s.sensor_id, r.ts")
            con.unregister("_demo_readings")
            n_readings += len(frame)
            idx_parts.clear()
            val_parts.clear()

        for asset in lay.assets:
            for sid, values in readings_for_asset(asset, ts, faults, rng):
                idx_parts.append(np.full(len(ts), sensor_index[sid], dtype=np.int32))
                val_parts.append(values)
            if len(idx_parts) * len(ts) >= _BATCH_ROWS:
                flush()
                say(f"readings: {n_readings:,}")
        flush()
        con.unregister("_demo_sensors")
        say(f"readings: {n_readings:,} ({len(lay.sensors)} sensors, {len(ts)} steps)")
        truth = pd.DataFrame([{
            "id": f.id, "asset_id": f.asset.id, "failure_mode_id": f.fm_id, "kind": f.kind, "onset_ts": f.onset,
            "failure_ts": f.failure, "sensor_ids": f.sensor_ids,
            "description": f"{f.kind} {f.fm.name.lower()} on {f.asset.id}",
        } for f in faults])
        _insert_df(con, "fault_truth", truth)
        wos = work_orders(lay.assets, faults, rng)
        _insert_df(con, "work_orders", wos)
        horizon = (end - timedelta(hours=1)).replace(hour=6, minute=0) + timedelta(days=1)
        horizon += timedelta(days=(7 - horizon.weekday()) % 7)
        n_orders = {"tiny": 6, "small": 30, "large": 60}[scale]
        orders, ops = production_orders(lay.products, horizon, n_orders, rng)
        _insert_df(con, "production_orders", orders)
        _insert_df(con, "order_operations", ops)
        say(f"work orders: {len(wos)}, faults: {len(faults)}, production orders: {len(orders)}")
    return DemoSummary(
        seed=seed, scale=scale, start=start, end=end, step="1min" if scale == "large" else "1h", lines=lay.lines,
        assets=len(lay.assets), sensors=len(lay.sensors), nodes=len(lay.nodes), edges=len(edges),
        readings=n_readings, work_orders=len(wos), faults=len(faults), production_orders=len(orders),
        operations=len(ops), seconds=round(time.perf_counter() - t0, 3),
    )

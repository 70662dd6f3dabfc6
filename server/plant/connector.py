"""The plant connector: OPC UA subscriptions in, KG readings out; approved setpoints back.

- Tags: the KG sensor ids found as string node ids in the configured namespace (or an explicit
  ``tag_map``), subscribed with a server-side queue so fast changes are not sampled away.
- Buffer: samples go into a bounded buffer flushed in batches (``batch_size`` or ``flush_s``);
  when it is full, new samples are dropped *and* a history re-read is scheduled, so nothing is lost
  when the server keeps history.
- Idempotent insert: ``readings`` has no key, so each batch is de-duplicated on
  ``(sensor_id, ts)`` (source timestamps) and anti-joined against what the KG already holds.
- Reconnect: on a lost connection the connector retries with exponential backoff; after each
  (re)connect it reads the server's history from the last stored timestamp of every tag
  (HistoryRead raw) before trusting the subscription again: no gap, no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from asyncua import Client, ua
from pydantic import BaseModel

from knowledge.store import KnowledgeStore
from server.plant.config import OpcUaConfig
from tools.errors import ConfigError, ToolFailed, did_you_mean

__all__ = ["ConnectorStats", "PlantConnector", "SetpointAck", "insert_readings", "write_setpoints_once"]

_log = logging.getLogger(__name__)


class ConnectorStats(BaseModel):
    """Counters of a connector run."""

    connects: int = 0
    reconnects: int = 0
    received: int = 0
    backfilled: int = 0
    inserted: int = 0
    duplicates: int = 0
    dropped: int = 0
    flushes: int = 0
    last_source_ts: datetime | None = None
    last_error: str | None = None


class SetpointAck(BaseModel):
    """A setpoint written to the OPC UA server and read back."""

    tag: str
    node_id: str
    value: float
    read_back: float
    ok: bool


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def insert_readings(kg: KnowledgeStore, rows: list[tuple[str, datetime, float]]) -> int:
    """Append readings idempotently: duplicates (same sensor and timestamp) are skipped.

    Returns how many rows were new.

    Args:
        kg: The writable knowledge store.
        rows: ``(sensor_id, ts, value)`` with naive-UTC source timestamps.
    """
    if not rows:
        return 0
    df = pd.DataFrame(rows, columns=["sensor_id", "ts", "value"])
    lo = df["ts"].min()
    with kg.transaction() as con:
        con.register("_plant_batch", df)
        try:
            row = con.execute(
                "INSERT INTO readings SELECT b.sensor_id, b.ts, b.value FROM "
                "(SELECT DISTINCT ON (sensor_id, ts) sensor_id, ts, value FROM _plant_batch) b "
                "ANTI JOIN (SELECT sensor_id, ts FROM readings WHERE ts >= ?) r USING (sensor_id, ts)",
                [lo],
            ).fetchone()
        finally:
            con.unregister("_plant_batch")
    return int(row[0]) if row else 0


@dataclass
class _Handler:
    """asyncua subscription handler: data changes into the connector's buffer."""

    owner: PlantConnector

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        dv = data.monitored_item.Value
        self.owner._accept(node.nodeid.to_string(), dv)

    def status_change_notification(self, status: Any) -> None:
        self.owner._lost.set()


@dataclass
class PlantConnector:
    """Stream an OPC UA server's tags into the KG; write approved setpoints back.

    Args:
        config: Endpoint, security, tag mapping, buffer and backoff.
        kg: The writable knowledge store (this process is its writer).
    """

    config: OpcUaConfig
    kg: KnowledgeStore
    stats: ConnectorStats = field(default_factory=ConnectorStats)

    def __post_init__(self) -> None:
        self._buf: deque[tuple[str, datetime, float]] = deque()
        self._tags: dict[str, str] = {}  # node id string -> sensor id
        self._client: Client | None = None
        self._ns = 0
        self._lost = asyncio.Event()
        self._need_backfill = False
        self.connected = asyncio.Event()
        self._last_flush = time.monotonic()

    # -- samples --------------------------------------------------------------------------------
    def _accept(self, node_id: str, dv: ua.DataValue) -> None:
        sensor = self._tags.get(node_id)
        if (sensor is None or dv.SourceTimestamp is None or dv.Value is None or dv.Value.Value is None
                or (dv.StatusCode is not None and not dv.StatusCode.is_good())):
            return
        self.stats.received += 1
        if len(self._buf) >= self.config.buffer_max:
            self.stats.dropped += 1
            self._need_backfill = True  # re-read from the server's history after the next flush
            return
        self._buf.append((sensor, _naive(dv.SourceTimestamp), float(dv.Value.Value)))

    async def flush(self) -> int:
        """Write the buffered samples to the KG (in a worker thread); returns the new rows."""
        if not self._buf:
            return 0
        rows = [self._buf.popleft() for _ in range(min(len(self._buf), self.config.batch_size))]
        new = await asyncio.to_thread(insert_readings, self.kg, rows)
        self.stats.inserted += new
        self.stats.duplicates += len(rows) - new
        self.stats.flushes += 1
        last = max(r[1] for r in rows)
        if self.stats.last_source_ts is None or last > self.stats.last_source_ts:
            self.stats.last_source_ts = last
        self._last_flush = time.monotonic()
        return new

    async def drain(self) -> None:
        """Flush until the buffer is empty."""
        while self._buf:
            await self.flush()

    # -- connection -----------------------------------------------------------------------------
    async def _connect(self) -> Client:
        cfg = self.config
        client = Client(cfg.endpoint, timeout=cfg.timeout_s, watchdog_intervall=cfg.watchdog_s)
        if cfg.username:
            client.set_user(cfg.username)
        if cfg.password is not None:
            client.set_password(cfg.password.get_secret_value())
        sec = cfg.security_string()
        if sec:
            await client.set_security_string(sec)

        async def lost(_exc: Exception) -> None:
            self._lost.set()

        client.connection_lost_callback = lost
        await client.connect()
        try:
            self._ns = await client.get_namespace_index(cfg.namespace)
        except ValueError:
            await client.disconnect()
            raise ConfigError(f"The OPC UA server has no namespace {cfg.namespace!r}; "
                              "set namespace (INDAGENT_OPCUA_NAMESPACE).") from None
        return client

    async def _discover(self, client: Client) -> dict[str, str]:
        if self.config.tag_map:
            return dict(self.config.tag_map)
        sensors = {r["id"] for r in self.kg.query("SELECT id FROM nodes WHERE kind = 'sensor'")}
        found: dict[str, str] = {}
        stack = [client.nodes.objects]
        while stack:
            node = stack.pop()
            for child in await node.get_children():
                nid = child.nodeid
                if nid.NamespaceIndex != self._ns:
                    continue
                if isinstance(nid.Identifier, str) and nid.Identifier in sensors:
                    found[nid.to_string()] = nid.Identifier
                elif await child.read_node_class() == ua.NodeClass.Object:
                    stack.append(child)
        if not found:
            raise ConfigError(f"No KG sensor id is a tag in namespace {self.config.namespace!r} of {self.config.endpoint}; "
                              "map them with tag_map {'ns=2;s=TAG': 'CNC-07.vibration'}.")
        return found

    async def _stored_until(self) -> datetime | None:
        """The earliest of the tags' latest stored timestamps (history is re-read from there)."""
        await self.drain()
        last = {r["sensor_id"]: r["ts"] for r in self.kg.query(
            "SELECT sensor_id, max(ts) AS ts FROM readings WHERE sensor_id IN (SELECT unnest(?)) GROUP BY 1",
            [sorted(set(self._tags.values()))])}
        return min((last.get(s) for s in self._tags.values()), key=lambda t: t or datetime.min, default=None)

    async def _backfill(self, client: Client, start: datetime | None) -> int:
        """HistoryRead raw of every tag from ``start``; returns samples read."""
        if start is None:
            return 0
        n = 0
        ids = list(self._tags)
        for i in range(0, len(ids), 200):
            chunk = [ua.HistoryReadValueId(NodeId=ua.NodeId.from_string(t)) for t in ids[i:i + 200]]
            while chunk:
                details = ua.ReadRawModifiedDetails(IsReadModified=False, StartTime=start.replace(tzinfo=UTC),
                                                    EndTime=ua.get_win_epoch(), NumValuesPerNode=0, ReturnBounds=False)
                params = ua.HistoryReadParameters(HistoryReadDetails=details, TimestampsToReturn=ua.TimestampsToReturn.Source,
                                                  ReleaseContinuationPoints=False, NodesToRead=chunk)
                results = await client.uaclient.history_read(params)
                again = []
                for rv, res in zip(chunk, results, strict=True):
                    if not res.StatusCode.is_good() or res.HistoryData is None:
                        continue
                    for dv in res.HistoryData.DataValues or []:
                        self._accept(rv.NodeId.to_string(), dv)
                        n += 1
                    if res.ContinuationPoint:
                        again.append(ua.HistoryReadValueId(NodeId=rv.NodeId, ContinuationPoint=res.ContinuationPoint))
                chunk = again
                await self.flush_if_due(force=True)
        self.stats.backfilled += n
        return n

    async def flush_if_due(self, *, force: bool = False) -> None:
        """Flush when the batch is full, the oldest sample waited ``flush_s``, or ``force``."""
        if self._buf and (force or len(self._buf) >= self.config.batch_size
                          or time.monotonic() - self._last_flush >= self.config.flush_s):
            await self.drain() if force else await self.flush()

    async def _session(self, stop: asyncio.Event) -> None:
        client = await self._connect()
        self._client = client
        try:
            self._tags = await self._discover(client)
            self._lost.clear()
            since = await self._stored_until()  # before subscribing: the subscription's samples must not move it
            sub = await client.create_subscription(self.config.publishing_ms, _Handler(self))
            nodes = [client.get_node(t) for t in self._tags]
            # a repeated value with a new source timestamp is a sample too (StatusValueTimestamp trigger)
            trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
            await sub._subscribe(nodes, ua.AttributeIds.Value, mfilter=trigger, queuesize=self.config.queue_size)
            # subscribe first, then read the history: the overlap is de-duplicated, the gap is closed
            await self._backfill(client, since)
            self.stats.connects += 1
            self.connected.set()
            while not stop.is_set() and not self._lost.is_set():
                await self.flush_if_due()
                if self._need_backfill:
                    self._need_backfill = False
                    await self._backfill(client, await self._stored_until())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), timeout=self.config.flush_s / 2)
            await self.drain()
        finally:
            self.connected.clear()
            self._client = None
            with contextlib.suppress(OSError, TimeoutError, ua.UaError, ConnectionError):
                await asyncio.wait_for(client.disconnect(), timeout=1.0)

    async def run(self, stop: asyncio.Event) -> ConnectorStats:
        """Stream until ``stop`` is set; reconnect with exponential backoff when the server goes away.

        Args:
            stop: Set it to stop (the buffer is flushed first).
        """
        delay = self.config.backoff_initial_s
        first = True
        while not stop.is_set():
            try:
                await self._session(stop)
                delay = self.config.backoff_initial_s
            except ConfigError:
                raise
            except (OSError, TimeoutError, ua.UaError, ConnectionError, asyncio.IncompleteReadError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                _log.info("OPC UA connection lost/refused (%s); retry in %.1fs", self.stats.last_error, delay)
            await self.drain()
            if stop.is_set():
                break
            if not first or self.stats.connects:
                self.stats.reconnects += 1
            first = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, self.config.backoff_max_s)
        await self.drain()
        return self.stats

    # -- setpoints back -------------------------------------------------------------------------
    async def write_setpoints(self, values: dict[str, float]) -> list[SetpointAck]:
        """Write approved setpoints (``{"CHL-01.chws_setpoint": 7.2}``) to the server and read them back.

        Args:
            values: Tag (``<ASSET>.<tag>``) -> value; only call this with approved values.
        """
        client = self._client
        if client is None:
            raise ToolFailed("The connector is not connected to the OPC UA server; setpoints were not written.")
        acks = []
        for tag, value in values.items():
            node = client.get_node(ua.NodeId(tag, self._ns))
            try:
                await node.write_value(ua.DataValue(ua.Variant(float(value), ua.VariantType.Double)))
            except ua.UaStatusCodeError as exc:
                known = [n for n in self._tags.values()]
                raise ToolFailed(f"Writing {tag} failed ({exc}); is it a writable setpoint tag? "
                                 + did_you_mean(tag, known, what="tag")) from None
            back = float(await node.read_value())
            acks.append(SetpointAck(tag=tag, node_id=node.nodeid.to_string(), value=float(value), read_back=back,
                                    ok=abs(back - float(value)) < 1e-9))
        return acks


async def write_setpoints_once(config: OpcUaConfig, kg: KnowledgeStore, values: dict[str, float]) -> list[SetpointAck]:
    """Open a session on ``config.endpoint``, write approved setpoints, read them back, disconnect.

    For a scheduled loop cycle, which does not hold a streaming session. Setpoint tags are string
    node ids ``<ASSET>.<tag>`` in ``config.namespace`` (the simulator's address space).

    Args:
        config: Endpoint, namespace, security and credentials.
        kg: The knowledge store (unused for writes; the connector's constructor needs it).
        values: Tag (``<ASSET>.<tag>``) -> value; only call this with approved values.
    """
    conn = PlantConnector(config, kg)
    client = await conn._connect()
    conn._client = client
    try:
        return await conn.write_setpoints(values)
    finally:
        conn._client = None
        with contextlib.suppress(OSError, TimeoutError, ua.UaError, ConnectionError):
            await asyncio.wait_for(client.disconnect(), timeout=2.0)

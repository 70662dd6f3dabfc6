"""The plant simulator: an OPC UA server (asyncua) on 127.0.0.1 playing the live plant model.

Address space (namespace :data:`~server.plant.config.DEFAULT_NAMESPACE`, string node ids)::

    Objects/Plant                      object
      Plant.sim_time  (DateTime)       the simulated clock (source timestamp of the last tick)
      Plant.tick      (Int64)          ticks published so far
      <ASSET>/                         one object per asset
        <ASSET>.<type>   (Double)      sensor tags, historized (HistoryRead raw works)
        <ASSET>.state    (String)      running | idle | down
        <ASSET>.<setpoint> (Double)    writable setpoints (chws_setpoint, pressure_setpoint, ...)

Time is accelerated: one model step (an hour on the small demo) every ``3600 / speed`` seconds.
Every sample carries its simulated time as SourceTimestamp, so a consumer sees the plant's clock.
With a ``state_file`` the simulator remembers how far it got: restarted, it refills its history
with the ticks already published (the model is deterministic: same values) and carries on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Server, ua
from asyncua.server.history import HistoryDict

from server.plant.config import DEFAULT_NAMESPACE
from server.plant.model import PlantModel

__all__ = ["PlantSimulator", "SetpointWrite"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetpointWrite:
    """A setpoint a client wrote, with the simulated time it arrived."""

    tag: str
    value: float
    sim_time: datetime


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC)


@dataclass
class PlantSimulator:
    """Serve ``model`` over OPC UA and advance it in accelerated time.

    Args:
        model: The live plant model.
        host: Bind address (127.0.0.1: the simulator has no security).
        port: TCP port (0 is not supported by asyncua; pick a free one).
        speed: Simulated seconds per wall-clock second (36000 = 10 hourly ticks a second).
        start_tick: First tick to publish (ignored when ``state_file`` says where to resume).
        state_file: JSON file remembering the published ticks across restarts.
    """

    model: PlantModel
    host: str = "127.0.0.1"
    port: int = 4840
    speed: float = 36000.0
    start_tick: int = 0
    state_file: Path | None = None
    first_tick: int = field(init=False, default=0)
    next_tick: int = field(init=False, default=0)
    writes: list[SetpointWrite] = field(init=False, default_factory=list)
    setpoint_values: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._server: Server | None = None
        self._ns = 0
        self._sensor_nodes: list[ua.NodeId] = []
        self._state_nodes: dict[str, ua.NodeId] = {}
        self._setpoint_nodes: dict[str, ua.NodeId] = {}
        self._clock_node: ua.NodeId | None = None
        self._history: HistoryDict = HistoryDict()
        self._tick_node: ua.NodeId | None = None
        self.first_tick = self.next_tick = self.start_tick
        self._paused = asyncio.Event()
        self._paused.set()

    @property
    def endpoint(self) -> str:
        """The OPC UA endpoint URL."""
        return f"opc.tcp://{self.host}:{self.port}/indagent/"

    @property
    def sim_time(self) -> datetime:
        """Source timestamp of the next tick to publish."""
        return self.model.time_of(self.next_tick)

    def _load_state(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.first_tick, self.next_tick = int(data["first_tick"]), int(data["next_tick"])
        self.setpoint_values.update({k: float(v) for k, v in data.get("setpoints", {}).items()})

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"first_tick": self.first_tick, "next_tick": self.next_tick,
                                   "setpoints": self.setpoint_values}), encoding="utf-8")
        tmp.replace(self.state_file)

    async def start(self) -> None:
        """Build the address space, refill the history and open the endpoint."""
        self._load_state()
        srv = Server()
        srv.iserver.history_manager.set_storage(HistoryDict(max_history_data_response_size=100_000))
        self._history = srv.iserver.history_manager.storage  # type: ignore[assignment]
        await srv.init()
        srv.set_endpoint(self.endpoint)
        srv.set_server_name("indagent plant simulator")
        srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        self._ns = await srv.register_namespace(DEFAULT_NAMESPACE)
        ns = self._ns
        plant = await srv.nodes.objects.add_object(ua.NodeId("Plant", ns), ua.QualifiedName("Plant", ns))
        t0 = _utc(self.model.time_of(max(self.next_tick - 1, 0)))
        clock = await plant.add_variable(ua.NodeId("Plant.sim_time", ns), ua.QualifiedName("sim_time", ns), t0,
                                         ua.VariantType.DateTime)
        tick = await plant.add_variable(ua.NodeId("Plant.tick", ns), ua.QualifiedName("tick", ns), self.next_tick,
                                        ua.VariantType.Int64)
        self._clock_node, self._tick_node = clock.nodeid, tick.nodeid
        sensors_by_asset: dict[str, list[int]] = {}
        for i, sid in enumerate(self.model.sensors):
            sensors_by_asset.setdefault(sid.split(".", 1)[0], []).append(i)
        self._sensor_nodes = [ua.NodeId("", ns)] * len(self.model.sensors)
        variables = []
        for asset in self.model.assets:
            obj = await plant.add_object(ua.NodeId(asset.id, ns), ua.QualifiedName(asset.id, ns))
            for i in sensors_by_asset.get(asset.id, []):
                sid = self.model.sensors[i]
                var = await obj.add_variable(ua.NodeId(sid, ns), ua.QualifiedName(sid, ns), 0.0, ua.VariantType.Double)
                await srv.write_attribute_value(var.nodeid, self._initial_value(i))
                self._sensor_nodes[i] = var.nodeid
                variables.append(var)
            st = await obj.add_variable(ua.NodeId(f"{asset.id}.state", ns), ua.QualifiedName(f"{asset.id}.state", ns),
                                        self.model.state(asset.id, min(self.next_tick, self.model.n_ticks - 1)),
                                        ua.VariantType.String)
            self._state_nodes[asset.id] = st.nodeid
        objs = {a.id: ua.NodeId(a.id, ns) for a in self.model.assets}
        for sp in self.model.setpoints:
            parent = srv.get_node(objs[sp.asset_id]) if sp.asset_id in objs else plant
            value = self.setpoint_values.setdefault(sp.name, sp.initial)
            var = await parent.add_variable(ua.NodeId(sp.name, ns), ua.QualifiedName(sp.name, ns), value,
                                            ua.VariantType.Double)
            await var.set_writable()
            self._setpoint_nodes[sp.name] = var.nodeid
        # history is written by publish_tick itself, not by a data-change subscription: a sample that
        # repeats the previous value is still a sample (the server's own historizing would skip it)
        self._history = srv.iserver.history_manager.storage
        for var in variables:
            await self._history.new_historized_node(var.nodeid, None, 0)
        await self._refill_history(srv)
        await srv.start()
        self._server = srv
        _log.info("plant simulator on %s from %s", self.endpoint, self.sim_time)

    def _initial_value(self, i: int) -> ua.DataValue:
        """The last published sample of sensor ``i``, or 'waiting for initial data' before the first tick."""
        if self.next_tick == 0:
            before = _utc(self.model.time_of(0) - self.model.step)
            return ua.DataValue(ua.Variant(0.0, ua.VariantType.Double),
                                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData),
                                SourceTimestamp=before, ServerTimestamp=before)
        k = min(self.next_tick, self.model.n_ticks) - 1
        ts = _utc(self.model.time_of(k))
        return ua.DataValue(ua.Variant(float(self.model.values[i, k]), ua.VariantType.Double),
                            SourceTimestamp=ts, ServerTimestamp=ts)

    async def _refill_history(self, srv: Server) -> None:
        """Put the ticks a previous run published back into the history (same values: deterministic)."""
        storage = self._history
        for k in range(self.first_tick, min(self.next_tick, self.model.n_ticks)):
            ts = _utc(self.model.time_of(k))
            for i, nid in enumerate(self._sensor_nodes):
                dv = ua.DataValue(ua.Variant(float(self.model.values[i, k]), ua.VariantType.Double),
                                  SourceTimestamp=ts, ServerTimestamp=ts)
                await storage.save_node_value(nid, dv)

    async def publish_tick(self) -> datetime:
        """Publish the next tick's values, states and clock; returns its source timestamp."""
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        k = self.next_tick
        if k >= self.model.n_ticks:
            raise EOFError(f"The plant model ends at {self.model.time_of(self.model.n_ticks)}; build it with more days.")
        ts = _utc(self.model.time_of(k))
        srv = self._server
        col = self.model.values[:, k]
        for i, nid in enumerate(self._sensor_nodes):
            dv = ua.DataValue(ua.Variant(float(col[i]), ua.VariantType.Double), SourceTimestamp=ts, ServerTimestamp=ts)
            await self._history.save_node_value(nid, dv)
            await srv.write_attribute_value(nid, dv)
        for aid, nid in self._state_nodes.items():
            await srv.write_attribute_value(nid, ua.DataValue(ua.Variant(self.model.state(aid, k), ua.VariantType.String),
                                                              SourceTimestamp=ts, ServerTimestamp=ts))
        assert self._clock_node is not None and self._tick_node is not None
        await srv.write_attribute_value(self._clock_node, ua.DataValue(ua.Variant(ts, ua.VariantType.DateTime),
                                                                       SourceTimestamp=ts, ServerTimestamp=ts))
        self.next_tick = k + 1
        await srv.write_attribute_value(self._tick_node, ua.DataValue(ua.Variant(self.next_tick, ua.VariantType.Int64),
                                                                      SourceTimestamp=ts, ServerTimestamp=ts))
        await self._poll_setpoints(ts)
        self._save_state()
        return ts.replace(tzinfo=None)

    async def _poll_setpoints(self, ts: datetime) -> None:
        """Record client writes to the setpoint tags (value changed since the last tick)."""
        assert self._server is not None
        for name, nid in self._setpoint_nodes.items():
            dv = self._server.read_attribute_value(nid)
            value = float(dv.Value.Value)
            if value != self.setpoint_values.get(name):
                self.setpoint_values[name] = value
                self.writes.append(SetpointWrite(name, value, ts.replace(tzinfo=None)))
                _log.info("setpoint %s = %s written at %s", name, value, ts)

    async def read_setpoint(self, name: str) -> float:
        """The current value of a setpoint tag (``<ASSET>.<tag>``)."""
        assert self._server is not None
        await self._poll_setpoints(_utc(self.model.time_of(max(self.next_tick - 1, 0))))
        return self.setpoint_values[name]

    def pause(self) -> None:
        """Stop advancing the clock (the server keeps serving)."""
        self._paused.clear()

    def resume(self) -> None:
        """Advance the clock again."""
        self._paused.set()

    async def run(self, *, ticks: int | None = None, stop: asyncio.Event | None = None) -> int:
        """Publish ticks at ``speed`` until ``ticks`` were published, ``stop`` is set or the model ends.

        Args:
            ticks: How many ticks to publish (None = until stopped or the model's end).
            stop: Set it to stop.
        """
        period = self.model.step.total_seconds() / self.speed
        loop = asyncio.get_running_loop()
        published = 0
        due = loop.time()
        while (ticks is None or published < ticks) and self.next_tick < self.model.n_ticks:
            if stop is not None and stop.is_set():
                break
            await self._paused.wait()
            await self.publish_tick()
            published += 1
            due += period
            await asyncio.sleep(max(0.0, due - loop.time()))
        return published

    async def stop(self) -> None:
        """Close the endpoint (the state file keeps the position)."""
        if self._server is not None:
            self._save_state()
            await self._server.stop()
            self._server = None

"""``indagent plant``: the OPC UA plant simulator and the connector that streams it into the KG."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from knowledge.store import KnowledgeStore
from server.clikit import cli_errors, emit_json, err_console
from server.plant.config import SecurityMode, SecurityPolicy, opcua_settings
from server.plant.connector import PlantConnector
from server.plant.model import LiveScenario, build_plant_model
from server.plant.simulator import PlantSimulator
from server.settings import get_settings

__all__ = ["app"]

app = typer.Typer(help="Live plant over OPC UA: simulator and connector.", no_args_is_help=True)


@app.command("simulate")
@cli_errors
def simulate(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1.")] = 4840,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall-clock second (3600 = one hourly tick/s).")] = 3600.0,
    seconds: Annotated[float, typer.Option(help="Stop after this many wall-clock seconds (0 = until Ctrl-C).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Demo plant seed (same plant as 'kg demo --seed').")] = 0,
    scale: Annotated[str, typer.Option(help="Demo scale: tiny or small.")] = "small",
    start: Annotated[datetime | None, typer.Option(help="First simulated time (default: end of the demo history).")] = None,
    days: Annotated[float, typer.Option(help="Simulated days the model covers.")] = 30.0,
    fault_asset: Annotated[str | None, typer.Option(help="Asset with the live fault (default CNC-07).")] = None,
    state_file: Annotated[Path | None, typer.Option(help="Remember published ticks across restarts.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a summary as JSON at the end.")] = False,
) -> None:
    """Serve the demo plant over OPC UA, advancing in accelerated time with its faults playing out."""
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    model = build_plant_model(LiveScenario(seed=seed, scale=scale, start=start, days=days,  # type: ignore[arg-type]
                                           fault_asset=fault_asset))
    sim = PlantSimulator(model, port=port, speed=speed, state_file=state_file)

    async def main() -> int:
        await sim.start()
        err_console.print(f"OPC UA plant simulator on {sim.endpoint}: {len(model.sensors)} sensor tags, "
                          f"{len(model.setpoints)} setpoints, from {sim.sim_time:%Y-%m-%d %H:%M}; live fault "
                          f"{model.live_fault.fm.name} on {model.live_fault.asset.id}", highlight=False)
        stop = asyncio.Event()
        if seconds > 0:
            asyncio.get_running_loop().call_later(seconds, stop.set)
        try:
            return await sim.run(stop=stop)
        finally:
            await sim.stop()

    t0 = time.perf_counter()
    try:
        ticks = asyncio.run(main())
    except KeyboardInterrupt:
        ticks = sim.next_tick - sim.first_tick
    summary = {"endpoint": sim.endpoint, "ticks": ticks, "sim_time": sim.sim_time.isoformat(),
               "setpoint_writes": [{"tag": w.tag, "value": w.value, "sim_time": w.sim_time.isoformat()} for w in sim.writes],
               "seconds": round(time.perf_counter() - t0, 2)}
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"published {ticks} ticks until {summary['sim_time']}; {len(sim.writes)} setpoint writes")


@contextmanager
def _runs_worker(kg: KnowledgeStore, *, enabled: bool) -> Iterator[None]:
    """The runs scheduler in this process, its brain on the connector's open KG (``--worker``)."""
    if not enabled:
        yield
        return
    from server.brain import open_brain
    from server.runs import start_scheduler

    settings = get_settings()
    handle = start_scheduler(settings, lambda s: open_brain(s, kg=kg))
    err_console.print(f"runs worker {handle.worker_id}: {len(handle.store.list_schedules())} schedule(s)", highlight=False)
    try:
        yield
    finally:
        handle.shutdown(wait=True)


@app.command("connect")
@cli_errors
def connect(
    endpoint: Annotated[str | None, typer.Option(help="opc.tcp://host:port/path (env INDAGENT_OPCUA_ENDPOINT).")] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace URI of the tags.")] = None,
    security_policy: Annotated[SecurityPolicy | None, typer.Option(help="None or e.g. Basic256Sha256.")] = None,
    security_mode: Annotated[SecurityMode | None, typer.Option(help="None, Sign or SignAndEncrypt.")] = None,
    certificate: Annotated[Path | None, typer.Option(help="Client certificate (PEM/DER).")] = None,
    private_key: Annotated[Path | None, typer.Option(help="Client private key (PEM/DER).")] = None,
    username: Annotated[str | None, typer.Option(help="User name (password: INDAGENT_OPCUA_PASSWORD).")] = None,
    seconds: Annotated[float, typer.Option(help="Stream for this many seconds (0 = until Ctrl-C).")] = 0.0,
    db: Annotated[Path | None, typer.Option(help="KG file (default: the configured one).")] = None,
    worker: Annotated[bool, typer.Option(
        "--worker", help="Also fire scheduled runs (closed-loop cycles) in this process, on the streamed KG.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the connector's counters as JSON.")] = False,
) -> None:
    """Subscribe to an OPC UA server's tags and append their samples to the knowledge graph.

    The KG file has one writer: with ``--worker`` this process also executes the schedules of
    ``indagent runs schedule --loop`` (and applies approvals queued for them) on the same open KG.
    """
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    cfg = opcua_settings(endpoint=endpoint, namespace=namespace, security_policy=security_policy,
                         security_mode=security_mode, certificate=certificate, private_key=private_key, username=username)
    path = db or get_settings().kg_path

    async def main(kg: KnowledgeStore) -> PlantConnector:
        conn = PlantConnector(cfg, kg)
        stop = asyncio.Event()
        if seconds > 0:
            asyncio.get_running_loop().call_later(seconds, stop.set)
        task = asyncio.create_task(conn.run(stop))
        try:
            await task
        except asyncio.CancelledError:
            stop.set()
        return conn

    with KnowledgeStore(path) as kg, _runs_worker(kg, enabled=worker):
        err_console.print(f"streaming {cfg.endpoint} into {path}", highlight=False)
        conn = asyncio.run(main(kg))
    if json_out:
        emit_json(conn.stats.model_dump(mode="json"))
    else:
        s = conn.stats
        typer.echo(f"{s.inserted} readings inserted ({s.duplicates} duplicates skipped, {s.backfilled} from history), "
                   f"{s.reconnects} reconnects, last sample {s.last_source_ts}")

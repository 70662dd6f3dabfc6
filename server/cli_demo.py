"""``indagent demo``: the closed loop on a live simulated plant (simulator + connector + agents, one process).

The lead mounts :func:`demo_cmd` as the top-level command ``indagent demo``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from knowledge.store import KnowledgeStore
from server.clikit import cli_errors, emit_json, err_console
from server.plant.loop import LoopOptions, LoopResult, run_loop
from server.settings import get_settings

__all__ = ["app", "demo_cmd", "run_demo"]

app = typer.Typer(help="Closed loop on a live (simulated) plant.", no_args_is_help=False)


def _terminal_approver(request: dict[str, Any]) -> dict[str, Any]:
    args = ", ".join(f"{k}={str(v)[:80]}" for k, v in request.get("args", {}).items())
    ok = typer.confirm(f"Approve {request.get('agent')}: {request.get('tool')}({args})?", default=True, err=True)
    return {"decision": "approve" if ok else "reject", "by": "cli"}


def run_demo(*, auto_approve: bool, db: Path | None = None, port: int = 4841, speed: float = 3600.0 * 40,
             seed: int = 0, quiet: bool = False) -> LoopResult:
    """Run the loop with the configured settings (brain, data dir) and a dedicated KG file.

    Args:
        auto_approve: Apply every proposed action without asking (the demo policy).
        db: KG file for the live plant (rebuilt from scratch); default ``<data_dir>/demo/plant-live.duckdb``.
        port: OPC UA port of the simulator on 127.0.0.1.
        speed: Simulated seconds per second.
        seed: Demo plant seed.
        quiet: No progress lines on stderr.
    """
    from server.brain import open_brain

    settings = get_settings()
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    path = db or settings.data_dir / "demo" / "plant-live.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = LoopOptions(seed=seed, port=port, speed=speed, auto_approve=auto_approve)

    def progress(step: str, msg: str) -> None:
        if not quiet:
            err_console.print(f"[bold cyan]{step:>9}[/] {msg}", highlight=False)

    with KnowledgeStore(path) as kg, open_brain(settings, kg=kg) as brain:
        ctx = brain.context(actor="demo", approval_policy="auto-approve" if auto_approve else "require-approval")
        return asyncio.run(run_loop(opts, kg, ctx, data_dir=settings.data_dir, approver=_terminal_approver,
                                    progress=progress))


@app.command("demo")
@cli_errors
def demo_cmd(
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="Apply proposed actions without asking.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as one JSON document.")] = False,
    port: Annotated[int, typer.Option(help="OPC UA port of the simulator (127.0.0.1).")] = 4841,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall-clock second.")] = 3600.0 * 40,
    seed: Annotated[int, typer.Option(help="Demo plant seed.")] = 0,
    db: Annotated[Path | None, typer.Option(help="KG file for the live plant (rebuilt).")] = None,
) -> None:
    """Run the closed loop: stream -> detect -> diagnose -> schedule maintenance -> re-optimize -> approve -> act."""
    res = run_demo(auto_approve=auto_approve, db=db, port=port, speed=speed, seed=seed)
    if json_out:
        emit_json(res.model_dump(mode="json"))
        return
    top = res.failure_modes[0]["name"] if res.failure_modes else "-"
    m = res.maintenance or {}
    typer.echo(f"fault: {res.asset} at {res.detected_at} -> {top}; maintenance {m.get('start')}..{m.get('end')} "
               f"(deadline {res.deadline}); actions: "
               + ", ".join(f"{a.tool}={'ok' if a.ok else a.approval}" for a in res.actions)
               + f"; OPC UA writes: {len(res.opcua_writes)}; {res.seconds:.1f} s")
    typer.echo(f"report: {res.report_md}  {res.report_html}  trace: {res.trace_json}")

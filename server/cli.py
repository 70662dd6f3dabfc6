"""The ``indagent`` command line (typer + rich). Commands are thin: they call agents and tools.

``--json`` prints exactly one JSON document on stdout; progress and logs go to stderr; errors
are one line on stderr with exit code 2.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import click
import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from server.clikit import cli_errors, emit_json, err_console, fail

__all__ = ["LAZY_COMMANDS", "app"]

#: Commands whose module is imported only when they run (or their own ``--help`` is asked for):
#: ``name -> (module, attribute, help)``. An attribute ``app`` is a typer sub-app (``indagent kg ...``),
#: anything else a single command function. Importing every sub-app up front cost ~5 s of CPU per
#: invocation (LangGraph, langchain-core, asyncua, scipy, matplotlib ...), even for ``kg stats``.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "kg": ("server.cli_kg", "app", "Knowledge graph: init, import, demo, queries, site export/import."),
    "schedule": ("server.cli_schedule", "app", "Job-shop scheduling with CP-SAT."),
    "place": ("server.cli_place", "app", "Compute placement across cloud / edge / device."),
    "optimize": ("server.cli_optimize", "app", "Process setpoint optimization."),
    "eval": ("server.cli_eval", "app", "Run evaluation suites."),
    "runs": ("server.cli_runs", "app", "Scheduled autonomous runs."),
    "keys": ("server.cli_keys", "app", "API keys."),
    "plant": ("server.cli_plant", "app", "Live (simulated) plant over OPC UA."),
    "diagnose": ("server.cli_diagnose", "command",
                 "Diagnose an asset: anomalies, failure modes, days to threshold, remedies."),
    "demo": ("server.cli_demo", "demo_cmd",
             "Closed loop on a live simulated plant: detect, diagnose, plan maintenance, re-optimize."),
    "worker": ("server.cli_runs", "worker_cmd", "Run the autonomous-run scheduler in the foreground."),
}


def _load(name: str) -> click.Command:
    modname, attr, help_text = LAZY_COMMANDS[name]
    obj = getattr(importlib.import_module(modname), attr)
    if attr == "app":
        cmd = typer.main.get_group(obj)
    else:
        single = typer.Typer()
        single.command(name)(obj)
        cmd = typer.main.get_command(single)
    cmd.name, cmd.help = name, cmd.help or help_text
    return cmd


class _LazyGroup(TyperGroup):
    """The top-level group: eager commands plus :data:`LAZY_COMMANDS`, listed in help without importing them."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the top-level help only needs the name and one line
            return click.Command(cmd_name, help=LAZY_COMMANDS[cmd_name][2])
        return _load(cmd_name)

    def format_help(self, ctx: click.Context, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="indagent",
    cls=_LazyGroup,
    help="indagent: the plant's industrial brain (diagnosis, scheduling, optimization, placement).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _settings():
    from server.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        fail("configuration: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


@app.command()
@cli_errors
def ask(
    text: Annotated[str, typer.Argument(help="The question or instruction.")],
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread id.")] = None,
    model: Annotated[str, typer.Option("--model", help="auto | edge | cloud | a model name.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Ask the plant brain a question."""
    from agents.runner import ask as run_ask
    from server.brain import open_brain

    settings = _settings()
    with open_brain(settings) as brain:
        ctx = brain.context(requested_model=model, actor="cli")
        res = run_ask(brain.graph, ctx, text, thread_id=thread, max_chars=settings.max_message_chars)
    if as_json:
        emit_json(res)
        return
    typer.echo(res.answer)
    err_console.print(
        f"[dim]thread {res.thread_id} · {res.route.agent} via {res.route.model} ({res.route.tier})"
        f"{' · degraded' if res.route.degraded else ''} · {res.latency_ms:.0f} ms[/dim]"
    )


@app.command()
@cli_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    init_demo: Annotated[bool, typer.Option("--init-demo", help="Build the demo plant KG if missing.")] = False,
) -> None:
    """Start the HTTP API (FastAPI + uvicorn)."""
    import uvicorn

    from server.settings import Settings

    base = _settings()
    settings = Settings(**{**base.model_dump(exclude_none=True), **({"host": host} if host else {}),
                           **({"port": port} if port else {})})
    if settings.auth == "off":
        err_console.print("[yellow]warning: INDAGENT_AUTH=off: no API keys are checked (local development only).[/yellow]")
    if init_demo and not settings.kg_path.exists():
        from knowledge.demo import build_demo
        from knowledge.store import KnowledgeStore

        err_console.print(f"building the demo plant at {settings.kg_path} ...")
        with KnowledgeStore(settings.kg_path) as store:
            build_demo(store, seed=0, scale="small")
    from server.app import create_app

    uvicorn.run(create_app(settings, freeze_gc=True), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":  # pragma: no cover
    app()

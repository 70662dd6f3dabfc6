"""The ``indagent`` command line (typer + rich). Commands are thin: they call agents and tools.

``--json`` prints exactly one JSON document on stdout; progress and logs go to stderr; errors
are one line on stderr with exit code 2.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
from pydantic import ValidationError

from server.cli_demo import demo_cmd
from server.cli_diagnose import command as diagnose_command
from server.cli_runs import worker_cmd
from server.clikit import cli_errors, emit_json, err_console, fail

__all__ = ["app"]

app = typer.Typer(
    name="indagent",
    help="indagent: the plant's industrial brain (diagnosis, scheduling, optimization, placement).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Sub-apps mounted as ``indagent <name> ...`` when their module exists.
SUBAPPS: tuple[tuple[str, str, str], ...] = (
    ("kg", "server.cli_kg", "Knowledge graph: init, import, demo, queries."),
    ("schedule", "server.cli_schedule", "Job-shop scheduling with CP-SAT."),
    ("place", "server.cli_place", "Compute placement across cloud / edge / device."),
    ("optimize", "server.cli_optimize", "Process setpoint optimization."),
    ("eval", "server.cli_eval", "Run evaluation suites."),
    ("runs", "server.cli_runs", "Scheduled autonomous runs."),
    ("keys", "server.cli_keys", "API keys."),
    ("plant", "server.cli_plant", "Live (simulated) plant over OPC UA."),
)


def _mount() -> None:
    from server.cli_kg import app as kg_app
    from server.cli_sites import app as sites_app

    # `indagent kg export-site | import-site | list-sites`
    kg_app.registered_commands.extend(sites_app.registered_commands)
    for name, modname, help_text in SUBAPPS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name and (modname == exc.name or modname.startswith(exc.name + ".")):
                continue
            raise
        app.add_typer(mod.app, name=name, help=help_text)


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

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


_mount()

# `indagent diagnose ASSET`: a single command (typer sub-apps are always groups)
app.command("diagnose", help="Diagnose an asset: anomalies, failure modes, days to threshold, remedies.")(
    diagnose_command
)

# `indagent demo`: the closed loop on a live (simulated) plant over OPC UA
app.command("demo", help="Closed loop on a live simulated plant: detect, diagnose, plan maintenance, re-optimize.")(
    demo_cmd
)

# `indagent worker`: the autonomous-run scheduler in the foreground (alias of `runs worker`)
app.command("worker", help="Run the autonomous-run scheduler in the foreground.")(worker_cmd)

if __name__ == "__main__":  # pragma: no cover
    app()

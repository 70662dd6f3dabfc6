"""``indagent keys ...``: create, list and revoke API keys (stored hashed in <data_dir>/server.sqlite)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from server.auth import Role, ServerDB
from server.clikit import cli_errors, emit_json, err_console

__all__ = ["app"]

app = typer.Typer(help="API keys (roles: viewer < engineer < admin).", no_args_is_help=True, add_completion=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _db() -> ServerDB:
    from server.settings import get_settings

    return ServerDB(get_settings().server_db_path)


@app.command()
@cli_errors
def create(
    role: Annotated[Role, typer.Option("--role", help="viewer | engineer | admin.")],
    label: Annotated[str | None, typer.Option("--label", help="Who or what uses the key.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; the secret is printed once and never stored."""
    with _db() as db:
        new = db.create_key(role, label=label)
    if as_json:
        emit_json(new)
        return
    typer.echo(new.key)
    err_console.print(f"[dim]key id {new.id} · role {new.role} · shown once: store it now[/dim]")


@app.command("list")
@cli_errors
def list_(as_json: JsonOpt = False) -> None:
    """List keys (ids, roles, created/revoked; never secrets)."""
    with _db() as db:
        keys = db.list_keys()
    if as_json:
        emit_json({"data": keys, "count": len(keys)})
        return
    table = Table("id", "role", "label", "created", "revoked")
    for k in keys:
        table.add_row(k.id, k.role, k.label or "", k.created_at, k.revoked_at or "")
    Console().print(table)


@app.command()
@cli_errors
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (from 'keys list').")], as_json: JsonOpt = False) -> None:
    """Revoke a key (requests with it get 401 from now on)."""
    with _db() as db:
        info = db.revoke_key(key_id)
    if as_json:
        emit_json(info)
        return
    typer.echo(f"revoked {info.id} ({info.role}) at {info.revoked_at}")

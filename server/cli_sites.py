"""Site export/import commands: ``export-site DIR``, ``import-site DIR [--site NAME]``, ``list-sites``.

Mounted by ``server/cli.py`` (as commands of ``indagent kg`` or as ``indagent sites``). Thin: they
call :mod:`knowledge.sites` and print a table, or one JSON document with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from server.clikit import cli_errors, emit_json

__all__ = ["app"]

app = typer.Typer(help="Site export/import: Parquet exports of a site's knowledge graph, a central DuckDB of sites.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
CentralOpt = Annotated[Path | None, typer.Option(
    "--into", help="Central DuckDB file (default: $INDAGENT_DATA_DIR/central.duckdb).")]


def _central(path: Path | None) -> Path:
    from server.settings import get_settings

    return path or get_settings().data_dir / "central.duckdb"


@app.command("export-site")
@cli_errors
def export_site_cmd(
    directory: Annotated[Path, typer.Argument(help="Empty directory to write <table>.parquet and manifest.json to.")],
    db: Annotated[Path | None, typer.Option("--db", help="Site knowledge graph (default: the configured one).")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site node id, when the graph has several.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export this site's knowledge graph (nodes, edges, facts) to Parquet with a manifest."""
    from knowledge.sites import export_site
    from knowledge.store import KnowledgeStore
    from server.settings import get_settings
    from tools.errors import ConfigError

    path = db or get_settings().kg_path
    if not path.exists():
        raise ConfigError(f"Knowledge graph {path} does not exist; run 'indagent kg demo' or pass --db FILE.")
    with KnowledgeStore(path, read_only=True) as store:
        manifest = export_site(store, directory, site=site)
    if as_json:
        emit_json(manifest)
        return
    t = Table(title=f"site {manifest.site} exported to {directory}")
    for col in ("table", "rows", "file"):
        t.add_column(col)
    for tab in manifest.tables:
        t.add_row(tab.name, str(tab.rows), tab.file)
    out.print(t)


@app.command("import-site")
@cli_errors
def import_site_cmd(
    directory: Annotated[Path, typer.Argument(help="A directory written by 'export-site'.")],
    site: Annotated[str | None, typer.Option(
        "--site", help="Site name in the central file (default: the export's site id).")] = None,
    into: CentralOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load a site export into the central DuckDB (replaces that site's earlier import)."""
    from knowledge.sites import import_site

    res = import_site(_central(into), directory, site=site)
    if as_json:
        emit_json(res)
        return
    verb = "replaced" if res.replaced else "imported"
    out.print(f"site {res.site} {verb} in {res.central}: " + ", ".join(f"{k} {v}" for k, v in res.rows.items()),
              highlight=False, soft_wrap=True)
    if res.added_columns:
        out.print("columns added to the central tables: " + ", ".join(res.added_columns), highlight=False)


@app.command("list-sites")
@cli_errors
def list_sites_cmd(into: CentralOpt = None, as_json: JsonOpt = False) -> None:
    """The sites in the central DuckDB, with row counts."""
    from knowledge.sites import central_summary

    summary = central_summary(_central(into))
    if as_json:
        emit_json(summary)
        return
    shown = ("nodes", "edges", "readings", "work_orders")
    t = Table(title=f"sites in {summary.central}")
    for col in ("site", "source site", "imported at", *shown):
        t.add_column(col)
    for s in summary.sites:
        t.add_row(s.site, s.source_site, s.imported_at.isoformat(timespec="seconds"),
                  *(str(s.rows.get(k, 0)) for k in shown))
    out.print(t)

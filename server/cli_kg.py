"""``indagent kg ...``: build, import, inspect and query the plant knowledge graph (DuckDB).

Commands are thin: they open the store, call knowledge/ or tools/ functions, and print a table
(or one JSON document with ``--json``). Errors are one line on stderr with exit code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from knowledge.importers import KINDS, import_file
from knowledge.sqlguard import run_readonly_query
from knowledge.store import KnowledgeStore
from server.cli_sites import app as sites_app
from server.clikit import cli_errors, emit_json, err_console
from tools import kgtools
from tools.errors import ConfigError
from tools.registry import ToolContext

__all__ = ["app", "default_db_path"]

app = typer.Typer(help="Plant knowledge graph: init, import, demo, stats, find, neighbors, path, impact, query.",
                  no_args_is_help=True)
out = Console()

DbOpt = Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: $INDAGENT_DATA_DIR/indagent.duckdb)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def default_db_path() -> Path:
    """``$INDAGENT_DATA_DIR/indagent.duckdb``, else ``var/indagent.duckdb`` (read only here, at the CLI edge)."""
    return Path(os.environ.get("INDAGENT_DATA_DIR") or "var") / "indagent.duckdb"


def _open(db: Path | None, *, write: bool = False) -> KnowledgeStore:
    path = db or default_db_path()
    if not write and not path.exists():
        raise ConfigError(f"Knowledge graph {path} does not exist; run 'indagent kg init' or 'indagent kg demo' first.")
    return KnowledgeStore(path, read_only=not write)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


@app.command()
@cli_errors
def init(db: DbOpt = None, json: JsonOpt = False) -> None:
    """Create the knowledge graph file (or migrate it to the current schema)."""
    path = db or default_db_path()
    with KnowledgeStore(path) as kg:
        applied = kg.applied_migrations()
    result = {"db": str(path), "migrations": applied}
    if json:
        emit_json(result)
    else:
        out.print(f"knowledge graph {path}: migrations {', '.join(applied)}")


@app.command("import")
@cli_errors
def import_(
    file: Annotated[Path, typer.Argument(help="CSV file to import.")],
    kind: Annotated[str, typer.Option("--kind", help=f"One of: {', '.join(KINDS)}.")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Mapping YAML (columns, constants, formats).")] = None,
    asset: Annotated[str | None, typer.Option("--asset", help="Readings: the asset the sensors belong to.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (import nothing) if any row is rejected.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Import a CSV export (assets, sensors, readings, work orders, failure modes, alerts, edges)."""
    if kind not in KINDS:
        raise ConfigError(f"Unknown --kind {kind!r}; use one of: {', '.join(KINDS)}")
    with _open(db, write=True) as kg:
        report = import_file(kg, file, kind=kind, mapping=mapping, asset=asset, strict=strict)  # type: ignore[arg-type]
    if json:
        emit_json(report)
        return
    out.print(f"{report.kind} ({report.format}): read {report.rows_read}, accepted {report.rows_accepted}, "
              f"rejected {report.rows_rejected}; nodes created {report.nodes_created}, edges created "
              f"{report.edges_created}, new rows {report.facts_inserted} ({report.seconds:.2f}s)")
    if report.rejects:
        _table("rejected rows", ["row", "reason"], [[r.row, r.reason] for r in report.rejects[:50]])


@app.command()
@cli_errors
def demo(
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    scale: Annotated[str, typer.Option("--scale", help="tiny, small (hourly 2024) or large (minute 2024).")] = "small",
    replace: Annotated[bool, typer.Option("--replace", help="Empty an existing knowledge graph first.")] = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Build the deterministic demo plant (lines, assets, sensors, faults, FMEA, work and production orders)."""
    if scale not in ("tiny", "small", "large"):
        raise ConfigError(f"Unknown --scale {scale!r}; use tiny, small or large.")
    with _open(db, write=True) as kg:
        from knowledge.demo import build_demo  # scipy & co.: imported only when building

        summary = build_demo(kg, seed=seed, scale=scale, replace=replace,  # type: ignore[arg-type]
                             progress=lambda m: err_console.print(f"[dim]{m}[/dim]"))
    if json:
        emit_json(summary)
    else:
        out.print(f"demo plant ({scale}, seed {seed}) in {db or default_db_path()}: {summary.assets} assets, "
                  f"{summary.sensors} sensors, {summary.readings:,} readings, {summary.work_orders} work orders, "
                  f"{summary.faults} injected faults, {summary.production_orders} production orders "
                  f"({summary.seconds:.1f}s)")


@app.command()
@cli_errors
def stats(db: DbOpt = None, json: JsonOpt = False) -> None:
    """Counts of nodes, edges and fact rows, and the time span of the data."""
    with _open(db) as kg:
        s = kgtools.kg_stats(ToolContext(kg=kg))
    if json:
        emit_json(s)
        return
    _table("nodes", ["kind", "count"], [[k, v] for k, v in s.nodes_by_kind.items()])
    _table("edges", ["rel", "count"], [[k, v] for k, v in s.edges_by_rel.items()])
    _table("tables", ["table", "rows"], [[k, v] for k, v in s.tables.items()])
    out.print(f"readings {s.readings_start} .. {s.readings_end}; work orders {s.work_orders_start} .. "
              f"{s.work_orders_end}")


@app.command()
@cli_errors
def find(
    text: Annotated[str, typer.Argument(help="Id, name or alias to look for (typos tolerated).")],
    kind: Annotated[str | None, typer.Option("--kind", help="Only nodes of this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many matches.")] = 10,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find entities by id, name or alias (fuzzy)."""
    with _open(db) as kg:
        res = kgtools.find_entities(ToolContext(kg=kg), text, kind=kind, limit=limit)  # type: ignore[arg-type]
    if json:
        emit_json(res)
    else:
        _table(f"matches for {text!r}", ["id", "kind", "name", "score", "matched", "via"],
               [[m.id, m.kind, m.name, f"{m.score:.2f}", m.matched, m.via] for m in res.matches])


@app.command()
@cli_errors
def neighbors(
    node_id: Annotated[str, typer.Argument(help="Centre node id.")],
    depth: Annotated[int, typer.Option("--depth", help="Hops (1-4).")] = 1,
    rel: Annotated[list[str] | None, typer.Option("--rel", help="Only this relation (repeatable).")] = None,
    direction: Annotated[str, typer.Option("--direction", help="out, in or both.")] = "both",
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """The k-hop neighbourhood of a node."""
    if direction not in ("out", "in", "both"):
        raise ConfigError(f"Unknown --direction {direction!r}; use out, in or both.")
    with _open(db) as kg:
        res = kgtools.neighbors(ToolContext(kg=kg), node_id, depth=depth, rels=rel, direction=direction)  # type: ignore[arg-type]
    if json:
        emit_json(res)
    else:
        _table(f"{res.center} ({depth} hops)", ["depth", "id", "kind", "name"],
               [[n.depth, n.id, n.kind, n.name] for n in res.nodes])


@app.command()
@cli_errors
def path(
    source: Annotated[str, typer.Argument(help="First node.")],
    target: Annotated[str, typer.Argument(help="Second node.")],
    directed: Annotated[bool, typer.Option("--directed", help="Follow edge directions.")] = False,
    rel: Annotated[list[str] | None, typer.Option("--rel", help="Only this relation (repeatable).")] = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """The shortest path between two nodes."""
    with _open(db) as kg:
        res = kgtools.shortest_path(ToolContext(kg=kg), source, target, directed=directed, rels=rel)
    if json:
        emit_json(res)
    elif not res.found:
        out.print(f"no path from {res.src} to {res.dst}")
    else:
        out.print(" ".join([res.nodes[0]] + [
            f"-{e.rel}-> {e.dst}" if e.src == a else f"<-{e.rel}- {e.src}"
            for a, e in zip(res.nodes, res.edges, strict=False)]))


@app.command()
@cli_errors
def impact(
    node_id: Annotated[str, typer.Argument(help="Asset or line.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="What feeds it, instead of what it feeds.")] = False,
    depth: Annotated[int, typer.Option("--depth", help="Most 'feeds' hops.")] = 30,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Assets affected downstream (or feeding it upstream) along material/utility flows."""
    with _open(db) as kg:
        fn = kgtools.upstream_assets if upstream else kgtools.downstream_assets
        res = fn(ToolContext(kg=kg), node_id, max_depth=depth)
    if json:
        emit_json(res)
    else:
        _table(f"{res.direction} of {res.source} (lines: {', '.join(res.lines_affected)})",
               ["depth", "id", "name", "line", "via"], [[i.depth, i.id, i.name, i.line, i.via] for i in res.items])


@app.command()
@cli_errors
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT (or WITH ... SELECT) statement.")],
    max_rows: Annotated[int, typer.Option("--max-rows", help="Most rows returned.")] = 1000,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run one read-only SELECT on a read-only connection (anything else is refused)."""
    res = run_readonly_query(db or default_db_path(), sql, max_rows=max_rows)
    if json:
        emit_json(res)
    else:
        _table(f"{res.row_count} row(s){' (truncated)' if res.truncated else ''}", res.columns, res.rows)


# `indagent kg export-site | import-site | list-sites` live in their own module
app.registered_commands.extend(sites_app.registered_commands)

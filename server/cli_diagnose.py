"""``indagent diagnose ASSET``: anomalies, likely failure modes, days to the alarm limit, remedies.

``--json`` prints exactly::

    {"asset", "anomalies": [{"sensor", "start", "end", "score", "detector"}],
     "failure_modes": [{"id", "name", "probability", "evidence", "path"}],
     "days_to_threshold": {"estimate", "low", "high"} | null, "remedies": [...]}

The command is thin: it opens the knowledge graph (read-only unless ``--store-alerts``) and calls
:func:`tools.diagnosis.diagnose`. ``app`` is a single-command Typer (usable alone); mount the
function itself so that ``indagent diagnose CNC-07`` needs no sub-command name::

    app.command("diagnose")(server.cli_diagnose.command)

(a Typer added with ``add_typer`` is a group and would need ``indagent diagnose command CNC-07``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from knowledge.store import KnowledgeStore
from server.clikit import cli_errors, emit_json
from server.settings import get_settings
from tools.diagnosis import DiagnosisResult, diagnose, store_alerts
from tools.errors import ConfigError

__all__ = ["app", "command", "print_diagnosis"]

app = typer.Typer(help="Diagnose an asset: anomalies, likely failure modes, days to the alarm limit, remedies.")
out = Console()

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]


def print_diagnosis(res: DiagnosisResult) -> None:
    """Human-readable tables of a diagnosis on stdout."""
    out.print(f"[bold]{res.asset}[/bold] {res.since:%Y-%m-%d %H:%M} .. {res.until:%Y-%m-%d %H:%M}")
    t = Table(title="Anomalies")
    for c in ("sensor", "start", "end", "score", "detector", "direction"):
        t.add_column(c)
    for a in res.anomalies:
        t.add_row(a.sensor, f"{a.start:%Y-%m-%d %H:%M}", f"{a.end:%Y-%m-%d %H:%M}", f"{a.score:.1f}", a.detector,
                  a.direction)
    out.print(t)
    if res.failure_modes:
        t = Table(title="Likely failure modes")
        for col in ("failure mode", "p", "evidence", "path"):
            t.add_column(col)
        for fm in res.failure_modes:
            t.add_row(f"{fm.name} ({fm.id})", f"{fm.probability:.2f}", "; ".join(fm.evidence.supporting[:2]),
                      " -> ".join(fm.path))
        out.print(t)
    d = res.days_to_threshold
    if d is not None:
        out.print(f"Days to threshold: {d.message}")
    for r in res.remedies:
        out.print(f"Remedy: {r.name} ({r.duration_h or '?'} h, parts: {', '.join(r.parts) or '-'}, cost {r.cost or '?'})")
    out.print(res.message)


@app.command()
@cli_errors
def command(
    asset: Annotated[str, typer.Argument(help="Asset id, name or alias, e.g. CNC-07.")],
    since: Annotated[datetime | None, typer.Option(formats=_DATE_FORMATS, help="Window start (default: 30 days "
                                                   "before --until).")] = None,
    until: Annotated[datetime | None, typer.Option(formats=_DATE_FORMATS, help="Window end, exclusive (default: "
                                                   "the last reading).")] = None,
    db: Annotated[Path | None, typer.Option("--db", help="DuckDB file (default: the configured knowledge graph).")] = None,
    store: Annotated[bool, typer.Option("--store-alerts", help="Also record the anomalies as KG alerts "
                                        "(idempotent; opens the graph for writing).")] = False,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
) -> None:
    """Diagnose ASSET: anomalies, likely failure modes with evidence, days to the alarm limit, remedies."""
    path = db or get_settings().kg_path
    if not path.exists():
        raise ConfigError(f"Knowledge graph {path} does not exist; run 'indagent kg demo' (or pass --db).")
    with KnowledgeStore(path, read_only=not store) as kg:
        res = diagnose(kg, asset, since=since, until=until)
        if store:
            store_alerts(kg, res.anomalies, created_at=datetime.now(UTC).replace(tzinfo=None))
    if json:
        emit_json(res.cli_dict())
    else:
        print_diagnosis(res)

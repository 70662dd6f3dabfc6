"""Importers for real plant data (CSV exports of a CMMS or historian) into the knowledge graph.

``import_file(store, path, kind=...)`` reads the file with DuckDB's CSV reader (all text), maps
columns to our fields (mapping YAML or common names, case-insensitive), parses timestamps and
numbers in SQL, rejects bad rows with reasons, and writes nodes/edges/facts idempotently, all in
ONE transaction: a file that cannot be imported leaves the store exactly as it was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from knowledge.importers.mapping import FIELDS, KINDS, ImportFileError, Kind, Mapping, load_mapping
from knowledge.importers.stage import read_csv
from knowledge.importers.writers import Acc, write_kind

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = ["FIELDS", "KINDS", "ImportFileError", "ImportReport", "Kind", "Mapping", "Reject", "import_file",
           "load_mapping"]

MAX_REJECTS_LISTED = 1000


class Reject(BaseModel):
    """A rejected row: its line number in the file (the header is line 1) and why."""

    row: int
    reason: str


class ImportReport(BaseModel):
    """Outcome of an import (the JSON of ``indagent kg import --json``)."""

    kind: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    rejects: list[Reject]
    nodes_created: int
    edges_created: int
    format: str = Field(description="'long' or 'wide' for readings, else the kind")
    facts_inserted: int = Field(0, description="new rows in the fact table (readings, work_orders, alerts)")
    created_ids: list[str] = Field(default_factory=list, description="ids of created nodes (first 200)")
    seconds: float = 0.0


def import_file(
    store: KnowledgeStore, path: str | Path, *, kind: Kind, mapping: Mapping | str | Path | None = None,
    asset: str | None = None, strict: bool = False,
) -> ImportReport:
    """Import one CSV file as ``kind`` in one transaction.

    Args:
        store: A writable knowledge store.
        path: The CSV file.
        kind: assets, sensors, readings, work_orders, failure_modes, alerts or edges.
        mapping: A :class:`Mapping` or the path of a mapping YAML.
        asset: For readings: the asset the sensors belong to (wide format: sensors '<asset>.<column>').
        strict: Fail (and roll back) when any row is rejected.

    Raises:
        ImportFileError: The file cannot be imported at all (missing column, not a CSV...); nothing is written.
    """
    t0 = time.perf_counter()
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if m.kind and m.kind != kind:
        raise ImportFileError(f"the mapping is for kind {m.kind!r}, not {kind!r}")
    m.check(kind)
    asset = asset or m.asset
    acc = Acc()
    with store.transaction() as con:
        staged = read_csv(con, Path(path), m)
        acc.rejects += staged.rejects
        fmt = write_kind(con, kind, staged.columns, m, asset, acc)
        if strict and acc.rejects:
            line, reason = sorted(acc.rejects)[0]
            raise ImportFileError(f"{len(acc.rejects)} row(s) rejected in strict mode (first: row {line}: {reason}); "
                                  "nothing was imported")
        for t in ("_imp_raw", "_imp_typed", "_imp_lines", "_imp_long", "_imp_wide", "_imp_rej_err", "_imp_rej_scan"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    rejects = sorted(acc.rejects)
    created = list(dict.fromkeys(acc.created))
    return ImportReport(
        kind=kind, rows_read=staged.rows + len(staged.rejects), rows_accepted=acc.accepted,
        rows_rejected=len(rejects), rejects=[Reject(row=r, reason=s) for r, s in rejects[:MAX_REJECTS_LISTED]],
        nodes_created=len(created), edges_created=acc.edges_created, format=fmt, facts_inserted=acc.facts_inserted,
        created_ids=created[:200], seconds=round(time.perf_counter() - t0, 3))

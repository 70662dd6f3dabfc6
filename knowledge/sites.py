"""Site export/import: each plant keeps its own DuckDB knowledge graph; a central instance aggregates them.

Export (:func:`export_site`) writes every table of a site's knowledge graph (nodes, edges and
the fact tables: readings, work orders, alerts, orders, ...) to ``<table>.parquet`` in a
directory, read in ONE transaction (a consistent snapshot), plus ``manifest.json``: the site id,
the schema (column types, primary keys), row counts and a SHA-256 of every file.

Import (:func:`import_site`) loads one export into a *central* DuckDB file. The choice made here:
the central tables have the site tables' columns plus a leading ``site`` column, and primary
keys become ``(site, <site key>)``. Ids are NOT rewritten, so an import is lossless (ids inside
JSON props such as ``sensor.props.asset_id`` stay valid within their site) and reversible
(``WHERE site = ?`` gives the site back). Re-importing a site replaces all of its rows in one
transaction; a failed import leaves the central file as it was.

Limits (honest):
- The central file is for cross-site reporting in SQL (``GROUP BY site``); the agents and tools
  work on one site's knowledge graph, not on the central file (open it with :func:`open_central`,
  never with ``KnowledgeStore``, whose migrations expect the per-site schema).
- There are no cross-site edges; shared library nodes (asset classes, failure modes, remedies)
  are stored once per site, possibly with different props.
- It is a batch copy, not replication: the central data is as fresh as the last import, and
  readings are copied in full each time (no incremental sync).
- Schema drift is tolerated in one direction: a column new in an export is added to the central
  table; a column missing from an export is NULL for that site; a column whose type changed is
  refused (the error names it).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
from pydantic import BaseModel, Field, ValidationError

from knowledge.store import KnowledgeStore
from tools.errors import ConfigError

__all__ = [
    "MANIFEST",
    "CentralSummary",
    "ColumnSpec",
    "SiteImport",
    "SiteInfo",
    "SiteManifest",
    "TableExport",
    "central_summary",
    "export_site",
    "import_site",
    "open_central",
    "read_manifest",
]

MANIFEST = "manifest.json"
FORMAT: Literal["indagent-site-export"] = "indagent-site-export"
SITES_TABLE = "central_sites"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_ ,()\[\]]{0,200}$")
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_SKIP = frozenset({"_migrations"})


class ColumnSpec(BaseModel):
    """One column of an exported table."""

    name: str
    type: str


class TableExport(BaseModel):
    """One exported table: its Parquet file, schema, primary key, row count and checksum."""

    name: str
    file: str
    rows: int
    columns: list[ColumnSpec]
    primary_key: list[str] = Field(default_factory=list)
    sha256: str


class SiteManifest(BaseModel):
    """``manifest.json`` of a site export."""

    format: Literal["indagent-site-export"] = FORMAT
    version: Literal[1] = 1
    site: str = Field(description="The site node id (e.g. 'SITE-1').")
    site_name: str | None = None
    exported_at: datetime
    source: str = Field(description="The DuckDB file exported.")
    migrations: list[str] = Field(default_factory=list, description="Schema migrations the source had.")
    tables: list[TableExport]


class SiteImport(BaseModel):
    """What :func:`import_site` loaded."""

    site: str = Field(description="The site name in the central file.")
    source_site: str = Field(description="The site id in the export.")
    central: str
    rows: dict[str, int]
    replaced: bool = Field(description="The site was imported before; its old rows were replaced.")
    added_columns: list[str] = Field(default_factory=list, description="'table.column' added to central tables.")


class SiteInfo(BaseModel):
    """One site in the central file."""

    site: str
    source_site: str
    site_name: str | None
    exported_at: datetime
    imported_at: datetime
    source: str
    rows: dict[str, int]


class CentralSummary(BaseModel):
    """The sites of a central file, with row counts per table."""

    central: str
    sites: list[SiteInfo]
    totals: dict[str, int]


def _check_ident(name: str, what: str) -> str:
    if not _IDENT.match(name):
        raise ConfigError(f"Invalid {what} {name!r} in the export (lower-case letters, digits, '_'); "
                          "the manifest was edited or is not an indagent export.")
    return name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _site_of(store: KnowledgeStore, site: str | None) -> tuple[str, str | None]:
    sites = store.query("SELECT id, name FROM nodes WHERE kind = 'site' ORDER BY id")
    if site is not None:
        named = [s for s in sites if s["id"] == site]
        return site, named[0]["name"] if named else None
    if len(sites) != 1:
        ids = [s["id"] for s in sites]
        raise ConfigError(f"The knowledge graph has {len(ids)} site nodes {ids[:5]}; say which one with --site ID.")
    return str(sites[0]["id"]), sites[0]["name"]


def export_site(store: KnowledgeStore, out_dir: Path, *, site: str | None = None,
                now: datetime | None = None) -> SiteManifest:
    """Write every table of a site's knowledge graph to Parquet in ``out_dir``, with ``manifest.json``.

    Args:
        store: The site's knowledge graph (read-only is enough).
        out_dir: Target directory (created; must not already hold an export).
        site: The site id when the graph has several site nodes (default: its only one).
        now: Export timestamp (default: the current UTC time).
    """
    site_id, site_name = _site_of(store, site)
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / MANIFEST).exists():
        raise ConfigError(f"{out_dir} already holds a site export; export into an empty directory.")
    cur = store.cursor()
    tables: list[TableExport] = []
    try:
        cur.execute("BEGIN TRANSACTION")  # one snapshot for every table
        names = [r[0] for r in cur.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT temporary ORDER BY table_name"
        ).fetchall() if r[0] not in _SKIP]
        for name in names:
            _check_ident(name, "table name")
            cols = [ColumnSpec(name=c, type=t) for c, t in cur.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ? "
                "ORDER BY column_index", [name]).fetchall()]
            pk_rows = cur.execute(
                "SELECT constraint_column_names FROM duckdb_constraints() WHERE schema_name = 'main' "
                "AND table_name = ? AND constraint_type = 'PRIMARY KEY'", [name]).fetchall()
            order = ", ".join(f'"{c.name}"' for c in cols)
            target = out_dir / f"{name}.parquet"
            cur.execute(f"COPY (SELECT * FROM \"{name}\" ORDER BY {order}) TO '{_sql_path(target)}' "
                        "(FORMAT parquet, COMPRESSION zstd)")
            rows = int(cur.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])  # type: ignore[index]
            tables.append(TableExport(name=name, file=target.name, rows=rows, columns=cols,
                                      primary_key=list(pk_rows[0][0]) if pk_rows else [], sha256=_sha256(target)))
        migrations = [r[0] for r in cur.execute("SELECT name FROM _migrations ORDER BY name").fetchall()] \
            if "_migrations" in {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()} else []
        cur.execute("COMMIT")
    finally:
        cur.close()
    manifest = SiteManifest(site=site_id, site_name=site_name, exported_at=now or datetime.now(UTC).replace(tzinfo=None),
                            source=store.path, migrations=migrations, tables=tables)
    (out_dir / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return manifest


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def read_manifest(export_dir: Path, *, verify: bool = True) -> SiteManifest:
    """Read (and, with ``verify``, check the files of) a site export.

    Raises:
        ConfigError: no manifest, a malformed one, a missing file or a checksum mismatch.
    """
    path = export_dir / MANIFEST
    if not path.exists():
        raise ConfigError(f"No {MANIFEST} in {export_dir}; point at a directory written by 'indagent kg export-site'.")
    try:
        manifest = SiteManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: not an indagent site export ({'.'.join(map(str, err['loc']))}: {err['msg']}).") from None
    for t in manifest.tables:
        _check_ident(t.name, "table name")
        for col in [*(c.name for c in t.columns), *t.primary_key]:
            _check_ident(col, f"column name of {t.name}")
        bad = [c.type for c in t.columns if not _TYPE.match(c.type)]
        if bad:
            raise ConfigError(f"{path}: table {t.name} has an invalid column type {bad[0]!r}; export the site again.")
        if t.file != f"{t.name}.parquet":
            raise ConfigError(f"{path}: table {t.name} points at {t.file!r}; expected '{t.name}.parquet'.")
        f = export_dir / t.file
        if not f.exists():
            raise ConfigError(f"{f} is missing; copy the whole export directory.")
        if verify and _sha256(f) != t.sha256:
            raise ConfigError(f"{f} does not match its checksum in {MANIFEST} (damaged or changed); export the site again.")
    return manifest


def open_central(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open (creating when missing, unless read-only) a central file; refuse a per-site knowledge graph."""
    if read_only and not path.exists():
        raise ConfigError(f"No central file {path}; import a site first ('indagent kg import-site DIR').")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise ConfigError(f"Cannot open central file {path}: {exc}. Is another process writing it?") from exc
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "_migrations" in names and SITES_TABLE not in names:
        con.close()
        raise ConfigError(f"{path} is a site knowledge graph, not a central file; import into another file (--into).")
    if not read_only:
        con.execute(f"CREATE TABLE IF NOT EXISTS {SITES_TABLE} (site TEXT PRIMARY KEY, source_site TEXT NOT NULL, "
                    "site_name TEXT, exported_at TIMESTAMP, imported_at TIMESTAMP NOT NULL, source TEXT, "
                    "manifest JSON NOT NULL)")
    return con


def _central_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {c: t for c, t in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = ?",
        [table]).fetchall()}


def _prepare_table(con: duckdb.DuckDBPyConnection, t: TableExport) -> list[str]:
    """Create the central table for ``t`` (site column first, key ``(site, ...)``), or add new columns."""
    have = _central_columns(con, t.name)
    if not have:
        cols = ", ".join(f'"{c.name}" {c.type}' for c in t.columns)
        key = ", ".join(["site", *(f'"{k}"' for k in t.primary_key)])
        pk = f", PRIMARY KEY ({key})" if t.primary_key else ""  # keyless tables (readings) stay keyless
        con.execute(f'CREATE TABLE "{t.name}" (site TEXT NOT NULL, {cols}{pk})')
        return []
    if "site" not in have:
        raise ConfigError(f"Central table {t.name!r} has no 'site' column; this is not a central file.")
    added = []
    for c in t.columns:
        if c.name not in have:
            con.execute(f'ALTER TABLE "{t.name}" ADD COLUMN "{c.name}" {c.type}')
            added.append(f"{t.name}.{c.name}")
        elif have[c.name] != c.type:
            raise ConfigError(f"Column {t.name}.{c.name} is {c.type} in the export but {have[c.name]} in the central "
                              "file; migrate the site (indagent kg init) and export it again.")
    return added


def import_site(central: Path, export_dir: Path, *, site: str | None = None,
                now: datetime | None = None) -> SiteImport:
    """Load a site export into the central file (one transaction; a re-import replaces the site's rows).

    Args:
        central: The central DuckDB file (created when missing).
        export_dir: A directory written by :func:`export_site`.
        site: Name of the site in the central file (default: the site id of the export). Needed when
            two plants share a site id (e.g. two demo plants, both 'SITE-1').
        now: Import timestamp (default: the current UTC time).
    """
    manifest = read_manifest(export_dir)
    name = site or manifest.site
    if not _SITE.match(name):
        raise ConfigError(f"Invalid site name {name!r}; use letters, digits and '_.:-' (at most 64), e.g. --site PLANT-B.")
    con = open_central(central)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            replaced = con.execute(f"SELECT count(*) FROM {SITES_TABLE} WHERE site = ?", [name]).fetchone()[0] > 0  # type: ignore[index]
            added: list[str] = []
            rows: dict[str, int] = {}
            for t in manifest.tables:
                added += _prepare_table(con, t)
            for table in _site_tables(con):  # the site's old rows go, including tables this export lacks
                con.execute(f'DELETE FROM "{table}" WHERE site = ?', [name])
            for t in manifest.tables:
                cols = ", ".join(f'"{c.name}"' for c in t.columns)
                con.execute(f'INSERT INTO "{t.name}" (site, {cols}) SELECT ?, {cols} FROM read_parquet(?)',
                            [name, str((export_dir / t.file).resolve())])
                got = con.execute(f'SELECT count(*) FROM "{t.name}" WHERE site = ?', [name]).fetchone()[0]  # type: ignore[index]
                if got != t.rows:
                    raise ConfigError(f"{t.file}: {got} rows loaded, the manifest says {t.rows}; export the site again.")
                rows[t.name] = int(got)
            con.execute(f"DELETE FROM {SITES_TABLE} WHERE site = ?", [name])
            con.execute(f"INSERT INTO {SITES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [name, manifest.site, manifest.site_name, manifest.exported_at,
                         now or datetime.now(UTC).replace(tzinfo=None), str(export_dir.resolve()),
                         manifest.model_dump_json()])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except duckdb.Error as exc:
        raise ConfigError(f"Import of {export_dir} into {central} failed and was rolled back: {exc}") from None
    finally:
        con.close()
    return SiteImport(site=name, source_site=manifest.site, central=str(central), rows=rows, replaced=replaced,
                      added_columns=added)


def _site_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Central tables that hold per-site rows (every table with a ``site`` column but the site list)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT table_name FROM duckdb_columns() WHERE schema_name = 'main' AND column_name = 'site' "
        "AND table_name <> ? ORDER BY table_name", [SITES_TABLE]).fetchall()]


def central_summary(central: Path) -> CentralSummary:
    """The sites in a central file and their row counts per table."""
    con = open_central(central, read_only=True)
    try:
        tables = _site_tables(con)
        counts: dict[str, dict[str, int]] = {}
        for table in tables:
            for s, n in con.execute(f'SELECT site, count(*) FROM "{table}" GROUP BY site').fetchall():
                counts.setdefault(s, {})[table] = int(n)
        sites = [
            SiteInfo(site=r[0], source_site=r[1], site_name=r[2], exported_at=r[3], imported_at=r[4], source=r[5],
                     rows={t: counts.get(r[0], {}).get(t, 0) for t in tables})
            for r in con.execute(f"SELECT site, source_site, site_name, exported_at, imported_at, source "
                                 f"FROM {SITES_TABLE} ORDER BY site").fetchall()
        ]
    finally:
        con.close()
    totals = {t: sum(s.rows.get(t, 0) for s in sites) for t in tables}
    return CentralSummary(central=str(central), sites=sites, totals=totals)


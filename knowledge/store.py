"""The DuckDB knowledge store: open, migrate, transactions, read-only access.

One process writes (the server or the CLI command in use); readers open the file read-only.
Migrations are numbered SQL files in ``knowledge/migrations`` (``m001_initial.sql``, ...),
applied in order once each and recorded in ``_migrations``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from tools.errors import ConfigError

__all__ = ["KnowledgeStore", "migrations"]


def migrations() -> list[tuple[str, str]]:
    """The (name, sql) migrations shipped with the package, in order."""
    root = resources.files("knowledge") / "migrations"
    files = sorted(p for p in root.iterdir() if p.name.startswith("m") and p.name.endswith(".sql"))
    return [(p.name.removesuffix(".sql"), p.read_text(encoding="utf-8")) for p in files]


class KnowledgeStore:
    """A handle on the plant knowledge graph (one DuckDB file, or ``:memory:``).

    Args:
        path: The DuckDB file; created (and migrated) when missing unless read-only.
        read_only: Open read-only: no writes are possible through this handle.
    """

    def __init__(self, path: str | Path = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        if self.path != ":memory:":
            p = Path(self.path)
            if read_only and not p.exists():
                raise ConfigError(f"Knowledge graph {p} does not exist; run 'indagent kg init' (or 'kg demo') first.")
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            raise ConfigError(f"Cannot open knowledge graph {self.path}: {exc}. Is another process writing it?") from exc
        self._lock = threading.RLock()
        if not read_only:
            self.migrate()

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied (idempotent)."""
        with self._lock:
            self.con.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP)"
            )
            done = {r[0] for r in self.con.execute("SELECT name FROM _migrations").fetchall()}
            applied = []
            for name, sql in migrations():
                if name in done:
                    continue
                with self.transaction():
                    self.con.execute(sql)
                    self.con.execute(
                        "INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(UTC).replace(tzinfo=None)]
                    )
                applied.append(name)
            return applied

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this store has."""
        return [r[0] for r in self.con.execute("SELECT name FROM _migrations ORDER BY name").fetchall()]

    # -- access --------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction: everything inside commits together or not at all."""
        if self.read_only:
            raise ConfigError("This knowledge store handle is read-only; writes need the writer process.")
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield self.con
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            else:
                self.con.execute("COMMIT")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the same database, for use from another thread."""
        return self.con.cursor()

    def query(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement and return rows as dicts (thread-safe via a fresh cursor)."""
        cur = self.con.cursor()
        try:
            rel = cur.execute(sql, params or [])
            cols = [d[0] for d in rel.description] if rel.description else []
            return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]
        finally:
            cur.close()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run one statement and return the first column of the first row (or None)."""
        cur = self.con.cursor()
        try:
            row = cur.execute(sql, params or []).fetchone()
            return row[0] if row else None
        finally:
            cur.close()

"""Checkpointers behind ``BaseCheckpointSaver``: SQLite file by default, Postgres by URL.

Postgres (``INDAGENT_CHECKPOINT_URL=postgresql://user:pw@host:5432/db``) is what several API
worker processes share: each opens a small psycopg connection pool, and the schema migrations
of langgraph-checkpoint-postgres run once, under a Postgres advisory lock, so workers that start
at the same moment do not race on ``CREATE TABLE`` / the migrations table.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from tools.errors import ConfigError

__all__ = ["SETUP_LOCK_KEY", "libpq_url", "open_checkpointer"]

#: ``pg_advisory_lock`` key held while the checkpoint tables are created/migrated ("indagent" in ASCII).
SETUP_LOCK_KEY = 0x696E646167656E74 & 0x7FFFFFFFFFFFFFFF
_PG_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://")


def libpq_url(url: str) -> str:
    """The libpq form of a Postgres URL (SQLAlchemy's ``postgresql+psycopg://`` driver tag removed).

    Raises:
        ConfigError: ``url`` is not a Postgres URL.
    """
    if not url.startswith(_PG_PREFIXES):
        raise ConfigError(f"Unsupported INDAGENT_CHECKPOINT_URL {url!r}; use postgresql://user:pw@host:5432/db.")
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}" if "+" in scheme or scheme == "postgres" else url


@contextmanager
def _postgres(url: str, *, pool_size: int, setup_timeout_s: float) -> Iterator[BaseCheckpointSaver]:
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise ConfigError(
            "Postgres checkpoints need: pip install langgraph-checkpoint-postgres 'psycopg[binary]' psycopg-pool"
        ) from None
    conninfo = libpq_url(url)
    try:
        lock_conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"Cannot reach the checkpoint database ({exc}); check INDAGENT_CHECKPOINT_URL.") from None
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    with lock_conn, ConnectionPool(conninfo, min_size=1, max_size=pool_size, kwargs=kwargs, open=True,
                                   timeout=30) as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        if not _migrated(lock_conn, len(saver.MIGRATIONS)):
            _setup_locked(lock_conn, saver.setup, timeout_s=setup_timeout_s)
        yield saver


def _migrated(conn: Any, n_migrations: int) -> bool:
    """Whether every checkpoint migration is applied already (the usual case: no lock needed)."""
    import psycopg

    try:
        row = conn.execute("SELECT max(v) FROM checkpoint_migrations").fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    return row is not None and row[0] is not None and int(row[0]) >= n_migrations - 1


def _setup_locked(conn: Any, setup: Callable[[], None], *, timeout_s: float) -> None:
    """Run ``setup`` while holding the advisory lock, taken by polling ``pg_try_advisory_lock``.

    A blocking ``pg_advisory_lock`` would hold a snapshot while it waits, and the migrations'
    ``CREATE INDEX CONCURRENTLY`` (run by the lock holder) waits for every older snapshot: a
    deadlock Postgres does not detect. Between polls this session holds no snapshot.
    """
    deadline = time.monotonic() + timeout_s
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK_KEY,)).fetchone()[0]:
        if time.monotonic() > deadline:
            raise ConfigError(f"Another process held the checkpoint setup lock for over {timeout_s:g} s; "
                              "look for a stuck indagent process on this database (pg_locks, locktype 'advisory').")
        time.sleep(0.05)
    try:
        setup()
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


@contextmanager
def open_checkpointer(*, path: Path | None = None, url: str | None = None,
                      pool_size: int = 8, setup_timeout_s: float = 120.0) -> Iterator[BaseCheckpointSaver]:
    """Open the configured checkpointer (closed on exit).

    Args:
        path: SQLite file (default store), created when missing.
        url: ``postgresql://...`` to use langgraph-checkpoint-postgres instead (shared by every worker).
        pool_size: Most Postgres connections this process opens (concurrent turns beyond it wait).
        setup_timeout_s: Longest wait for another process creating/migrating the Postgres tables.
    """
    if url:
        with _postgres(url, pool_size=pool_size, setup_timeout_s=setup_timeout_s) as saver:
            yield saver
        return
    if path is None:
        raise ConfigError("No checkpoint path or URL given.")
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()  # turns WAL on
        # WAL + NORMAL: a commit survives a crash of this process (only an OS crash or power cut can lose the
        # last commits), without an fsync per commit: ~7 commits per turn took 4 ms each on a busy disk.
        conn.execute("PRAGMA synchronous=NORMAL")
        yield saver
    finally:
        conn.close()

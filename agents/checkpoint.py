"""Checkpointers behind ``BaseCheckpointSaver``: SQLite file by default, Postgres by URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

from tools.errors import ConfigError

__all__ = ["open_checkpointer"]


@contextmanager
def open_checkpointer(*, path: Path | None = None, url: str | None = None) -> Iterator[BaseCheckpointSaver]:
    """Open the configured checkpointer (closed on exit).

    Args:
        path: SQLite file (default store), created when missing.
        url: ``postgresql://...`` to use langgraph-checkpoint-postgres instead.
    """
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"Unsupported INDAGENT_CHECKPOINT_URL {url!r}; use postgresql://user:pw@host/db.")
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError:
            raise ConfigError("Postgres checkpoints need: pip install langgraph-checkpoint-postgres") from None
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver
        return
    if path is None:
        raise ConfigError("No checkpoint path or URL given.")
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()

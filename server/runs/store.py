"""The runs database: schedules, runs, firing claims and live workers (SQLAlchemy Core).

One database holds everything the scheduled-run workers share: APScheduler's job table
(``apscheduler_jobs``) and the tables below. By default it is the SQLite file
``<data_dir>/runs.sqlite``; ``INDAGENT_JOBSTORE_URL`` may point at another SQLAlchemy URL
(e.g. Postgres) used the same way by every process.

Exactly-once firing across processes rests on two atomic statements in one transaction
(:meth:`RunStore.claim`): an INSERT into ``run_claims`` whose primary key is
``(schedule_id, fire_time)`` (the second process to fire the same time gets an integrity
error), and a compare-and-set of ``schedules.running_run_id`` (at most one run per schedule at
a time, across processes). On SQLite every transaction starts with ``BEGIN IMMEDIATE``, so
concurrent writers queue on the busy timeout instead of failing on a stale snapshot.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from server.runs.models import (
    ACTIVE_RUN_STATUSES,
    LoopSpec,
    RunKind,
    RunNotFound,
    RunRecord,
    RunStatus,
    Schedule,
    ScheduleStatus,
    TriggerKind,
    WorkerInfo,
    new_run_id,
    new_schedule_id,
    to_naive_utc,
    utcnow,
)
from tools.errors import ConfigError, did_you_mean

__all__ = [
    "LoopSpec",
    "RunKind",
    "RunNotFound",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "Schedule",
    "ScheduleStatus",
    "TriggerKind",
    "WorkerInfo",
    "engine_url",
    "new_run_id",
    "new_schedule_id",
    "to_naive_utc",
    "utcnow",
]

_meta = MetaData()
_schedules = Table(
    "schedules", _meta,
    Column("id", String(64), primary_key=True),
    Column("goal", Text, nullable=False),
    Column("policy", String(40), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("kind", String(16), nullable=False, server_default="goal"),
    Column("loop", Text),
    Column("cron", String(120)),
    Column("every_s", String(32)),
    Column("model", String(120), nullable=False, default="auto"),
    Column("tz", String(64), nullable=False, default="UTC"),
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at", DateTime, nullable=False),
    Column("created_by", String(120), nullable=False, default="cli"),
    Column("running_run_id", String(64)),
)
_runs = Table(
    "runs", _meta,
    Column("id", String(64), primary_key=True),
    Column("schedule_id", String(64), index=True),
    Column("kind", String(16), nullable=False, server_default="goal"),
    Column("loop", Text),
    Column("goal", Text, nullable=False),
    Column("policy", String(40), nullable=False),
    Column("model", String(120), nullable=False, default="auto"),
    Column("status", String(24), nullable=False, index=True),
    Column("trigger", String(16), nullable=False),
    Column("fire_time", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("owner", String(160)),
    Column("thread_id", String(64), nullable=False),
    Column("trace", Text),
    Column("decisions", Text),
    Column("pending_approvals", Text),
    Column("report_md", Text),
    Column("report_html", Text),
    Column("error", Text),
    Column("resumable", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
)
_claims = Table(
    "run_claims", _meta,
    Column("schedule_id", String(64), primary_key=True),
    Column("fire_time", DateTime, primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("worker_id", String(160), nullable=False),
    Column("claimed_at", DateTime, nullable=False),
)
_workers = Table(
    "run_workers", _meta,
    Column("id", String(160), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("heartbeat_at", DateTime, nullable=False),
)
_JSON_COLUMNS = ("trace", "decisions", "pending_approvals")


def _run_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values of run fields: JSON columns encoded, ``resumable`` as 0/1."""
    vals = {k: (json.dumps(v, default=str) if k in _JSON_COLUMNS and v is not None else v) for k, v in fields.items()}
    if "resumable" in vals:
        vals["resumable"] = int(bool(vals["resumable"]))
    return vals
#: Columns added after the first release: ``(table, column, DDL type)``, added to older databases on open.
_ADDED_COLUMNS = (("schedules", "kind", "VARCHAR(16) NOT NULL DEFAULT 'goal'"), ("schedules", "loop", "TEXT"),
                  ("runs", "kind", "VARCHAR(16) NOT NULL DEFAULT 'goal'"), ("runs", "loop", "TEXT"))


#: ``pg_advisory_xact_lock`` key held while the tables are created ("runstore" in ASCII).
SCHEMA_LOCK_KEY = 0x72756E73746F7265


def engine_url(url: str) -> str:
    """The SQLAlchemy URL to open: a plain ``postgresql://`` URL gets the installed psycopg 3 driver.

    SQLAlchemy maps ``postgresql://`` to psycopg2, which indagent does not depend on; the same
    URL the checkpointer takes (libpq form) therefore works for the job store too.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a 30 s busy timeout and ``BEGIN IMMEDIATE`` transactions."""
    if not url.startswith("sqlite"):
        return create_engine(engine_url(url), pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """Schedules, runs, claims and workers in the shared runs database."""

    def __init__(self, url: str) -> None:
        """Open (and create the tables of) the database at ``url``."""
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = open_engine(url)
        self._create_tables()

    def _create_tables(self) -> None:
        """Create the tables (ours and APScheduler's ``apscheduler_jobs``) when missing.

        On Postgres, workers starting together would race between "does the table exist?" and
        ``CREATE TABLE`` (duplicate-type errors), so creation runs under a transaction-scoped
        advisory lock; SQLite serializes it with ``BEGIN IMMEDIATE`` already.
        """
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        jobs_t = SQLAlchemyJobStore(engine=self.engine).jobs_t
        deadline = time.monotonic() + 120
        with self._tx() as conn:
            # polled, not blocking: a session waiting in pg_advisory_xact_lock holds a snapshot, which
            # the checkpointer's CREATE INDEX CONCURRENTLY (another process, same database) waits for
            while self.engine.dialect.name == "postgresql" and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY}).scalar():
                if time.monotonic() > deadline:
                    raise ConfigError("Another process held the runs-database schema lock for over 120 s; look for "
                                      "a stuck indagent process on INDAGENT_JOBSTORE_URL (pg_locks, 'advisory').")
                time.sleep(0.05)
            _meta.create_all(conn)
            jobs_t.create(conn, checkfirst=True)
            _add_missing_columns(conn)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.engine.begin() as conn:
            yield conn

    # schedules --------------------------------------------------------------------------------
    def add_schedule(self, sched: Schedule) -> Schedule:
        """Insert a schedule row."""
        row = sched.model_dump(exclude={"next_fire_time"})
        row["every_s"] = None if sched.every_s is None else repr(float(sched.every_s))
        row["loop"] = sched.loop.model_dump_json() if sched.loop is not None else None
        with self._tx() as conn:
            conn.execute(insert(_schedules).values(**row))
        return sched

    def _get(self, table: Table, item_id: str, what: str) -> Any:
        with self._tx() as conn:
            row = conn.execute(select(table).where(table.c.id == item_id)).mappings().first()
            if row is None:
                known = list(conn.execute(select(table.c.id)).scalars())
                raise RunNotFound(did_you_mean(item_id, known, what=what) + " (see 'indagent runs list')")
        return row

    def get_schedule(self, schedule_id: str) -> Schedule:
        """The schedule ``schedule_id`` (RunNotFound lists similar ids)."""
        return _schedule(self._get(_schedules, schedule_id, "schedule"))

    def list_schedules(self, *, include_cancelled: bool = False) -> list[Schedule]:
        """All schedules, oldest first."""
        q = select(_schedules).order_by(_schedules.c.created_at, _schedules.c.id)
        if not include_cancelled:
            q = q.where(_schedules.c.status == "active")
        with self._tx() as conn:
            return [_schedule(r) for r in conn.execute(q).mappings()]

    def delete_schedule(self, schedule_id: str) -> None:
        """Remove a schedule row (only used to undo a schedule whose job could not be stored)."""
        with self._tx() as conn:
            conn.execute(_schedules.delete().where(_schedules.c.id == schedule_id))

    def set_schedule_status(self, schedule_id: str, status: ScheduleStatus) -> None:
        """Mark a schedule active or cancelled."""
        with self._tx() as conn:
            conn.execute(update(_schedules).where(_schedules.c.id == schedule_id).values(status=status))

    # claims -----------------------------------------------------------------------------------
    def claim(self, run: RunRecord, *, worker_id: str) -> bool:
        """Atomically claim a firing (or a manual run) of ``run.schedule_id`` and insert ``run`` as running.

        Returns False (and writes nothing) when another worker already claimed this fire time,
        or a run of the same schedule is still in progress anywhere.
        """
        now = utcnow()
        try:
            with self._tx() as conn:
                if run.schedule_id is not None and run.fire_time is not None:
                    conn.execute(insert(_claims).values(
                        schedule_id=run.schedule_id, fire_time=run.fire_time, run_id=run.id, worker_id=worker_id,
                        claimed_at=now,
                    ))
                if run.schedule_id is not None:
                    got = conn.execute(
                        update(_schedules)
                        .where(_schedules.c.id == run.schedule_id, _schedules.c.running_run_id.is_(None),
                               _schedules.c.status == "active")
                        .values(running_run_id=run.id)
                    ).rowcount
                    if got != 1:
                        raise _Busy
                conn.execute(insert(_runs).values(**_run_row(run.model_copy(update={
                    "status": "running", "owner": worker_id, "started_at": now, "attempts": run.attempts + 1,
                }))))
        except (IntegrityError, _Busy):
            return False
        return True

    def supersede_waiting(self, schedule_id: str, by_run_id: str) -> list[str]:
        """Cancel the schedule's older runs still waiting for approval: the newest proposal replaces them."""
        q = select(_runs.c.id).where(_runs.c.schedule_id == schedule_id, _runs.c.status == "waiting_approval",
                                     _runs.c.id != by_run_id)
        with self._tx() as conn:
            ids = list(conn.execute(q).scalars())
        return [rid for rid in ids if self.set_status_if(
            rid, ("waiting_approval",), status="cancelled", finished_at=utcnow(), pending_approvals=[],
            error=f"superseded by {by_run_id}, a newer proposal of the same schedule (nothing was applied)")]

    def claims_for(self, schedule_id: str) -> list[tuple[datetime, str]]:
        """``(fire_time, run_id)`` of every claimed firing of a schedule."""
        q = select(_claims.c.fire_time, _claims.c.run_id).where(_claims.c.schedule_id == schedule_id)
        with self._tx() as conn:
            return [(r[0], r[1]) for r in conn.execute(q.order_by(_claims.c.fire_time))]

    def release(self, schedule_id: str | None, run_id: str) -> None:
        """Free the schedule's one-run-at-a-time slot held by ``run_id``."""
        if schedule_id is None:
            return
        with self._tx() as conn:
            conn.execute(update(_schedules).where(_schedules.c.id == schedule_id, _schedules.c.running_run_id == run_id)
                         .values(running_run_id=None))

    def acquire(self, schedule_id: str, run_id: str) -> bool:
        """Take the schedule's one-run-at-a-time slot for an existing run (resume / approval)."""
        with self._tx() as conn:
            return conn.execute(
                update(_schedules).where(_schedules.c.id == schedule_id, _schedules.c.running_run_id.is_(None))
                .values(running_run_id=run_id)
            ).rowcount == 1

    # runs -------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id`` (RunNotFound lists similar ids)."""
        return _run(self._get(_runs, run_id, "run"))

    def find_by_thread(self, thread_id: str) -> RunRecord | None:
        """The run that owns a checkpoint thread (approval routes use it to resume through the run)."""
        with self._tx() as conn:
            row = conn.execute(select(_runs).where(_runs.c.thread_id == thread_id)).mappings().first()
        return _run(row) if row is not None else None

    def list_runs(self, *, schedule_id: str | None = None, status: RunStatus | None = None,
                  limit: int = 50) -> list[RunRecord]:
        """Runs, newest first."""
        q = select(_runs).order_by(_runs.c.created_at.desc(), _runs.c.id).limit(limit)
        if schedule_id is not None:
            q = q.where(_runs.c.schedule_id == schedule_id)
        if status is not None:
            q = q.where(_runs.c.status == status)
        with self._tx() as conn:
            return [_run(r) for r in conn.execute(q).mappings()]

    def queued_decisions(self) -> list[tuple[str, dict[str, Any]]]:
        """``(run id, decision)`` of the loop runs waiting for approval with a queued decision, oldest first."""
        waiting = (_runs.c.kind == "loop", _runs.c.status == "waiting_approval")
        q = (select(_runs.c.id, _runs.c.pending_approvals)
             .where(*waiting, _runs.c.pending_approvals.contains("queued_decision"))
             .order_by(_runs.c.created_at, _runs.c.id))  # fmt: skip
        with self._tx() as conn:
            rows = [(r.id, json.loads(r.pending_approvals or "[]")) for r in conn.execute(q)]
        return [(rid, pending[0]["queued_decision"]) for rid, pending in rows if pending and pending[0].get("queued_decision")]

    def update_run(self, run_id: str, **fields: Any) -> RunRecord:
        """Set fields of a run (JSON fields as Python values) and return it."""
        with self._tx() as conn:
            conn.execute(update(_runs).where(_runs.c.id == run_id).values(**_run_values(fields)))
        return self.get_run(run_id)

    def set_status_if(self, run_id: str, expected: tuple[RunStatus, ...], **fields: Any) -> bool:
        """Compare-and-set: update the run only while its status is one of ``expected`` (fields as in :meth:`update_run`)."""
        with self._tx() as conn:
            return conn.execute(
                update(_runs).where(_runs.c.id == run_id, _runs.c.status.in_(expected)).values(**_run_values(fields))
            ).rowcount == 1

    # workers ----------------------------------------------------------------------------------
    def register_worker(self, *, worker_id: str | None = None) -> WorkerInfo:
        """Record this process as a live worker and return it."""
        now = utcnow()
        host, pid = socket.gethostname(), os.getpid()
        info = WorkerInfo(id=worker_id or f"{host}:{pid}:{uuid.uuid4().hex[:6]}", host=host, pid=pid,
                          started_at=now, heartbeat_at=now)
        with self._tx() as conn:
            conn.execute(insert(_workers).values(**info.model_dump()))
        return info

    def heartbeat(self, worker_id: str) -> None:
        """Refresh a worker's heartbeat."""
        with self._tx() as conn:
            conn.execute(update(_workers).where(_workers.c.id == worker_id).values(heartbeat_at=utcnow()))

    def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped cleanly."""
        with self._tx() as conn:
            conn.execute(_workers.delete().where(_workers.c.id == worker_id))

    def worker_alive(self, worker_id: str | None, *, stale_after_s: float) -> bool:
        """Whether a worker still lives: fresh heartbeat, and on this host also a live pid."""
        if worker_id is None:
            return False
        with self._tx() as conn:
            row = conn.execute(select(_workers).where(_workers.c.id == worker_id)).mappings().first()
        if row is None:
            return False
        if row["host"] == socket.gethostname() and not _pid_alive(int(row["pid"])):
            return False
        return bool(row["heartbeat_at"] >= utcnow() - timedelta(seconds=stale_after_s))

    def recover_orphans(self, *, stale_after_s: float) -> list[RunRecord]:
        """Mark runs whose owner died (crash, kill -9, power loss) failed and resumable; free their schedules."""
        with self._tx() as conn:
            rows = list(conn.execute(select(_runs).where(_runs.c.status.in_(ACTIVE_RUN_STATUSES))).mappings())
        failed = []
        for row in rows:
            run = _run(row)
            if self.worker_alive(run.owner, stale_after_s=stale_after_s):
                continue
            msg = (f"interrupted: worker {run.owner} stopped while the run was {run.status}; "
                   f"resume it from its checkpoint thread with 'indagent runs resume {run.id}'.")
            if self.set_status_if(run.id, ACTIVE_RUN_STATUSES, status="failed", error=msg, resumable=1,
                                  finished_at=utcnow()):
                self.release(run.schedule_id, run.id)
                failed.append(self.get_run(run.id))
        return failed


def _add_missing_columns(conn: Any) -> None:
    """Bring a runs database of an older release up to date (``ALTER TABLE ... ADD COLUMN``)."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    for table, column, ddl in _ADDED_COLUMNS:
        if column not in {c["name"] for c in insp.get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


class _Busy(Exception):
    """The schedule already has a run in progress."""


def _schedule(row: Any) -> Schedule:
    d = dict(row)
    d["every_s"] = float(d["every_s"]) if d.get("every_s") else None
    d["loop"] = json.loads(d["loop"]) if d.get("loop") else None
    return Schedule.model_validate(d)


def _run(row: Any) -> RunRecord:
    d = dict(row)
    d["loop"] = json.loads(d["loop"]) if d.get("loop") else None
    for k in _JSON_COLUMNS:
        d[k] = json.loads(d[k]) if d.get(k) else (None if k == "trace" else [])
    d["resumable"] = bool(d.get("resumable"))
    return RunRecord.model_validate(d)


def _run_row(run: RunRecord) -> dict[str, Any]:
    d = run.model_dump()
    for k in _JSON_COLUMNS:
        d[k] = json.dumps(d[k], default=str) if d[k] is not None else None
    d["resumable"] = int(run.resumable)
    d["loop"] = run.loop.model_dump_json() if run.loop is not None else None
    return d

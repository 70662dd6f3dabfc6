"""A throwaway PostgreSQL cluster for tests and benches: initdb in a temp dir, ``postgres`` on 127.0.0.1.

Uses Debian's server binaries (``apt-get install -y postgresql``: ``/usr/lib/postgresql/<v>/bin``)
or ``initdb``/``postgres`` on PATH. PostgreSQL refuses to run as root, so under root the cluster
belongs to the ``postgres`` system user (created by the Debian package) and both programs run as
that user; otherwise as the current user. Authentication is ``trust`` on 127.0.0.1 only, durability
is off (``fsync=off``): this is a test database, never a deployment recipe.

Fixtures: ``pg_cluster`` (session: one server for the whole test session) and ``pg_url`` (a fresh
database per test). Import them into a test module: ``from tests.scaleout.pg import pg_cluster, pg_url``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PgCluster", "find_pg_bin", "pg_cluster", "pg_url", "postgres_cluster", "why_no_postgres"]

SUPERUSER = "indagent"


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (newest Debian version first), or None."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists():
            return Path(d)
    initdb, server = shutil.which("initdb"), shutil.which("postgres")
    if initdb and server:
        return Path(os.path.realpath(initdb)).parent
    return None


def _run_as() -> pwd.struct_passwd | None:
    """The user the server runs as when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def why_no_postgres() -> str | None:
    """Why a cluster cannot be started here (a skip reason), or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'psycopg[binary]' psycopg-pool langgraph-checkpoint-postgres"
    if find_pg_bin() is None:
        return "PostgreSQL server binaries (initdb, postgres) not found: apt-get install -y postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' system user to run the server as (apt-get install postgresql)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running throwaway cluster: connect as ``indagent`` (trust) to 127.0.0.1:``port``."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes]

    def url(self, dbname: str = "postgres") -> str:
        """A libpq URL (also accepted as ``INDAGENT_JOBSTORE_URL``)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, n: int = 20) -> str:
        """The last lines of the server log."""
        log = self.root / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""


def _popen_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextmanager
def postgres_cluster(*, start_timeout_s: float = 60.0) -> Iterator[PgCluster]:
    """initdb a cluster in a fresh temp dir, start it on 127.0.0.1 on a free port, stop and delete it on exit.

    Raises:
        RuntimeError: initdb failed, or the server did not accept connections within ``start_timeout_s``.
    """
    import psycopg

    reason = why_no_postgres()
    if reason:
        raise RuntimeError(reason)
    bindir = find_pg_bin()
    assert bindir is not None
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="indagent-pg-"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "HOME": str(root),
           "TZ": "UTC"}
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    proc: subprocess.Popen[bytes] | None = None
    try:
        init = subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale",
             "--no-sync"],
            cwd=root, env=env, capture_output=True, timeout=120, **_popen_user(user),
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.decode(errors='replace')[-800:]}")
        port = _free_port()
        log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below, after the server stopped
        if user is not None:
            os.chown(root / "server.log", user.pw_uid, user.pw_gid)
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(root),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, **_popen_user(user),
        )
        cluster = PgCluster(root=root, port=port, proc=proc)
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {proc.returncode}:\n{cluster.log_tail()}")
            try:
                with psycopg.connect(cluster.url(), connect_timeout=2):
                    break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not accept connections within {start_timeout_s} s:\n"
                                       f"{cluster.log_tail()}") from None
                time.sleep(0.2)
        yield cluster
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # "immediate" shutdown: a throwaway cluster needs no checkpoint
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc is not None:
            log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL server for the test session (skipped, with the reason, when it cannot run here)."""
    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database on the session's server (libpq URL)."""
    return pg_cluster.create_database()

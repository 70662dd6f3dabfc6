"""API keys, roles, audit log and request limits of the HTTP API.

Keys look like ``ik_<id>_<secret>``; only ``sha256(salt + secret)`` with a random per-key salt
is stored (the secret is 256 random bits, so a fast hash is enough; scrypt is for passwords).
Roles are ordered ``viewer < engineer < admin``. Everything lives in one SQLite file under the
data dir (``server.sqlite``) with numbered, idempotent migrations tracked in ``_migrations``.

Also here: the per-key token-bucket :class:`RateLimiter` and the ASGI :class:`EdgeMiddleware`
(body-size limit; audit entry for every mutating request, with its outcome).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from tools.errors import ToolRetry, did_you_mean

__all__ = [
    "MIGRATIONS",
    "ROLES",
    "ROLE_RANK",
    "AuditEntry",
    "EdgeMiddleware",
    "KeyInfo",
    "NewKey",
    "Principal",
    "RateLimiter",
    "Role",
    "ServerDB",
    "parse_bearer",
    "utc_now",
]

Role = Literal["viewer", "engineer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "engineer", "admin")
ROLE_RANK: dict[str, int] = {r: i for i, r in enumerate(ROLES)}
KEY_PREFIX = "ik_"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Numbered, idempotent migrations of the server database.
MIGRATIONS: list[tuple[str, str]] = [
    (
        "s001_keys_audit",
        """
        CREATE TABLE IF NOT EXISTS api_keys (
            id TEXT PRIMARY KEY, salt BLOB NOT NULL, hash BLOB NOT NULL, role TEXT NOT NULL,
            label TEXT, created_at TEXT NOT NULL, revoked_at TEXT
        );
        CREATE TABLE IF NOT EXISTS audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, actor TEXT NOT NULL, role TEXT,
            method TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
            status INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '{}', client TEXT
        );
        CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts);
        """,
    ),
    (
        "s002_approvals",
        """
        CREATE TABLE IF NOT EXISTS approvals (
            id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, call_id TEXT NOT NULL, tool TEXT NOT NULL,
            args TEXT NOT NULL, agent TEXT NOT NULL, description TEXT NOT NULL, requested_by TEXT NOT NULL,
            created_at TEXT NOT NULL, status TEXT NOT NULL, decided_by TEXT, decided_at TEXT, decision TEXT
        );
        CREATE INDEX IF NOT EXISTS approvals_status ON approvals(status);
        """,
    ),
]


def utc_now() -> str:
    """Naive UTC now in ISO format with milliseconds (the server database's timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


class Principal(BaseModel):
    """Who is calling: an API key (id + role), or the local developer when auth is off."""

    id: str
    role: Role
    via: Literal["key", "auth-off"] = "key"


class KeyInfo(BaseModel):
    """An API key as listed (never the secret)."""

    id: str
    role: Role
    label: str | None = None
    created_at: str
    revoked_at: str | None = None


class NewKey(BaseModel):
    """A freshly created key; ``key`` is shown once and never stored."""

    id: str
    key: str
    role: Role


class AuditEntry(BaseModel):
    """One audited action: who, what, when, outcome."""

    id: int
    ts: str
    actor: str
    role: str | None
    method: str
    path: str
    action: str
    outcome: Literal["ok", "denied", "rejected", "error"]
    status: int
    detail: dict[str, Any]
    client: str | None = None


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def parse_bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class ServerDB:
    """The server's SQLite file: keys, audit, approval index (thread-safe, one connection).

    Args:
        path: The SQLite file (created with its parent directory when missing).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._con.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the server process (the restart tests);
            # only an OS crash or power cut can lose the last commits. FULL would fsync on every
            # audit insert (~4-6 ms on the event loop per mutating request).
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.execute("PRAGMA busy_timeout=10000")
        self.migrate()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> ServerDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations not applied yet; returns their names."""
        done: list[str] = []
        with self._lock:
            self._con.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            have = {r[0] for r in self._con.execute("SELECT name FROM _migrations")}
            for name, sql in MIGRATIONS:
                if name in have:
                    continue
                self._con.execute("BEGIN IMMEDIATE")
                try:
                    if self._con.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                        self._con.execute("ROLLBACK")  # another worker applied it meanwhile
                        continue
                    for stmt in (s.strip() for s in sql.split(";")):
                        if stmt:
                            self._con.execute(stmt)
                    self._con.execute("INSERT INTO _migrations VALUES (?, ?)", (name, utc_now()))
                    self._con.execute("COMMIT")
                except BaseException:
                    self._con.execute("ROLLBACK")
                    raise
                done.append(name)
        return done

    def applied_migrations(self) -> list[str]:
        """Names of the applied migrations, in order."""
        return [r[0] for r in self.query("SELECT name FROM _migrations ORDER BY name")]

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Run a read statement; rows support ``row["col"]``."""
        with self._lock:
            return list(self._con.execute(sql, params))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run a write statement; returns the number of changed rows."""
        with self._lock:
            return self._con.execute(sql, params).rowcount

    # -- keys ----------------------------------------------------------------------------------
    def create_key(self, role: Role, *, label: str | None = None) -> NewKey:
        """Create a key with ``role``; the returned secret is not stored anywhere."""
        if role not in ROLE_RANK:
            raise ToolRetry(did_you_mean(str(role), ROLES, what="role"))
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        self.execute(
            "INSERT INTO api_keys (id, salt, hash, role, label, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, salt, _hash(salt, secret), role, label, utc_now()),
        )
        return NewKey(id=key_id, key=f"{KEY_PREFIX}{key_id}_{secret}", role=role)

    def list_keys(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        """All keys, oldest first."""
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = self.query(f"SELECT id, role, label, created_at, revoked_at FROM api_keys {where} ORDER BY created_at, id")
        return [KeyInfo(**dict(r)) for r in rows]

    def revoke_key(self, key_id: str) -> KeyInfo:
        """Revoke a key (idempotent); ToolRetry naming the known ids when unknown."""
        self.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (utc_now(), key_id))
        for k in self.list_keys():
            if k.id == key_id:
                return k
        raise ToolRetry(did_you_mean(key_id, [k.id for k in self.list_keys()], what="key id"))

    def verify(self, token: str) -> Principal | None:
        """The principal of a presented key, or None when it is malformed, unknown or revoked."""
        if not token.startswith(KEY_PREFIX):
            return None
        key_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
        if not sep or not key_id or not secret or len(token) > 200:
            return None
        rows = self.query("SELECT salt, hash, role, revoked_at FROM api_keys WHERE id = ?", (key_id,))
        if not rows or rows[0]["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(_hash(rows[0]["salt"], secret), rows[0]["hash"]):
            return None
        return Principal(id=key_id, role=rows[0]["role"])

    # -- audit ---------------------------------------------------------------------------------
    def audit(
        self,
        *,
        actor: str,
        role: str | None,
        method: str,
        path: str,
        action: str,
        outcome: str,
        status: int,
        detail: dict[str, Any] | None = None,
        client: str | None = None,
    ) -> None:
        """Append one audit entry."""
        self.execute(
            "INSERT INTO audit (ts, actor, role, method, path, action, outcome, status, detail, client) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (utc_now(), actor, role, method, path, action, outcome, status, json.dumps(detail or {}, default=str), client),
        )

    def audit_entries(self, *, limit: int = 100, actor: str | None = None) -> list[AuditEntry]:
        """The newest audit entries first."""
        sql = "SELECT * FROM audit" + (" WHERE actor = ?" if actor else "") + " ORDER BY id DESC LIMIT ?"
        rows = self.query(sql, ((actor,) if actor else ()) + (limit,))
        return [AuditEntry(**{**dict(r), "detail": json.loads(r["detail"] or "{}")}) for r in rows]


class RateLimiter:
    """A token bucket per caller: ``per_min`` requests per minute, bursts up to ``per_min``.

    Args:
        per_min: Sustained requests per minute (also the burst size).
        clock: Monotonic clock (injectable).
    """

    def __init__(self, per_min: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.burst = float(per_min)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """Spend one token; returns 0 when allowed, else the seconds until the next token."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - 1.0, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.rate


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


def _json_error(status: int, type_: str, message: str, **extra: Any) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": {"type": type_, "message": message, **extra}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
    return start, body


def _outcome(status: int) -> str:
    if status in (401, 403, 429):
        return "denied"
    if status >= 500:
        return "error"
    return "rejected" if status >= 400 else "ok"


class EdgeMiddleware:
    """Body-size limit (413 by Content-Length or while reading) and audit of mutating requests.

    The route's principal (``request.state.principal``) and extra detail
    (``request.state.audit``: a dict) are written with the final status.

    Args:
        app: The wrapped ASGI app.
        db: Where audit entries go (looked up per request so the lifespan can open it).
        max_body: Largest accepted body in bytes.
    """

    def __init__(self, app: ASGIApp, *, db: Callable[[], ServerDB | None], max_body: int) -> None:
        self.app = app
        self.db = db
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the body limit, run the app, audit mutating requests."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        status_box = [500]
        started = [False]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = int(message["status"])
                started[0] = True
            await send(message)

        received = [0]

        async def receive_limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body:
                    raise _TooLarge
            return message

        try:
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                raise _TooLarge
            await self.app(scope, receive_limited, send_wrapped)
        except _TooLarge:
            if started[0]:
                raise
            start, body = _json_error(
                413, "payload_too_large", f"Request body over {self.max_body} bytes; send less (INDAGENT_MAX_BODY_BYTES).",
                param="body",
            )
            status_box[0] = 413
            await send(start)
            await send({"type": "http.response.body", "body": body})
        finally:
            if scope.get("method", "GET") in MUTATING_METHODS:
                self._audit(scope, status_box[0])

    def _audit(self, scope: Scope, status: int) -> None:
        db = self.db()
        if db is None:
            return
        state = scope.get("state") or {}
        principal: Principal | None = state.get("principal")
        detail: dict[str, Any] = dict(state.get("audit") or {})
        route = scope.get("route")
        action = f"{scope['method']} {getattr(route, 'path', scope['path'])}"
        client = scope.get("client")
        db.audit(
            actor=principal.id if principal else "anonymous",
            role=principal.role if principal else None,
            method=scope["method"],
            path=scope["path"][:500],
            action=action[:200],
            outcome=_outcome(status),
            status=status,
            detail=detail,
            client=f"{client[0]}:{client[1]}" if client else None,
        )

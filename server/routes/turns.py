"""What the chat, OpenAI, thread and approval routes share: checks, per-thread locks, the approval index.

Approvals are indexed in the server database when a turn pauses on one (the checkpointer
itself has no cross-thread index), with a stable id derived from the thread and tool-call ids.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel

from agents.context import AgentContext
from agents.models import UnknownModelError
from agents.state import AskResult
from server.auth import Principal, ServerDB, utc_now
from server.brain import Brain
from server.deps import ApiError
from server.settings import Settings

__all__ = [
    "THREAD_ID_PATTERN",
    "Approval",
    "ApprovalStatus",
    "ThreadLocks",
    "approval_id",
    "check_message",
    "count_pending",
    "finish_turn",
    "get_approval",
    "list_approvals",
    "thread_config",
    "track_approval",
    "turn_context",
]

THREAD_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
ApprovalStatus = Literal["pending", "deciding", "approved", "rejected", "edited", "stale", "deleted"]


class Approval(BaseModel):
    """A mutating action proposed by an agent, waiting for (or decided by) a person."""

    id: str
    thread_id: str
    call_id: str
    tool: str
    args: dict[str, Any]
    agent: str
    description: str
    requested_by: str
    created_at: str
    status: ApprovalStatus
    decided_by: str | None = None
    decided_at: str | None = None
    decision: dict[str, Any] | None = None


def thread_config(thread_id: str) -> dict[str, Any]:
    """The LangGraph config of a thread."""
    return {"configurable": {"thread_id": thread_id}}


def check_message(text: str, settings: Settings, *, param: str = "message") -> str:
    """The stripped message, or a 422 naming ``param`` when empty or too long."""
    stripped = text.strip()
    if not stripped:
        raise ApiError(422, f"{param}: the message is empty; ask a question.", param=param, code="empty")
    if len(stripped) > settings.max_message_chars:
        raise ApiError(422, f"{param}: {len(stripped)} characters; the limit is {settings.max_message_chars} "
                       "(INDAGENT_MAX_MESSAGE_CHARS).", param=param, code="too_long")
    return stripped


def turn_context(brain: Brain, principal: Principal, model: str, *, not_found_status: int = 400) -> AgentContext:
    """The run context for a caller; an unknown model is a 4xx naming ``model``."""
    try:
        return brain.context(requested_model=model, actor=principal.id)
    except UnknownModelError as exc:
        raise ApiError(not_found_status, str(exc), param="model", code="model_not_found") from None


class ThreadLocks:
    """One turn at a time per thread (a second concurrent turn gets 409, not a forked history)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def acquire(self, thread_id: str) -> Callable[[], None]:
        """Take the thread's lock (409 when a turn is running); returns the release function."""
        with self._guard:
            lock = self._locks.setdefault(thread_id, threading.Lock())
        if not lock.acquire(blocking=False):
            raise ApiError(409, f"Thread {thread_id!r} is busy with another turn; retry when it finished.",
                           param="thread_id", code="thread_busy")
        released = [False]

        def release() -> None:
            if released[0]:
                return
            released[0] = True
            with self._guard:
                lock.release()
                if self._locks.get(thread_id) is lock:
                    del self._locks[thread_id]

        return release

    @contextmanager
    def hold(self, thread_id: str) -> Iterator[None]:
        """Hold the thread's lock for a turn, or raise 409 when a turn is running."""
        release = self.acquire(thread_id)
        try:
            yield
        finally:
            release()


# -- approval index -------------------------------------------------------------------------------
def approval_id(thread_id: str, call_id: str) -> str:
    """Stable id of the approval of tool call ``call_id`` in ``thread_id``."""
    return "ap_" + hashlib.sha256(f"{thread_id}\x00{call_id}".encode()).hexdigest()[:16]


def track_approval(db: ServerDB, thread_id: str, payload: dict[str, Any] | None, *, requested_by: str) -> str | None:
    """Index a pending approval (idempotent); returns its id (None when there is none)."""
    if not isinstance(payload, dict) or "tool" not in payload:
        return None
    call_id = str(payload.get("call_id") or payload["tool"])
    aid = approval_id(thread_id, call_id)
    db.execute(
        "INSERT INTO approvals (id, thread_id, call_id, tool, args, agent, description, requested_by, created_at, status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT(id) DO NOTHING",
        (aid, thread_id, call_id, str(payload["tool"]), json.dumps(payload.get("args") or {}, default=str),
         str(payload.get("agent") or ""), str(payload.get("description") or ""), requested_by, utc_now()),
    )
    return aid


def _row(r: Any) -> Approval:
    d = dict(r)
    d["args"] = json.loads(d["args"] or "{}")
    d["decision"] = json.loads(d["decision"]) if d.get("decision") else None
    return Approval(**d)


def get_approval(db: ServerDB, aid: str) -> Approval | None:
    """One approval by id."""
    rows = db.query("SELECT * FROM approvals WHERE id = ?", (aid,))
    return _row(rows[0]) if rows else None


def list_approvals(db: ServerDB, *, status: str | None = "pending", thread_id: str | None = None,
                   limit: int = 100) -> list[Approval]:
    """Approvals, newest first, filtered by status and thread."""
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if thread_id:
        where.append("thread_id = ?")
        params.append(thread_id)
    sql = "SELECT * FROM approvals" + (" WHERE " + " AND ".join(where) if where else "")
    rows = db.query(sql + " ORDER BY created_at DESC, id LIMIT ?", (*params, limit))
    return [_row(r) for r in rows]


def count_pending(db: ServerDB | None) -> int:
    """How many approvals are waiting (for the metrics gauge)."""
    if db is None:
        return 0
    return int(db.query("SELECT count(*) FROM approvals WHERE status = 'pending'")[0][0])


def finish_turn(request: Request, result: AskResult | dict[str, Any], *, endpoint: str) -> str | None:
    """After a turn: metrics, approval index, audit detail; returns the new approval id, if any."""
    res = result if isinstance(result, AskResult) else AskResult.model_validate(result)
    request.app.state.metrics.observe_turn(res, endpoint=endpoint)
    principal: Principal = request.state.principal
    aid = track_approval(request.app.state.db, res.thread_id, res.pending_approval, requested_by=principal.id)
    audit = {"thread_id": res.thread_id, "agent": res.route.agent, "tools": [t.name for t in res.tool_calls]}
    if aid:
        audit["approval_requested"] = aid
    current = getattr(request.state, "audit", None) or {}
    request.state.audit = {**current, **audit}
    return aid

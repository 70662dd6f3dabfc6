"""Conversation threads: read the messages and state; delete (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from agents.runner import pending_approvals, thread_messages
from server.deps import AdminDep, ApiError, BrainDep, DBDep, ViewerDep, audit_detail
from server.routes.turns import THREAD_ID_PATTERN, Approval, list_approvals, thread_config

__all__ = ["ThreadDeleted", "ThreadMessage", "ThreadView", "router"]

router = APIRouter(prefix="/v1/threads", tags=["threads"])

ThreadId = Path(..., min_length=1, max_length=128, pattern=THREAD_ID_PATTERN, description="The thread id.")


class ThreadMessage(BaseModel):
    """One message of a thread."""

    role: str
    content: str
    name: str | None = None


class ThreadView(BaseModel):
    """A thread: its messages, the last turn's route and result, and what it waits for."""

    thread_id: str
    messages: list[ThreadMessage]
    count: int
    agent: str | None = None
    route: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    waiting_for_approval: bool
    pending: list[dict[str, Any]]
    approvals: list[Approval]


class ThreadDeleted(BaseModel):
    """The outcome of a delete."""

    thread_id: str
    deleted: bool


def _exists(brain: Any, thread_id: str) -> dict[str, Any]:
    snap = brain.graph.get_state(thread_config(thread_id))
    if not snap.values:
        raise ApiError(404, f"No thread {thread_id!r}; start one with POST /v1/chat.", param="thread_id",
                       code="not_found")
    return dict(snap.values)


@router.get("/{thread_id}", response_model=ThreadView)
async def get_thread(brain: BrainDep, db: DBDep, _who: ViewerDep, thread_id: str = ThreadId) -> ThreadView:
    """A thread's messages and state."""

    def read() -> ThreadView:
        values = _exists(brain, thread_id)
        msgs = [ThreadMessage(**m) for m in thread_messages(brain.graph, thread_id)]
        pending = pending_approvals(brain.graph, thread_id)
        return ThreadView(
            thread_id=thread_id, messages=msgs, count=len(msgs), agent=values.get("agent"),
            route=values.get("route"), result=values.get("result") or None, waiting_for_approval=bool(pending),
            pending=[p for p in pending if isinstance(p, dict)],
            approvals=list_approvals(db, status=None, thread_id=thread_id),
        )

    return await run_in_threadpool(read)


@router.delete("/{thread_id}", response_model=ThreadDeleted)
async def delete_thread(
    request: Request, brain: BrainDep, db: DBDep, _who: AdminDep, thread_id: str = ThreadId
) -> ThreadDeleted:
    """Delete a thread's checkpoints (admin); its pending approvals are withdrawn."""
    audit_detail(request, thread_id=thread_id)

    def delete() -> None:
        with request.app.state.thread_locks.hold(thread_id):
            _exists(brain, thread_id)
            saver = brain.graph.checkpointer
            if saver is None or not hasattr(saver, "delete_thread"):
                raise ApiError(409, "This server keeps no deletable thread store.", code="unsupported")
            saver.delete_thread(thread_id)
            db.execute("UPDATE approvals SET status = 'deleted' WHERE thread_id = ? AND status = 'pending'", (thread_id,))

    await run_in_threadpool(delete)
    return ThreadDeleted(thread_id=thread_id, deleted=True)

"""Chat with the plant brain: JSON, or an SSE stream of route/tool/token/approval/final events."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from agents.runner import ask, new_thread_id, stream_ask
from agents.state import AskResult
from server.deps import BrainDep, SettingsDep, ViewerDep
from server.routes.turns import THREAD_ID_PATTERN, check_message, finish_turn, track_approval, turn_context
from tools.errors import IndagentError

__all__ = ["ChatRequest", "router", "sse_events"]

log = logging.getLogger("indagent.server")
router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    """A user message, optionally continuing a thread."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(..., min_length=1, max_length=200_000, description="The question or instruction.")
    thread_id: str | None = Field(None, min_length=1, max_length=128, pattern=THREAD_ID_PATTERN)
    model: str = Field("auto", min_length=1, max_length=128, description="auto | edge | cloud | a model name.")
    stream: bool = Field(False, description="Answer with a text/event-stream of events instead of JSON.")


_SSE_DOC = (
    "With `stream: true`: `text/event-stream` with events `route`, `tool_call`, `tool_result`, `token` "
    "(`{\"text\"}`), `approval_required` (the proposed action + `approval_id`), `final` (the JSON answer) "
    "or `error` (`{\"type\", \"message\"}`)."
)


def sse_events(request: Request, events: Iterator[tuple[str, dict[str, Any]]], *, endpoint: str,
               release: Callable[[], None]) -> AsyncIterator[dict[str, str]]:
    """Turn runner events into SSE messages (approval index, metrics, errors as ``error`` events).

    ``release`` (the thread lock) is called when the stream ends, however it ends.
    """

    async def gen() -> AsyncIterator[dict[str, str]]:
        try:
            async for event, data in iterate_in_threadpool(events):
                if event == "approval_required":
                    aid = track_approval(request.app.state.db, data["thread_id"], data,
                                         requested_by=request.state.principal.id)
                    data = {**data, "approval_id": aid}
                elif event == "final":
                    aid = finish_turn(request, data, endpoint=endpoint)
                    if aid and data.get("pending_approval"):
                        data = {**data, "pending_approval": {**data["pending_approval"], "approval_id": aid}}
                yield {"event": event, "data": json.dumps(data, default=str)}
        except IndagentError as exc:
            yield {"event": "error", "data": json.dumps({"type": type(exc).__name__, "message": str(exc)})}
        except Exception as exc:  # the stream has started: report, never a half-open connection
            log.exception("chat stream failed")
            yield {"event": "error", "data": json.dumps({"type": "internal_error", "message": f"{type(exc).__name__}"})}
        finally:
            release()

    return gen()


@router.post("/chat", response_model=AskResult,
             responses={200: {"content": {"text/event-stream": {}}, "description": _SSE_DOC}})
async def chat(body: ChatRequest, request: Request, brain: BrainDep, settings: SettingsDep, who: ViewerDep) -> Any:
    """Ask a question; returns the `indagent ask --json` document, or an SSE stream with `stream: true`."""
    text = check_message(body.message, settings)
    ctx = turn_context(brain, who, body.model)
    thread_id = body.thread_id or new_thread_id()
    locks = request.app.state.thread_locks
    if body.stream:

        release = locks.acquire(thread_id)
        events = stream_ask(brain.graph, ctx, text, thread_id=thread_id, max_chars=settings.max_message_chars)
        return EventSourceResponse(sse_events(request, events, endpoint="chat", release=release), ping=15)

    def run() -> AskResult:
        with locks.hold(thread_id):
            return ask(brain.graph, ctx, text, thread_id=thread_id, max_chars=settings.max_message_chars)

    result = await run_in_threadpool(run)
    aid = finish_turn(request, result, endpoint="chat")
    if aid and result.pending_approval is not None:
        result.pending_approval = {**result.pending_approval, "approval_id": aid}
    return result

"""Chat with the plant brain."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from agents.runner import ask
from agents.state import AskResult
from server.deps import BrainDep, SettingsDep

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    """A user message, optionally continuing a thread."""

    message: str = Field(..., min_length=1, description="The question or instruction.")
    thread_id: str | None = Field(None, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")
    model: str = Field("auto", description="auto | edge | cloud | a model name.")


@router.post("/chat", response_model=AskResult)
async def chat(body: ChatRequest, brain: BrainDep, settings: SettingsDep) -> AskResult:
    """Ask a question; returns the same JSON as `indagent ask --json`."""
    ctx = brain.context(requested_model=body.model, actor="api")
    return await run_in_threadpool(
        ask, brain.graph, ctx, body.message, thread_id=body.thread_id, max_chars=settings.max_message_chars
    )

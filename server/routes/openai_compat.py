"""OpenAI Chat Completions wire format over the plant brain (``/v1/chat/completions``, ``/v1/models``).

A request without ``thread_id`` starts a fresh thread seeded with the earlier user/assistant
messages; the last message must be the user's question. ``thread_id`` (an extension, e.g.
``extra_body={"thread_id": ...}`` in the OpenAI SDK) continues a server-side thread with only
the last message. Every answer carries the extension field ``indagent`` (thread id, route,
tool calls, typed result, pending approval).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import StreamingResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from agents.runner import ask, new_thread_id, stream_ask
from agents.state import AskResult
from server.deps import ApiError, BrainDep, SettingsDep, ViewerDep
from server.routes.turns import THREAD_ID_PATTERN, check_message, finish_turn, thread_config, turn_context
from tools.errors import IndagentError

__all__ = ["ChatCompletion", "ChatCompletionRequest", "ModelList", "router"]

router = APIRouter(prefix="/v1", tags=["openai"])

#: Model names that mean "let the router choose".
AUTO_MODELS = ("indagent", "auto")


class TextPart(BaseModel):
    """A text content part (images and audio are not supported)."""

    type: Literal["text"]
    text: str = Field(max_length=200_000)


class OAIMessage(BaseModel):
    """An OpenAI chat message (tool-call fields are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = Field(None, description="Text, or a list of text parts.")
    name: str | None = Field(None, max_length=64)

    def text(self) -> str:
        """The message text."""
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    """Streaming options."""

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The OpenAI Chat Completions request (sampling fields are accepted; the router picks the model)."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(..., min_length=1, max_length=128, description="indagent | auto | edge | cloud | a model name.")
    messages: list[OAIMessage] = Field(..., min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice is supported.")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)
    thread_id: str | None = Field(None, min_length=1, max_length=128, pattern=THREAD_ID_PATTERN,
                                  description="indagent extension: continue this server-side thread.")


class ChoiceMessage(BaseModel):
    """The assistant message of a choice."""

    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class Choice(BaseModel):
    """One choice (always index 0)."""

    index: int = 0
    message: ChoiceMessage
    logprobs: None = None
    finish_reason: Literal["stop", "length"] = "stop"


class CompletionUsage(BaseModel):
    """Token counts."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The OpenAI ``chat.completion`` object, plus the ``indagent`` extension."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    system_fingerprint: str | None = None
    choices: list[Choice]
    usage: CompletionUsage
    indagent: dict[str, Any]


class ModelCard(BaseModel):
    """A model as ``/v1/models`` lists it."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "indagent"


class ModelList(BaseModel):
    """The model list."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


def _extension(res: AskResult) -> dict[str, Any]:
    return res.model_dump(mode="json", include={"thread_id", "route", "tool_calls", "result", "pending_approval"})


def _usage(res: AskResult) -> CompletionUsage:
    u = res.usage
    return CompletionUsage(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                           total_tokens=u.prompt_tokens + u.completion_tokens)


def _history(messages: list[OAIMessage]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for m in messages:
        text = m.text()
        if not text:
            continue
        if m.role == "user":
            out.append(HumanMessage(text))
        elif m.role == "assistant":
            out.append(AIMessage(text))
        elif m.role in ("system", "developer"):
            out.append(SystemMessage(text))
    return out


def _prepare(body: ChatCompletionRequest, request: Request, brain: Any, settings: Any, who: Any) -> tuple[Any, str, str]:
    """(context, question, thread id); seeds a fresh thread with the earlier messages."""
    last = body.messages[-1]
    if last.role != "user":
        raise ApiError(400, f"messages: the last message must have role 'user', not {last.role!r}.",
                       param="messages", code="invalid_last_message")
    text = check_message(last.text(), settings, param="messages")
    requested = "auto" if body.model in AUTO_MODELS else body.model
    ctx = turn_context(brain, who, requested, not_found_status=404)
    if body.thread_id:
        if not brain.graph.get_state(thread_config(body.thread_id)).values:
            raise ApiError(404, f"No thread {body.thread_id!r}; omit thread_id to start one.", param="thread_id",
                           code="not_found")
        return ctx, text, body.thread_id
    return ctx, text, new_thread_id()


def _seed(brain: Any, thread_id: str, body: ChatCompletionRequest) -> None:
    history = _history(body.messages[:-1])
    if history and not body.thread_id:
        brain.graph.update_state(thread_config(thread_id), {"messages": history}, as_node="general")


@router.get("/models", response_model=ModelList)
def models(brain: BrainDep, _who: ViewerDep) -> ModelList:
    """The models a client may name (``indagent`` lets the router choose)."""
    names = ["indagent", *brain.models.names()]
    return ModelList(data=[ModelCard(id=n) for n in names])


@router.post("/chat/completions", response_model=ChatCompletion,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "With stream=true: chat.completion.chunk events, then [DONE]."}})
async def chat_completions(
    body: ChatCompletionRequest, request: Request, brain: BrainDep, settings: SettingsDep, who: ViewerDep
) -> Any:
    """OpenAI-compatible chat completion (non-streaming, or streaming chunks with `stream: true`)."""
    ctx, text, thread_id = _prepare(body, request, brain, settings, who)
    locks = request.app.state.thread_locks
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        release = locks.acquire(thread_id)
        try:
            await run_in_threadpool(_seed, brain, thread_id, body)
        except BaseException:
            release()
            raise
        events = stream_ask(brain.graph, ctx, text, thread_id=thread_id, max_chars=settings.max_message_chars)
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _chunks(request, events, cid=cid, created=created, model=body.model, include_usage=include_usage,
                    release=release),
            media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def run() -> AskResult:
        with locks.hold(thread_id):
            _seed(brain, thread_id, body)
            return ask(brain.graph, ctx, text, thread_id=thread_id, max_chars=settings.max_message_chars)

    res = await run_in_threadpool(run)
    finish_turn(request, res, endpoint="openai")
    return ChatCompletion(id=cid, created=created, model=body.model, usage=_usage(res), indagent=_extension(res),
                          choices=[Choice(message=ChoiceMessage(content=res.answer))])


def _chunks(
    request: Request, events: Iterator[tuple[str, dict[str, Any]]], *, cid: str, created: int, model: str,
    include_usage: bool, release: Callable[[], None],
) -> AsyncIterator[str]:
    """``data: {chat.completion.chunk}`` lines; the deltas add up to the final answer."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        doc = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
               "system_fingerprint": None,
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(doc, default=str)}\n\n"

    async def gen() -> AsyncIterator[str]:
        streamed = ""
        try:
            yield chunk({"role": "assistant", "content": ""})
            async for event, data in iterate_in_threadpool(events):
                if event == "token" and data.get("text"):
                    streamed += data["text"]
                    yield chunk({"content": data["text"]})
                elif event == "final":
                    res = AskResult.model_validate(data)
                    finish_turn(request, res, endpoint="openai")
                    rest = _remainder(streamed, res.answer)
                    if rest:
                        yield chunk({"content": rest})
                    yield chunk({}, "stop", indagent=_extension(res))
                    if include_usage:
                        doc = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "system_fingerprint": None, "choices": [], "usage": _usage(res).model_dump()}
                        yield f"data: {json.dumps(doc)}\n\n"
        except (IndagentError, ApiError) as exc:
            err = {"error": {"message": str(exc), "type": "invalid_request_error", "param": None, "code": None}}
            yield f"data: {json.dumps(err)}\n\n"
        finally:
            release()
        yield "data: [DONE]\n\n"

    return gen()


def _remainder(streamed: str, answer: str) -> str:
    """What to send after the streamed tokens so that the deltas spell the final answer."""
    if not streamed:
        return answer
    if answer.startswith(streamed):
        return answer[len(streamed) :]
    core = streamed.strip()
    if core and answer.startswith(core):
        return answer[len(core) :]
    return "\n\n" + answer

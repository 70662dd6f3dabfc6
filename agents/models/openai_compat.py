"""Cloud backend: any OpenAI-compatible endpoint through the official ``openai`` SDK.

Configuration only (base_url, api_key, model): OpenAI, vLLM, a llama.cpp server... Timeouts and
bounded retries with exponential backoff come from the SDK (``max_retries``); tool calls and
streaming usage are mapped to LangChain messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr

from agents.models.base import openai_tool_specs, to_openai_messages

__all__ = ["OpenAIChatModel"]


class OpenAIChatModel(BaseChatModel):
    """Chat model on an OpenAI-compatible HTTP endpoint."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str
    model: str
    api_key: SecretStr = Field(default_factory=lambda: SecretStr("not-needed"))
    timeout_s: float = 30.0
    max_retries: int = 2
    max_tokens: int = 512
    temperature: float = 0.2
    _client: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    @property
    def client(self) -> Any:
        """The lazily created ``openai.OpenAI`` client."""
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self.api_key.get_secret_value(),
                timeout=self.timeout_s,
                max_retries=self.max_retries,
            )
        return self._client

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind OpenAI-format tools (and optionally a forced ``tool_choice``)."""
        specs = openai_tool_specs(tools)
        if tool_choice and tool_choice not in ("auto", "none", "required"):
            kwargs["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
        elif tool_choice:
            kwargs["tool_choice"] = tool_choice
        return super().bind(tools=specs, **kwargs)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        req: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "max_tokens": int(kwargs.pop("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.pop("temperature", self.temperature)),
        }
        if stop:
            req["stop"] = stop
        for key in ("tools", "tool_choice", "response_format", "seed"):
            if key in kwargs:
                req[key] = kwargs.pop(key)
        return req

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        resp = self.client.chat.completions.create(**self._request(messages, stop, dict(kwargs)))
        choice = resp.choices[0]
        calls = []
        invalid = []
        for tc in choice.message.tool_calls or []:
            try:
                args = json.loads(tc.function.arguments or "{}")
                calls.append({"name": tc.function.name, "args": args, "id": tc.id, "type": "tool_call"})
            except json.JSONDecodeError as exc:
                invalid.append(
                    {"name": tc.function.name, "args": tc.function.arguments, "id": tc.id, "error": str(exc),
                     "type": "invalid_tool_call"}
                )
        usage = resp.usage
        msg = AIMessage(
            content=choice.message.content or "",
            tool_calls=calls,
            invalid_tool_calls=invalid,
            usage_metadata={
                "input_tokens": usage.prompt_tokens if usage else 0,
                "output_tokens": usage.completion_tokens if usage else 0,
                "total_tokens": usage.total_tokens if usage else 0,
            },
            response_metadata={"model_name": resp.model, "finish_reason": choice.finish_reason},
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        req = self._request(messages, stop, dict(kwargs))
        n_out = 0
        usage_seen = False
        for part in self.client.chat.completions.create(stream=True, **req):
            if getattr(part, "usage", None) and not part.choices:
                usage_seen = True
                u = part.usage
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content="",
                        usage_metadata={
                            "input_tokens": u.prompt_tokens,
                            "output_tokens": u.completion_tokens,
                            "total_tokens": u.total_tokens,
                        },
                    )
                )
                continue
            if not part.choices:
                continue
            delta = part.choices[0].delta
            text = delta.content or ""
            tool_chunks = [
                {
                    "name": tc.function.name if tc.function else None,
                    "args": tc.function.arguments if tc.function else None,
                    "id": tc.id,
                    "index": tc.index,
                    "type": "tool_call_chunk",
                }
                for tc in (delta.tool_calls or [])
            ]
            if not text and not tool_chunks:
                continue
            n_out += 1
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text, tool_call_chunks=tool_chunks))
            if run_manager and text:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        if not usage_seen:
            # Some servers (llama.cpp's) send no usage while streaming: count chunks as tokens.
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="", usage_metadata={"input_tokens": 0, "output_tokens": n_out, "total_tokens": n_out}
                )
            )

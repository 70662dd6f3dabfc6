"""A deterministic chat model for tests, evals and demos (like pydantic-ai's FunctionModel).

Give it a list of turns (strings or ``AIMessage`` objects, tool calls included) replayed in
order, or a function ``(messages, tools) -> AIMessage | str``. Every call is recorded in
``history`` so tests can assert what the model was shown.
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
from pydantic import ConfigDict, Field, PrivateAttr

from agents.models.base import ModelRegistry, ModelSpec, openai_tool_specs
from tools.errors import ConfigError

__all__ = ["ScriptFn", "ScriptedChatModel", "echo_script"]

ScriptFn = Callable[[list[BaseMessage], list[dict[str, Any]]], "AIMessage | str"]


def echo_script(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> str:
    """A script that answers with the last human message, prefixed (handy default for demos)."""
    last = next((m for m in reversed(messages) if m.type == "human"), None)
    return f"You said: {last.content}" if last else "Hello."


class ScriptedChatModel(BaseChatModel):
    """Replays scripted turns or calls a function; counts words as tokens."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    turns: list[Any] = Field(default_factory=list, description="AIMessage or str turns, replayed in order.")
    fn: ScriptFn | None = None
    cycle: bool = False
    history: list[list[BaseMessage]] = Field(default_factory=list)
    _pos: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the tool specs so a script function can see them."""
        specs = openai_tool_specs(tools)
        return super().bind(tools=specs, **kwargs)

    def _next(self, messages: list[BaseMessage], tools: list[dict[str, Any]]) -> AIMessage:
        self.history.append(list(messages))
        if self.fn is not None:
            out = self.fn(messages, tools)
        else:
            if not self.turns:
                raise ConfigError("ScriptedChatModel has no turns and no fn; give it a script.")
            if self._pos >= len(self.turns):
                if not self.cycle:
                    raise ConfigError(f"ScriptedChatModel ran out of its {len(self.turns)} scripted turns.")
                self._pos = 0
            out = self.turns[self._pos]
            self._pos += 1
        msg = AIMessage(content=out) if isinstance(out, str) else out.model_copy()
        n_in = sum(len(str(m.content).split()) for m in messages)
        n_out = len(str(msg.content).split())
        msg.usage_metadata = {"input_tokens": n_in, "output_tokens": n_out, "total_tokens": n_in + n_out}
        msg.response_metadata = {**msg.response_metadata, "model_name": "scripted"}
        return msg

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs.get("tools", [])))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        msg = self._next(messages, kwargs.get("tools", []))
        words = str(msg.content).split(" ")
        for i, w in enumerate(words):
            text = w if i == 0 else " " + w
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if run_manager:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {"name": tc["name"], "args": json.dumps(tc["args"]), "id": tc["id"], "index": j,
                     "type": "tool_call_chunk"}
                    for j, tc in enumerate(msg.tool_calls)
                ],
                usage_metadata=msg.usage_metadata,
            )
        )


def scripted_registry(
    script: ScriptFn | list[AIMessage | str] | None = None,
    *,
    name: str = "scripted",
    tier: str = "edge",
    supports_tools: bool = False,
    region: str = "site",
    tokens_per_s: float = 1000.0,
) -> tuple[ModelRegistry, ScriptedChatModel]:
    """A registry with one scripted model (alias = its tier), for tests, evals and demos.

    Args:
        script: A function ``(messages, tools) -> AIMessage | str`` or a list of turns; default echoes.
        name: Model name.
        tier: device | edge | cloud.
        supports_tools: Whether agents may use native tool calling with it.
        region: Region (``site`` keeps sovereign data eligible).
        tokens_per_s: Declared speed for the router.
    """
    if script is None:
        model = ScriptedChatModel(fn=echo_script)
    elif callable(script):
        model = ScriptedChatModel(fn=script)
    else:
        model = ScriptedChatModel(turns=list(script))
    reg = ModelRegistry()
    reg.register(
        ModelSpec(
            name=name, backend="scripted", tier=tier, params_b=1.0, context=32768,  # type: ignore[arg-type]
            supports_tools=supports_tools, region=region, tokens_per_s=tokens_per_s,
            prompt_tokens_per_s=tokens_per_s * 10,
        ),
        lambda: model,
        aliases=(tier,),
    )
    return reg, model

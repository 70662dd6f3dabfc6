"""The real `openai` client against /v1/chat/completions (scripted model; one test with the real edge model)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.conftest_api import LiveServer, create_keys, make_settings


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    settings = make_settings(tmp_path_factory.mktemp("oai") / "var", auth="on")
    keys = create_keys(settings)
    with LiveServer(settings) as s:
        yield s, keys


@pytest.fixture
def client(srv: tuple[LiveServer, dict[str, str]]) -> openai.OpenAI:
    s, keys = srv
    return openai.OpenAI(base_url=f"{s.url}/v1", api_key=keys["viewer"], max_retries=0, timeout=30)


def test_non_streaming_completion(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="indagent", messages=[{"role": "user", "content": "add 20 22"}])
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-") and out.model == "indagent"
    assert out.choices[0].message.role == "assistant" and out.choices[0].message.content == "The result is 42."
    assert out.choices[0].finish_reason == "stop"
    ext = out.model_extra["indagent"]
    assert ext["result"] == {"type": "number", "value": 42} and ext["tool_calls"][0]["name"] == "api_add"
    assert out.usage is not None and out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_history_seeds_a_fresh_thread_and_thread_id_continues(client: openai.OpenAI) -> None:
    msgs = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
    ]
    out = client.chat.completions.create(model="auto", messages=msgs)
    assert out.choices[0].message.content.startswith("I have seen 2 messages: first question | second question")
    tid = out.model_extra["indagent"]["thread_id"]
    again = client.chat.completions.create(model="edge", messages=[{"role": "user", "content": "third"}],
                                           extra_body={"thread_id": tid})
    assert again.model_extra["indagent"]["thread_id"] == tid
    assert "I have seen 3 messages: first question | second question | third" in again.choices[0].message.content


def test_streaming_chunks_spell_the_answer(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="indagent", stream=True, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "good morning"}])
    chunks = list(stream)
    assert all(ch.object == "chat.completion.chunk" for ch in chunks) and len({ch.id for ch in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason == "stop"]
    assert len(finals) == 1 and text.startswith("I have seen 1 messages: good morning")
    assert sum(1 for ch in chunks if ch.choices and ch.choices[0].delta.content) > 3  # real token streaming
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    non_stream = client.chat.completions.create(model="indagent", messages=[{"role": "user", "content": "good morning"}])
    assert text == non_stream.choices[0].message.content


def test_streaming_planner_answer_and_raw_wire_format(srv: tuple[LiveServer, dict[str, str]],
                                                      client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="indagent", stream=True,
                                                 messages=[{"role": "user", "content": "add 1 2"}]))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "The result is 3."
    s, keys = srv
    body = {"model": "indagent", "stream": True, "messages": [{"role": "user", "content": "add 1 2"}]}
    with httpx.stream("POST", f"{s.url}/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {keys['viewer']}"}) as r:
        raw = r.read().decode()
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"


def test_errors_map_to_openai_exceptions(srv: tuple[LiveServer, dict[str, str]], client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])
    assert nf.value.body["param"] == "model" and nf.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as br:
        client.chat.completions.create(model="indagent", messages=[{"role": "assistant", "content": "hi"}])
    assert br.value.body["param"] == "messages"
    with pytest.raises(openai.UnprocessableEntityError) as ue:
        client.chat.completions.create(model="indagent", messages=[])
    assert ue.value.body["param"] == "messages"
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="indagent", n=2, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="indagent", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"thread_id": "t_missing"})
    s, _ = srv
    anon = openai.OpenAI(base_url=f"{s.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anon.chat.completions.create(model="indagent", messages=[{"role": "user", "content": "hi"}])
    assert [m.id for m in client.models.list()] == ["indagent", "scripted"]


def test_approval_through_openai_then_http(srv: tuple[LiveServer, dict[str, str]], client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model="indagent", messages=[{"role": "user", "content": "write 4"}])
    pending = out.model_extra["indagent"]["pending_approval"]
    assert out.choices[0].message.content.startswith("Waiting for approval") and pending["tool"] == "api_write_ledger"
    s, keys = srv
    with s.client(keys["engineer"]) as c:
        aid = next(a["id"] for a in c.get("/v1/approvals").json()["data"] if a["thread_id"] == pending_thread(out))
        assert c.post(f"/v1/approvals/{aid}", json={"decision": "approve"}).json()["result"]["answer"] == "The result is 4."


def pending_thread(out: object) -> str:
    return out.model_extra["indagent"]["thread_id"]  # type: ignore[attr-defined]


@pytest.mark.model
def test_real_edge_model_through_openai_client(data_dir: Path) -> None:
    """The default wiring (llama.cpp SmolLM2 on the edge) behind the OpenAI endpoint."""
    settings = make_settings(data_dir, edge_max_tokens=12)
    from server.brain import open_brain

    with LiveServer(settings, brain_factory=open_brain) as s:
        client = openai.OpenAI(base_url=f"{s.url}/v1", api_key="unused-auth-off", max_retries=0, timeout=120)
        out = client.chat.completions.create(model="edge", messages=[{"role": "user", "content": "Say hello."}])
        assert out.choices[0].message.content and out.usage.completion_tokens > 0
        assert out.model_extra["indagent"]["route"]["tier"] == "edge"
        chunks = list(client.chat.completions.create(model="edge", stream=True,
                                                     messages=[{"role": "user", "content": "Say hello."}]))
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text.strip() and chunks[-1].choices[0].finish_reason == "stop"
        ready = httpx.get(f"{s.url}/readyz", timeout=30).json()
        assert ready["models"]["smollm2-135m"] in ("loaded", "loading")

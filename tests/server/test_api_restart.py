"""Restart the server process mid-conversation: the thread, the pending approval and the keys survive."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.server.conftest_api import create_keys, make_settings, server_process


def test_restart_mid_conversation_and_mid_approval(data_dir: Path) -> None:
    keys = create_keys(make_settings(data_dir))
    env = {"INDAGENT_AUTH": "on"}
    eng = {"Authorization": f"Bearer {keys['engineer']}"}
    with server_process(data_dir, env=env) as (base, proc):
        with httpx.Client(base_url=base, headers=eng, timeout=30) as c:
            first = c.post("/v1/chat", json={"message": "first question"}).json()
            waiting = c.post("/v1/chat", json={"message": "write 8"}).json()
        pid = proc.pid
    assert proc.poll() is not None  # the first process is gone
    aid = waiting["pending_approval"]["approval_id"]
    with server_process(data_dir, env=env) as (base, proc2), httpx.Client(base_url=base, headers=eng, timeout=30) as c:
        assert proc2.pid != pid
        again = c.post("/v1/chat", json={"message": "second question", "thread_id": first["thread_id"]}).json()
        assert again["thread_id"] == first["thread_id"]
        assert again["answer"].startswith("I have seen 2 messages: first question | second question")
        assert [a["id"] for a in c.get("/v1/approvals").json()["data"]] == [aid]
        view = c.get(f"/v1/threads/{waiting['thread_id']}").json()
        assert view["waiting_for_approval"] and view["pending"][0]["args"] == {"value": 8}
        done = c.post(f"/v1/approvals/{aid}", json={"decision": "approve", "comment": "after restart"}).json()
        assert done["result"]["answer"] == "The result is 8." and done["result"]["tool_calls"][0]["ok"]
        assert done["approval"]["status"] == "approved"
        assert c.get("/v1/approvals").json()["count"] == 0

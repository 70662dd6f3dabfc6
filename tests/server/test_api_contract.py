"""Contract tests of every endpoint over real HTTP (uvicorn on 127.0.0.1, scripted model, demo KG)."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.auth import ServerDB
from tests.server.conftest_api import LEDGER, LiveServer, build_demo_kg, make_settings, scripted_brain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_kg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_kg(tmp_path_factory.mktemp("kg") / "demo.duckdb")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, demo_kg: Path) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("api") / "var", http_solve_max_s=5.0)
    with LiveServer(settings, brain_factory=functools.partial(scripted_brain, kg_path=demo_kg)) as s:
        yield s


@pytest.fixture
def c(srv: LiveServer) -> Iterator[httpx.Client]:
    with srv.client() as client:
        yield client


def sse(resp: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """Parse an SSE response into (event, data) pairs."""
    out, event = [], None
    for line in resp.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            out.append((event or "message", json.loads(line[5:].strip())))
    return out


def assert_error(r: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    err = r.json()["error"]
    assert err["message"] and err["type"]
    if param is not None:
        assert err.get("param") == param, err
    return err


# -- chat -----------------------------------------------------------------------------------------
def test_chat_json_contract_and_thread(c: httpx.Client) -> None:
    r = c.post("/v1/chat", json={"message": "add 2 40"})
    doc = r.json()
    assert r.status_code == 200
    assert doc["result"] == {"type": "number", "value": 42} and doc["answer"] == "The result is 42."
    assert [t["name"] for t in doc["tool_calls"]] == ["api_add"] and doc["route"]["agent"] == "knowledge"
    r1 = c.post("/v1/chat", json={"message": "first question"}).json()
    r2 = c.post("/v1/chat", json={"message": "second question", "thread_id": r1["thread_id"]}).json()
    assert r2["thread_id"] == r1["thread_id"]
    assert r2["answer"].startswith("I have seen 2 messages: first question | second question")
    view = c.get(f"/v1/threads/{r1['thread_id']}").json()
    assert [m["role"] for m in view["messages"]] == ["human", "ai", "human", "ai"]
    assert view["count"] == 4 and view["waiting_for_approval"] is False and view["route"]["agent"] == "general"


def test_chat_sse_events(c: httpx.Client) -> None:
    with c.stream("POST", "/v1/chat", json={"message": "add 1 2", "stream": True}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse(resp)
    names = [e for e, _ in events]
    assert names == ["route", "tool_call", "tool_result", "final"]
    assert events[1][1] == {"name": "api_add", "args": {"a": 1, "b": 2}}
    assert events[-1][1]["result"]["value"] == 3
    with c.stream("POST", "/v1/chat", json={"message": "tell me a story", "stream": True}) as resp:
        events = sse(resp)
    tokens = "".join(d["text"] for e, d in events if e == "token")
    final = events[-1][1]
    assert events[-1][0] == "final" and tokens.strip() and final["answer"].startswith(tokens.strip())


def test_sse_approval_required_then_decide(c: httpx.Client) -> None:
    LEDGER.clear()
    with c.stream("POST", "/v1/chat", json={"message": "write 11", "stream": True}) as resp:
        events = sse(resp)
    req = next(d for e, d in events if e == "approval_required")
    assert req["tool"] == "api_write_ledger" and req["args"] == {"value": 11} and req["approval_id"].startswith("ap_")
    assert events[-1][0] == "final" and events[-1][1]["pending_approval"]["approval_id"] == req["approval_id"]
    assert LEDGER == []
    done = c.post(f"/v1/approvals/{req['approval_id']}", json={"decision": "approve"}).json()
    assert LEDGER == [11] and done["result"]["answer"] == "The result is 11."


# -- approvals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("decision", "ledger", "status"), [
    ({"decision": "approve"}, [7], "approved"),
    ({"decision": "reject", "comment": "not during the shift"}, [], "rejected"),
    ({"decision": "edit", "args": {"value": 3}}, [3], "edited"),
])
def test_approval_round_trip(c: httpx.Client, decision: dict[str, Any], ledger: list[int], status: str) -> None:
    LEDGER.clear()
    asked = c.post("/v1/chat", json={"message": "write 7"}).json()
    pending = asked["pending_approval"]
    assert pending["tool"] == "api_write_ledger" and pending["agent"] == "diagnosis"  # raised inside a sub-agent
    aid = pending["approval_id"]
    listed = c.get("/v1/approvals").json()
    assert aid in [a["id"] for a in listed["data"]] and listed["count"] == len(listed["data"])
    assert c.get(f"/v1/threads/{asked['thread_id']}").json()["waiting_for_approval"] is True
    assert LEDGER == []
    r = c.post(f"/v1/approvals/{aid}", json=decision)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert LEDGER == ledger
    assert doc["approval"]["status"] == status and doc["approval"]["decided_by"] == "local"
    assert doc["result"]["pending_approval"] is None and doc["result"]["thread_id"] == asked["thread_id"]
    trace = doc["result"]["tool_calls"][0]
    assert trace["ok"] is (status != "rejected")
    if status == "rejected":
        assert "not during the shift" in doc["result"]["answer"]
    assert aid not in [a["id"] for a in c.get("/v1/approvals").json()["data"]]
    assert c.get(f"/v1/approvals/{aid}").json()["status"] == status
    # deciding twice is a conflict
    assert_error(c.post(f"/v1/approvals/{aid}", json={"decision": "approve"}), 409, "approval_id")


def test_approval_bad_decisions(c: httpx.Client) -> None:
    aid = c.post("/v1/chat", json={"message": "write 5"}).json()["pending_approval"]["approval_id"]
    assert_error(c.post("/v1/approvals/ap_0000000000000000", json={"decision": "approve"}), 404, "approval_id")
    assert_error(c.post(f"/v1/approvals/{aid}", json={"decision": "edit"}), 422, "args")
    err = assert_error(c.post(f"/v1/approvals/{aid}", json={"decision": "edit", "args": {"value": "x"}}), 422, "args")
    assert "value" in err["message"]
    assert_error(c.post(f"/v1/approvals/{aid}", json={"decision": "maybe"}), 422, "decision")
    assert c.get(f"/v1/approvals/{aid}").json()["status"] == "pending"  # nothing was consumed
    assert c.post(f"/v1/approvals/{aid}", json={"decision": "reject"}).status_code == 200


def test_threads_delete_and_unknown(c: httpx.Client) -> None:
    tid = c.post("/v1/chat", json={"message": "write 9"}).json()["thread_id"]
    assert_error(c.get("/v1/threads/t_doesnotexist"), 404, "thread_id")
    assert c.delete(f"/v1/threads/{tid}").json() == {"thread_id": tid, "deleted": True}
    assert_error(c.get(f"/v1/threads/{tid}"), 404, "thread_id")
    assert_error(c.delete(f"/v1/threads/{tid}"), 404, "thread_id")
    assert not [a for a in c.get("/v1/approvals").json()["data"] if a["thread_id"] == tid]


def test_busy_thread_is_409(tmp_path: Path) -> None:
    def slow(messages: list[Any], tools: list[Any]) -> str:
        time.sleep(0.6)
        return "done"

    settings = make_settings(tmp_path / "var")
    with LiveServer(settings, brain_factory=functools.partial(scripted_brain, script=slow)) as s, s.client() as c:
        tid = c.post("/v1/chat", json={"message": "hi"}).json()["thread_id"]
        codes: list[int] = []
        ts = [threading.Thread(target=lambda: codes.append(
            c.post("/v1/chat", json={"message": "again", "thread_id": tid}).status_code)) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(codes) == [200, 409]


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "url", "body", "status", "param"), [
    ("POST", "/v1/chat", {"message": ""}, 422, "message"),
    ("POST", "/v1/chat", {"message": "   "}, 422, "message"),
    ("POST", "/v1/chat", {"message": "x" * 8001}, 422, "message"),
    ("POST", "/v1/chat", {"message": "hi", "thread_id": "bad id!"}, 422, "thread_id"),
    ("POST", "/v1/chat", {"message": "hi", "model": "gpt-9"}, 400, "model"),
    ("POST", "/v1/chat", {"message": "hi", "colour": "red"}, 422, "colour"),
    ("POST", "/v1/chat", {"message": 5}, 422, "message"),
    ("POST", "/v1/chat", None, 422, "body"),
    ("POST", "/v1/chat", "{not json", 422, "body"),
    ("GET", "/v1/approvals?status=nope", None, 422, "status"),
    ("GET", "/v1/approvals?limit=0", None, 422, "limit"),
    ("GET", "/v1/kg/find", None, 422, "q"),
    ("GET", "/v1/kg/neighbors/CNC-07?depth=9", None, 422, "depth"),
    ("GET", "/v1/kg/neighbors/NOPE-99", None, 404, "node_id"),
    ("GET", "/v1/kg/path?source=CNC-07&target=NOPE-99", None, 404, "target"),
    ("POST", "/v1/schedule/solve", {}, 422, "body"),
    ("POST", "/v1/schedule/solve", {"text": "1 1\n0 5", "format": "orlib", "time_limit_s": 60}, 422, "time_limit_s"),
    ("POST", "/v1/schedule/solve", {"text": "garbage", "format": "orlib"}, 422, "text"),
    ("POST", "/v1/placement/solve", {"scenario": {"nodes": [], "workloads": []}}, 422, "scenario.nodes"),
    ("GET", "/v1/nope", None, 404, None),
    ("PUT", "/v1/chat", None, 405, None),
])
def test_bad_input_is_4xx_naming_the_field(c: httpx.Client, method: str, url: str, body: Any, status: int,
                                           param: str | None) -> None:
    if isinstance(body, str):
        r = c.request(method, url, content=body.encode(), headers={"content-type": "application/json"})
    else:
        r = c.request(method, url, json=body)
    assert_error(r, status, param)


def test_body_limit_and_rate_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var", max_body_bytes=4096, rate_limit_per_min=5)
    with LiveServer(settings) as s, s.client() as c:
        err = assert_error(c.post("/v1/chat", json={"message": "x" * 5000}), 413, "body")
        assert "INDAGENT_MAX_BODY_BYTES" in err["message"]
        codes = [c.get("/v1/approvals").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        r = c.get("/v1/approvals")
        assert_error(r, 429)
        assert int(r.headers["retry-after"]) >= 1
        assert c.get("/healthz").status_code == 200  # liveness is never rate limited
        with ServerDB(settings.server_db_path) as db:
            big = [e for e in db.audit_entries() if e.status == 413]
        assert big and big[0].outcome == "rejected" and big[0].action == "POST /v1/chat"


def test_cors_closed_by_default_open_when_configured(c: httpx.Client, tmp_path: Path) -> None:
    pre = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}
    r = c.options("/v1/chat", headers=pre)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": "http://evil.example"}).headers
    settings = make_settings(tmp_path / "var", cors_origins=["http://hmi.plant"])
    with LiveServer(settings) as s, s.client() as c2:
        ok = c2.options("/v1/chat", headers={**pre, "Origin": "http://hmi.plant"})
        assert ok.headers["access-control-allow-origin"] == "http://hmi.plant"
        assert "access-control-allow-origin" not in c2.options("/v1/chat", headers=pre).headers


# -- kg, schedule, placement ------------------------------------------------------------------------
def test_kg_endpoints(c: httpx.Client) -> None:
    stats = c.get("/v1/kg/stats").json()
    assert stats["nodes_by_kind"]["asset"] == 41 and stats["edges"] > 0
    found = c.get("/v1/kg/find", params={"q": "CNC 7"}).json()
    assert found["matches"][0]["id"] == "CNC-07"
    nb = c.get("/v1/kg/neighbors/CNC-07", params={"depth": 1, "rels": "has_sensor"}).json()
    assert any(n["id"].startswith("CNC-07.") for n in nb["nodes"])
    down = c.get("/v1/kg/impact/CMP-01").json()
    assert down["source"] == "CMP-01" and down["direction"] == "downstream" and down["assets"]
    up = c.get(f"/v1/kg/impact/{down['assets'][0]}", params={"direction": "upstream"}).json()
    assert "CMP-01" in up["assets"]
    path = c.get("/v1/kg/path", params={"source": "CNC-07", "target": "L1"}).json()
    assert path["nodes"][0] == "CNC-07" and path["nodes"][-1] == "L1"


def test_schedule_solve_with_gantt(c: httpx.Client) -> None:
    text = (ROOT / "benches/instances/jsp/ft06.txt").read_text()
    r = c.post("/v1/schedule/solve", json={"text": text, "format": "orlib", "time_limit_s": 3, "gantt": True})
    doc = r.json()
    assert r.status_code == 200, r.text
    assert doc["makespan"] == 55 and doc["status"] == "OPTIMAL" and len(doc["operations"]) == 36
    plot = c.get(doc["gantt_url"])
    assert plot.status_code == 200 and "html" in plot.headers["content-type"]
    assert plot.headers["content-security-policy"] == "sandbox allow-scripts"
    names = [f["name"] for f in c.get("/v1/reports").json()["data"]]
    assert doc["gantt_url"].rsplit("/", 1)[1] in names
    assert_error(c.get("/v1/reports/../server.sqlite"), 404)
    inst = {"n_machines": 2, "jobs": [{"operations": [{"alternatives": [{"machine": 0, "duration": 3}]},
                                                      {"alternatives": [{"machine": 1, "duration": 2}]}]}]}
    assert c.post("/v1/schedule/solve", json={"instance": inst, "time_limit_s": 1}).json()["makespan"] == 5


def test_placement_solve(c: httpx.Client) -> None:
    from tools.placement import generate_scenario

    sc = generate_scenario(6, 12, seed=1).model_dump(mode="json")
    for method in ("auto", "heuristic", "exact", "first_fit"):
        r = c.post("/v1/placement/solve", json={"scenario": sc, "method": method, "time_limit_s": 2})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["method"] == ("exact" if method == "auto" else method) and not doc["violations"]
        assert len(doc["assignments"]) + len(doc["infeasible_workloads"]) == 12
        assert doc["objective"] >= doc["lower_bound"] - 1e-6


def test_kg_missing_is_409_not_5xx(tmp_path: Path) -> None:
    with LiveServer(make_settings(tmp_path / "var")) as s, s.client() as c:
        err = assert_error(c.get("/v1/kg/stats"), 409)
        assert "indagent kg demo" in err["message"]


# -- ops ------------------------------------------------------------------------------------------
def test_health_ready_metrics(c: httpx.Client) -> None:
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    doc = ready.json()
    assert ready.status_code == 200 and doc["status"] == "ready", doc
    assert doc["models"] == {"scripted": "loaded"} and doc["cloud_breaker"] == "closed"
    assert doc["checks"]["knowledge_graph"]["ok"] and "nodes" in doc["checks"]["knowledge_graph"]["detail"]
    c.post("/v1/chat", json={"message": "add 1 1"})
    c.post("/v1/chat", json={"message": "write 1"})
    text = c.get("/metrics").text
    assert 'indagent_http_requests_total{method="POST",route="/v1/chat",status="200"}' in text
    assert 'indagent_http_request_duration_seconds_bucket{le="0.1",method="POST",route="/v1/chat"}' in text
    assert 'indagent_tool_calls_total{ok="true",tool="api_add"}' in text
    assert 'indagent_router_decisions_total{agent="knowledge",degraded="false",model="planner",tier="edge"}' in text
    assert 'indagent_model_tokens_total{kind="completion",tier="edge"}' in text
    pending = [ln for ln in text.splitlines() if ln.startswith("indagent_approvals_pending ")]
    assert pending and float(pending[0].split()[1]) >= 1
    assert "indagent_cloud_breaker_state 0.0" in text


def test_web_page_and_static(c: httpx.Client) -> None:
    page = c.get("/")
    assert page.status_code == 200 and "<form id=\"ask\"" in page.text and "/static/app.js" in page.text
    js = c.get("/static/app.js")
    assert js.status_code == 200 and "getReader" in js.text


def test_server_db_migrations_and_keys_hashed(tmp_path: Path) -> None:
    path = tmp_path / "server.sqlite"
    with ServerDB(path) as db:
        assert db.applied_migrations() == ["s001_keys_audit", "s002_approvals"]
        assert db.migrate() == []  # idempotent
        new = db.create_key("engineer", label="line 2 HMI")
        assert db.verify(new.key).role == "engineer"
        assert db.verify(new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
        assert db.verify("ik_" + new.id) is None and db.verify("garbage") is None
        db.revoke_key(new.id)
        assert db.verify(new.key) is None
    con = sqlite3.connect(path)
    cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in ("api_keys", "audit", "approvals")}
    assert cols["api_keys"] == ["id", "salt", "hash", "role", "label", "created_at", "revoked_at"]
    assert {"ts", "actor", "role", "method", "path", "action", "outcome", "status", "detail"} <= set(cols["audit"])
    assert {"thread_id", "call_id", "tool", "args", "status", "decided_by", "decision"} <= set(cols["approvals"])
    secret = new.key.rsplit("_", 1)[1]
    assert secret.encode() not in path.read_bytes()
    con.close()

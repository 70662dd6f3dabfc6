"""Role matrix: every endpoint x (no key, bad key, revoked key, viewer, engineer, admin) over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.auth import ROLE_RANK, ServerDB
from tests.server.conftest_api import LiveServer, create_keys, make_settings

TINY_INSTANCE = {"n_machines": 1, "jobs": [{"operations": [{"alternatives": [{"machine": 0, "duration": 2}]}]}]}

#: (method, path template) -> (least role, concrete path, JSON body)
MATRIX: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("GET", "/metrics"): ("viewer", "/metrics", None),
    ("POST", "/v1/chat"): ("viewer", "/v1/chat", {"message": "add 1 1"}),
    ("POST", "/v1/chat/completions"): ("viewer", "/v1/chat/completions",
                                       {"model": "indagent", "messages": [{"role": "user", "content": "add 1 1"}]}),
    ("GET", "/v1/models"): ("viewer", "/v1/models", None),
    ("GET", "/v1/threads/{thread_id}"): ("viewer", "/v1/threads/t_none", None),
    ("DELETE", "/v1/threads/{thread_id}"): ("admin", "/v1/threads/t_none", None),
    ("GET", "/v1/approvals"): ("viewer", "/v1/approvals", None),
    ("GET", "/v1/approvals/{approval_id}"): ("viewer", "/v1/approvals/ap_00", None),
    ("POST", "/v1/approvals/{approval_id}"): ("engineer", "/v1/approvals/ap_00", {"decision": "approve"}),
    ("GET", "/v1/kg/stats"): ("viewer", "/v1/kg/stats", None),
    ("GET", "/v1/kg/find"): ("viewer", "/v1/kg/find?q=pump", None),
    ("GET", "/v1/kg/neighbors/{node_id}"): ("viewer", "/v1/kg/neighbors/P-1", None),
    ("GET", "/v1/kg/path"): ("viewer", "/v1/kg/path?source=a&target=b", None),
    ("GET", "/v1/kg/impact/{node_id}"): ("viewer", "/v1/kg/impact/P-1", None),
    ("POST", "/v1/schedule/solve"): ("engineer", "/v1/schedule/solve", {"instance": TINY_INSTANCE, "time_limit_s": 1}),
    ("POST", "/v1/placement/solve"): ("engineer", "/v1/placement/solve",
                                      {"scenario": {"nodes": [], "workloads": []}}),
    ("GET", "/v1/reports"): ("viewer", "/v1/reports", None),
    ("GET", "/v1/reports/{name}"): ("viewer", "/v1/reports/none.png", None),
    ("GET", "/v1/keys"): ("admin", "/v1/keys", None),
    ("POST", "/v1/keys"): ("admin", "/v1/keys", {"role": "viewer", "label": "matrix"}),
    ("DELETE", "/v1/keys/{key_id}"): ("admin", "/v1/keys/abc123", None),
    ("GET", "/v1/audit"): ("admin", "/v1/audit", None),
    ("GET", "/v1/schedules"): ("viewer", "/v1/schedules", None),
    ("POST", "/v1/schedules"): ("engineer", "/v1/schedules", {"goal": "add 1 1", "cron": "0 0 1 1 *"}),
    ("GET", "/v1/schedules/{schedule_id}"): ("viewer", "/v1/schedules/sch_00", None),
    ("DELETE", "/v1/schedules/{schedule_id}"): ("engineer", "/v1/schedules/sch_00", None),
    ("POST", "/v1/schedules/{schedule_id}/run-now"): ("engineer", "/v1/schedules/sch_00/run-now", None),
    ("GET", "/v1/runs"): ("viewer", "/v1/runs?status=succeeded", None),
    ("GET", "/v1/runs/{run_id}"): ("viewer", "/v1/runs/run_00", None),
    ("POST", "/v1/runs/{run_id}/cancel"): ("engineer", "/v1/runs/run_00/cancel", None),
    ("POST", "/v1/runs/{run_id}/resume"): ("engineer", "/v1/runs/run_00/resume", None),
}
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz")}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    settings = make_settings(tmp_path_factory.mktemp("roles") / "var", auth="on")
    keys = create_keys(settings)
    with ServerDB(settings.server_db_path) as db:
        revoked = db.create_key("admin")
        db.revoke_key(revoked.id)
    keys["revoked"] = revoked.key
    keys["forged"] = revoked.key.rsplit("_", 1)[0] + "_" + "x" * 43
    with LiveServer(settings) as s:
        yield s, keys


def test_matrix_covers_every_route(srv: tuple[LiveServer, dict[str, str]]) -> None:
    s, _ = srv
    paths = s.app.openapi()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert routes - PUBLIC == set(MATRIX), "add new endpoints to MATRIX with their least role"


@pytest.mark.parametrize("caller", ["none", "garbage", "forged", "revoked", "viewer", "engineer", "admin"])
def test_role_matrix(srv: tuple[LiveServer, dict[str, str]], caller: str) -> None:
    s, keys = srv
    key = {"none": None, "garbage": "not-a-key"}.get(caller, keys.get(caller))
    with s.client(key) as c:
        for (method, _tmpl), (least, path, body) in MATRIX.items():
            r = c.request(method, path, json=body)
            where = f"{caller} {method} {path}: {r.status_code} {r.text[:200]}"
            if caller in ("none", "garbage", "forged", "revoked"):
                assert r.status_code == 401, where
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert r.json()["error"]["param"] == "Authorization"
            elif ROLE_RANK[caller] < ROLE_RANK[least]:
                assert r.status_code == 403, where
                assert least in r.json()["error"]["message"]
            else:
                assert r.status_code not in (401, 403), where
                assert r.status_code < 500, where
        for method, path in (*PUBLIC, ("GET", "/"), ("GET", "/static/app.js")):
            assert c.request(method, path).status_code == 200


def test_denied_and_mutating_requests_are_audited(srv: tuple[LiveServer, dict[str, str]], tmp_path: Path) -> None:
    s, keys = srv
    with s.client(keys["viewer"]) as c:
        c.delete("/v1/threads/t_x")
        c.post("/v1/chat", json={"message": "add 2 2"})
    with s.client(keys["admin"]) as c:
        entries = c.get("/v1/audit", params={"limit": 1000}).json()["data"]
        made = c.post("/v1/keys", json={"role": "engineer", "label": "new HMI"}).json()
        assert made["key"].startswith("ik_") and made["role"] == "engineer"
        assert made["id"] in [k["id"] for k in c.get("/v1/keys").json()["data"]]
        assert c.delete(f"/v1/keys/{made['id']}").json()["revoked_at"]
    viewer_id = keys["viewer"].split("_")[1]
    mine = [e for e in entries if e["actor"] == viewer_id]
    denied = next(e for e in mine if e["method"] == "DELETE")
    assert denied["outcome"] == "denied" and denied["status"] == 403 and denied["role"] == "viewer"
    chat = next(e for e in mine if e["action"] == "POST /v1/chat" and e["outcome"] == "ok")
    assert chat["detail"]["tools"] == ["api_add"] and chat["ts"]
    assert not [e for e in entries if e["method"] == "GET"]  # reads are not audited
    anon = [e for e in entries if e["actor"] == "anonymous"]
    assert anon and all(e["outcome"] == "denied" and e["status"] == 401 for e in anon)

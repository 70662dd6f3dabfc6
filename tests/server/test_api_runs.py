"""Scheduled runs over HTTP: schedules fire inside the server process, runs wait for approvals that
`/v1/approvals` lists and decides, crashed runs resume; real uvicorn on 127.0.0.1, scripted brain."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.runs import RunRecord, RunStore, create_schedule, run_now
from server.runs.scheduler import worker_session
from server.runs.store import new_run_id, utcnow
from tests.server.conftest_api import LEDGER, LiveServer, create_keys, make_settings, scripted_brain
from tests.server.conftest_runs import wait_until as poll

NEVER = "0 0 1 1 *"  # 1 January, 00:00: never fires during a test


class Srv:
    """The module's live server, its keys and the run that was orphaned before it started."""

    def __init__(self, server: LiveServer, keys: dict[str, str], orphan_id: str) -> None:
        self.server, self.keys, self.orphan_id = server, keys, orphan_id

    def client(self, role: str = "engineer") -> httpx.Client:
        return self.server.client(self.keys[role])


def seed_orphan(settings: Any) -> str:
    """A run claimed by a worker that died before the server starts (the server recovers it)."""
    with RunStore(settings.runs_db_url) as store:
        sched = create_schedule(store, goal="add 20 22", cron=NEVER)
        run = RunRecord(id=new_run_id(), schedule_id=sched.id, goal=sched.goal, policy=sched.policy,
                        status="queued", trigger="manual", created_at=utcnow(), thread_id="t_orphan_run")
        assert store.claim(run, worker_id="ghost-host:1:dead")
    return run.id


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Srv]:
    settings = make_settings(tmp_path_factory.mktemp("runs-api") / "var", auth="on", runs_in_server=True,
                             runs_heartbeat_s=0.5)
    keys = create_keys(settings)
    orphan = seed_orphan(settings)
    with LiveServer(settings) as s:
        yield Srv(s, keys, orphan)


def runs_of(c: httpx.Client, schedule_id: str, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/v1/runs", params={"schedule_id": schedule_id, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["data"])
    return body["data"]


def settle(c: httpx.Client, schedule_id: str) -> dict[str, Any]:
    """Cancel a schedule and wait until its run in flight (if any) has ended."""
    r = c.delete(f"/v1/schedules/{schedule_id}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["next_fire_time"] is None
    return poll(lambda: (d := c.get(f"/v1/schedules/{schedule_id}").json())["running_run_id"] is None and d,
                timeout_s=30, what="the last run to end")


def test_schedule_fires_inside_the_server(srv: Srv) -> None:
    with srv.client() as c:
        r = c.post("/v1/schedules", json={"goal": "add 20 22", "every_s": 1, "policy": "require-approval"})
        assert r.status_code == 201, r.text
        sched = r.json()
        assert sched["id"].startswith("sch_") and sched["trigger"] == "interval" and sched["every_s"] == 1
        assert sched["next_fire_time"] and sched["created_by"] == srv.keys["engineer"].split("_")[1]
        listed = c.get("/v1/schedules").json()
        assert sched["id"] in [s["id"] for s in listed["data"]] and listed["count"] == len(listed["data"])

        done = poll(lambda: runs_of(c, sched["id"], status="succeeded"), timeout_s=60, what="a scheduled run to succeed")[0]
        assert done["trigger"] == "schedule" and done["fire_time"] and done["answer"] == "The result is 42."
        assert done["owner"] == srv.server.app.state.runs.worker_id  # fired by the server's own scheduler
        detail = c.get(f"/v1/runs/{done['id']}").json()
        assert [t["name"] for t in detail["trace"]["tool_calls"]] == ["api_add"]
        assert detail["trace"]["result"] == {"type": "number", "value": 42} and detail["decisions"] == []
        links = detail["links"]
        assert links["schedule"] == f"/v1/schedules/{sched['id']}" and links["approvals"] == []
        assert links["report_md"] == f"/v1/reports/runs/{done['id']}.md"
        with srv.client("viewer") as v:
            report = v.get(links["report_md"])
            assert report.status_code == 200 and done["id"] in report.text and "The result is 42." in report.text
            assert v.get(links["report_html"]).status_code == 200
            assert v.get(links["thread"]).json()["messages"][0]["content"] == "add 20 22"

        final = settle(c, sched["id"])
        assert final["status"] == "cancelled" and final["runs"] and final["runs"][0]["schedule_id"] == sched["id"]
        assert sched["id"] not in [s["id"] for s in c.get("/v1/schedules").json()["data"]]
        assert sched["id"] in [s["id"] for s in c.get("/v1/schedules", params={"status": "cancelled"}).json()["data"]]
        n = len(runs_of(c, sched["id"]))
        time.sleep(2.5)  # no firing after the cancel
        assert len(runs_of(c, sched["id"])) == n
        again = c.delete(f"/v1/schedules/{sched['id']}")
        assert again.status_code == 409 and again.json()["error"]["param"] == "schedule_id"


def test_waiting_run_is_approved_over_http(srv: Srv) -> None:
    with srv.client() as c:
        sched = c.post("/v1/schedules", json={"goal": "write 613", "every_s": 1}).json()
        assert sched["policy"] == "require-approval"
        poll(lambda: runs_of(c, sched["id"], status="waiting_approval"), timeout_s=60, what="a run waiting for approval")
        settle(c, sched["id"])
        waiting = runs_of(c, sched["id"], status="waiting_approval")
        assert len(waiting) == 1  # a newer proposal supersedes (cancels) the older ones
        run = waiting[0]
        others = [r for r in runs_of(c, sched["id"]) if r["id"] != run["id"]]
        assert all(r["status"] == "cancelled" for r in others)
        assert LEDGER.count(613) == 0  # nothing applied while it waits

        with srv.client("viewer") as v:
            pending = v.get("/v1/approvals").json()["data"]
        mine = [a for a in pending if a["thread_id"] == run["thread_id"]]
        assert len(mine) == 1 and mine[0]["tool"] == "api_write_ledger" and mine[0]["args"] == {"value": 613}
        assert mine[0]["requested_by"] == f"run:{run['id']}"
        assert run["links"]["approvals"] == [f"/v1/approvals/{mine[0]['id']}"]
        superseded = {r["thread_id"] for r in others}
        assert not [a for a in pending if a["thread_id"] in superseded]

        r = c.post(run["links"]["approvals"][0], json={"decision": "approve", "comment": "tonight is fine"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["approval"]["status"] == "approved" and body["result"]["answer"] == "The result is 613."
        assert body["run"]["id"] == run["id"] and body["run"]["status"] == "succeeded"
        assert LEDGER.count(613) == 1

        detail = c.get(f"/v1/runs/{run['id']}").json()
        assert detail["status"] == "succeeded" and detail["pending_approvals"] == [] and detail["links"]["approvals"] == []
        assert [(d["tool"], d["decision"], d["ok"]) for d in detail["decisions"]] == [("api_write_ledger", "approved", True)]
        report = c.get(detail["links"]["report_md"]).text
        assert "approved" in report and "succeeded" in report
        assert not [a for a in c.get("/v1/approvals").json()["data"] if a["thread_id"] == run["thread_id"]]
        twice = c.post(run["links"]["approvals"][0], json={"decision": "approve"})
        assert twice.status_code == 409

    with srv.client("admin") as a:
        audit = a.get("/v1/audit", params={"limit": 1000}).json()["data"]
    created = [e for e in audit if e["action"] == "POST /v1/schedules" and e["detail"].get("schedule_id") == sched["id"]]
    assert created and created[0]["outcome"] == "ok" and created[0]["detail"]["policy"] == "require-approval"
    decided = [e for e in audit if e["action"] == "POST /v1/approvals/{approval_id}" and e["detail"].get("run_id") == run["id"]]
    assert decided and decided[0]["detail"]["decision"] == "approve" and decided[0]["detail"]["run_status"] == "succeeded"
    cancelled = [e for e in audit if e["action"] == "DELETE /v1/schedules/{schedule_id}"]
    assert any(e["detail"].get("schedule_id") == sched["id"] for e in cancelled)


def test_run_now_cancel_and_reject(srv: Srv) -> None:
    with srv.client() as c:
        sched = c.post("/v1/schedules", json={"goal": "write 614", "cron": NEVER, "tz": "Europe/Berlin"}).json()
        assert sched["trigger"] == "cron" and sched["tz"] == "Europe/Berlin"
        r = c.post(f"/v1/schedules/{sched['id']}/run-now")
        assert r.status_code == 200, r.text
        run = r.json()
        assert run["status"] == "waiting_approval" and run["trigger"] == "manual"
        assert run["pending_approvals"][0]["args"] == {"value": 614} and len(run["links"]["approvals"]) == 1
        aid_url = run["links"]["approvals"][0]
        assert c.get(aid_url).json()["status"] == "pending"
        busy = c.post(f"/v1/runs/{run['id']}/resume")
        assert busy.status_code == 409 and aid_url in busy.json()["error"]["message"]

        cancelled = c.post(f"/v1/runs/{run['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert c.get(aid_url).json()["status"] == "stale"
        late = c.post(aid_url, json={"decision": "approve"})
        assert late.status_code == 409 and late.json()["error"]["param"] == "approval_id"
        assert c.post(f"/v1/runs/{run['id']}/cancel").status_code == 409

        second = c.post(f"/v1/schedules/{sched['id']}/run-now").json()
        rejected = c.post(second["links"]["approvals"][0], json={"decision": "reject", "comment": "not today"})
        assert rejected.status_code == 200, rejected.text
        assert rejected.json()["run"]["status"] == "succeeded"
        assert c.get(f"/v1/runs/{second['id']}").json()["decisions"][0]["decision"] == "rejected"
        assert LEDGER.count(614) == 0
        assert [r["trigger"] for r in runs_of(c, sched["id"])] == ["manual", "manual"]


def test_run_waiting_from_another_worker_is_decided_over_http(srv: Srv) -> None:
    """A run fired outside the server (a CLI worker on the same data dir) is listed and resumed by the server."""
    settings = srv.server.settings
    with RunStore(settings.runs_db_url) as store, worker_session(store, settings) as worker_id:
        sched = create_schedule(store, goal="write 615", cron=NEVER, created_by="cli")
        run = run_now(store, sched.id, settings, scripted_brain, worker_id=worker_id)
    assert run.status == "waiting_approval" and run.owner == worker_id
    with srv.client() as c:
        listed = [a for a in c.get("/v1/approvals").json()["data"] if a["thread_id"] == run.thread_id]
        assert [a["requested_by"] for a in listed] == [f"run:{run.id}"]
        done = c.post(f"/v1/approvals/{listed[0]['id']}", json={"decision": "edit", "args": {"value": 616}})
        assert done.status_code == 200, done.text
        assert done.json()["run"]["status"] == "succeeded" and done.json()["result"]["answer"] == "The result is 616."
        assert done.json()["run"]["owner"] == srv.server.app.state.runs.worker_id
    assert (LEDGER.count(615), LEDGER.count(616)) == (0, 1)


def test_crashed_run_resumes_over_http(srv: Srv) -> None:
    with srv.client() as c:
        before = c.get(f"/v1/runs/{srv.orphan_id}").json()
        assert before["status"] == "failed" and before["resumable"] is True and "interrupted" in before["error"]
        r = c.post(f"/v1/runs/{srv.orphan_id}/resume")
        assert r.status_code == 200, r.text
        after = r.json()
        assert after["status"] == "succeeded" and after["answer"] == "The result is 42." and after["attempts"] == 2
        assert after["owner"] == srv.server.app.state.runs.worker_id and after["error"] is None
        again = c.post(f"/v1/runs/{srv.orphan_id}/resume")
        assert again.status_code == 409 and again.json()["error"]["param"] == "run_id"


@pytest.mark.parametrize(("body", "status", "param"), [
    ({"goal": "add 1 1", "cron": "61 * * * *"}, 422, "cron"),
    ({"goal": "add 1 1", "cron": "every day"}, 422, "cron"),
    ({"goal": "add 1 1", "cron": "0 0 31 2 *"}, 422, "cron"),
    ({"goal": "add 1 1"}, 422, "cron"),
    ({"goal": "add 1 1", "cron": NEVER, "every_s": 60}, 422, "cron"),
    ({"goal": "add 1 1", "every_s": 0.2}, 422, "every_s"),
    ({"goal": "add 1 1", "every_s": "soon"}, 422, "every_s"),
    ({"goal": "add 1 1", "cron": NEVER, "tz": "Mars/Olympus"}, 422, "tz"),
    ({"goal": "add 1 1", "cron": NEVER, "policy": "yolo"}, 422, "policy"),
    ({"goal": "   ", "cron": NEVER}, 422, "goal"),
    ({"cron": NEVER}, 422, "goal"),
    ({"goal": "add 1 1", "cron": NEVER, "model": "gpt-9"}, 400, "model"),
    ({"goal": "add 1 1", "cron": NEVER, "colour": "red"}, 422, "colour"),
])
def test_bad_schedule_requests_name_the_field(srv: Srv, body: dict[str, Any], status: int, param: str) -> None:
    with srv.client() as c:
        r = c.post("/v1/schedules", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["message"]


def test_closed_loop_schedule_over_http(srv: Srv) -> None:
    body = {"loop": {"asset": "CNC-07", "endpoint": "opc.tcp://127.0.0.1:4840/indagent/"}, "every_s": 3600,
            "policy": "require-approval"}
    with srv.client() as c:
        r = c.post("/v1/schedules", json=body)
        assert r.status_code == 201, r.text
        sched = r.json()
        assert sched["kind"] == "loop" and sched["loop"]["asset"] == "CNC-07" and sched["loop"]["lookback_days"] == 7
        assert sched["goal"].startswith("closed loop on CNC-07") and sched["every_s"] == 3600
        got = c.get(f"/v1/schedules/{sched['id']}").json()
        assert got["kind"] == "loop" and got["loop"] == sched["loop"]
        assert c.delete(f"/v1/schedules/{sched['id']}").status_code == 200
        for bad, param in (({"endpoint": "http://plc:4840"}, "endpoint"), ({"lookback_days": 0}, "lookback_days"),
                           ({"assett": "CNC-07"}, "assett")):
            r = c.post("/v1/schedules", json={"loop": bad, "cron": NEVER})
            assert r.status_code == 422, r.text
            assert param in r.json()["error"]["param"], r.json()


def test_unknown_ids_and_roles(srv: Srv) -> None:
    with srv.client("viewer") as v:
        assert v.get("/v1/runs").status_code == 200
        missing = v.get("/v1/runs/run_0123456789ab")
        assert missing.status_code == 404 and missing.json()["error"]["param"] == "run_id"
        assert "GET /v1/schedules or GET /v1/runs" in missing.json()["error"]["message"]
        assert v.get("/v1/schedules/sch_0123456789").json()["error"]["param"] == "schedule_id"
        assert v.get("/v1/schedules/nope").status_code == 422
        assert v.get("/v1/runs", params={"status": "sleeping"}).json()["error"]["param"] == "status"
        denied = v.post("/v1/schedules", json={"goal": "write 1", "cron": NEVER})
        assert denied.status_code == 403 and "engineer" in denied.json()["error"]["message"]
    with srv.client() as c:
        assert c.post("/v1/schedules/sch_0123456789/run-now").status_code == 404
        assert c.post("/v1/runs/run_0123456789ab/cancel").status_code == 404


def _our_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    prefixes = ("APScheduler", "ThreadPoolExecutor", "runs-heartbeat")
    return [t for t in threading.enumerate() if t not in before and t.is_alive() and t.name.startswith(prefixes)]


def test_scheduler_lifecycle_and_off_switch(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    on = make_settings(tmp_path / "on", runs_in_server=True)
    with LiveServer(on) as s:
        handle = s.app.state.runs
        assert handle.scheduler.running
        with RunStore(on.runs_db_url) as store:
            assert store.worker_alive(handle.worker_id, stale_after_s=60)
    assert s.app.state.runs is None and not handle.scheduler.running
    with RunStore(on.runs_db_url) as store:
        assert not store.worker_alive(handle.worker_id, stale_after_s=60)  # unregistered on shutdown
    poll(lambda: not _our_threads(before), timeout_s=10, what="scheduler threads to end")

    off = make_settings(tmp_path / "off")  # runs_in_server=False: schedules are stored, run-now still works
    with LiveServer(off) as s, s.client() as c:
        assert s.app.state.runs is None
        sched = c.post("/v1/schedules", json={"goal": "add 1 2", "every_s": 1}).json()
        assert sched["next_fire_time"]
        run = c.post(f"/v1/schedules/{sched['id']}/run-now").json()
        assert run["status"] == "succeeded" and run["answer"] == "The result is 3." and run["owner"]
        time.sleep(1.5)
        assert len(runs_of(c, sched["id"])) == 1  # nothing fires in a server without the scheduler
        with RunStore(off.runs_db_url) as store:
            assert not store.worker_alive(run["owner"], stale_after_s=60)  # the request's worker left
    poll(lambda: not _our_threads(before), timeout_s=10, what="worker threads to end")

"""Checkpoints and the run job store on a real PostgreSQL server (Debian's package, 127.0.0.1).

Skipped with the reason when the server binaries or psycopg are missing (see tests/scaleout/pg.py).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import psycopg
import pytest

from agents.checkpoint import open_checkpointer
from agents.runner import ask, pending_approvals, resume
from server.runs import RunStore, create_schedule
from server.runs.store import RunRecord, engine_url, new_run_id, utcnow
from server.settings import Settings
from tests.scaleout.apps import api_brain, api_workers
from tests.scaleout.pg import pg_cluster, pg_url  # noqa: F401 - fixtures
from tests.server.conftest_runs import wait_until


@pytest.fixture
def settings(data_dir: Path, pg_url: str) -> Settings:  # noqa: F811 - pg_url is the imported fixture
    return Settings(data_dir=data_dir, checkpoint_url=pg_url, jobstore_url=pg_url)


def test_plain_postgres_url_gets_the_psycopg3_driver() -> None:
    assert engine_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert engine_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("sqlite:////tmp/x.sqlite") == "sqlite:////tmp/x.sqlite"
    assert engine_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_workers_starting_together_create_the_schema_once(pg_url: str) -> None:  # noqa: F811
    """Checkpointer migrations and the runs tables are created under advisory locks: no duplicate-table race."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(30)
            with open_checkpointer(url=pg_url) as saver, RunStore(pg_url) as store:
                assert saver.get_tuple({"configurable": {"thread_id": "none"}}) is None
                assert store.list_schedules() == []
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        migrations = conn.execute("SELECT count(*), count(DISTINCT v) FROM checkpoint_migrations").fetchone()
    assert {"checkpoints", "checkpoint_writes", "runs", "run_claims", "schedules", "apscheduler_jobs"} <= tables
    assert migrations is not None and migrations[0] == migrations[1] > 0


def test_thread_and_approval_continue_on_a_second_graph_instance(settings: Settings) -> None:
    with api_brain(settings) as one, api_brain(settings) as two:
        assert one.graph is not two.graph and one.graph.checkpointer is not two.graph.checkpointer
        first = ask(one.graph, one.context(), "first question")
        again = ask(two.graph, two.context(), "second question", thread_id=first.thread_id)
        assert again.answer.startswith("I have seen 2 messages: first question | second question")
        waiting = ask(one.graph, one.context(), "write 8")
        assert waiting.pending_approval is not None and waiting.pending_approval["args"] == {"value": 8}
        [pending] = pending_approvals(two.graph, waiting.thread_id)
        assert pending["args"] == {"value": 8}
        done = resume(two.graph, two.context(actor="eve"), waiting.thread_id, {"decision": "approve", "by": "eve"})
        assert done.answer == "The result is 8." and done.tool_calls[-1].ok
        assert pending_approvals(one.graph, waiting.thread_id) == []


def test_claim_is_exactly_once_under_concurrency(settings: Settings) -> None:
    seed = RunStore(settings.runs_db_url)
    sched = create_schedule(seed, goal="add 1 2", cron="0 2 * * *")
    fire = datetime(2030, 1, 1, 2, 0)
    wins: list[bool] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        store = RunStore(settings.runs_db_url)  # its own engine and connections, like another process
        run = RunRecord(id=new_run_id(), schedule_id=sched.id, goal=sched.goal, policy=sched.policy, status="queued",
                        fire_time=fire, created_at=utcnow(), thread_id=new_run_id())
        barrier.wait(30)
        wins.append(store.claim(run, worker_id="w"))
        store.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(wins) == [False] * 5 + [True]
    assert [f for f, _ in seed.claims_for(sched.id)] == [fire]
    assert seed.engine.dialect.name == "postgresql"
    seed.close()


def _runs(url: str, schedule_id: str) -> list[RunRecord]:
    with RunStore(url) as store:
        return store.list_runs(schedule_id=schedule_id, limit=1000)


@pytest.mark.slow
def test_two_api_workers_share_threads_approvals_and_fire_each_schedule_once(data_dir: Path,
                                                                               pg_url: str) -> None:  # noqa: F811
    """Two uvicorn processes, one Postgres (checkpoints + job store), each also running the run scheduler."""
    env = {"INDAGENT_RUNS_HEARTBEAT_S": "0.3", "INDAGENT_RUNS_IN_SERVER": "true"}
    with api_workers(data_dir, pg_url, n=2, env=env) as (a, b), httpx.Client(timeout=60) as c:
        sched = c.post(f"{a}/v1/schedules", json={"goal": "add 2 40", "every_s": 1, "policy": "auto-approve"})
        assert sched.status_code == 201, sched.text
        sched_id = sched.json()["id"]

        # thread continuity: one conversation, alternating workers
        first = c.post(f"{a}/v1/chat", json={"message": "first question"}).json()
        again = c.post(f"{b}/v1/chat", json={"message": "second question", "thread_id": first["thread_id"]}).json()
        assert again["thread_id"] == first["thread_id"]
        assert again["answer"].startswith("I have seen 2 messages: first question | second question")
        third = c.post(f"{a}/v1/chat", json={"message": "third", "thread_id": first["thread_id"]}).json()
        assert third["answer"].startswith("I have seen 3 messages")

        # approval resume: proposed on worker a, decided on worker b
        waiting = c.post(f"{a}/v1/chat", json={"message": "write 8"}).json()
        aid = waiting["pending_approval"]["approval_id"]
        assert aid in [x["id"] for x in c.get(f"{b}/v1/approvals").json()["data"]]
        view = c.get(f"{b}/v1/threads/{waiting['thread_id']}").json()
        assert view["waiting_for_approval"] and view["pending"][0]["args"] == {"value": 8}
        done = c.post(f"{b}/v1/approvals/{aid}", json={"decision": "approve", "comment": "worker b"}).json()
        assert done["result"]["answer"] == "The result is 8." and done["result"]["tool_calls"][-1]["ok"]
        assert c.post(f"{a}/v1/approvals/{aid}", json={"decision": "approve"}).status_code == 409  # decided on b
        assert not c.get(f"{a}/v1/threads/{waiting['thread_id']}").json()["waiting_for_approval"]

        # no double firing: both servers fire the schedule; each fire time runs once
        wait_until(lambda: len([r for r in _runs(pg_url, sched_id) if r.status == "succeeded"]) >= 4,
                   timeout_s=60, what="four scheduled runs")
        assert c.delete(f"{b}/v1/schedules/{sched_id}").status_code == 200
    runs = _runs(pg_url, sched_id)  # both servers stopped: runs in flight have finished
    fire_times = sorted(r.fire_time for r in runs if r.fire_time is not None)
    assert len(fire_times) == len(set(fire_times)) == len(runs) >= 4
    assert all((y - x) >= timedelta(seconds=1) for x, y in pairwise(fire_times))
    assert all(r.status == "succeeded" and r.trace and r.trace["answer"] == "The result is 42." for r in runs)
    with RunStore(pg_url) as store:
        assert sorted(run_id for _, run_id in store.claims_for(sched_id)) == sorted(r.id for r in runs)

"""Scheduled autonomous runs: firing, policies and approvals, restarts, two workers, crashes."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from server.runs import (
    RunStateError,
    RunStore,
    SchedulerHandle,
    cancel_run,
    create_schedule,
    resume_run,
    run_now,
    start_scheduler,
)
from server.runs.scheduler import worker_session
from server.runs.store import RunRecord, new_run_id, utcnow
from server.settings import Settings
from tests.server.conftest_runs import ledger, scripted_brain, wait_until, worker_process

FORK = mp.get_context("fork")


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, runs_heartbeat_s=0.2, runs_misfire_grace_s=30)


def _runs(settings: Settings, **kw) -> list[RunRecord]:
    store = RunStore(settings.runs_db_url)
    try:
        return store.list_runs(limit=1000, **kw)
    finally:
        store.close()


def _finished(settings: Settings, schedule_id: str, n: int = 1) -> list[RunRecord]:
    done = [r for r in _runs(settings, schedule_id=schedule_id) if r.status not in ("queued", "running")]
    return done if len(done) >= n else []


def test_schedule_fires_and_applies_what_policy_allows(settings: Settings) -> None:
    handle = start_scheduler(settings, scripted_brain)
    try:
        sched = handle.add_schedule(goal="write 5", every_s=0.4, policy="auto-approve-within-bounds")
        wait_until(lambda: _finished(settings, sched.id, 2), timeout_s=20, what="two runs")
        handle.cancel_schedule(sched.id)
    finally:
        handle.shutdown()
    runs = _runs(settings, schedule_id=sched.id)
    assert runs and all(r.status == "succeeded" for r in runs), [(r.status, r.error) for r in runs]
    assert ledger(settings) == [5] * len(runs)  # each run applied its in-bounds write exactly once
    run = runs[-1]
    assert run.trace and run.trace["answer"] == "The result is 5." and run.trace["route"]["agent"] == "knowledge"
    assert run.decisions == [{"tool": "write_ledger", "args": {"value": 5}, "decision": "auto", "ok": True, "error": None}]
    assert run.fire_time is not None and run.started_at >= run.fire_time and run.finished_at >= run.started_at
    md, page = Path(run.report_md), Path(run.report_html)
    assert md.parent == settings.reports_dir / "runs" and md.name == f"{run.id}.md"
    assert "write_ledger" in md.read_text() and "| Status | succeeded |" in md.read_text()
    assert page.read_text().startswith("<!doctype html>") and "The result is 5." in page.read_text()


@pytest.mark.parametrize(("goal", "policy"), [("write 3", "require-approval"), ("write 50", "auto-approve-within-bounds")])
def test_run_not_allowed_by_policy_waits_with_nothing_applied(settings: Settings, goal: str, policy: str) -> None:
    handle = start_scheduler(settings, scripted_brain)
    try:
        sched = handle.add_schedule(goal=goal, every_s=0.3, policy=policy)
        wait_until(lambda: _finished(settings, sched.id), timeout_s=20, what="a run")
        handle.cancel_schedule(sched.id)
    finally:
        handle.shutdown()
    runs = _runs(settings, schedule_id=sched.id)
    [run] = [r for r in runs if r.status == "waiting_approval"]  # a newer proposal supersedes older ones
    assert all(r.status == "cancelled" and "superseded by" in (r.error or "") for r in runs if r is not run)
    assert ledger(settings) == []
    assert [(p["tool"], p["args"], p["policy"]) for p in run.pending_approvals] == [
        ("write_ledger", {"value": int(goal.split()[1])}, policy)]
    assert "indagent runs approve" in Path(run.report_md).read_text()
    # a person approves: the action is applied once and the run completes
    store = RunStore(settings.runs_db_url)
    try:
        with worker_session(store, settings) as wid, scripted_brain(settings) as brain:
            done = resume_run(store, run.id, brain, worker_id=wid, decision={"decision": "approve", "by": "alice"})
            assert done.status == "succeeded" and done.pending_approvals == []
            assert done.decisions[0]["decision"] == "approved"
            with pytest.raises(RunStateError, match="not waiting_approval"):
                resume_run(store, run.id, brain, worker_id=wid, decision={"decision": "approve"})
    finally:
        store.close()
    assert ledger(settings) == [int(goal.split()[1])]


def test_superseded_rejected_or_cancelled_waiting_runs_apply_nothing(settings: Settings) -> None:
    with RunStore(settings.runs_db_url) as store, worker_session(store, settings) as wid:
        sched = create_schedule(store, goal="write 4", cron="0 2 * * *", policy="require-approval")
        first = run_now(store, sched.id, settings, scripted_brain, worker_id=wid)
        second = run_now(store, sched.id, settings, scripted_brain, worker_id=wid)
        assert first.status == second.status == "waiting_approval" and second.trigger == "manual"
        old = store.get_run(first.id)  # the newer proposal supersedes the older one
        assert old.status == "cancelled" and old.pending_approvals == [] and f"superseded by {second.id}" in old.error
        with scripted_brain(settings) as brain:
            with pytest.raises(RunStateError, match="not waiting_approval"):
                resume_run(store, first.id, brain, worker_id=wid, decision={"decision": "approve"})
            rejected = resume_run(store, second.id, brain, worker_id=wid,
                                  decision={"decision": "reject", "by": "bob", "comment": "not tonight"})
        assert rejected.status == "succeeded" and "not tonight" in rejected.trace["answer"]
        assert rejected.decisions[0]["decision"] == "rejected"
        third = run_now(store, sched.id, settings, scripted_brain, worker_id=wid)
        assert cancel_run(store, third.id).status == "cancelled"
        with pytest.raises(RunStateError, match="only queued"):
            cancel_run(store, third.id)
    assert ledger(settings) == []


def test_claim_is_exactly_once_under_concurrency(settings: Settings) -> None:
    seed = RunStore(settings.runs_db_url)
    sched = create_schedule(seed, goal="add 1 2", cron="0 2 * * *")
    fire = datetime(2030, 1, 1, 2, 0)
    wins: list[bool] = []

    def claim() -> None:
        store = RunStore(settings.runs_db_url)  # its own engine and connections, like another process
        run = RunRecord(id=new_run_id(), schedule_id=sched.id, goal=sched.goal, policy=sched.policy, status="queued",
                        fire_time=fire, created_at=utcnow(), thread_id=new_run_id())
        wins.append(store.claim(run, worker_id="w"))
        store.close()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(wins) == [False] * 7 + [True]
    assert [f for f, _ in seed.claims_for(sched.id)] == [fire]
    seed.close()


def _fire_in_child(settings: Settings, schedule_id: str, fire: datetime, go: mp.synchronize.Event) -> None:
    handle = SchedulerHandle(settings, scripted_brain)
    handle.worker_id = handle.store.register_worker().id
    go.wait(30)
    handle.fire(schedule_id, fire)
    handle.store.close()


def test_same_firing_in_two_processes_runs_once(settings: Settings) -> None:
    store = RunStore(settings.runs_db_url)
    sched = create_schedule(store, goal="write 2", cron="0 2 * * *", policy="auto-approve")
    fire = datetime(2030, 1, 1, 2, 0)
    go = FORK.Event()
    child = FORK.Process(target=_fire_in_child, args=(settings, sched.id, fire, go))
    child.start()
    handle = SchedulerHandle(settings, scripted_brain, store=store)
    handle.worker_id = store.register_worker().id
    go.set()
    mine = handle.fire(sched.id, fire)
    child.join(30)
    assert child.exitcode == 0
    runs = store.list_runs(schedule_id=sched.id)
    assert len(runs) == 1 and runs[0].fire_time == fire and runs[0].status == "succeeded"
    assert ledger(settings) == [2]
    assert (mine is None) != (runs[0].owner == handle.worker_id)
    store.close()


def _worker_child(settings: Settings, stop: mp.synchronize.Event) -> None:
    handle = start_scheduler(settings, scripted_brain)
    stop.wait(60)
    handle.shutdown()


def test_two_workers_do_not_double_fire(settings: Settings) -> None:
    store = RunStore(settings.runs_db_url)
    sched = create_schedule(store, goal="write 1", every_s=0.25, policy="auto-approve")
    stop = FORK.Event()
    child = FORK.Process(target=_worker_child, args=(settings, stop))
    child.start()
    handle = start_scheduler(settings, scripted_brain, store=store)
    wait_until(lambda: len(_finished(settings, sched.id, 6)), timeout_s=30, what="six runs")
    stop.set()
    child.join(30)
    handle.cancel_schedule(sched.id)
    handle.shutdown()
    assert child.exitcode == 0
    runs = [r for r in store.list_runs(schedule_id=sched.id, limit=1000) if r.status != "running"]
    fire_times = [r.fire_time for r in runs]
    assert len(fire_times) == len(set(fire_times)) >= 6  # one run per fire time, whoever fired it
    assert all((b - a) >= timedelta(seconds=0.25) for a, b in zip(sorted(fire_times), sorted(fire_times)[1:], strict=False))
    assert all(r.status == "succeeded" for r in runs) and ledger(settings) == [1] * len(runs)
    store.close()


def _blocking_child(settings: Settings) -> None:
    start_scheduler(settings, scripted_brain)
    threading.Event().wait(120)  # killed by the test


def test_crashed_run_is_marked_failed_and_resumes_from_its_thread(settings: Settings) -> None:
    store = RunStore(settings.runs_db_url)
    sched = create_schedule(store, goal="block", every_s=0.3, policy="require-approval")
    child = FORK.Process(target=_blocking_child, args=(settings,))
    child.start()
    blocked = settings.reports_dir / "blocked"
    wait_until(blocked.exists, timeout_s=30, what="the run to start")
    os.kill(child.pid, signal.SIGKILL)  # a crash: no clean shutdown, no status update
    child.join(10)
    [running] = store.list_runs(schedule_id=sched.id)
    assert running.status == "running"
    create_schedule(store, goal="add 1 2", cron="0 2 * * *")  # unrelated, keeps the store busy
    from server.runs import cancel_schedule

    cancel_schedule(store, sched.id)
    handle = start_scheduler(settings, scripted_brain, store=store)  # a restarted worker
    handle.shutdown()
    [failed] = handle.recovered
    assert failed.id == running.id and failed.status == "failed" and failed.resumable
    assert "interrupted" in (failed.error or "") and f"indagent runs resume {failed.id}" in failed.error
    assert store.get_schedule(sched.id).running_run_id is None
    (settings.reports_dir / "release").write_text("go")
    with worker_session(store, settings) as wid, scripted_brain(settings) as brain:
        done = resume_run(store, failed.id, brain, worker_id=wid)
        assert done.status == "succeeded" and done.thread_id == running.thread_id and done.attempts == 2
        assert done.trace["answer"] == "The result is 1."
        with pytest.raises(RunStateError, match="only a run interrupted by a crash"):
            resume_run(store, failed.id, brain, worker_id=wid)
    store.close()


def test_schedule_survives_restart_into_a_separate_worker_process(settings: Settings) -> None:
    first = start_scheduler(settings, scripted_brain)
    sched = first.add_schedule(goal="write 7", every_s=0.5, policy="auto-approve-within-bounds")
    wait_until(lambda: _finished(settings, sched.id), timeout_s=20, what="the first run")
    first.shutdown()
    n_before = len(_runs(settings, schedule_id=sched.id))
    proc = worker_process(settings.data_dir, max_seconds=60)  # `python -m server.cli_runs worker`: a new process
    try:
        wait_until(lambda: len(_finished(settings, sched.id, n_before + 1)), timeout_s=60, what="runs by the new worker")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped:" in err
    owners = {r.owner for r in _runs(settings, schedule_id=sched.id)}
    assert len(owners) == 2  # the schedule kept firing after the first process stopped
    store = RunStore(settings.runs_db_url)
    assert not any(store.worker_alive(o, stale_after_s=60) for o in owners)  # both unregistered on a clean stop
    store.close()


def test_missed_firings_coalesce_into_one_run(settings: Settings) -> None:
    store = RunStore(settings.runs_db_url)
    sched = create_schedule(store, goal="add 1 2", every_s=0.2, misfire_grace_s=30)
    wait_until(lambda: utcnow() > sched.next_fire_time + timedelta(seconds=1.2), timeout_s=5, what="missed firings")
    started = utcnow()  # ~6 firings were missed while no worker ran
    handle = start_scheduler(settings, scripted_brain, store=store)
    wait_until(lambda: _finished(settings, sched.id), timeout_s=20, what="the catch-up run")
    handle.cancel_schedule(sched.id)
    handle.shutdown()
    missed = [r for r in store.list_runs(schedule_id=sched.id) if r.fire_time < started]
    assert len(missed) == 1 and missed[0].status == "succeeded"
    store.close()


def test_runs_database_of_an_older_release_gains_the_loop_columns(settings: Settings) -> None:
    from sqlalchemy import text

    with RunStore(settings.runs_db_url) as store:
        old = create_schedule(store, goal="add 1 2", cron="0 2 * * *")
        with store.engine.begin() as conn:  # what a database of the release before closed-loop runs looked like
            for table in ("schedules", "runs"):
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN kind"))
                conn.execute(text(f"ALTER TABLE {table} DROP COLUMN loop"))
    with RunStore(settings.runs_db_url) as store:
        assert store.get_schedule(old.id).kind == "goal" and store.get_schedule(old.id).loop is None
        from server.runs import LoopSpec

        new = create_schedule(store, loop=LoopSpec(asset="CNC-07"), cron="0 * * * *")
        got = store.get_schedule(new.id)
        assert got.kind == "loop" and got.loop == LoopSpec(asset="CNC-07") and got.goal.startswith("closed loop on CNC-07")

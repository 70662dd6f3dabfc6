"""``indagent runs ...`` through typer's CliRunner: JSON output, errors, run-now / approve / cancel."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server.cli_runs import app
from server.settings import get_settings
from tests.server.conftest_runs import ledger

BRAIN = ["--brain-factory", "tests.server.conftest_runs:scripted_brain"]
runner = CliRunner()


def _json(args: list[str]) -> dict:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_schedule_list_show_run_now_approve_cancel(data_dir: Path) -> None:
    sched = _json(["schedule", "--cron", "0 2 * * *", "--goal", "write 6", "--policy", "require-approval"])
    assert sched["id"].startswith("sch_") and sched["trigger"] == "cron" and sched["status"] == "active"
    assert sched["next_fire_time"].endswith("T02:00:00")
    listed = _json(["list"])
    assert [s["id"] for s in listed["schedules"]] == [sched["id"]] and listed["count"]["runs"] == 0

    run = _json(["run-now", sched["id"], *BRAIN])
    assert run["status"] == "waiting_approval" and run["trigger"] == "manual" and ledger(get_settings()) == []
    assert run["pending_approvals"][0]["tool"] == "write_ledger"
    assert Path(run["report_md"]).exists() and Path(run["report_html"]).exists()

    shown = _json(["show", sched["id"]])
    assert shown["schedule"]["id"] == sched["id"] and [r["id"] for r in shown["runs"]] == [run["id"]]
    text = runner.invoke(app, ["show", run["id"]]).stdout
    assert "waiting for approval: write_ledger {'value': 6}" in text and f"indagent runs approve {run['id']}" in text

    done = _json(["approve", run["id"], "--by", "alice", *BRAIN])
    assert done["status"] == "succeeded" and done["decisions"][0]["decision"] == "approved"
    assert ledger(get_settings()) == [6]

    cancelled = _json(["cancel", sched["id"]])
    assert cancelled["status"] == "cancelled" and cancelled["next_fire_time"] is None
    assert _json(["list"])["schedules"] == []
    assert _json(["list", "--all"])["schedules"][0]["status"] == "cancelled"
    res = runner.invoke(app, ["run-now", sched["id"], *BRAIN])
    assert res.exit_code == 2 and "is cancelled" in res.stderr


def test_errors_are_one_line_with_the_fix(data_dir: Path) -> None:
    res = runner.invoke(app, ["schedule", "--cron", "0 25 * * *", "--goal", "x"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "e.g. '0 2 * * *'" in res.stderr
    res = runner.invoke(app, ["schedule", "--goal", "x"])
    assert res.exit_code == 2 and "exactly one trigger" in res.stderr
    res = runner.invoke(app, ["schedule", "--cron", "0 2 * * *", "--goal", "x", "--policy", "yolo"])
    assert res.exit_code == 2
    sched = _json(["schedule", "--cron", "0 2 * * *", "--goal", "add 1 2"])
    res = runner.invoke(app, ["show", sched["id"][:-1] + "X"])
    assert res.exit_code == 2 and f"did you mean {sched['id']!r}" in res.stderr
    res = runner.invoke(app, ["approve", "run_nope", *BRAIN])
    assert res.exit_code == 2 and "Unknown run 'run_nope'" in res.stderr
    assert _json(["list"])["count"]["schedules"] == 1  # failed schedule commands left nothing behind


def test_run_is_found_by_its_thread(data_dir: Path) -> None:
    from server.runs import RunStore

    sched = _json(["schedule", "--cron", "0 2 * * *", "--goal", "write 60", "--policy", "auto-approve-within-bounds"])
    run = _json(["run-now", sched["id"], *BRAIN])
    assert run["status"] == "waiting_approval"  # 60 is outside the tool's bounds
    with RunStore(get_settings().runs_db_url) as store:
        assert store.find_by_thread(run["thread_id"]).id == run["id"]
        assert store.find_by_thread("t_unknown") is None
    res = runner.invoke(app, ["approve", run["id"], "--reject", "--comment", "too high", *BRAIN])
    assert res.exit_code == 0 and "succeeded" in res.stdout and "too high" in res.stdout
    assert ledger(get_settings()) == []


def test_worker_log_hides_database_passwords() -> None:
    from server.cli_runs import _redact

    assert _redact("postgresql://app:s3cret@db:5432/indagent") == "postgresql://app:***@db:5432/indagent"
    assert _redact("sqlite:////var/runs.sqlite") == "sqlite:////var/runs.sqlite"


def test_loop_schedule_options(data_dir: Path) -> None:
    sched = _json(["schedule", "--loop", "--every", "15m", "--asset", "CNC-07", "--lookback-days", "3",
                   "--opcua-endpoint", "opc.tcp://plc-gw:4840/", "--policy", "require-approval"])
    assert sched["kind"] == "loop" and sched["every_s"] == 900 and sched["goal"].startswith("closed loop on CNC-07")
    assert sched["loop"] == {"asset": "CNC-07", "lookback_days": 3.0, "endpoint": "opc.tcp://plc-gw:4840/", "solver_s": 3.0}
    assert _json(["show", sched["id"]])["schedule"]["loop"] == sched["loop"]
    goal = _json(["schedule", "--goal", "write 1", "--every", "2"])
    assert goal["kind"] == "goal" and goal["loop"] is None and goal["every_s"] == 2
    for args, msg in ((["--asset", "CNC-07", "--goal", "write 1"], "add --loop"), ([], "--goal"),
                      (["--loop", "--every", "soon"], "not an interval"),
                      (["--loop", "--opcua-endpoint", "http://plc"], "opc")):
        res = runner.invoke(app, ["schedule", *args] + ([] if "--every" in args else ["--cron", "0 2 * * *"]))
        assert res.exit_code == 2 and msg in res.output, (args, res.output)

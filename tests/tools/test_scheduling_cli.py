"""``indagent schedule`` sub-app through typer's CliRunner: JSON contract, errors, repair, maintenance."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server.cli_schedule import app
from tools.scheduling import Downtime, ScheduledOp, load_instance, validate

ROOT = Path(__file__).resolve().parents[2]
FT06 = ROOT / "benches" / "instances" / "jsp" / "ft06.txt"
FIX = ROOT / "tests" / "fixtures" / "scheduling"
runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_solve_json_contract_ft06() -> None:
    out = _json(runner.invoke(app, ["solve", str(FT06), "--format", "orlib", "--time-limit", "10", "--json"]))
    assert set(out) == {"makespan", "lower_bound", "status", "solve_s", "operations"}
    assert (out["makespan"], out["lower_bound"], out["status"]) == (55, 55, "OPTIMAL")
    assert set(out["operations"][0]) == {"job", "op", "machine", "start", "end"}
    ops = [ScheduledOp.model_validate(o) for o in out["operations"]]
    assert validate(load_instance(FT06), ops) == []


def test_solve_with_downtime_and_gantt(tmp_path: Path) -> None:
    png = tmp_path / "g.png"
    args = ["solve", str(FT06), "-f", "orlib", "-t", "3", "--workers", "1", "--downtime", "0:0:20"]
    out = _json(runner.invoke(app, [*args, "--downtime", "3:30:40", "--json", "--gantt", str(png)]))
    inst = load_instance(FT06).with_downtimes([Downtime(machine=0, start=0, end=20), Downtime(machine=3, start=30, end=40)])
    assert validate(inst, [ScheduledOp.model_validate(o) for o in out["operations"]]) == []
    assert png.exists()


def test_solve_flexible_and_human_output() -> None:
    res = runner.invoke(app, ["solve", str(FIX / "tiny.fjs"), "--format", "brandimarte", "-t", "2"])
    assert res.exit_code == 0 and "OPTIMAL" in res.stdout


def test_bad_file_one_line_exit_2() -> None:
    for args in (
        ["solve", str(FIX / "bad_pairs.orlib.txt"), "--format", "orlib"],
        ["solve", str(FT06), "--format", "brandimarte"],
        ["solve", str(FIX / "missing.txt"), "--format", "orlib"],
        ["solve", str(FT06), "--downtime", "9:0:10"],
        ["solve", str(FT06), "--downtime", "x"],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert res.stdout == ""
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error:"), res.stderr


def test_reschedule_and_maintenance_commands(tmp_path: Path) -> None:
    cur = tmp_path / "cur.json"
    cur.write_text(runner.invoke(app, ["solve", str(FT06), "-t", "5", "--json"]).stdout)
    base = json.loads(cur.read_text())
    out = _json(runner.invoke(app, ["reschedule", str(FT06), "-s", str(cur), "--now", "20", "--down", "2:20:35", "--json"]))
    assert out["fixed"] > 0 and out["makespan_before"] == 55 and out["makespan"] >= 55
    kept = {(o["job"], o["op"]): o for o in out["operations"]}
    restarted = {tuple(k) for k in out["restarted"]}
    for o in base["operations"]:
        if o["start"] < 20 and o["machine"] != 2 and (o["job"], o["op"]) not in restarted:
            assert kept[(o["job"], o["op"])] == o
    rush = _json(
        runner.invoke(
            app, ["reschedule", str(FT06), "-s", str(cur), "--now", "10", "--rush", str(FIX / "rush_job.json"), "--json"]
        )
    )
    assert len(rush["operations"]) == 38
    both = runner.invoke(app, ["reschedule", str(FT06), "-s", str(cur), "--now", "1", "--down", "1:1:2", "--late", "0:0:1"])
    assert both.exit_code == 2 and "one event" in both.stderr
    m = _json(runner.invoke(app, ["maintenance", str(FT06), "-s", str(cur), "-m", "1", "-l", "5", "-d", "55", "--json"]))
    assert m["end"] - m["start"] == 5 and m["end"] <= 55 and m["cost"] >= 0

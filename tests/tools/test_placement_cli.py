"""``indagent place``: generate -> solve --json contract, plots, one-line errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server.cli_place import app

CONTRACT = {"objective", "lower_bound", "gap", "status", "solve_s", "slo_hit_rate", "energy_kwh", "carbon_kg",
            "cost", "infeasible_workloads", "assignments"}


def _scenario(tmp_path: Path) -> Path:
    res = CliRunner().invoke(app, ["generate", "--nodes", "10", "--workloads", "30", "--seed", "2"])
    assert res.exit_code == 0, res.output
    path = tmp_path / "scenario.json"
    path.write_text(res.stdout)
    return path


def test_generate_then_solve_json_contract(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    doc = json.loads(path.read_text())
    assert len(doc["nodes"]) == 10 and len(doc["workloads"]) == 30
    for method in ("exact", "heuristic", "auto"):
        res = CliRunner().invoke(app, ["solve", str(path), "--method", method, "--time-limit", "3", "--json"])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert set(out) == CONTRACT
        assert out["status"] in ("optimal", "feasible")
        assert 0.0 <= out["gap"] <= 1.0 and out["lower_bound"] <= out["objective"] + 1e-9
        assert len(out["assignments"]) + len(out["infeasible_workloads"]) == 30
        for a in out["assignments"]:
            assert set(a) == {"workload", "node", "start_hour"}
            assert a["start_hour"] is None or isinstance(a["start_hour"], int)


def test_solve_text_and_plots(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    png, html = tmp_path / "p.png", tmp_path / "p.html"
    res = CliRunner().invoke(app, ["solve", str(path), "--time-limit", "2", "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "objective" in res.stdout and "SLO hit rate" in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = CliRunner().invoke(app, ["solve", str(path), "--time-limit", "2", "--json", "--plot", str(html)])
    assert res.exit_code == 0, res.output
    text = html.read_text()
    assert "device lane" in text and len(text) > 1_000_000  # plotly.js inlined: opens offline


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"nodes": [')
    bad_model = tmp_path / "model.json"
    bad_model.write_text('{"nodes": [], "workloads": []}')
    cases = [
        (["solve", str(bad_json)], "not valid JSON"),
        (["solve", str(bad_model)], "at least one node"),
        (["solve", str(tmp_path / "missing.json")], "No such file"),
        (["solve", str(_scenario(tmp_path)), "--method", "magic"], "Unknown method"),
        (["generate", "--profile", "moon"], "Unknown profile"),
        (["generate", "--nodes", "2"], "nodes must be >= 3"),
    ]
    for args, needle in cases:
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], res.stderr

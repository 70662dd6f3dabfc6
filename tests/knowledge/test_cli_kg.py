from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli_kg import app, default_db_path
from tests.knowledge.kg_fixtures import FIXTURES

runner = CliRunner()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "kg.duckdb"
    res = runner.invoke(app, ["demo", "--scale", "tiny", "--db", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["assets"] == 9
    return path


def _json(args: list[str]) -> dict:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_default_db_path_uses_data_dir(data_dir: Path) -> None:
    assert default_db_path() == data_dir / "indagent.duckdb"
    res = runner.invoke(app, ["init", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["migrations"][0] == "m001_initial"
    assert (data_dir / "indagent.duckdb").exists()


def test_read_commands(db: Path) -> None:
    d = ["--db", str(db), "--json"]
    assert _json(["stats", *d])["nodes_by_kind"]["asset"] == 9
    assert _json(["find", "compressor 1", *d])["matches"][0]["id"] == "CMP-01"
    assert {n["id"] for n in _json(["neighbors", "CHL-01", "--rel", "feeds", *d])["nodes"]} == {"CHL-01", "P-1", "P-4"}
    assert _json(["path", "P-1", "CNC-02", "--directed", "--rel", "feeds", *d])["nodes"] == ["P-1", "CHL-01", "P-4",
                                                                                              "CNC-02"]
    assert "CNC-01" in _json(["impact", "P-4", *d])["assets"]
    assert "P-1" in _json(["impact", "CNC-01", "--upstream", *d])["assets"]
    assert _json(["query", "SELECT count(*) AS n FROM fault_truth", *d])["rows"] == [[3]]
    res = runner.invoke(app, ["stats", "--db", str(db)])
    assert res.exit_code == 0 and "readings" in res.stdout


@pytest.mark.parametrize("args", [
    ["query", "DELETE FROM nodes"], ["find", "x", "--db", "/nonexistent/kg.duckdb"], ["neighbors", "CNC-99"],
    ["neighbors", "CNC-01", "--depth", "9"], ["demo", "--scale", "tiny"],
])
def test_errors_are_one_line_exit_2(db: Path, args: list[str]) -> None:
    full = args if "--db" in args else [*args, "--db", str(db)]
    res = runner.invoke(app, full)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and res.stdout == ""


def test_import_json_report_and_bad_file(tmp_path: Path) -> None:
    db = tmp_path / "kg.duckdb"
    assert runner.invoke(app, ["init", "--db", str(db)]).exit_code == 0
    rep = _json(["import", str(FIXTURES / "readings_wide.csv"), "--kind", "readings", "--asset", "MIL-3", "--db", str(db),
                 "--json"])
    assert {"kind", "rows_read", "rows_accepted", "rows_rejected", "rejects", "nodes_created", "edges_created"} <= set(rep)
    assert (rep["rows_read"], rep["rows_accepted"], rep["rejects"][0]["row"]) == (5, 3, 4)
    for bad in (["missing_column.csv", "--kind", "readings"], ["garbage.csv", "--kind", "readings"],
                ["assets.csv", "--kind", "machines"]):
        res = runner.invoke(app, ["import", str(FIXTURES / bad[0]), *bad[1:], "--db", str(db), "--json"])
        assert res.exit_code == 2 and res.stdout == "" and res.stderr.count("\n") == 1, res.output

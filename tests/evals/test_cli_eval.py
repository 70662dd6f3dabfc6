"""`indagent eval` through its typer app: JSON contract, exit codes 0 / 1 / 2, reports on disk."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server.cli_eval import app

runner = CliRunner()

GOOD = [
    {"id": "greet", "text": "Hello there", "expect_tier": "edge", "group": "small"},
    {"id": "echo", "text": "Please repeat P-4", "check": "text_contains", "expected": "P-4", "group": "small"},
    {"id": "large", "text": "Explain step by step how chillers work", "expect_tier": "cloud", "group": "large"},
]


def write_suite(tmp_path: Path, cases: list[dict], threshold: float = 1.0) -> Path:
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    p = tmp_path / "mine.yaml"
    p.write_text(f"setup: {{demo: {{seed: 0, scale: tiny}}}}\nmodels: scripted\nthreshold: {threshold}\ncases: [c.jsonl]\n")
    return p


def one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert result.stdout == ""


def test_json_run_passes_and_writes_reports(tmp_path: Path, data_dir: Path) -> None:
    res = runner.invoke(app, ["--suite", str(write_suite(tmp_path, GOOD)), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["passed"] is True and doc["suite"] == "mine" and doc["models"] == "scripted"
    assert doc["summary"]["cases"] == 3 and doc["summary"]["tiers"] == {"edge": 2, "cloud": 1}
    row = doc["rows"][0]
    assert set(row) >= {"id", "passed", "answer", "tools", "tier", "model", "latency_ms", "prompt_tokens",
                        "completion_tokens", "outcomes", "value", "expected"}
    report = Path(doc["report"]["html"])
    assert report.parent == data_dir / "reports" and report.exists() and Path(doc["report"]["markdown"]).exists()


def test_missed_threshold_exits_1_with_reasons(tmp_path: Path) -> None:
    bad = [*GOOD, {"id": "wrong", "text": "ping", "check": "exact", "expected": "pong", "group": "large"}]
    res = runner.invoke(app, ["--suite", str(write_suite(tmp_path, bad))])
    assert res.exit_code == 1, res.output
    assert "✗ mine/wrong: exact: got '[scripted-edge] noted: ping', expected 'pong'" in res.stdout
    assert "threshold missed: overall pass rate 75.0% < 100.0%" in res.stdout and "FAILED" in res.stdout
    # the same run with a lower threshold passes
    ok = runner.invoke(app, ["--suite", str(write_suite(tmp_path, bad)), "--threshold", "0.75"])
    assert ok.exit_code == 0, ok.output


def test_cases_file_with_model_override_and_report_path(tmp_path: Path) -> None:
    f = tmp_path / "adhoc.jsonl"
    f.write_text("\n".join(json.dumps(c) for c in GOOD) + "\n")
    out = tmp_path / "out" / "run.md"
    res = runner.invoke(app, ["--cases", str(f), "--scale", "tiny", "--model", "scripted", "--report", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["suite"] == "adhoc" and doc["summary"]["passed"] == 3
    assert out.exists() and out.with_suffix(".html").exists() and out.with_suffix(".png").exists()
    # requesting the edge tier for every case makes the 'large' case fail its cloud expectation
    res2 = runner.invoke(app, ["--cases", str(f), "--scale", "tiny", "--model", "scripted", "--json"])
    assert res2.exit_code == 0
    edge = runner.invoke(app, ["--suite", str(write_suite(tmp_path, GOOD)), "--model", "edge", "--json"])
    assert edge.exit_code == 1 and json.loads(edge.stdout)["summary"]["tiers"] == {"edge": 3}


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    one_line_error(runner.invoke(app, ["--suite", "routting"]), "did you mean 'routing'")
    one_line_error(runner.invoke(app, []), "exactly one of --suite")
    one_line_error(runner.invoke(app, ["--suite", "routing", "--cases", "x.jsonl"]), "exactly one of --suite")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "q", "expected": 1, "check": "number_within:x"}\n')
    one_line_error(runner.invoke(app, ["--cases", str(bad)]), "bad.jsonl:1")
    one_line_error(runner.invoke(app, ["--cases", str(tmp_path / "none.jsonl")]), "does not exist")
    one_line_error(runner.invoke(app, ["--suite", "routing", "--jobs", "0"]), "--jobs must be >= 1")
    one_line_error(runner.invoke(app, ["--suite", "routing", "--threshold", "2"]), "0..1")
    one_line_error(runner.invoke(app, ["--suite", "routing", "--mapping", str(tmp_path)]), "--mapping needs --data")
    one_line_error(runner.invoke(app, ["--suite", str(write_suite(tmp_path, GOOD)), "--data", str(tmp_path / "nope")]),
                   "not a directory")


def test_list_suites() -> None:
    res = runner.invoke(app, ["--list", "--json"])
    assert res.exit_code == 0 and {"routing", "ci"} <= set(json.loads(res.stdout)["suites"])


def test_cases_against_imported_csvs(tmp_path: Path) -> None:
    data = tmp_path / "csv"
    data.mkdir()
    (data / "assets.csv").write_text("Asset ID,Description,Type,Line\nPMP-1,Pump 1,pump,A\n")
    f = tmp_path / "c.jsonl"
    f.write_text(json.dumps({"id": "hi", "text": "Hello PMP-1", "expect_tier": "edge"}) + "\n")
    res = runner.invoke(app, ["--cases", str(f), "--data", str(data), "--model", "scripted", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"][0]["passed"] is True

"""Suites end to end on the tiny demo plant with scripted models (real DuckDB, graph, router)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from agents.state import AskResult
from evals.cases import load_suite
from evals.report import SuiteResult, write_reports
from evals.runner import RunOptions, run_suite
from knowledge.store import KnowledgeStore
from server.settings import Settings

SETUP = "setup: {demo: {seed: 0, scale: tiny}}\nmodels: scripted\n"


# -- functions the suites below reference by "module:function" ------------------------------------------
def asset_cases(store: KnowledgeStore, *, limit: int = 3) -> list[dict[str, Any]]:
    """Cases computed from the open KG: the scripted edge model echoes the question, ids included."""
    ids = [r["id"] for r in store.query("SELECT id FROM nodes WHERE kind = 'asset' ORDER BY id LIMIT ?", [limit])]
    return [{"id": f"echo-{a}", "text": f"Tell me about {a}", "check": "text_contains", "expected": [a],
             "expect_tier": "edge", "group": "echo"} for a in ids]


class PlantMetrics(BaseModel):
    assets: int
    sensors_per_asset: float
    detail: dict[str, float]


def plant_metrics(store: KnowledgeStore, *, factor: float = 1.0) -> PlantMetrics:
    n = store.scalar("SELECT count(*) FROM nodes WHERE kind = 'asset'")
    s = store.scalar("SELECT count(*) FROM nodes WHERE kind = 'sensor'")
    return PlantMetrics(assets=n, sensors_per_asset=s / n * factor, detail={"ratio": factor})


def broken_metrics() -> PlantMetrics:
    raise RuntimeError("solver exploded")


def crashing_check(expected: Any, result: AskResult) -> bool:
    raise ZeroDivisionError("bad scorer")


# -- helpers ------------------------------------------------------------------------------------------------
def suite_file(tmp_path: Path, body: str, cases: list[dict[str, Any]] | None = None, name: str = "s") -> Path:
    if cases is not None:
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    p = tmp_path / f"{name}.yaml"
    p.write_text(body)
    return p


def run(path: Path, data_dir: Path, **kw: Any) -> SuiteResult:
    return run_suite(load_suite(path), RunOptions(settings=Settings(data_dir=data_dir), **kw))


CASES = [
    {"id": "greet", "text": "Hello there", "expect_tier": "edge", "expect_agent": "general", "group": "small"},
    {"id": "echo", "text": "Please repeat CHL-01", "check": "text_contains", "expected": "chl-01", "group": "small"},
    {"id": "exact-text", "text": "ping", "check": "exact", "expected": "[scripted-edge] noted: ping", "group": "small"},
    {"id": "large", "text": "Explain step by step how chillers work", "expect_tier": "cloud", "group": "large"},
    {"id": "asked-edge", "text": "Explain why pumps cavitate", "model": "edge", "expect_tier": "edge",
     "expect_degraded": False, "group": "large"},
    {"id": "down", "text": "Explain why pumps cavitate", "models": "scripted-cloud-down", "expect_tier": "edge",
     "expect_degraded": True, "group": "fallback"},
]


def test_small_suite_end_to_end(tmp_path: Path, data_dir: Path) -> None:
    path = suite_file(tmp_path, SETUP + "threshold: 1.0\ncases: [s.jsonl]\n", CASES)
    res = run(path, data_dir)
    assert res.passed, [r.failure_reason() for r in res.rows]
    assert [r.id for r in res.rows] == [c["id"] for c in CASES]
    s = res.summary
    assert (s.cases, s.passed, s.errors, s.pass_rate) == (6, 6, 0, 1.0)
    assert {g.group: g.cases for g in s.groups} == {"small": 3, "large": 2, "fallback": 1}
    assert s.tiers == {"edge": 5, "cloud": 1}
    assert s.prompt_tokens > 0 and s.completion_tokens > 0 and s.latency_p95_ms >= s.latency_mean_ms / 2 > 0
    down = res.rows[-1]
    assert down.degraded and "cloud call failed" in next(o.reason for o in down.outcomes if o.evaluator == "expect_degraded")
    paths = write_reports(res, data_dir / "reports")
    md = paths.markdown.read_text()
    assert "PASSED" in md and "| large | 2/2 | 100.0% |" in md and paths.chart.read_bytes()[:4] == b"\x89PNG"
    html = paths.html.read_text()
    assert "data:image/png;base64," in html and "greet" in html
    assert json.loads(paths.json_path.read_text())["summary"]["cases"] == 6


def test_threshold_miss_fails_the_suite_and_names_the_group(tmp_path: Path, data_dir: Path) -> None:
    cases = [*CASES[:2], {"id": "wrong", "text": "ping", "check": "exact", "expected": "pong", "group": "strict"},
             {"id": "no-tool", "text": "ping", "expect_tools": ["no_such_tool"], "group": "strict"}]
    path = suite_file(tmp_path, SETUP + "thresholds: {overall: 0.5, groups: {strict: 0.5}}\ncases: [s.jsonl]\n", cases)
    res = run(path, data_dir)
    assert not res.passed and res.summary.pass_rate == 0.5
    assert res.missed == ["group 'strict' pass rate 0.0% < 50.0%"]
    wrong = next(r for r in res.rows if r.id == "wrong")
    assert "got '[scripted-edge] noted: ping', expected 'pong'" in wrong.failure_reason()


def test_crashing_evaluator_and_crashing_agent_are_failed_rows(tmp_path: Path, data_dir: Path) -> None:
    cases = [
        {"id": "scorer-bug", "text": "hello", "check": "call:tests.evals.test_runner:crashing_check", "expect_tier": "edge"},
        {"id": "bad-model", "text": "hello", "model": "gpt-9", "expect_tier": "edge"},
        {"id": "fine", "text": "hello", "expect_tier": "edge"},
    ]
    res = run(suite_file(tmp_path, SETUP + "threshold: 0.3\ncases: [s.jsonl]\n", cases), data_dir)
    rows = {r.id: r for r in res.rows}
    assert rows["fine"].passed and res.passed  # the run completed and graded every case
    bug = rows["scorer-bug"]
    assert not bug.passed and bug.error is None and bug.tier == "edge"
    assert "evaluator crashed: ZeroDivisionError: bad scorer" in bug.failure_reason()
    assert [o.passed for o in bug.outcomes] == [False, True]  # the tier check still ran
    bad = rows["bad-model"]
    assert not bad.passed and "UnknownModelError" in (bad.error or "") and "known models" in bad.error
    assert res.summary.errors == 1


def test_generator_suite_computes_cases_from_the_kg(tmp_path: Path, data_dir: Path) -> None:
    body = SETUP + "threshold: 1.0\ngenerator: tests.evals.test_runner:asset_cases\ngenerator_args: {limit: 4}\n"
    res = run(suite_file(tmp_path, body), data_dir)
    assert res.passed and [r.id for r in res.rows] == ["echo-CHL-01", "echo-CMP-01", "echo-CNC-01", "echo-CNC-02"]


def test_metrics_suite_grades_bounds(tmp_path: Path, data_dir: Path) -> None:
    body = SETUP + (
        "kind: metrics\nmetrics: tests.evals.test_runner:plant_metrics\nmetrics_args: {factor: 2.0}\n"
        "metric_thresholds:\n  assets: {equals: 9}\n  sensors_per_asset: {min: 1, max: 100}\n"
        "  detail.ratio: {max: 1.5, group: detail}\n  asets: {min: 1}\n"
    )
    res = run(suite_file(tmp_path, body), data_dir)
    rows = {r.id: r for r in res.rows}
    assert rows["assets"].passed and rows["assets"].value == 9
    assert rows["sensors_per_asset"].passed
    assert not rows["detail.ratio"].passed and rows["detail.ratio"].group == "detail"
    assert "did you mean 'assets'" in (rows["asets"].error or "")
    assert res.metrics["assets"] == 9 and not res.passed  # no threshold given: every metric must pass
    assert res.missed == ["overall pass rate 50.0% < 100.0%"] or not res.passed


def test_metrics_function_crash_fails_every_metric(tmp_path: Path, data_dir: Path) -> None:
    body = SETUP + "kind: metrics\nmetrics: tests.evals.test_runner:broken_metrics\nmetric_thresholds: {a: {min: 0}}\n"
    res = run(suite_file(tmp_path, body), data_dir)
    assert not res.passed and "RuntimeError: solver exploded" in (res.rows[0].error or "")


def test_composite_suite_runs_parts_with_their_own_thresholds(tmp_path: Path, data_dir: Path) -> None:
    suite_file(tmp_path, SETUP + "threshold: 1.0\ncases: [good.jsonl]\nci: {sample: 2}\n", CASES, name="good")
    bad = [{"id": "wrong", "text": "ping", "check": "exact", "expected": "pong"}]
    suite_file(tmp_path, SETUP + "threshold: 1.0\ncases: [bad.jsonl]\nci: {}\n", bad, name="bad")
    ci = suite_file(tmp_path, "include:\n  - glob: '*.yaml'\n", name="ci")
    res = run(ci, data_dir)
    assert [p.suite for p in res.parts] == ["bad", "good"]
    assert res.parts[1].passed and res.parts[1].summary.cases == 2 and not res.parts[0].passed
    assert not res.passed and res.missed == ["bad: overall pass rate 0.0% < 100.0%"]
    assert {g.group: g.cases for g in res.summary.groups} == {"bad": 1, "good": 2}
    assert {g.group: g.ok for g in res.summary.groups} == {"bad": False, "good": True}


@pytest.mark.slow
def test_jobs_2_gives_the_same_rows_as_jobs_1(tmp_path: Path, data_dir: Path) -> None:
    path = suite_file(tmp_path, SETUP + "threshold: 1.0\ncases: [s.jsonl]\n", CASES)
    volatile = {"latency_ms"}

    def stable(res: SuiteResult) -> list[dict[str, Any]]:
        return [r.model_dump(exclude=volatile) for r in res.rows]

    one = run(path, data_dir, jobs=1)
    two = run(path, data_dir, jobs=2)
    assert two.jobs == 2 and stable(one) == stable(two)
    assert one.summary.model_dump(exclude={"latency_mean_ms", "latency_p95_ms"}) == two.summary.model_dump(
        exclude={"latency_mean_ms", "latency_p95_ms"})


def test_shipped_routing_suite_router_groups_pass(data_dir: Path) -> None:
    """The router's own policies (not the planner-dependent 'sovereign' group) hold on the shipped suite."""
    res = run_suite(load_suite("routing"), RunOptions(settings=Settings(data_dir=data_dir)))
    assert res.summary.errors == 0
    groups = {g.group: g for g in res.summary.groups}
    for name in ("small-on-edge", "large-to-cloud", "requested", "fallback"):
        assert groups[name].pass_rate == 1.0, [r.failure_reason() for r in res.rows if r.group == name]


def kg_counts(store: KnowledgeStore) -> dict[str, int]:
    return {
        "assets": store.scalar("SELECT count(*) FROM nodes WHERE kind = 'asset'"),
        "sensors": store.scalar("SELECT count(*) FROM nodes WHERE kind = 'sensor'"),
        "work_orders": store.scalar("SELECT count(*) FROM work_orders"),
    }


def test_data_setup_imports_csvs_with_mappings(tmp_path: Path, data_dir: Path) -> None:
    data, maps = tmp_path / "csv", tmp_path / "maps"
    data.mkdir()
    maps.mkdir()
    (data / "assets.csv").write_text("Asset ID,Description,Type,Line\nPMP-1,Pump 1,pump,A\nCHL-1,Chiller 1,chiller,A\n")
    (data / "sensors.csv").write_text("tag,equipment,sensor_type,unit\nPMP-1.vibration,PMP-1,vibration,mm/s\n")
    (data / "tickets.csv").write_text("Ticket,Machine Tag,What happened,Opened\nT-1,PMP-1,Seal leaking,13/05/2023 10:30\n")
    (maps / "tickets.yaml").write_text(
        "kind: work_orders\ncolumns: {Ticket: id, Machine Tag: asset_id, What happened: description, Opened: reported_at}\n"
        "constants: {type: corrective, status: closed}\ntimestamp_format: '%d/%m/%Y %H:%M'\n")
    body = (f"setup: {{data: {data}, mapping: {maps}}}\nkind: metrics\nmetrics: tests.evals.test_runner:kg_counts\n"
            "metric_thresholds: {assets: {equals: 2}, sensors: {equals: 1}, work_orders: {equals: 1}}\n")
    res = run(suite_file(tmp_path, body), data_dir)
    assert res.passed, [r.failure_reason() for r in res.rows]
    (data / "mystery.csv").write_text("a,b\n1,2\n")
    from evals.cases import SuiteError

    with pytest.raises(SuiteError, match=r"Cannot tell what mystery\.csv holds"):
        run(suite_file(tmp_path, body), data_dir)

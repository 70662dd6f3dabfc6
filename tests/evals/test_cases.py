"""Case and suite loading: formats, errors that name the file/line and the fix, selections, includes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.cases import (
    Case,
    Selection,
    SuiteError,
    list_suites,
    load_cases_file,
    load_suite,
    parse_check,
    select_cases,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, *objs: dict) -> Path:
    return write(path, "\n".join(json.dumps(o) for o in objs) + "\n")


def test_parse_check() -> None:
    assert parse_check("number_within:0.5") == ("number_within", "0.5")
    assert parse_check("number_within:1%") == ("number_within", "1%")
    assert parse_check("exact") == ("exact", None)
    assert parse_check("call:pkg.mod:fn") == ("call", "pkg.mod:fn")
    with pytest.raises(ValueError, match="did you mean 'exact'"):
        parse_check("exakt")
    with pytest.raises(ValueError, match="needs a tolerance"):
        parse_check("number_within:abc")
    with pytest.raises(ValueError, match="takes no argument"):
        parse_check("exact:1")


def test_case_file_roundtrip_with_comments_and_blank_lines(tmp_path: Path) -> None:
    f = write(tmp_path / "c.jsonl", '# a comment\n\n{"id": "a", "text": "q?", "expected": 3, "check": "exact_count"}\n'
                                    '{"id": "b", "text": "q2?", "expect_tier": "edge", "group": "g"}\n')
    cases = load_cases_file(f)
    assert [c.id for c in cases] == ["a", "b"] and cases[1].group == "g" and cases[0].group == "default"


@pytest.mark.parametrize(("line", "fragment"), [
    ('{"id": "a", "text": "q"', "c.jsonl:2: invalid JSON"),
    ('{"id": "a", "text": "q", "expected": 1, "check": "exakt"}', "did you mean 'exact'"),
    ('{"id": "a", "text": "q", "check": "exact"}', "needs an 'expected' value"),
    ('{"id": "a", "text": "q", "expected": 1}', "'check' is not"),
    ('{"id": "a", "text": "q"}', "checks nothing"),
    ('{"id": "a", "text": "q", "expect_tier": "mainframe"}', "expect_tier"),
    ('{"id": "a", "text": "q", "expect_tier": "edge", "expect_tool": ["x"]}', "expect_tool"),
    ('["not", "an", "object"]', "must be a JSON object"),
    ('{"id": "", "text": "q", "expect_tier": "edge"}', "id"),
])
def test_case_file_errors_name_line_and_fix(tmp_path: Path, line: str, fragment: str) -> None:
    f = write(tmp_path / "c.jsonl", '{"id": "ok", "text": "fine", "expect_tier": "edge"}\n' + line + "\n")
    with pytest.raises(SuiteError, match=r"c\.jsonl:2") as exc:
        load_cases_file(f)
    assert fragment in str(exc.value)


def test_duplicate_ids_and_empty_and_missing_files(tmp_path: Path) -> None:
    dup = jsonl(tmp_path / "d.jsonl", {"id": "x", "text": "q", "expect_tier": "edge"},
                {"id": "x", "text": "q2", "expect_tier": "edge"})
    with pytest.raises(SuiteError, match=r"duplicate case ids \['x'\]"):
        load_cases_file(dup)
    with pytest.raises(SuiteError, match="has no cases"):
        load_cases_file(write(tmp_path / "e.jsonl", "# nothing\n"))
    with pytest.raises(SuiteError, match="does not exist"):
        load_cases_file(tmp_path / "missing.jsonl")


def test_suite_yaml_resolves_files_setup_and_thresholds(tmp_path: Path) -> None:
    jsonl(tmp_path / "a.jsonl", {"id": "a1", "text": "q", "expect_tier": "edge"})
    write(tmp_path / "s.yaml", "name: mine\nthreshold: 0.8\nthresholds: {groups: {g: 1.0}}\n"
                               "setup: {data: csvs, mapping: maps}\nmodels: scripted\n"
                               "cases:\n  - a.jsonl\n  - {id: inline, text: hi, expect_tier: edge, group: g}\n")
    s = load_suite(tmp_path / "s.yaml")
    assert s.name == "mine" and [c.id for c in s.cases] == ["a1", "inline"]
    assert s.thresholds.overall == 0.8 and s.thresholds.groups == {"g": 1.0}
    assert s.setup.data == (tmp_path / "csvs").resolve() and s.setup.demo is None
    assert s.models == "scripted"


@pytest.mark.parametrize(("body", "fragment"), [
    ("cases: [a.jsonl]\ngenerator: m:f\n", "exactly one of"),
    ("name: x\n", "exactly one of"),
    ("kind: metrics\ncases: [a.jsonl]\n", "go together"),
    ("kind: metrics\nmetrics: m:f\n", "metric_thresholds"),
    ("generator: not-a-ref\n", "package.module:function"),
    ("cases: [a.jsonl]\nthreshold: 1.5\n", "threshold"),
    ("cases: [a.jsonl]\nthresholds: {groups: {g: 2}}\n", "0..1"),
    ("cases: [a.jsonl]\nsetup: {demo: {seed: 1}, data: x}\n", "both 'demo' and 'data'"),
    ("cases: [a.jsonl]\nmodels: gpt\n", "models"),
    ("cases: [a.jsonl]\ncasez: []\n", "casez"),
    ("- just\n- a list\n", "YAML mapping"),
    ("cases: [a.jsonl\n", "invalid YAML"),
    ("cases: [nope.jsonl]\n", "does not exist"),
    ("include: [{suite: s.yaml}]\n", "includes itself"),
    ("cases: [a.jsonl]\nmetric_thresholds: {x: {}}\n", "min, max or equals"),
])
def test_suite_file_errors(tmp_path: Path, body: str, fragment: str) -> None:
    jsonl(tmp_path / "a.jsonl", {"id": "a1", "text": "q", "expect_tier": "edge"})
    write(tmp_path / "s.yaml", body)
    with pytest.raises(SuiteError) as exc:
        load_suite(tmp_path / "s.yaml")
    assert fragment in str(exc.value)


def test_unknown_suite_name_suggests(tmp_path: Path) -> None:
    write(tmp_path / "routing.yaml", "cases: [{id: a, text: q, expect_tier: edge}]\n")
    with pytest.raises(SuiteError, match="did you mean 'routing'"):
        load_suite("routting", directory=tmp_path)
    assert list_suites(tmp_path) == ["routing"]


def test_selection_is_deterministic_round_robin_over_groups() -> None:
    cases = [Case(id=f"{g}{i}", text="q", expect_tier="edge", group=g) for g in "abc" for i in range(4)]
    picked = select_cases(cases, Selection(sample=5))
    assert [c.id for c in picked] == ["a0", "a1", "b0", "b1", "c0"]
    assert select_cases(cases, Selection(sample=5)) == picked
    assert [c.id for c in select_cases(cases, Selection(groups=["b"], sample=2))] == ["b0", "b1"]
    assert [c.id for c in select_cases(cases, Selection(ids=["c3", "a0"]))] == ["a0", "c3"]
    with pytest.raises(SuiteError, match="did you mean 'c3'"):
        select_cases(cases, Selection(ids=["c33"]))


def test_include_glob_takes_suites_with_a_ci_section(tmp_path: Path) -> None:
    jsonl(tmp_path / "a.jsonl", *({"id": f"a{i}", "text": "q", "expect_tier": "edge", "group": f"g{i % 2}"}
                                  for i in range(6)))
    jsonl(tmp_path / "small.jsonl", {"id": "s1", "text": "q", "expect_tier": "edge"})
    write(tmp_path / "one.yaml", "cases: [a.jsonl]\nci: {sample: 3}\n")
    write(tmp_path / "two.yaml", "cases: [a.jsonl]\nci: {cases: [small.jsonl]}\n")
    write(tmp_path / "three.yaml", "cases: [a.jsonl]\n")  # no ci section: not in CI
    write(tmp_path / "ci.yaml", "include:\n  - glob: '*.yaml'\n")
    ci = load_suite(tmp_path / "ci.yaml")
    assert ci.is_composite and [p.name for p in ci.parts] == ["one", "two"]
    one, two = ci.parts
    assert len(select_cases(one.cases, one.selection)) == 3
    assert [c.id for c in two.cases] == ["s1"]
    write(tmp_path / "ci2.yaml", "include:\n  - {suite: three.yaml, groups: [g1]}\n")
    three = load_suite(tmp_path / "ci2.yaml").parts[0]
    assert [c.id for c in select_cases(three.cases, three.selection)] == ["a1", "a3", "a5"]


def test_shipped_suites_load() -> None:
    names = list_suites()
    assert {"routing", "ci"} <= set(names)
    routing = load_suite("routing")
    assert routing.models == "scripted" and len(routing.cases) >= 10 and routing.thresholds.overall == 1.0
    assert {c.group for c in routing.cases} >= {"sovereign", "fallback", "requested"}
    ci = load_suite("ci")
    assert "routing" in [p.name for p in ci.parts]


def test_case_setup_overrides_only_what_it_sets() -> None:
    from datetime import datetime

    from evals.cases import DemoSetup, Setup

    suite = Setup(demo=DemoSetup(seed=3, scale="tiny"))
    now = datetime(2024, 2, 1)
    clock_only = Setup(now=now).over(suite)
    assert clock_only.demo == DemoSetup(seed=3, scale="tiny") and clock_only.now == now
    assert clock_only.kg_key() == suite.kg_key() == "demo:3:tiny"
    assert Setup(demo=DemoSetup(seed=1)).over(suite).kg_key() == "demo:1:small"
    data_suite = Setup(data=Path("/x"), mapping=Path("/m"))
    assert Setup(demo=DemoSetup(scale="tiny")).over(data_suite).kg_key() == "demo:0:tiny"
    assert Setup(data=Path("/y")).over(suite).kg_key() == "data:/y|mapping:None"
    assert Setup().kg_key() == "demo:0:small"

"""Scheduling core: parsers, CP-SAT solver (ft06 optimum), validator, dispatching rules, Gantt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.errors import ToolRetry
from tools.scheduling import (
    Alternative,
    Downtime,
    Instance,
    InstanceFormatError,
    Job,
    Operation,
    ScheduledOp,
    best_dispatch,
    load_instance,
    parse_instance,
    solve,
    validate,
    write_gantt,
)
from tools.scheduling.solver import FULL_SUBSOLVER, full_subsolver

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "scheduling"
BENCH = ROOT / "benches" / "instances"


def assert_valid(inst: Instance, ops: list[ScheduledOp]) -> None:
    problems = validate(inst, ops)
    assert problems == [], problems[:3]


# -- parsers ------------------------------------------------------------------------------------
def test_parse_orlib_tiny() -> None:
    inst = load_instance(FIX / "tiny.orlib.txt", "orlib")
    assert (inst.n_jobs, inst.n_machines) == (3, 2)
    assert inst.jobs[1].operations[0].alternatives == (Alternative(machine=1, duration=2),)
    assert inst.jobs[1].operations[1].alternatives == (Alternative(machine=0, duration=4),)
    assert not inst.is_flexible


def test_parse_taillard_tiny_is_one_based() -> None:
    inst = load_instance(FIX / "tiny.taillard.txt", "taillard")
    assert (inst.n_jobs, inst.n_machines) == (2, 3)
    # job 1: times 2 5 1 on machines 3 1 2 (1-based) -> 2 0 1
    assert [(op.alternatives[0].machine, op.alternatives[0].duration) for op in inst.jobs[1].operations] == [
        (2, 2),
        (0, 5),
        (1, 1),
    ]


def test_parse_taillard_without_keywords() -> None:
    text = "2 2\n3 4\n5 6\n1 2\n2 1\n"
    inst = parse_instance(text, "taillard")
    assert [op.alternatives[0] for op in inst.jobs[1].operations] == [
        Alternative(machine=1, duration=5),
        Alternative(machine=0, duration=6),
    ]


def test_parse_brandimarte_tiny_flexible() -> None:
    inst = load_instance(FIX / "tiny.fjs", "brandimarte")
    assert (inst.n_jobs, inst.n_machines) == (2, 3)
    assert inst.is_flexible
    assert inst.jobs[0].operations[0].alternatives == (
        Alternative(machine=0, duration=4),
        Alternative(machine=1, duration=6),
    )
    assert [len(j.operations) for j in inst.jobs] == [2, 3]


def test_parse_json_tiny_and_guess() -> None:
    inst = load_instance(FIX / "tiny.json")
    assert inst.name == "tiny-json"
    assert inst.jobs[0].release == 1 and inst.jobs[0].due == 6 and inst.jobs[0].weight == 2
    assert inst.downtimes == (Downtime(machine=0, start=5, end=7),)
    # round trip through our own format
    again = parse_instance(inst.model_dump_json(), "json")
    assert again == inst


@pytest.mark.parametrize(
    ("name", "fmt", "needle"),
    [
        ("bad_pairs.orlib.txt", "orlib", "pairs"),
        ("bad_machine.orlib.txt", "orlib", "out of range"),
        ("bad_leftover.fjs", "brandimarte", "left over"),
        ("bad.json", "json", "invalid JSON"),
        ("tiny.orlib.txt", "brandimarte", r"expected 'n m \[avg\]'"),
    ],
)
def test_bad_files_name_the_problem(name: str, fmt: str, needle: str) -> None:
    with pytest.raises(InstanceFormatError, match=needle) as info:
        load_instance(FIX / name, fmt)  # type: ignore[arg-type]
    assert isinstance(info.value, ToolRetry) and isinstance(info.value, ValueError)


def test_classic_files_parse_with_expected_sizes() -> None:
    sizes = {
        "jsp/ft06.txt": (6, 6),
        "jsp/ft10.txt": (10, 10),
        "jsp/ft20.txt": (20, 5),
        "jsp/abz7.txt": (20, 15),
        "taillard/ta01.txt": (15, 15),
        "fjsp/mk01.fjs": (10, 6),
        "fjsp/mk10.fjs": (20, 15),
    }
    for rel, (n, m) in sizes.items():
        inst = load_instance(BENCH / rel)
        assert (inst.n_jobs, inst.n_machines) == (n, m), rel
        if not rel.startswith("fjsp"):
            # a classic job shop visits every machine once per job
            for job in inst.jobs:
                assert sorted(op.alternatives[0].machine for op in job.operations) == list(range(m)), rel


# -- solver ---------------------------------------------------------------------------------------
def test_ft06_optimum_55_found_and_proven() -> None:
    inst = load_instance(BENCH / "jsp" / "ft06.txt", "orlib")
    sol = solve(inst, time_limit=20, workers=2)
    assert sol.status == "OPTIMAL"
    assert sol.makespan == 55 and sol.lower_bound == 55
    assert len(sol.operations) == 36
    assert_valid(inst, sol.operations)
    assert sol.progress and sol.progress[-1].makespan == 55


def test_textbook_model_also_solves_ft06() -> None:
    inst = load_instance(BENCH / "jsp" / "ft06.txt", "orlib")
    sol = solve(inst, time_limit=20, workers=2, model="textbook")
    assert (sol.status, sol.makespan) == ("OPTIMAL", 55)
    assert_valid(inst, sol.operations)


@pytest.mark.parametrize("workers", [1, 3])
def test_ft06_proven_with_other_worker_counts(workers: int) -> None:
    # one worker runs only the strong model's full-search subsolver (no_lp), three CP-SAT's own portfolio
    inst = load_instance(BENCH / "jsp" / "ft06.txt", "orlib")
    sol = solve(inst, time_limit=20, workers=workers)
    assert (sol.status, sol.makespan, sol.lower_bound) == ("OPTIMAL", 55, 55)
    assert_valid(inst, sol.operations)


def test_strong_model_full_subsolver_by_shop_kind() -> None:
    jsp = load_instance(BENCH / "jsp" / "ft06.txt", "orlib")
    fjsp = load_instance(BENCH / "fjsp" / "mk01.fjs", "brandimarte")
    assert full_subsolver(jsp, model="strong", workers=2) == FULL_SUBSOLVER["job_shop"] == "no_lp"
    assert full_subsolver(fjsp, model="strong", workers=1) == FULL_SUBSOLVER["flexible"] == "default_lp"
    assert full_subsolver(jsp, model="strong", workers=4) is None  # CP-SAT's portfolio already mixes subsolvers
    assert full_subsolver(jsp, model="textbook", workers=2) is None  # the baseline keeps CP-SAT's defaults


def test_flexible_mk01_feasible_with_bound() -> None:
    inst = load_instance(BENCH / "fjsp" / "mk01.fjs")
    sol = solve(inst, time_limit=3, workers=2)
    assert sol.status in ("OPTIMAL", "FEASIBLE")
    assert 36 <= sol.lower_bound <= 40 <= sol.makespan  # best known 40, 36 is the classic bound
    assert_valid(inst, sol.operations)


def test_downtime_release_and_tardiness_objective() -> None:
    inst = load_instance(FIX / "tiny.json")
    for objective in ("makespan", "weighted_tardiness", "mix"):
        sol = solve(inst, time_limit=5, workers=1, objective=objective)  # type: ignore[arg-type]
        assert sol.status == "OPTIMAL", objective
        assert_valid(inst, sol.operations)
    # job 0 (released at 1) takes 3 on M0 then 2 on M1; job 1 best on M1 (4): tardiness 0 possible
    sol = solve(inst, time_limit=5, workers=1, objective="weighted_tardiness")
    assert sol.weighted_tardiness == sol.objective_value == 0
    assert sol.lower_bound == 0


def test_machine_down_pushes_work_after_the_window() -> None:
    inst = load_instance(BENCH / "jsp" / "ft06.txt").with_downtimes([Downtime(machine=2, start=0, end=30)])
    sol = solve(inst, time_limit=5, workers=2)
    assert_valid(inst, sol.operations)
    assert all(s.start >= 30 for s in sol.operations if s.machine == 2)
    assert sol.makespan > 55


def test_dispatching_rules_are_feasible() -> None:
    for rel in ("jsp/la01.txt", "fjsp/mk02.fjs"):
        inst = load_instance(BENCH / rel)
        ops = best_dispatch(inst)
        assert_valid(inst, ops)


# -- validator: each kind of infeasibility is caught ----------------------------------------------
def _two_job_instance() -> Instance:
    a, b = Alternative(machine=0, duration=3), Alternative(machine=1, duration=2)
    return Instance(
        n_machines=2,
        jobs=(
            Job(operations=(Operation(alternatives=(a,)), Operation(alternatives=(b,))), release=0),
            Job(operations=(Operation(alternatives=(a, b)),), release=2),
        ),
        downtimes=(Downtime(machine=1, start=20, end=25),),
    )


def _ok() -> list[ScheduledOp]:
    return [
        ScheduledOp(job=0, op=0, machine=0, start=0, end=3),
        ScheduledOp(job=0, op=1, machine=1, start=3, end=5),
        ScheduledOp(job=1, op=0, machine=0, start=3, end=6),
    ]


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({2: ScheduledOp(job=1, op=0, machine=0, start=2, end=5)}, "overlap"),
        ({1: ScheduledOp(job=0, op=1, machine=1, start=2, end=4)}, "precedence"),
        ({1: ScheduledOp(job=0, op=1, machine=0, start=6, end=8)}, "eligibility"),
        ({1: ScheduledOp(job=0, op=1, machine=1, start=19, end=21)}, "downtime"),
        ({2: ScheduledOp(job=1, op=0, machine=1, start=0, end=2)}, "release"),
        ({2: ScheduledOp(job=1, op=0, machine=0, start=3, end=5)}, "duration"),
    ],
)
def test_validator_catches_each_kind(change: dict[int, ScheduledOp], kind: str) -> None:
    inst = _two_job_instance()
    assert validate(inst, _ok()) == []
    ops = _ok()
    for i, s in change.items():
        ops[i] = s
    kinds = {v.kind for v in validate(inst, ops)}
    assert kind in kinds, kinds


def test_validator_missing_duplicate_and_nested_overlap() -> None:
    inst = _two_job_instance()
    ops = _ok()
    assert {v.kind for v in validate(inst, ops[:2])} == {"missing"}
    assert "duplicate" in {v.kind for v in validate(inst, [*ops, ops[0]])}
    # a long operation containing two short ones: the second short one also overlaps it
    long_inst = Instance(
        n_machines=1,
        jobs=tuple(Job(operations=(Operation(alternatives=(Alternative(machine=0, duration=d),)),)) for d in (10, 1, 1)),
    )
    nested = [
        ScheduledOp(job=0, op=0, machine=0, start=0, end=10),
        ScheduledOp(job=1, op=0, machine=0, start=1, end=2),
        ScheduledOp(job=2, op=0, machine=0, start=5, end=6),
    ]
    assert sum(v.kind == "overlap" for v in validate(long_inst, nested)) == 2


def test_instance_rejects_unknown_machine() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Instance(n_machines=1, jobs=(Job(operations=(Operation(alternatives=(Alternative(machine=3, duration=1),)),)),))


# -- Gantt --------------------------------------------------------------------------------------------
def test_gantt_png_and_self_contained_html(tmp_path: Path) -> None:
    inst = load_instance(FIX / "tiny.json")
    sol = solve(inst, time_limit=5, workers=1)
    png = write_gantt(inst, sol, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = write_gantt(inst, sol, tmp_path / "g.html").read_text(encoding="utf-8")
    # plotly.js is embedded, not loaded from a CDN (plants are often offline)
    assert not re.search(r"<script[^>]*\ssrc=\"https?://", html)
    assert "plotly" in html.lower() and len(html) > 1_000_000
    with pytest.raises(ValueError, match=r"\.png or \.html"):
        write_gantt(inst, sol, tmp_path / "g.svg")

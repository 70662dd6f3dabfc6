"""Fan-out on Ray (a local 2-CPU Ray instance): same results as the local executor, for evals and sweeps."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.executors import RayExecutor, open_executor
from evals.sweeps import PlacementPoint, SchedulingPoint, placement_grid, run_sweep, scheduling_grid
from server.cli_eval import app as eval_app
from tests.scaleout.apps import ROOT
from tools.errors import ConfigError

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install ray")
pytestmark = pytest.mark.slow

CASES = [
    {"id": "greet", "text": "Hello there", "group": "small", "expect_tier": "edge"},
    {"id": "assets", "text": "Which assets are downstream of CMP-01?", "group": "kg", "expect_tier": "edge"},
    {"id": "large", "text": "Explain step by step how chillers work", "group": "large", "expect_tier": "cloud"},
    {"id": "wo", "text": "How many work orders did CNC-07 have in 2024?", "group": "kg", "expect_tier": "edge"},
]


@pytest.fixture(scope="module", autouse=True)
def ray_local() -> Iterator[None]:
    """One local Ray instance (2 CPUs) for the module; executors reuse it and leave it running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        yield
    finally:
        ray.shutdown()


def _pid_square(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def _mark(folder: str) -> None:
    Path(folder, f"teardown-{os.getpid()}").write_text("done")


def _boom(x: int) -> int:
    if x == 2:
        raise ValueError(f"bad item {x}")
    return x


def test_ray_actors_run_items_elsewhere_tear_down_raise_item_errors_and_sweep_like_local(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    points: list[PlacementPoint | SchedulingPoint] = [
        *placement_grid(nodes=[6, 9], workloads=[12], seeds=[0, 1]),
        *scheduling_grid([ROOT / "benches/instances/jsp/ft06.txt", ROOT / "benches/instances/jsp/la01.txt"])]
    with open_executor("ray", jobs=2) as ex:
        assert isinstance(ex, RayExecutor)
        got = dict(ex.map_unordered(_pid_square, list(range(8)), teardown=partial(_mark, str(marks))))
        assert [got[i][0] for i in range(8)] == [i * i for i in range(8)]
        pids = {pid for _, pid in got.values()}
        assert pids <= set(ex.worker_pids) and os.getpid() not in pids and len(set(ex.worker_pids)) == 2
        assert {p.name for p in marks.iterdir()} == {f"teardown-{p}" for p in ex.worker_pids}
        with pytest.raises(ValueError, match="bad item 2"):  # the same actors, the item's own exception
            list(ex.map_unordered(_boom, [0, 1, 2, 3]))
        remote = run_sweep(points, executor=ex)
    assert ray.is_initialized()  # started by the fixture: left running
    local = run_sweep(points, executor="local", jobs=1)
    assert (remote.executor, remote.jobs, local.executor) == ("ray", 2, "local")
    assert [r.stable() for r in remote.rows] == [r.stable() for r in local.rows]
    assert all(r.error is None and r.status.lower() == "optimal" for r in local.rows)
    assert [r.objective for r in local.rows][-2:] == [55.0, 666.0]  # ft06 and la01 optima
    with pytest.raises(ConfigError, match="Unknown executor 'dask'"), open_executor("dask", jobs=2):  # type: ignore[arg-type]
        pass


def _eval(args: list[str]) -> dict[str, Any]:
    res = CliRunner().invoke(eval_app, args)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


def test_cli_eval_executor_ray_gives_the_local_rows(tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    base = ["--cases", str(cases), "--model", "scripted", "--scale", "tiny", "--json"]
    local = _eval([*base, "--report", str(tmp_path / "local")])
    remote = _eval([*base, "--executor", "ray", "--jobs", "2", "--report", str(tmp_path / "ray")])

    def stable(doc: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "latency_ms"} for r in doc["rows"]]

    assert remote["jobs"] == 2 and [r["id"] for r in remote["rows"]] == [c["id"] for c in CASES]
    assert stable(remote) == stable(local) and all(r["error"] is None for r in remote["rows"])
    bad = CliRunner().invoke(eval_app, [*base, "--executor", "dask"])
    assert bad.exit_code == 2 and "--executor must be 'local' or 'ray'" in bad.stderr

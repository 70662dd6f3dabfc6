"""Scale-out: eval/sweep throughput on 1 vs N Ray workers, API throughput on 1 vs 2 workers sharing Postgres.

Eval: the shipped routing cases (scripted models, tiny demo plant) replicated to ``--cases`` cases,
run by the evaluation harness with the local executor in this process (the baseline), then on
1 and N Ray actors of one local Ray instance. Throughput counts the whole suite run (knowledge
graph build, one brain per worker, every case) on executors whose workers are already started
(Ray's start and the actors' start are reported apart).

Sweep: three classic job-shop instances (la02, la03, la04) x four CP-SAT seeds, one solver thread
per point, each proved optimal, on the same executors.

API: a throwaway PostgreSQL cluster (Debian's server binaries, tests/scaleout/pg.py) holds the
checkpoints and the runs job store; ``/v1/chat`` (scripted model, one tool call, a new thread
per request: checkpoint writes to Postgres) is loaded by ``--clients`` concurrent clients for
``--duration`` seconds, first against one uvicorn worker process, then against two (the client
alternates between their ports). Prints one JSON object (last line of stdout).

    python benches/bench_scaleout.py            # 8 s per API target, 28 eval cases
    python benches/bench_scaleout.py --full     # 30 s per API target, 112 eval cases
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# -- eval and sweep on Ray ---------------------------------------------------------------------------------
def _cases_file(path: Path, n: int) -> Path:
    base = [json.loads(line) for line in (ROOT / "evals/suites/routing.jsonl").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    rows = [{**c, "id": f"{c['id']}-{i}"} for i, c in zip(range(n), itertools.cycle(base), strict=False)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _eval_once(cases: Path, tmp: Path, ex: Any) -> dict[str, Any]:
    from evals.cases import DemoSetup, Setup, Suite, Thresholds, load_cases_file
    from evals.runner import RunOptions, run_suite
    from server.settings import Settings

    suite = Suite(name="bench", cases=load_cases_file(cases), thresholds=Thresholds(overall=0.0),
                  setup=Setup(demo=DemoSetup(scale="tiny")), models="scripted", path=cases)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    res = run_suite(suite, RunOptions(settings=Settings(data_dir=tmp / "var"), jobs=ex.jobs, executor=ex, workdir=tmp))
    wall = time.perf_counter() - t0
    stable = [r.model_dump(exclude={"latency_ms"}) for r in res.rows]
    return {"executor": ex.kind, "workers": ex.jobs, "cases": len(res.rows), "wall_s": round(wall, 2),
            "cases_per_s": round(len(res.rows) / wall, 2), "passed": res.summary.passed, "_rows": stable}


def _sweep_once(ex: Any, points: list[Any]) -> dict[str, Any]:
    from evals.sweeps import run_sweep

    res = run_sweep(points, executor=ex)
    return {"executor": ex.kind, "workers": ex.jobs, "points": len(res.rows), "wall_s": res.wall_s,
            "points_per_s": round(res.points_per_s, 2), "_rows": [r.stable() for r in res.rows]}


def _noop(x: int) -> int:
    return x


def bench_ray(*, n_cases: int, workers: int) -> dict[str, Any]:
    """Eval and sweep throughput: local (in process), Ray with 1 actor, Ray with ``workers`` actors.

    Each executor is opened once and warmed (its actors started) before the timed runs; the
    actor start time is reported apart. An eval run still opens one brain per worker.
    """
    import ray

    from evals.executors import open_executor
    from evals.sweeps import scheduling_grid

    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    ray_start_s = round(time.perf_counter() - t0, 2)
    points = scheduling_grid([ROOT / f"benches/instances/jsp/{n}.txt" for n in ("la02", "la03", "la04")],
                             seeds=(0, 1, 2, 3), time_limit_s=60, workers=1)
    evals: list[dict[str, Any]] = []
    sweeps: list[dict[str, Any]] = []
    actor_start: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp_s:
            tmp = Path(tmp_s)
            cases = _cases_file(tmp / "cases.jsonl", n_cases)
            for kind, jobs in (("local", 1), ("ray", 1), ("ray", workers)):
                with open_executor(kind, jobs=jobs) as ex:  # type: ignore[arg-type]
                    t1 = time.perf_counter()
                    list(ex.map_unordered(_noop, list(range(jobs))))  # start the actors
                    actor_start[f"{kind}_{jobs}"] = round(time.perf_counter() - t1, 2)
                    evals.append(_eval_once(cases, tmp, ex))
                    sweeps.append(_sweep_once(ex, points))
    finally:
        ray.shutdown()
    same_eval = all(e["_rows"] == evals[0]["_rows"] for e in evals)
    same_sweep = all(s["_rows"] == sweeps[0]["_rows"] for s in sweeps)
    for item in (*evals, *sweeps):
        item.pop("_rows")
    local, r1, rn = evals
    return {
        "ray_start_s": ray_start_s, "actor_start_s": actor_start, "eval": evals, "sweep": sweeps,
        "eval_ray_n_vs_ray_1": _ratio(rn["cases_per_s"], r1["cases_per_s"]),
        "eval_ray_n_vs_local_1": _ratio(rn["cases_per_s"], local["cases_per_s"]),
        "eval_ray_1_vs_local_1": _ratio(r1["cases_per_s"], local["cases_per_s"]),
        "sweep_ray_n_vs_ray_1": _ratio(sweeps[2]["points_per_s"], sweeps[1]["points_per_s"]),
        "sweep_ray_n_vs_local_1": _ratio(sweeps[2]["points_per_s"], sweeps[0]["points_per_s"]),
        "eval_rows_identical": same_eval, "sweep_rows_identical": same_sweep,
    }


# -- API workers on Postgres -----------------------------------------------------------------------------------
async def _load(bases: list[str], *, clients: int, duration_s: float, warmup_s: float) -> dict[str, Any]:
    lat: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        t_measure = time.perf_counter() + warmup_s
        t_end = t_measure + duration_s

        async def worker(k: int) -> None:
            urls = itertools.cycle([f"{b}/v1/chat" for b in bases[k % len(bases):] + bases[:k % len(bases)]])
            while (now := time.perf_counter()) < t_end:
                try:
                    r = await client.post(next(urls), json={"message": "add 2 40"})
                    ok, kind = r.status_code == 200, str(r.status_code)
                except httpx.HTTPError as exc:
                    ok, kind = False, type(exc).__name__
                if now >= t_measure:
                    if ok:
                        lat.append((time.perf_counter() - now) * 1000)
                    else:
                        errors[kind] = errors.get(kind, 0) + 1

        await asyncio.gather(*(worker(k) for k in range(clients)))
    lat.sort()
    n = len(lat)

    def pct(q: float) -> float | None:
        return round(lat[min(n - 1, int(q * n))], 2) if n else None

    return {"workers": len(bases), "requests": n, "rps": round(n / duration_s, 1), "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "errors": sum(errors.values()), "error_kinds": errors}


def bench_api(*, clients: int, duration_s: float) -> dict[str, Any]:
    """/v1/chat throughput with 1 and 2 API worker processes on one Postgres."""
    from tests.scaleout.apps import api_workers
    from tests.scaleout.pg import postgres_cluster, why_no_postgres

    reason = why_no_postgres()
    if reason:
        return {"skipped": reason}
    env = {"INDAGENT_RUNS_IN_SERVER": "false"}
    out: list[dict[str, Any]] = []
    with postgres_cluster() as cluster, tempfile.TemporaryDirectory(prefix="bench-scaleout-api-") as tmp:
        for n in (1, 2):
            url = cluster.create_database()
            data = Path(tmp) / f"var{n}"
            data.mkdir()
            with api_workers(data, url, n=n, env=env) as bases:
                out.append(asyncio.run(_load(bases, clients=clients, duration_s=duration_s, warmup_s=1.0)))
    one, two = out
    return {"clients": clients, "duration_s": duration_s, "one_worker": one, "two_workers": two,
            "rps_2_vs_1": _ratio(two["rps"], one["rps"]), "p50_2_vs_1": _ratio(two["p50_ms"], one["p50_ms"]),
            "zero_errors": one["errors"] == 0 and two["errors"] == 0}


def main() -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--full", action="store_true", help="30 s per API target and 112 eval cases.")
    ap.add_argument("--cases", type=int, default=None, help="Eval cases (default 28, --full 112).")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Ray actors for the N-worker runs.")
    ap.add_argument("--clients", type=int, default=16, help="Concurrent API clients.")
    ap.add_argument("--duration", type=float, default=None, help="Seconds per API target (default 8, --full 30).")
    ap.add_argument("--only", choices=["ray", "api"], default=None, help="Run one half.")
    args = ap.parse_args()
    result: dict[str, Any] = {"bench": "scaleout", "cpus": os.cpu_count()}
    t0 = time.perf_counter()
    if args.only in (None, "ray"):
        result["ray"] = bench_ray(n_cases=args.cases or (112 if args.full else 28), workers=args.workers)
    if args.only in (None, "api"):
        result["api_postgres"] = bench_api(clients=args.clients, duration_s=args.duration or (30.0 if args.full else 8.0))
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

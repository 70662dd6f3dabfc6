"""Scheduling benchmark: classic instances x time limits, our CP-SAT model vs a textbook one.

For each instance and time limit both models run in this process, one after the other:
``strong`` (tools.scheduling default: tight horizon from a dispatching-rule schedule, which is
also the solution hint) and ``textbook`` (same interval/NoOverlap formulation, naive horizon =
sum of durations, no hint). Reported: makespan, proven lower bound, gap to the best-known
makespan, wall time. Then the rescheduling ratio on abz7 (20x15): after a machine breakdown,
the time a repair (old schedule as hint + stability term) needs to reach the makespan a
from-scratch solve ends with, divided by the from-scratch solve's time to reach it.

    python benches/bench_scheduling.py            # short: 2 s and 5 s on a subset (< 3 min)
    python benches/bench_scheduling.py --full     # 10 s and 60 s on every instance (long)

Prints a table on stderr and ONE JSON object on stdout (last line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.scheduling import MachineDown, load_instance, reschedule, solve  # noqa: E402
from tools.scheduling.heuristics import repair  # noqa: E402
from tools.scheduling.reschedule import apply_event, fixed_prefix  # noqa: E402
from tools.scheduling.solver import JobShopModel  # noqa: E402
from tools.scheduling.validate import makespan_of, validate  # noqa: E402

INST = ROOT / "benches" / "instances"

#: best-known makespans (OR-Library jobshop table; Taillard's optima; Brandimarte literature table)
BEST_KNOWN: dict[str, int] = {
    "ft06": 55, "ft10": 930, "ft20": 1165,
    "la01": 666, "la02": 655, "la03": 597, "la04": 590, "la05": 593,
    "la16": 945, "la17": 784, "la18": 848, "la19": 842, "la20": 902,
    "abz5": 1234, "abz6": 943, "abz7": 656,
    "ta01": 1231, "ta02": 1244, "ta03": 1218, "ta04": 1175, "ta05": 1224,
    "ta06": 1238, "ta07": 1227, "ta08": 1217, "ta09": 1274, "ta10": 1241,
    "mk01": 40, "mk02": 26, "mk03": 204, "mk04": 60, "mk05": 172,
    "mk06": 57, "mk07": 139, "mk08": 523, "mk09": 307, "mk10": 197,
}  # fmt: skip

SHORT = ["ft10", "la16", "abz5", "ta01", "mk04", "mk10"]


def path_of(name: str) -> Path:
    if name.startswith("ta"):
        return INST / "taillard" / f"{name}.txt"
    if name.startswith("mk"):
        return INST / "fjsp" / f"{name}.fjs"
    return INST / "jsp" / f"{name}.txt"


def run_table(names: list[str], limits: list[float], workers: int) -> list[dict[str, object]]:
    rows = []
    for name in names:
        inst = load_instance(path_of(name))
        bks = BEST_KNOWN[name]
        for limit in limits:
            row: dict[str, object] = {"instance": name, "size": f"{inst.n_jobs}x{inst.n_machines}", "limit_s": limit}
            for kind in ("strong", "textbook"):
                t0 = time.perf_counter()
                sol = solve(inst, time_limit=limit, workers=workers, model=kind)  # type: ignore[arg-type]
                wall = time.perf_counter() - t0
                found = bool(sol.operations)  # the textbook model may find nothing in time
                assert not found or validate(inst, sol) == [], f"{name} {kind}: invalid schedule"
                row[kind] = {
                    "makespan": sol.makespan if found else None,
                    "lower_bound": sol.lower_bound,
                    "status": sol.status,
                    "gap_pct": round(100.0 * (sol.makespan - bks) / bks, 2) if found else None,
                    "wall_s": round(wall, 2),
                }
            row["best_known"] = bks
            rows.append(row)
            s, b = row["strong"], row["textbook"]
            print(
                f"{name:5s} {row['size']:>6s} {limit:5.0f}s  strong {s['makespan']} ({s['gap_pct']}%)"  # type: ignore[index]
                f"  textbook {b['makespan']} ({b['gap_pct']}%)  bks {bks}",  # type: ignore[index]
                file=sys.stderr,
                flush=True,
            )
    return rows


def time_to_reach(progress: list, target: int) -> float | None:
    for p in progress:
        if p.makespan <= target:
            return p.t
    return None


def reschedule_ratio(workers: int, limit: float) -> dict[str, object]:
    inst = load_instance(path_of("abz7"))
    base = solve(inst, time_limit=limit, workers=workers)
    now = base.makespan // 4
    # break down the machine with the most work left after now
    load: dict[int, int] = {}
    for s in base.operations:
        if s.start >= now:
            load[s.machine] = load.get(s.machine, 0) + s.end - s.start
    machine = max(load, key=lambda m: load[m])
    event = MachineDown(machine=machine, start=now, end=now + 60)
    after = apply_event(inst, base.operations, event, now=now)
    fixed, _ = fixed_prefix(after, base.operations, now=now)
    # from scratch: same post-event problem, strong model, no knowledge of the old schedule
    scratch = JobShopModel(after, fixed=fixed, not_before=now).run(time_limit=limit, workers=workers)
    t_scratch = time_to_reach(scratch.progress, scratch.makespan) or scratch.solve_s
    rep = reschedule(inst, base, event, now=now, time_limit=limit, workers=workers)
    assert validate(rep.instance, rep.solution) == []
    t_rep = time_to_reach(rep.solution.progress, scratch.makespan)
    hint_ms = makespan_of(repair(after, base.operations, fixed=fixed, not_before=now))
    return {
        "instance": "abz7",
        "size": "20x15",
        "event": event.model_dump(),
        "now": now,
        "base_makespan": base.makespan,
        "from_scratch_makespan": scratch.makespan,
        "from_scratch_time_to_best_s": round(t_scratch, 3),
        "repair_makespan": rep.makespan_after,
        "repair_moved_ops": rep.n_moved,
        "right_shift_hint_makespan": hint_ms,
        "repair_time_to_scratch_quality_s": None if t_rep is None else round(t_rep, 3),
        "ratio": None if t_rep is None else round(t_rep / max(t_scratch, 1e-3), 3),
        "target_ratio": 0.2,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="10 s and 60 s on every instance")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--instances", nargs="*", help="instance names (default: subset, or all with --full)")
    args = ap.parse_args()
    names = args.instances or (list(BEST_KNOWN) if args.full else SHORT)
    limits = [10.0, 60.0] if args.full else [2.0, 5.0]
    t0 = time.perf_counter()
    rows = run_table(names, limits, args.workers)
    summary = {}
    for limit in limits:
        sel = [r for r in rows if r["limit_s"] == limit]
        # a model that found no schedule counts as a 100 % gap
        gs = [r["strong"]["gap_pct"] if r["strong"]["gap_pct"] is not None else 100.0 for r in sel]  # type: ignore[index]
        gt = [r["textbook"]["gap_pct"] if r["textbook"]["gap_pct"] is not None else 100.0 for r in sel]  # type: ignore[index]
        summary[f"{limit:g}s"] = {
            "mean_gap_strong_pct": round(statistics.mean(gs), 2),
            "mean_gap_textbook_pct": round(statistics.mean(gt), 2),
            "no_schedule_strong": sum(r["strong"]["makespan"] is None for r in sel),  # type: ignore[index]
            "no_schedule_textbook": sum(r["textbook"]["makespan"] is None for r in sel),  # type: ignore[index]
            "strong_gap_le_textbook_on": f"{sum(a <= b for a, b in zip(gs, gt, strict=True))}/{len(sel)}",
            "mean_gap_ratio_strong_over_textbook": round(statistics.mean(gs) / max(statistics.mean(gt), 1e-9), 3),
        }
    resched = reschedule_ratio(args.workers, 10.0 if not args.full else 30.0)
    print(f"reschedule: {json.dumps(resched)}", file=sys.stderr)
    out = {
        "bench": "scheduling",
        "mode": "full" if args.full else "short",
        "workers": args.workers,
        "limits_s": limits,
        "summary": summary,
        "reschedule": resched,
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

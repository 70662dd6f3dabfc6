"""Scheduling benchmark: classic instances x time limits, our CP-SAT model vs a textbook one.

For each instance and time limit both models run in this process, one after the other:
``strong`` (tools.scheduling default: tight horizon from a dispatching-rule schedule, which is
also the solution hint; with <= 2 workers on a classic job shop CP-SAT's full-search subsolver is
``no_lp``) and ``textbook`` (same interval/NoOverlap formulation, naive horizon = sum of
durations, no hint, CP-SAT's default portfolio). Reported: makespan, proven lower bound, gap to
the best-known makespan, wall time. ``--seeds N`` runs each row N times; the summary says per
instance (mean gap over the seeds) whether strong's gap <= textbook's (the target).

Then the rescheduling ratio on 20x15+ instances (abz7; Taillard's ta11-ta13 20x15, ta21 20x20, ta41
30x20, ta51 50x15, ta61 50x20, ta71 100x20, generated from their seeds; the short run takes abz7,
ta11, ta41) for two events (the busiest machine down, the operation running on it late, each 8 % of
the plan, at a quarter of the plan). A from-scratch solve of the post-event problem ends at M*,
first reached after t*; ``reschedule`` (right shift, then bound-targeted search + LNS in a
portfolio with CP-SAT on the whole model hinted with the right-shifted plan, stability phase) then
runs with ``time_limit = 0.2 t*`` and meets the target when it held a plan <= M* within that
budget. Also reported: the same with 20 % of the from-scratch wall time, and the LNS started from a
dispatching-rule plan instead of the old plan (ablation); counts per instance size. Same worker
count, same run. Target: met.

    python benches/bench_scheduling.py                 # short: 2 s and 5 s on a subset + resched abz7, ta11, ta41 (~2.5 min)
    python benches/bench_scheduling.py --full          # 10 s and 60 s on every instance (long)
    python benches/bench_scheduling.py --resched-only --repeats 2   # only the rescheduling ratio
    python benches/bench_scheduling.py --skip-resched --seeds 3     # only the table, 3 seeds per row (~3.5 min)

Prints a table on stderr and ONE JSON object on stdout (last line).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benches.instances.make_taillard import render as render_taillard  # noqa: E402
from tools.scheduling import (  # noqa: E402
    Instance,
    MachineDown,
    OperationLate,
    ScheduledOp,
    best_dispatch,
    load_instance,
    parse_instance,
    reschedule,
    solve,
)
from tools.scheduling.heuristics import makespan_lower_bound  # noqa: E402
from tools.scheduling.lns import improve  # noqa: E402
from tools.scheduling.model import ProgressPoint  # noqa: E402
from tools.scheduling.reschedule import apply_event, fixed_prefix, right_shift  # noqa: E402
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


def run_table(
    names: list[str], limits: list[float], workers: int, seeds: int = 1, first_seed: int = 0
) -> list[dict[str, object]]:
    """One row per instance x limit x seed (first_seed..); both models run back to back (order alternates with the seed)."""
    rows = []
    for name in names:
        inst = load_instance(path_of(name))
        bks = BEST_KNOWN[name]
        for limit in limits:
            for seed in range(first_seed, first_seed + seeds):
                row: dict[str, object] = {
                    "instance": name, "size": f"{inst.n_jobs}x{inst.n_machines}", "limit_s": limit, "seed": seed,
                    "load_avg_1m": round(os.getloadavg()[0], 2),
                }  # fmt: skip
                kinds = ("strong", "textbook") if seed % 2 == 0 else ("textbook", "strong")
                for kind in kinds:
                    t0 = time.perf_counter()
                    sol = solve(inst, time_limit=limit, workers=workers, model=kind, seed=seed)  # type: ignore[arg-type]
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
                    f"{name:5s} {row['size']:>6s} {limit:5.0f}s seed {seed}  strong {s['makespan']} ({s['gap_pct']}%)"  # type: ignore[index]
                    f"  textbook {b['makespan']} ({b['gap_pct']}%)  bks {bks}  load {row['load_avg_1m']}",  # type: ignore[index]
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def _gap(side: object) -> float:
    """A side's gap in %; a model that found no schedule counts as 100 %."""
    gap = side["gap_pct"]  # type: ignore[index]
    return 100.0 if gap is None else float(gap)


def summarize(rows: list[dict[str, object]], limit: float) -> dict[str, object]:
    """Per time limit: mean gaps, and per instance (mean over seeds) whether strong's gap <= textbook's."""
    sel = [r for r in rows if r["limit_s"] == limit]
    gs = [_gap(r["strong"]) for r in sel]
    gt = [_gap(r["textbook"]) for r in sel]
    per_instance: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(str(r["instance"]) for r in sel):
        mine = [r for r in sel if r["instance"] == name]
        per_instance[name] = {
            "strong_mean_gap_pct": round(statistics.mean(_gap(r["strong"]) for r in mine), 2),
            "textbook_mean_gap_pct": round(statistics.mean(_gap(r["textbook"]) for r in mine), 2),
        }
    lost = [n for n, v in per_instance.items() if v["strong_mean_gap_pct"] > v["textbook_mean_gap_pct"]]
    return {
        "mean_gap_strong_pct": round(statistics.mean(gs), 2),
        "mean_gap_textbook_pct": round(statistics.mean(gt), 2),
        "no_schedule_strong": sum(r["strong"]["makespan"] is None for r in sel),  # type: ignore[index]
        "no_schedule_textbook": sum(r["textbook"]["makespan"] is None for r in sel),  # type: ignore[index]
        "strong_gap_le_textbook_on": f"{sum(a <= b for a, b in zip(gs, gt, strict=True))}/{len(sel)}",
        "strong_gap_le_textbook_instances": f"{len(per_instance) - len(lost)}/{len(per_instance)}",
        "instances_lost": lost,
        "per_instance": per_instance,
        "mean_gap_ratio_strong_over_textbook": round(statistics.mean(gs) / max(statistics.mean(gt), 1e-9), 3),
    }


def print_summary(summary: dict[str, object], limits: list[float]) -> None:
    """One line per time limit on stderr: mean gaps and the target reading."""
    for limit in limits:
        sm = summary[f"{limit:g}s"]
        print(f"{limit:g}s: mean gap strong {sm['mean_gap_strong_pct']}% vs textbook {sm['mean_gap_textbook_pct']}%; "  # type: ignore[index]
              f"strong <= textbook on {sm['strong_gap_le_textbook_instances']} instances (lost {sm['instances_lost']})",  # type: ignore[index]
              file=sys.stderr)  # fmt: skip


#: Taillard instances of 20x15 and up, generated in memory from their published seeds by
#: benches/instances/make_taillard.py: name -> (time seed, machine seed, best-known makespan, jobs, machines)
TAILLARD_RESCHED: dict[str, tuple[int, int, int, int, int]] = {
    "ta11": (533484900, 317419073, 1357, 20, 15),
    "ta12": (1894307698, 1474268163, 1367, 20, 15),
    "ta13": (874340513, 509669280, 1342, 20, 15),
    "ta21": (1035939303, 773961798, 1642, 20, 20),
    "ta41": (1841414609, 1357882888, 2005, 30, 20),
    "ta51": (17271, 718939, 2760, 50, 15),
    "ta61": (8493988, 2738939, 2868, 50, 20),
    "ta71": (302034063, 1203569070, 5464, 100, 20),
}
RESCHED_SHORT = ["abz7", "ta11", "ta41"]
RESCHED_EVENTS = ["machine_down", "operation_late"]


def resched_instance(name: str) -> Instance:
    if name in TAILLARD_RESCHED:
        ts, ms, best, n, m = TAILLARD_RESCHED[name]
        return parse_instance(render_taillard(ts, ms, best, n=n, m=m), "taillard")
    return load_instance(path_of(name))


def time_to_reach(progress: list[ProgressPoint], target: int, offset: float = 0.0) -> float | None:
    """Seconds until the first solution with makespan <= target (None: never)."""
    for p in progress:
        if p.makespan <= target:
            return p.t + offset
    return None


def make_event(kind: str, base: list[ScheduledOp], now: int) -> MachineDown | OperationLate:
    """A disruption of 8 % of the plan at ``now`` on the machine with the most work left."""
    size = max(1, round(0.08 * makespan_of(base)))
    load: dict[int, int] = {}
    for s in base:
        if s.start >= now:
            load[s.machine] = load.get(s.machine, 0) + s.end - s.start
    busiest = sorted(load, key=lambda m: -load[m])
    if kind == "machine_down":
        return MachineDown(machine=busiest[0], start=now, end=now + size)
    running = [s for s in base if s.start < now < s.end]
    late = min(running, key=lambda s: (busiest.index(s.machine) if s.machine in busiest else len(busiest), s.job))
    return OperationLate(job=late.job, op=late.op, delay=size)


def _repair_run(
    inst: Instance,
    base: list[ScheduledOp],
    event: MachineDown | OperationLate,
    *,
    now: int,
    budget: float,
    target: int,
    fixed: dict[tuple[int, int], ScheduledOp],
    workers: int,
    seed: int,
) -> dict[str, object]:
    """``reschedule`` with ``time_limit=budget``: when (if) it first held a plan as good as ``target``."""
    t0 = time.perf_counter()
    rep = reschedule(inst, base, event, now=now, time_limit=budget, workers=workers, seed=seed)
    wall = time.perf_counter() - t0
    assert validate(rep.instance, rep.solution) == [], "repaired schedule is invalid"
    t_rep = time_to_reach(rep.solution.progress, target)
    return {
        "budget_s": round(budget, 3),
        "makespan": rep.makespan_after,
        "lower_bound": rep.solution.lower_bound,
        "moved_ops": rep.n_moved,
        "wall_s": round(wall, 3),
        "keeps_fixed_ops": all(rep.solution.by_key()[k] == s for k, s in fixed.items()),
        "time_to_scratch_quality_s": None if t_rep is None else round(t_rep, 3),
        "met": t_rep is not None and t_rep <= budget and rep.makespan_after <= target,
    }


def reschedule_case(
    inst: Instance, base: list[ScheduledOp], kind: str, *, workers: int, limit: float, seed: int
) -> dict[str, object]:
    """One event: from-scratch solve, then repairs given 20 % of its time; same post-event problem, same workers."""
    now = makespan_of(base) // 4
    event = make_event(kind, base, now)
    after = apply_event(inst, base, event, now=now)
    fixed, _ = fixed_prefix(after, base, now=now)
    # from scratch: same post-event problem and fixed prefix, strong model (dispatching hint), no old plan;
    # its clock starts before the model is built (the dispatching rules run in the constructor)
    t0 = time.perf_counter()
    jsm = JobShopModel(after, fixed=fixed, not_before=now)
    build_s = time.perf_counter() - t0
    scratch = jsm.run(time_limit=limit, workers=workers, seed=seed)
    scratch_wall = time.perf_counter() - t0
    assert validate(after, scratch) == [], "from-scratch schedule is invalid"
    t_scratch = time_to_reach(scratch.progress, scratch.makespan, build_s) or scratch_wall
    target = scratch.makespan
    common = {"now": now, "target": target, "fixed": fixed, "workers": workers, "seed": seed}
    # primary (strict): 20 % of the time the from-scratch solve needed to reach its final makespan
    strict = _repair_run(inst, base, event, budget=0.2 * t_scratch, **common)  # type: ignore[arg-type]
    # secondary (lenient): 20 % of the from-scratch wall time (its time limit, unless it proved optimality sooner)
    lenient = _repair_run(inst, base, event, budget=0.2 * scratch_wall, **common)  # type: ignore[arg-type]
    # ablation: the same bound-targeted search started from the dispatching-rule plan instead of the old plan
    t1 = time.perf_counter()
    lb, _machine = makespan_lower_bound(after, fixed=fixed, not_before=now)
    start = best_dispatch(after, fixed=fixed, not_before=now)
    abl = improve(after, start, fixed=fixed, not_before=now, time_limit=0.2 * t_scratch, workers=workers, seed=seed,
                  t0=t1, lower_bound=lb)  # fmt: skip
    t_abl = time_to_reach(abl.progress, target)
    return {
        "event": event.model_dump(),
        "now": now,
        "fixed_ops": len(fixed),
        "lower_bound": lb,
        "right_shift_makespan": makespan_of(right_shift(after, base, fixed=fixed, now=now)),
        "from_scratch_makespan": target,
        "from_scratch_lower_bound": scratch.lower_bound,
        "from_scratch_time_to_final_s": round(t_scratch, 3),
        "from_scratch_wall_s": round(scratch_wall, 3),
        "repair": strict,
        "repair_vs_wall": lenient,
        "ablation_from_dispatch": {
            "makespan": abl.objective_value,
            "time_to_scratch_quality_s": None if t_abl is None else round(t_abl, 3),
            "met": t_abl is not None and t_abl <= 0.2 * t_scratch,
        },
        # the repair's time to the from-scratch makespan / the from-scratch time to it (None: not within 20 %)
        "ratio": None
        if strict["time_to_scratch_quality_s"] is None
        else round(float(strict["time_to_scratch_quality_s"]) / max(t_scratch, 1e-3), 3),  # type: ignore[arg-type]
        "met": strict["met"],
        "met_vs_wall": lenient["met"],
    }


def reschedule_section(
    names: list[str],
    events: list[str],
    *,
    workers: int,
    limit: float,
    base_limit: float,
    repeats: int,
) -> dict[str, object]:
    """Rescheduling ratio over instances x events x repeats (one base plan per instance)."""
    load0 = os.getloadavg()[0]
    cases = []
    for name in names:
        inst = resched_instance(name)
        base = solve(inst, time_limit=base_limit, workers=workers)
        assert validate(inst, base) == []
        for kind in events:
            for rep in range(repeats):
                row = reschedule_case(inst, base.operations, kind, workers=workers, limit=limit, seed=rep)
                row = {"instance": name, "size": f"{inst.n_jobs}x{inst.n_machines}", "base_makespan": base.makespan,
                       "repeat": rep, **row}  # fmt: skip
                cases.append(row)
                r, lw, ab = row["repair"], row["repair_vs_wall"], row["ablation_from_dispatch"]
                print(
                    f"resched {name} {kind:14s} #{rep}: bound {row['lower_bound']}, right-shift "
                    f"{row['right_shift_makespan']}, scratch {row['from_scratch_makespan']} at "
                    f"{row['from_scratch_time_to_final_s']}s (wall {row['from_scratch_wall_s']}s); repair in "
                    f"{r['budget_s']}s: {r['makespan']} (reached at {r['time_to_scratch_quality_s']}, met {r['met']}); "
                    f"in {lw['budget_s']}s: {lw['makespan']} (met {lw['met']}); from dispatch: {ab['makespan']} "
                    f"(met {ab['met']})",  # type: ignore[index]
                    file=sys.stderr,
                    flush=True,
                )
    ratios = sorted(c["ratio"] for c in cases if isinstance(c["ratio"], float))

    def count(key: str, size: str | None = None) -> str:
        sel = [c for c in cases if size is None or c["size"] == size]
        return f"{sum(bool(c[key]) for c in sel)}/{len(sel)}"

    sizes = list(dict.fromkeys(str(c["size"]) for c in cases))

    return {
        "setup": (
            f"base plan = {base_limit:g} s solve; at now = makespan/4 an event of 8 % of the makespan on the machine "
            f"with the most work left; from scratch = strong model on the post-event problem ({limit:g} s), t* = its "
            "time to its final makespan M* (clock includes model building); repair = reschedule(time_limit=0.2 t*) "
            "(right shift, bound-targeted search + LNS with a hinted CP-SAT thread, stability phase), met when it held "
            "a plan <= M* within that budget; repair_vs_wall: the same with time_limit = 0.2 x the from-scratch wall time; "
            "ablation_from_dispatch: the repair's search started from the dispatching-rule plan, not the old plan"
        ),
        "workers": workers,
        "target_ratio": 0.2,
        "met": count("met"),
        "met_vs_wall": count("met_vs_wall"),
        "met_by_size": {size: count("met", size) for size in sizes},
        "met_vs_wall_by_size": {size: count("met_vs_wall", size) for size in sizes},
        "ablation_met": f"{sum(bool(c['ablation_from_dispatch']['met']) for c in cases)}/{len(cases)}",  # type: ignore[index]
        "repairs_keep_fixed_ops": all(c["repair"]["keeps_fixed_ops"] for c in cases),  # type: ignore[index]
        "ratios_met": ratios,
        "load_avg_1m_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)],
        "cases": cases,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="10 s and 60 s on every instance")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--instances", nargs="*", help="instance names (default: subset, or all with --full)")
    ap.add_argument("--limits", nargs="*", type=float, help="time limits in s (default 2 5, --full 10 60)")
    ap.add_argument("--seeds", type=int, default=1, help="table runs per instance and limit (seeds 0..N-1)")
    ap.add_argument("--skip-resched", action="store_true", help="only the from-scratch table")
    ap.add_argument("--resched-only", action="store_true", help="only the rescheduling ratio section")
    ap.add_argument("--resched-instances", nargs="*", help=f"20x15+ instances (default {RESCHED_SHORT})")
    ap.add_argument("--repeats", type=int, default=None, help="runs per instance and event (default 1, --full 2)")
    ap.add_argument("--scratch-limit", type=float, default=10.0, help="from-scratch solve seconds")
    ap.add_argument("--base-limit", type=float, default=10.0, help="seconds for the running (base) plan")
    args = ap.parse_args()
    names = args.instances or (list(BEST_KNOWN) if args.full else SHORT)
    limits = args.limits or ([10.0, 60.0] if args.full else [2.0, 5.0])
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    rows = [] if args.resched_only else run_table(names, limits, args.workers, args.seeds)
    summary: dict[str, object] = {f"{limit:g}s": summarize(rows, limit) for limit in (limits if rows else [])}
    if rows:
        summary["load_avg_1m_start_end"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        print_summary(summary, limits)
    if args.skip_resched:
        print(json.dumps({"bench": "scheduling", "mode": "table-full" if args.full else "table-short",
                          "workers": args.workers, "limits_s": limits, "seeds": args.seeds, "summary": summary,
                          "rows": rows, "wall_s": round(time.perf_counter() - t0, 1)}))  # fmt: skip
        return 0
    resched_names = args.resched_instances or (["abz7", *TAILLARD_RESCHED] if args.full else RESCHED_SHORT)
    resched = reschedule_section(
        resched_names,
        RESCHED_EVENTS,
        workers=args.workers,
        limit=args.scratch_limit,
        base_limit=args.base_limit,
        repeats=args.repeats or (2 if args.full else 1),
    )
    print(
        f"reschedule: met {resched['met']} {resched['met_by_size']} (vs wall {resched['met_vs_wall']}; "
        f"from dispatch {resched['ablation_met']})",
        file=sys.stderr,
    )
    out = {
        "bench": "scheduling",
        "mode": ("resched-only" if args.resched_only else "full" if args.full else "short"),
        "workers": args.workers,
        "limits_s": [] if args.resched_only else limits,
        "seeds": args.seeds,
        "summary": summary,
        "reschedule": resched,
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The scheduling benchmark table (benches/bench_scheduling.py) on a many-core machine, instances in parallel.

Not a ``bench_*`` script on purpose: ``make bench`` (benches/run_all.py) does not run it.

``bench_scheduling.py --full`` solves every instance one after the other (both models, each limit), which
takes over an hour at 60 s. This driver runs ``run_table([name], ...)`` for ``--jobs`` instances at a time,
one process each (spawn), every solve with ``--workers`` CP-SAT workers, largest instances first. Keep
jobs * workers <= cores so that solves do not compete (each row records the 1-minute load average).

    python benches/scheduling_table_parallel.py --jobs 8 --workers 2 --limits 60 --out-dir out   # 16 cores, ~4 min

With ``--out-dir`` all finished rows are rewritten to ``<out-dir>/rows.json`` after each instance (and with
``--per-instance-files`` also to ``rows_<name>.json``), so a run cut short keeps what it finished.
Prints per-row lines and a table on stderr and ONE JSON object on stdout (last line).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benches.bench_scheduling import BEST_KNOWN, path_of, print_summary, run_table, summarize  # noqa: E402
from tools.scheduling import load_instance  # noqa: E402


def _size(name: str) -> int:
    """Operation-machine alternatives of an instance: the longest-first sort key."""
    inst = load_instance(path_of(name))
    return sum(len(op.alternatives) for job in inst.jobs for op in job.operations)


def _task(args: tuple[str, list[float], int, int, int]) -> tuple[str, list[dict[str, object]]]:
    name, limits, workers, seeds, first_seed = args
    return name, run_table([name], limits, workers, seeds, first_seed)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2), help="instances at a time")
    ap.add_argument("--limits", nargs="*", type=float, default=[10.0, 60.0], help="time limits in s")
    ap.add_argument("--workers", type=int, default=2, help="CP-SAT workers per solve")
    ap.add_argument("--instances", nargs="*", default=list(BEST_KNOWN), help="instance names (default: all)")
    ap.add_argument("--seeds", type=int, default=1, help="runs per instance and limit (seeds F..F+N-1)")
    ap.add_argument("--first-seed", type=int, default=0, help="F: the first seed (to add seeds to an earlier run)")
    ap.add_argument("--out-dir", type=Path, help="write finished rows to <out-dir>/rows.json as they come")
    ap.add_argument("--per-instance-files", action="store_true", help="also write <out-dir>/rows_<name>.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    names = sorted(args.instances, key=_size, reverse=True)
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, list[dict[str, object]]] = {}
    tasks = [(n, args.limits, args.workers, args.seeds, args.first_seed) for n in names]
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        for name, rows in pool.imap_unordered(_task, tasks):
            done[name] = rows
            print(f"done {name} ({len(done)}/{len(names)}) at {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
            if args.out_dir:
                if args.per_instance_files:
                    (args.out_dir / f"rows_{name}.json").write_text(json.dumps(rows))
                all_rows = [r for n in args.instances if n in done for r in done[n]]
                (args.out_dir / "rows.json").write_text(json.dumps(all_rows))
    rows = [r for n in args.instances for r in done[n]]  # the order asked for
    summary: dict[str, object] = {f"{limit:g}s": summarize(rows, limit) for limit in args.limits}
    summary["load_avg_1m_start_end"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    print(f"\n{'instance':8s} {'size':>6s} {'limit':>6s} {'seed':>4s} {'strong':>8s} {'gap%':>6s} {'textbook':>8s} "
          f"{'gap%':>6s} {'bks':>5s} {'load':>5s}", file=sys.stderr)  # fmt: skip
    for r in rows:
        s, b = r["strong"], r["textbook"]
        print(f"{r['instance']:8s} {r['size']:>6s} {r['limit_s']:6g} {r['seed']:4d} {s['makespan']!s:>8s} "  # type: ignore[index]
              f"{s['gap_pct']!s:>6s} {b['makespan']!s:>8s} {b['gap_pct']!s:>6s} {r['best_known']:5d} "  # type: ignore[index]
              f"{r['load_avg_1m']:5.1f}", file=sys.stderr)  # fmt: skip
    print_summary(summary, args.limits)
    out = {
        "bench": "scheduling",
        "mode": "table-parallel",
        "jobs": args.jobs,
        "workers": args.workers,
        "limits_s": args.limits,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "cpu_count": os.cpu_count(),
        "summary": summary,
        "rows": rows,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

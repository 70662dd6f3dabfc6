"""Optimization bench: regret of multi-start SLSQP vs random search at the same evaluation budget.

Prints one JSON object (last line): median/mean/max regret of ours and of random search against the
exhaustive true optima of the first-principles models (evals/optimization_regret.py), their ratio,
the saving the recommendations make over fixed-setpoint practice, and wall times.
``--full`` runs 40 cases at three budgets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.optimization_regret import regret_report
from tools.optimization import default_air_station, default_chiller_plant, optimize_air, optimize_chillers


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cases = 40 if args.full else 16
    budgets = [150, 400, 1500] if args.full else [400]
    out: dict[str, object] = {"bench": "optimization", "cases": cases}
    for b in budgets:
        rep = regret_report(cases=cases, budget=b, seed=args.seed)
        out[f"budget_{b}"] = {
            "median_regret_ours": rep.median_regret_ours,
            "median_regret_random": rep.median_regret_random,
            "mean_regret_ours": rep.mean_regret_ours,
            "mean_regret_random": rep.mean_regret_random,
            "max_regret_ours": rep.max_regret_ours,
            "max_regret_random": rep.max_regret_random,
            "mean_regret_ratio_random_over_ours_floor_1e-6": rep.mean_regret_random / max(rep.mean_regret_ours, 1e-6),
            "wins_vs_random": rep.wins_vs_random,
            "passed_target_1pct": rep.passed,
            "wall_s": rep.wall_s,
        }
    plant, st = default_chiller_plant(), default_air_station()
    savings, walls = [], []
    for load, wb in [(700.0, 12.0), (1500.0, 20.0), (2400.0, 24.0), (3100.0, 27.0)]:
        t0 = time.perf_counter()
        savings.append(optimize_chillers(plant, load, wb).saving.percent)
        walls.append(time.perf_counter() - t0)
    air = []
    for demand in (15.0, 30.0, 50.0):
        t0 = time.perf_counter()
        air.append(optimize_air(st, demand).saving.percent)
        walls.append(time.perf_counter() - t0)
    out["chiller_saving_vs_fixed_setpoints_pct_mean"] = statistics.mean(savings)
    out["air_saving_vs_cascade_7.5bar_pct_mean"] = statistics.mean(air)
    out["optimize_call_wall_s_median"] = statistics.median(walls)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

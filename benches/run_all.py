"""Run every ``benches/bench_*.py`` and print one JSON document with all their results.

Each bench script prints exactly one JSON object on stdout (ratios against a baseline measured
in the same run). ``python benches/run_all.py [NAME ...]`` runs a subset.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    results: dict[str, object] = {}
    rc = 0
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent)
        took = round(time.perf_counter() - t0, 2)
        if proc.returncode != 0:
            rc = 1
            results[name] = {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"], "wall_s": took}
            continue
        try:
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            rc = 1
            results[name] = {"error": "bench printed no JSON", "wall_s": took}
    print(json.dumps(results, indent=2))
    return rc


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Regenerate Taillard's 15x15 job-shop instances ta01-ta10 from their published seeds.

Taillard (1993, "Benchmarks for basic scheduling problems", EJOR 64:278-285) defines each
instance by a time seed and a machine seed fed to his portable Lehmer generator (the same
generator the OR-Library ``jobshop2.txt`` header documents). This script writes the files in
Taillard's own text format (header, ``Times`` matrix, ``Machines`` matrix, machines 1-based).
``python benches/instances/make_taillard.py`` rewrites ``benches/instances/taillard/ta01..10.txt``.
The generated ta01 was checked against a published copy of the instance (both matrices equal).
"""

from __future__ import annotations

from pathlib import Path

#: name -> (time seed, machine seed, best-known makespan; all ten are proven optima)
SEEDS: dict[str, tuple[int, int, int]] = {
    "ta01": (840612802, 398197754, 1231),
    "ta02": (1314640371, 386720536, 1244),
    "ta03": (1227221349, 316176388, 1218),
    "ta04": (342269428, 1806358582, 1175),
    "ta05": (1603221416, 1501949241, 1224),
    "ta06": (1357584978, 1734077082, 1238),
    "ta07": (44531661, 1374316395, 1227),
    "ta08": (302545136, 2092186050, 1217),
    "ta09": (1153780144, 1393392374, 1274),
    "ta10": (73896786, 1544979948, 1241),
}


def _unif(seed: int, low: int, high: int) -> tuple[int, int]:
    """Taillard's generator: Lehmer x <- 16807 x mod (2^31 - 1), Schrage's method."""
    m, a, b, c = 2147483647, 16807, 127773, 2836
    k = seed // b
    seed = a * (seed % b) - k * c
    if seed < 0:
        seed += m
    return seed, low + int(seed / m * (high - low + 1))


def generate(time_seed: int, machine_seed: int, n: int = 15, m: int = 15) -> tuple[list[list[int]], list[list[int]]]:
    """Return (times, machines) with machines 1-based, as in Taillard's files."""
    times = [[0] * m for _ in range(n)]
    for j in range(n):
        for i in range(m):
            time_seed, times[j][i] = _unif(time_seed, 1, 99)
    machines = [list(range(1, m + 1)) for _ in range(n)]
    for j in range(n):
        for i in range(m):
            machine_seed, k = _unif(machine_seed, i, m - 1)
            machines[j][i], machines[j][k] = machines[j][k], machines[j][i]
    return times, machines


def render(time_seed: int, machine_seed: int, best: int, n: int = 15, m: int = 15) -> str:
    times, machines = generate(time_seed, machine_seed, n, m)
    lines = [
        "Nb of jobs, Nb of Machines, Time seed, Machine seed, Upper bound, Lower bound",
        f"{n:10d}{m:10d}{time_seed:11d}{machine_seed:11d}{best:10d}{best:10d}",
        "Times",
        *(" " + " ".join(f"{x:2d}" for x in row) for row in times),
        "Machines",
        *(" " + " ".join(f"{x:2d}" for x in row) for row in machines),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(__file__).resolve().parent / "taillard"
    out.mkdir(exist_ok=True)
    for name, (ts, ms, best) in SEEDS.items():
        (out / f"{name}.txt").write_text(render(ts, ms, best), encoding="utf-8")


if __name__ == "__main__":
    main()

"""Read instances: OR-Library job shop, Taillard, Brandimarte FJSP and our own JSON.

- ``orlib``: optional description lines, then ``n m``, then one line per job with ``machine time``
  pairs (machines 0-based). This is the per-instance block of OR-Library's ``jobshop1.txt``.
- ``taillard``: optional header lines (``Nb of jobs, ...`` and the values line whose first two
  numbers are ``n m``), then ``Times`` (n x m durations) and ``Machines`` (n x m, 1-based).
  Without the keywords: ``n m`` then the two matrices.
- ``brandimarte``: ``n m [avg]``, then per job: the number of operations, and per operation
  ``k`` followed by k pairs ``machine time`` (machines 1-based).
- ``json``: :class:`~tools.scheduling.model.Instance` as JSON (``model_dump_json`` output).

Bad input raises :class:`InstanceFormatError` naming the line and what was expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from tools.errors import ToolRetry
from tools.scheduling.model import Alternative, Instance, Job, Operation

__all__ = [
    "InstanceFormat",
    "InstanceFormatError",
    "guess_format",
    "load_instance",
    "parse_brandimarte",
    "parse_instance",
    "parse_json",
    "parse_orlib",
    "parse_taillard",
]

InstanceFormat = Literal["orlib", "taillard", "brandimarte", "json"]
FORMATS: tuple[str, ...] = ("orlib", "taillard", "brandimarte", "json")

_INT_LINE = re.compile(r"^\s*-?\d+(\s+-?\d+)*\s*$")


class InstanceFormatError(ToolRetry, ValueError):
    """The instance text does not follow the announced format (message says where)."""


def _int_lines(text: str) -> list[tuple[int, list[int]]]:
    """(line number, ints) for every line made only of integers."""
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if _INT_LINE.match(line):
            out.append((i, [int(t) for t in line.split()]))
    return out


def _check_positive(what: str, n: int, m: int, lineno: int) -> None:
    if n <= 0 or m <= 0:
        raise InstanceFormatError(f"line {lineno}: expected '{what}' with positive numbers, got {n} {m}")


def parse_orlib(text: str, *, name: str = "") -> Instance:
    """Parse an OR-Library job-shop instance (``n m`` then ``machine time`` pairs, 0-based).

    Args:
        text: The file's text.
        name: Instance name to record.
    """
    lines = _int_lines(text)
    if not lines:
        raise InstanceFormatError("orlib: no line of numbers found; expected 'n m' then one line per job")
    lineno, head = lines[0]
    if len(head) != 2:
        raise InstanceFormatError(f"orlib line {lineno}: expected 'n m' (2 numbers), got {len(head)} numbers")
    n, m = head
    _check_positive("n m", n, m, lineno)
    rows = lines[1:]
    if len(rows) < n:
        raise InstanceFormatError(f"orlib: expected {n} job lines after line {lineno}, found {len(rows)}")
    jobs = []
    for j in range(n):
        ln, vals = rows[j]
        if len(vals) % 2 or not vals:
            raise InstanceFormatError(f"orlib line {ln}: expected 'machine time' pairs, got {len(vals)} numbers")
        ops = []
        for k in range(0, len(vals), 2):
            mach, dur = vals[k], vals[k + 1]
            if not 0 <= mach < m:
                raise InstanceFormatError(f"orlib line {ln}: machine {mach} out of range 0..{m - 1} (0-based)")
            if dur < 0:
                raise InstanceFormatError(f"orlib line {ln}: negative processing time {dur}")
            ops.append(Operation(alternatives=(Alternative(machine=mach, duration=dur),)))
        jobs.append(Job(operations=tuple(ops)))
    return Instance(name=name, n_machines=m, jobs=tuple(jobs))


def parse_taillard(text: str, *, name: str = "") -> Instance:
    """Parse a Taillard instance (times matrix, then 1-based machines matrix).

    Args:
        text: The file's text.
        name: Instance name to record.
    """
    raw = text.splitlines()
    lowered = [ln.strip().lower() for ln in raw]
    if "times" in lowered and "machines" in lowered:
        ti, mi = lowered.index("times"), lowered.index("machines")
        head = _int_lines("\n".join(raw[:ti]))
        if not head or len(head[-1][1]) < 2:
            raise InstanceFormatError("taillard: expected a header line starting with 'n m' before 'Times'")
        n, m = head[-1][1][:2]
        _check_positive("n m", n, m, head[-1][0])
        times = [v for _, v in _int_lines("\n".join(raw[ti + 1 : mi]))]
        machs = [v for _, v in _int_lines("\n".join(raw[mi + 1 :]))]
        base = ti + 1
    else:
        lines = _int_lines(text)
        if not lines or len(lines[0][1]) < 2:
            raise InstanceFormatError("taillard: expected 'n m' on the first line of numbers")
        n, m = lines[0][1][:2]
        _check_positive("n m", n, m, lines[0][0])
        body = [v for _, v in lines[1:]]
        times, machs = body[:n], body[n : 2 * n]
        base = lines[0][0]
    if len(times) < n or len(machs) < n:
        raise InstanceFormatError(
            f"taillard: expected {n} rows of times and {n} rows of machines, got {len(times)} and {len(machs)}"
        )
    jobs = []
    for j in range(n):
        t_row, m_row = times[j], machs[j]
        if len(t_row) != m or len(m_row) != m:
            raise InstanceFormatError(
                f"taillard (near line {base + j}): job {j} needs {m} times and {m} machines, got {len(t_row)} and {len(m_row)}"
            )
        ops = []
        for dur, mach in zip(t_row, m_row, strict=True):
            if not 1 <= mach <= m:
                raise InstanceFormatError(f"taillard: job {j}: machine {mach} out of range 1..{m} (1-based)")
            if dur < 0:
                raise InstanceFormatError(f"taillard: job {j}: negative processing time {dur}")
            ops.append(Operation(alternatives=(Alternative(machine=mach - 1, duration=dur),)))
        jobs.append(Job(operations=tuple(ops)))
    return Instance(name=name, n_machines=m, jobs=tuple(jobs))


def parse_brandimarte(text: str, *, name: str = "") -> Instance:
    """Parse a Brandimarte FJSP instance (``n m [avg]``; per op ``k`` then k ``machine time``, 1-based).

    Args:
        text: The file's text.
        name: Instance name to record.
    """
    nonblank = [(i, ln) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not nonblank:
        raise InstanceFormatError("brandimarte: empty file; expected 'n m [avg]' first")
    first_ln, header = nonblank[0]
    head = header.split()
    if len(head) < 2 or not all(re.fullmatch(r"\d+", t) for t in head[:2]):
        raise InstanceFormatError(f"brandimarte line {first_ln}: expected 'n m [avg]', got {header.strip()[:40]!r}")
    n, m = int(head[0]), int(head[1])
    _check_positive("n m", n, m, first_ln)
    job_lines = nonblank[1:]
    if len(job_lines) < n:
        raise InstanceFormatError(f"brandimarte: expected {n} job lines after the header, found {len(job_lines)}")
    jobs = []
    for j in range(n):
        ln, line = job_lines[j]
        try:
            vals = [int(t) for t in line.split()]
        except ValueError:
            raise InstanceFormatError(f"brandimarte line {ln}: expected integers only") from None
        pos = 0

        def take(ln: int = ln, vals: list[int] = vals, j: int = j) -> int:
            nonlocal pos
            if pos >= len(vals):
                raise InstanceFormatError(f"brandimarte line {ln}: the line ends too early (job {j})")
            v = vals[pos]
            pos += 1
            return v

        n_ops = take()
        if n_ops <= 0:
            raise InstanceFormatError(f"brandimarte line {ln}: job {j} needs at least one operation")
        ops = []
        for o in range(n_ops):
            k = take()
            if k <= 0:
                raise InstanceFormatError(f"brandimarte line {ln}: job {j} op {o} needs at least one machine")
            alts: dict[int, int] = {}
            for _ in range(k):
                mach, dur = take(), take()
                if not 1 <= mach <= m:
                    raise InstanceFormatError(f"brandimarte line {ln}: machine {mach} out of range 1..{m} (1-based)")
                if dur < 0:
                    raise InstanceFormatError(f"brandimarte line {ln}: negative processing time {dur}")
                # a machine listed twice keeps its shortest time
                alts[mach - 1] = min(dur, alts.get(mach - 1, dur))
            ops.append(Operation(alternatives=tuple(Alternative(machine=a, duration=d) for a, d in alts.items())))
        if pos != len(vals):
            raise InstanceFormatError(
                f"brandimarte line {ln}: {len(vals) - pos} numbers left over after job {j}'s {n_ops} operations"
            )
        jobs.append(Job(operations=tuple(ops)))
    return Instance(name=name, n_machines=m, jobs=tuple(jobs))


def parse_json(text: str, *, name: str = "") -> Instance:
    """Parse our JSON instance format (the :class:`Instance` model).

    Args:
        text: The JSON text.
        name: Instance name to use when the JSON has none.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InstanceFormatError(f"json: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InstanceFormatError("json: expected an object with 'n_machines' and 'jobs'")
    if name and not data.get("name"):
        data["name"] = name
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise InstanceFormatError(f"json: {loc}: {err['msg']} ({exc.error_count()} error(s))") from None


_PARSERS = {"orlib": parse_orlib, "taillard": parse_taillard, "brandimarte": parse_brandimarte, "json": parse_json}


def parse_instance(text: str, fmt: InstanceFormat, *, name: str = "") -> Instance:
    """Parse ``text`` in format ``fmt``.

    Args:
        text: The instance text.
        fmt: One of orlib, taillard, brandimarte, json.
        name: Instance name to record.
    """
    try:
        parser = _PARSERS[fmt]
    except KeyError:
        raise InstanceFormatError(f"Unknown format {fmt!r}; valid: {', '.join(FORMATS)}") from None
    try:
        return parser(text, name=name)
    except InstanceFormatError:
        raise
    except ValidationError as exc:
        raise InstanceFormatError(f"{fmt}: {exc.errors()[0]['msg']}") from None


def guess_format(path: Path) -> InstanceFormat:
    """Guess the format from the file name and content (.fjs -> brandimarte, .json -> json...)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".fjs":
        return "brandimarte"
    text = path.read_text(encoding="utf-8", errors="replace").lower()
    if "times" in text and "machines" in text:
        return "taillard"
    return "orlib"


def load_instance(path: str | Path, fmt: InstanceFormat | None = None) -> Instance:
    """Read an instance file (format guessed from name/content when ``fmt`` is None).

    Args:
        path: The file.
        fmt: Its format, or None to guess.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    return parse_instance(text, fmt or guess_format(p), name=p.stem)

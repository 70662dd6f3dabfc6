"""Small helpers shared by intent modules: yes/no detection, result builders, formatting."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from agents.plan import Composed
from agents.state import ResultType, ResultValue

__all__ = ["composed", "first_ok", "fmt_list", "fmt_num", "is_yes_no", "iso", "wo_type_of"]

_YES_NO = re.compile(r"^\s*(is|are|does|do|did|was|were|has|have|had|can|could|will|would|should|any)\b")


def is_yes_no(low: str) -> bool:
    """A question answered by yes or no ("is ...", "did ...", "has ...")."""
    return bool(_YES_NO.match(low))


def iso(ts: datetime | None) -> str | None:
    """ISO text for tool arguments (JSON-safe in traces and checkpoints)."""
    return ts.isoformat() if ts is not None else None


def composed(kind: ResultType, value: Any, answer: str) -> Composed:
    """A typed result with its answer text."""
    return Composed(result=ResultValue(type=kind, value=value), answer=answer)


def first_ok(results: list[dict[str, Any]], name: str | None = None) -> dict[str, Any] | None:
    """The data of the first successful result (of a tool name)."""
    for r in results:
        if r.get("ok") and (name is None or r.get("name") == name):
            return r.get("data")
    return None


def fmt_list(items: list[str], *, limit: int = 30) -> str:
    """'a, b and c' (truncated with a count)."""
    if not items:
        return "none"
    shown = items[:limit]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    if len(shown) == 1:
        return shown[0] + more
    return ", ".join(shown[:-1]) + (f", {shown[-1]}{more}" if more else f" and {shown[-1]}")


def fmt_num(x: float | None, unit: str | None = None) -> str:
    """A number with 3 significant decimals and its unit."""
    if x is None:
        return "no data"
    txt = f"{x:.3f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:.4g}"
    return f"{txt} {unit}" if unit else txt


def wo_type_of(low: str) -> str | None:
    """The work-order type a question names, if any."""
    if re.search(r"\b(corrective|breakdown|repair|failure)s?\b", low):
        return "corrective"
    if re.search(r"\b(preventive|preventative|planned|pm|scheduled maintenance)\b", low):
        return "preventive"
    if re.search(r"\binspections?\b", low):
        return "inspection"
    return None

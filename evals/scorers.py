"""Deterministic evaluators: value checks against ``expected`` and trajectory checks.

Every evaluator is a small dataclass with ``evaluate(result) -> Outcome`` (passed, score, reason).
:func:`grade` runs them all and turns an evaluator that crashes into a failed outcome, so one
bad scorer gives a failed row, never a crashed run.

Value comparison rules (``result.value`` against ``expected``):

- strings compare case-insensitively, with surrounding space stripped;
- list items that are objects compare by their ``id`` (else ``name``, else ``code``);
- ``number_within:0.5`` is an absolute tolerance, ``number_within:1%`` relative to ``expected``;
- ``yes_no`` maps booleans and yes/no/true/false text (the first word of an answer) to a boolean.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from agents.state import AskResult
from evals.cases import Case, parse_check

__all__ = [
    "AgentCheck",
    "DegradedCheck",
    "Evaluator",
    "Outcome",
    "TierCheck",
    "ToolsCheck",
    "ValueCheck",
    "evaluators_for",
    "grade",
    "normalize",
    "to_bool",
    "to_number",
]

_YES = {"yes", "y", "true", "t", "1", "oui", "ja"}
_NO = {"no", "n", "false", "f", "0", "non", "nein", "none"}
_ID_KEYS = ("id", "name", "code")


class Outcome(BaseModel):
    """What one evaluator said about one case."""

    evaluator: str
    passed: bool
    score: float
    reason: str = ""


class Evaluator(Protocol):
    """The evaluator protocol: a name and a pure ``evaluate``."""

    @property
    def name(self) -> str:
        """The name shown in reports."""
        ...

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer."""
        ...


def _ok(name: str, passed: bool, reason: str, score: float | None = None) -> Outcome:
    return Outcome(evaluator=name, passed=passed, score=float(passed) if score is None else score, reason=reason)


# -- normalisation ---------------------------------------------------------------------------------
def normalize(value: Any) -> Any:
    """Comparable form: strings lower-cased and stripped, objects reduced to their id, lists elementwise."""
    if isinstance(value, str):
        return " ".join(value.strip().lower().split())
    if isinstance(value, dict):
        for key in _ID_KEYS:
            if key in value:
                return normalize(value[key])
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_number(value: Any) -> float:
    """A number from a number, a numeric string ("12.5 kW"), or a one-key object; raises ValueError."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = re.search(r"[-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?", value)
        if m:
            return float(m.group(0).replace(",", "."))
    if isinstance(value, dict):
        for key in ("value", "count", "mean", "max", "min", "total"):
            if key in value:
                return to_number(value[key])
    raise ValueError(f"not a number: {value!r}")


def to_bool(value: Any) -> bool:
    """A boolean from a boolean, a number, or yes/no text (first word); raises ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        words = re.findall(r"[a-z0-9]+", value.lower())
        if words and words[0] in _YES:
            return True
        if words and words[0] in _NO:
            return False
    if isinstance(value, dict) and "value" in value:
        return to_bool(value["value"])
    raise ValueError(f"not a yes/no answer: {value!r}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return list(value)
    if isinstance(value, dict):
        for key in ("items", "rows", "data"):
            if isinstance(value.get(key), list):
                return list(value[key])
    return [value]


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v


def _short(v: Any, n: int = 120) -> str:
    s = repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


# -- value checks ----------------------------------------------------------------------------------
def _exact(actual: Any, expected: Any) -> tuple[bool, str]:
    a, e = normalize(actual), normalize(expected)
    if isinstance(e, int | float) and not isinstance(e, bool):
        try:
            ok = math.isclose(to_number(actual), float(e), rel_tol=0, abs_tol=1e-9)
        except ValueError:
            ok = False
    else:
        ok = a == e
    return ok, f"got {_short(actual)}, expected {_short(expected)}"


def _exact_count(actual: Any, expected: Any) -> tuple[bool, str]:
    n = len(actual) if isinstance(actual, list | tuple) else int(to_number(actual))
    return n == int(expected), f"count {n}, expected {int(expected)}"


def _set_equal(actual: Any, expected: Any) -> tuple[bool, str]:
    a = {_hashable(x) for x in normalize(_as_list(actual))}
    e = {_hashable(x) for x in normalize(_as_list(expected))}
    if a == e:
        return True, f"{len(a)} items match"
    return False, f"missing {sorted(map(str, e - a))[:8]}, unexpected {sorted(map(str, a - e))[:8]}"


def _contains_all(actual: Any, expected: Any) -> tuple[bool, str]:
    want = [normalize(x) for x in _as_list(expected)]
    if isinstance(actual, str):
        text = normalize(actual)
        missing = [w for w in want if str(w) not in text]
    else:
        have = {_hashable(x) for x in normalize(_as_list(actual))}
        missing = [w for w in want if _hashable(w) not in have]
    return not missing, f"missing {missing[:8]}" if missing else f"all {len(want)} present"


def _number_within(actual: Any, expected: Any, tol: str) -> tuple[bool, str]:
    a, e = to_number(actual), to_number(expected)
    allowed = abs(e) * float(tol[:-1]) / 100.0 if tol.endswith("%") else float(tol)
    diff = abs(a - e)
    return diff <= allowed + 1e-12, f"got {a:g}, expected {e:g} ± {allowed:g} (off by {diff:g})"


def _yes_no(actual: Any, expected: Any) -> tuple[bool, str]:
    a, e = to_bool(actual), to_bool(expected)
    return a == e, f"got {'yes' if a else 'no'}, expected {'yes' if e else 'no'}"


def _text_contains(text: str, expected: Any) -> tuple[bool, str]:
    hay = normalize(text)
    want = [normalize(str(x)) for x in _as_list(expected)]
    missing = [w for w in want if w not in hay]
    return not missing, f"answer lacks {missing}" if missing else "answer has every expected text"


def _load_callable(ref: str) -> Callable[..., Any]:
    modname, fname = ref.split(":")
    return getattr(importlib.import_module(modname), fname)


@dataclass(frozen=True)
class ValueCheck:
    """Compare the typed ``result.value`` (or, for text_contains, the answer) with ``expected``.

    Attributes:
        check: The case's check string (e.g. ``number_within:1%``).
        expected: The expected value.
    """

    check: str
    expected: Any

    @property
    def name(self) -> str:
        """The evaluator name shown in reports."""
        return self.check.split(":")[0] if not self.check.startswith("call:") else self.check

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer."""
        kind, arg = parse_check(self.check)
        value = result.result.value
        if kind == "call":
            out = _load_callable(arg or "")(self.expected, result)
            if isinstance(out, Outcome):
                return out
            passed, reason = out if isinstance(out, tuple) else (bool(out), "")
            return _ok(self.name, bool(passed), str(reason))
        if kind == "text_contains":
            ok, why = _text_contains(f"{result.answer}\n{value if isinstance(value, str) else ''}", self.expected)
        elif kind == "number_within":
            ok, why = _number_within(value, self.expected, arg or "0")
        else:
            fn = {"exact": _exact, "exact_count": _exact_count, "set_equal": _set_equal,
                  "contains_all": _contains_all, "yes_no": _yes_no}[kind]
            ok, why = fn(value, self.expected)
        return _ok(self.name, ok, why)


# -- trajectory checks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolsCheck:
    """The expected tools were all called (and, when ``ordered``, in this order)."""

    expected: tuple[str, ...]
    ordered: bool = False
    name: str = "expect_tools"

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer's tool calls."""
        called = [t.name for t in result.tool_calls]
        missing = [t for t in self.expected if t not in called]
        if missing:
            return _ok(self.name, False, f"not called: {missing}; called: {called}")
        if self.ordered:
            it = iter(called)
            if not all(any(c == want for c in it) for want in self.expected):
                return _ok(self.name, False, f"called out of order: {called}; expected order {list(self.expected)}")
        return _ok(self.name, True, f"called {called}")


@dataclass(frozen=True)
class TierCheck:
    """The turn was handled by a model of this tier."""

    expected: str
    name: str = "expect_tier"

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer's route."""
        r = result.route
        return _ok(self.name, r.tier == self.expected, f"tier {r.tier!r} ({r.model}: {r.reason})")


@dataclass(frozen=True)
class AgentCheck:
    """The turn was answered by this agent."""

    expected: str
    name: str = "expect_agent"

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer's agent."""
        return _ok(self.name, result.route.agent == self.expected, f"agent {result.route.agent!r}")


@dataclass(frozen=True)
class DegradedCheck:
    """The route was (not) degraded to a smaller model."""

    expected: bool
    name: str = "expect_degraded"

    def evaluate(self, result: AskResult) -> Outcome:
        """Grade one answer's degradation flag."""
        d = result.route.degraded
        return _ok(self.name, d == self.expected, f"degraded={d} ({result.route.reason})")


def evaluators_for(case: Case) -> list[Evaluator]:
    """The evaluators a case asks for, value check first."""
    out: list[Evaluator] = []
    if case.check is not None:
        out.append(ValueCheck(case.check, case.expected))
    if case.expect_tools is not None:
        out.append(ToolsCheck(tuple(case.expect_tools), ordered=case.expect_tools_ordered))
    if case.expect_tier is not None:
        out.append(TierCheck(case.expect_tier))
    if case.expect_agent is not None:
        out.append(AgentCheck(case.expect_agent))
    if case.expect_degraded is not None:
        out.append(DegradedCheck(case.expect_degraded))
    return out


def grade(evaluators: Sequence[Evaluator], result: AskResult) -> list[Outcome]:
    """Run every evaluator; one that raises becomes a failed outcome naming the error."""
    outs = []
    for ev in evaluators:
        name = getattr(ev, "name", type(ev).__name__)
        try:
            outs.append(ev.evaluate(result))
        except Exception as exc:  # an evaluator bug or an ungradable value is a failed row, not a crashed run
            outs.append(_ok(str(name), False, f"evaluator crashed: {type(exc).__name__}: {exc}", score=0.0))
    return outs

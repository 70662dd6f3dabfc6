"""The three kinds of errors a tool may raise; each message names the fix.

- :class:`ToolRetry`: recoverable, goes back to the model (or the user) with the valid
  values, e.g. ``Unknown asset 'CNC-7'; did you mean 'CNC-07'?``.
- :class:`ToolFailed`: terminal for this call (solver infeasible, empty window...).
- :class:`ConfigError`: an operator or developer mistake, e.g. a missing model file.

They are converted to HTTP 4xx / CLI exit code 2 only at the edges (server/).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ConfigError", "IndagentError", "ToolFailed", "ToolRetry", "did_you_mean"]


class IndagentError(Exception):
    """Base class of every error that carries a message meant for a person."""


class ToolRetry(IndagentError):
    """A recoverable error: the caller can fix the arguments and call again."""


class ToolFailed(IndagentError):
    """A terminal error for this call; retrying with the same input will not help."""


class ConfigError(IndagentError):
    """Configuration is wrong or incomplete; the message says what to set."""


def did_you_mean(value: str, choices: Iterable[str], *, what: str = "value", n: int = 3) -> str:
    """Build an ``Unknown <what> 'x'; did you mean 'y'?`` message.

    Args:
        value: The value the caller gave.
        choices: The valid values.
        what: The noun for the value in the message.
        n: How many suggestions at most.
    """
    pool = [str(c) for c in choices]
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=n, cutoff=0.5)
    if close:
        names = ", ".join(repr(lowered[c]) for c in close)
        return f"Unknown {what} {value!r}; did you mean {names}?"
    sample = ", ".join(repr(c) for c in sorted(pool)[:8])
    more = "" if len(pool) <= 8 else f" (and {len(pool) - 8} more)"
    return f"Unknown {what} {value!r}; valid: {sample}{more}" if pool else f"Unknown {what} {value!r}"

"""Small helpers shared by the CLI sub-apps: JSON output, one-line errors, exit codes.

Every CLI command is wrapped with :func:`cli_errors`: errors meant for a person
(:class:`tools.errors.IndagentError`, pydantic validation errors, bad files) become one line on
stderr and exit code 2, never a traceback. ``--json`` output goes through :func:`emit_json`:
exactly one JSON document on stdout.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from tools.errors import IndagentError

__all__ = ["cli_errors", "emit_json", "err_console", "fail", "to_jsonable"]

F = TypeVar("F", bound=Callable[..., Any])

#: Progress bars, logs and errors go to stderr so that stdout stays one JSON document.
err_console = Console(stderr=True)


def to_jsonable(obj: Any) -> Any:
    """Convert pydantic models, dates, paths, numpy scalars... into JSON-ready values."""
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    return obj


def emit_json(obj: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(to_jsonable(obj), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def fail(message: str, *, code: int = 2) -> None:
    """Print a one-line error on stderr and exit with ``code`` (2 = bad input)."""
    line = " ".join(str(message).split())
    sys.stderr.write(f"error: {line}\n")
    raise typer.Exit(code)


def _validation_line(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid input: " + "; ".join(parts)


def cli_errors(fn: F) -> F:
    """Decorator: turn person-facing errors into one line on stderr + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except IndagentError as exc:
            fail(str(exc))
        except ValidationError as exc:
            fail(_validation_line(exc))
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            fail(f"{exc.strerror or exc}: {exc.filename}")
        except (ValueError, UnicodeDecodeError) as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]

"""Tool registry: JSON schemas from signatures + Google docstrings, mutating flags.

A tool is declared with the :func:`tool` decorator::

    @tool(mutating=False)
    def find_assets(ctx: ToolContext, query: str, *, limit: int = 10) -> AssetList:
        \"\"\"Find assets by id or name.

Args:
            query: Text to look for.
            limit: How many results at most.
        \"\"\"

The first parameter may be ``ctx: ToolContext`` (dependencies: the knowledge store, a clock);
it is not part of the schema the model sees. Decoration **fails at import** when an argument
is undocumented, the docstring has no summary, or the return annotation is missing
(as smolagents' ``@tool`` and pydantic-ai's function schema do).
"""

from __future__ import annotations

import importlib
import inspect
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from tools.errors import ToolRetry, did_you_mean

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

__all__ = [
    "TOOL_MODULES",
    "Tool",
    "ToolContext",
    "ToolDefinitionError",
    "ToolRegistry",
    "default_registry",
    "import_present",
    "tool",
]

#: Modules whose ``@tool`` functions make up the default registry (missing ones are skipped
#: only if they do not exist yet; an import error inside one is raised).
TOOL_MODULES: tuple[str, ...] = (
    "tools.kgtools",
    "tools.diagnosis",
    "tools.workorders",
    "tools.scheduling",
    "tools.optimization",
    "tools.placement",
)


class ToolDefinitionError(TypeError):
    """A tool is declared wrongly (undocumented argument, no return annotation...)."""


@dataclass(frozen=True)
class ToolContext:
    """Dependencies handed to a tool: never read settings or the environment in a tool.

    Attributes:
        kg: The knowledge store (read-only for read-only tools), or None.
        now: The clock: "now" for questions like "last week"; None means the data's latest time.
        data_dir: Where tools may write artefacts (plots, reports).
        actor: Who is acting (API key id or "cli"), recorded by mutating tools.
    """

    kg: KnowledgeStore | None = None
    now: datetime | None = None
    data_dir: Path | None = None
    actor: str = "system"


_ARG_RE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?|Attributes):\s*$")


def parse_google_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and per-argument texts.

    Args:
        doc: The docstring (dedented or not).
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    desc: list[str] = []
    args: dict[str, str] = {}
    section = "desc"
    current: str | None = None
    arg_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        m_sec = _SECTION_RE.match(stripped) if indent == 0 else None
        if m_sec:
            section = "args" if m_sec.group(1) in ("Args", "Arguments", "Parameters") else "other"
            current, arg_indent = None, None
            continue
        if section == "desc":
            desc.append(line)
        elif section == "args" and stripped:
            if arg_indent is None:
                arg_indent = indent
            m = _ARG_RE.match(stripped)
            if indent == arg_indent and m:
                current = m.group(1).lstrip("*")
                args[current] = m.group(2).strip()
            elif current:
                args[current] = (args[current] + " " + stripped).strip()
    return "\n".join(desc).strip(), args


@dataclass
class Tool:
    """A registered tool: the function, its schema and its flags."""

    name: str
    fn: Callable[..., Any]
    description: str
    args_model: type[BaseModel]
    mutating: bool
    takes_ctx: bool
    return_type: Any
    tags: tuple[str, ...] = ()
    within_bounds: Callable[[dict[str, Any]], bool] | None = None

    def json_schema(self) -> dict[str, Any]:
        """The OpenAI-style function spec the model sees."""
        params = self.args_model.model_json_schema()
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def validate_args(self, args: dict[str, Any]) -> BaseModel:
        """Validate raw arguments; raises ToolRetry naming the bad fields."""
        from pydantic import ValidationError

        try:
            return self.args_model.model_validate(args)
        except ValidationError as exc:
            parts = []
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
                parts.append(f"{loc}: {err['msg']}")
            raise ToolRetry(f"Invalid arguments for {self.name}: " + "; ".join(parts)) from None

    def __call__(self, ctx: ToolContext | None = None, /, **kwargs: Any) -> Any:
        """Validate ``kwargs`` and call the function."""
        model = self.validate_args(kwargs)
        values = {k: getattr(model, k) for k in type(model).model_fields}
        if self.takes_ctx:
            return self.fn(ctx or ToolContext(), **values)
        return self.fn(**values)


def _build_tool(
    fn: Callable[..., Any],
    *,
    mutating: bool,
    name: str | None,
    tags: Iterable[str],
    within_bounds: Callable[[dict[str, Any]], bool] | None = None,
) -> Tool:
    qual = f"{fn.__module__}.{fn.__qualname__}"
    desc, arg_docs = parse_google_docstring(fn.__doc__ or "")
    if not desc:
        raise ToolDefinitionError(f"Tool {qual} needs a docstring summary (it is the model's description).")
    hints = typing.get_type_hints(fn)
    if "return" not in hints:
        raise ToolDefinitionError(f"Tool {qual} needs a return annotation.")
    sig = inspect.signature(fn)
    fields: dict[str, Any] = {}
    takes_ctx = False
    for i, (pname, param) in enumerate(sig.parameters.items()):
        if i == 0 and (pname == "ctx" or hints.get(pname) is ToolContext):
            takes_ctx = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"Tool {qual}: *args/**kwargs are not allowed ({pname}).")
        if pname not in hints:
            raise ToolDefinitionError(f"Tool {qual}: argument {pname!r} needs a type annotation.")
        if pname not in arg_docs:
            raise ToolDefinitionError(f"Tool {qual}: argument {pname!r} is not documented in 'Args:'.")

        default = ... if param.default is param.empty else param.default
        fields[pname] = (hints[pname], Field(default, description=arg_docs[pname]))
    model_name = "".join(p.capitalize() for p in (name or fn.__name__).split("_")) + "Args"
    args_model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return Tool(
        name=name or fn.__name__,
        fn=fn,
        description=desc,
        args_model=args_model,
        mutating=mutating,
        takes_ctx=takes_ctx,
        return_type=hints["return"],
        tags=tuple(tags),
        within_bounds=within_bounds,
    )


def tool(
    *,
    mutating: bool = False,
    name: str | None = None,
    tags: Iterable[str] = (),
    within_bounds: Callable[[dict[str, Any]], bool] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a function as a tool; validates its signature and docstring at import.

    Args:
        mutating: True when the tool changes the plant or stored data (needs approval).
        name: Tool name the model sees; defaults to the function name.
        tags: Free labels (e.g. the agent that uses it).
        within_bounds: For mutating tools: a check of the arguments under which the policy
            ``auto-approve-within-bounds`` may apply the action without a person.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__indagent_tool__ = _build_tool(  # type: ignore[attr-defined]
            fn, mutating=mutating, name=name, tags=tags, within_bounds=within_bounds
        )
        return fn

    return deco


@dataclass
class ToolRegistry:
    """Tools by name."""

    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, fn_or_tool: Callable[..., Any] | Tool) -> Tool:
        """Add a decorated function (or a Tool); names must be unique."""
        t = fn_or_tool if isinstance(fn_or_tool, Tool) else getattr(fn_or_tool, "__indagent_tool__", None)
        if t is None:
            raise ToolDefinitionError(f"{fn_or_tool!r} is not decorated with @tool")
        if t.name in self.tools and self.tools[t.name].fn is not t.fn:
            raise ToolDefinitionError(f"Duplicate tool name {t.name!r}")
        self.tools[t.name] = t
        return t

    def add_module(self, module: Any) -> None:
        """Add every ``@tool`` function defined in a module (or listed in its ``TOOLS``)."""
        for obj in getattr(module, "TOOLS", ()):
            self.add(obj)
        for obj in vars(module).values():
            t = getattr(obj, "__indagent_tool__", None)
            if isinstance(t, Tool) and obj.__module__ == module.__name__:
                self.add(t)

    def get(self, name: str) -> Tool:
        """The tool called ``name``; ToolRetry with suggestions if unknown."""
        try:
            return self.tools[name]
        except KeyError:
            raise ToolRetry(did_you_mean(name, self.tools, what="tool")) from None

    def names(self, *, mutating: bool | None = None, tag: str | None = None) -> list[str]:
        """Sorted tool names, optionally filtered."""
        return sorted(
            n
            for n, t in self.tools.items()
            if (mutating is None or t.mutating == mutating) and (tag is None or tag in t.tags)
        )

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __len__(self) -> int:
        return len(self.tools)


def import_present(modules: Iterable[str]) -> list[Any]:
    """Import the modules that exist (a missing one is skipped; an import error inside one is raised)."""
    found = []
    for modname in modules:
        try:
            found.append(importlib.import_module(modname))
        except ModuleNotFoundError as exc:
            if exc.name and (modname == exc.name or modname.startswith(exc.name + ".")):
                continue
            raise
    return found


def default_registry(modules: Iterable[str] = TOOL_MODULES) -> ToolRegistry:
    """Collect the tools of the given modules (those that exist)."""
    reg = ToolRegistry()
    for mod in import_present(modules):
        reg.add_module(mod)
    return reg

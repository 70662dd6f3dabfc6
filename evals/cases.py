"""Cases and suites as data: JSONL case files grouped by YAML suite files.

A **case** is one JSON object per line::

    {"id": "r-sovereign-1", "text": "Which failure modes does CNC-01 have?", "expected": null,
     "expect_tier": "edge", "expect_agent": "knowledge", "group": "sovereign"}

A **suite** (``evals/suites/<name>.yaml``) names its cases (JSONL files, inline cases, or a
generator function computing them from the open knowledge graph), the knowledge graph they run
against (``setup``), the models (``models``: the configured ones or the scripted test doubles)
and the pass-rate thresholds. ``kind: metrics`` suites call a function returning metrics and
grade them against bounds instead. ``include`` makes a composite suite (``ci``) of other
suites, each with its own setup and thresholds. See ``docs/evals.md``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import ConfigError, did_you_mean

__all__ = [
    "CHECKS",
    "SUITES_DIR",
    "Case",
    "DemoSetup",
    "Include",
    "MetricBound",
    "ModelsKind",
    "Selection",
    "Setup",
    "Suite",
    "SuiteError",
    "Thresholds",
    "list_suites",
    "load_cases_file",
    "load_suite",
    "parse_check",
    "select_cases",
]

#: Where named suites live (``--suite NAME`` -> ``SUITES_DIR / f"{NAME}.yaml"``).
SUITES_DIR = Path(__file__).resolve().parent / "suites"

#: Scorer names accepted in ``check`` (``number_within`` takes ``:<tol>``, ``call`` takes ``:module:function``).
CHECKS: tuple[str, ...] = (
    "exact", "exact_count", "set_equal", "contains_all", "number_within", "yes_no", "text_contains", "call",
)

Tier = Literal["edge", "cloud", "device"]
#: Which model registry a suite runs with: the configured models, or scripted test doubles
#: (edge + cloud; ``scripted-cloud-down`` has a cloud model whose every call fails).
ModelsKind = Literal["default", "scripted", "scripted-cloud-down"]


class SuiteError(ConfigError):
    """A suite or case file is wrong; the message names the file, line and fix."""


def parse_check(check: str) -> tuple[str, str | None]:
    """Split ``"number_within:0.5"`` into ``("number_within", "0.5")`` and validate it.

    Args:
        check: The ``check`` field of a case.
    """
    name, _, arg = check.strip().partition(":")
    if name not in CHECKS:
        raise ValueError(did_you_mean(name, CHECKS, what="check"))
    if name == "number_within":
        tol = arg.strip()
        try:
            float(tol[:-1] if tol.endswith("%") else tol)
        except ValueError:
            raise ValueError(
                f"check {check!r} needs a tolerance: 'number_within:0.5' (absolute) or 'number_within:1%' (relative)"
            ) from None
        return name, tol
    if name == "call":
        if arg.count(":") != 1 or not all(arg.split(":")):
            raise ValueError(f"check {check!r} must name a function: 'call:package.module:function'")
        return name, arg
    if arg:
        raise ValueError(f"check {name!r} takes no argument (got {arg!r})")
    return name, None


class DemoSetup(BaseModel):
    """The seeded demo plant (``knowledge.demo.build_demo``)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    scale: Literal["tiny", "small"] = "small"


class Setup(BaseModel):
    """The knowledge graph a case runs against: the demo plant, or CSVs imported with mappings.

    Attributes:
        demo: Build the demo plant with this seed and scale (when ``data`` is unset; default seed 0, small).
        data: A directory of CSV files imported through the knowledge-graph importers.
        mapping: A directory of mapping YAML files (``<csv stem>.yaml``) for ``data``.
        now: The clock for relative dates ("last week"); None = the data's latest time.
    """

    model_config = ConfigDict(extra="forbid")

    demo: DemoSetup | None = None
    data: Path | None = None
    mapping: Path | None = None
    now: datetime | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Setup:
        if self.data is not None and self.demo is not None:
            raise ValueError("setup has both 'demo' and 'data'; give one of them")
        if self.mapping is not None and self.data is None:
            raise ValueError("setup has 'mapping' but no 'data' directory to import")
        return self

    @property
    def demo_or_default(self) -> DemoSetup:
        """The demo plant to build when no ``data`` is given (seed 0, small, unless said)."""
        return self.demo or DemoSetup()

    def over(self, base: Setup) -> Setup:
        """This (case-level) setup on top of ``base`` (the suite's): only the fields it sets replace base's.

        A case that only sets ``now`` keeps the suite's knowledge graph; one that sets ``demo`` or
        ``data`` replaces the source.
        """
        upd = {k: getattr(self, k) for k in self.model_fields_set}
        if "data" in self.model_fields_set:
            upd.update(demo=None, mapping=self.mapping)
        elif "demo" in self.model_fields_set:
            upd.update(data=None, mapping=None)
        return base.model_copy(update=upd)

    def resolved(self, base: Path) -> Setup:
        """This setup with relative paths resolved against ``base`` (the suite file's folder)."""
        upd: dict[str, Any] = {}
        for key in ("data", "mapping"):
            p = getattr(self, key)
            if p is not None and not p.is_absolute():
                upd[key] = (base / p).resolve()
        return self.model_copy(update=upd)

    def kg_key(self) -> str:
        """A stable key of the knowledge graph this setup builds (the clock is not part of it)."""
        if self.data is not None:
            return f"data:{self.data}|mapping:{self.mapping}"
        return f"demo:{self.demo_or_default.seed}:{self.demo_or_default.scale}"


class Case(BaseModel):
    """One question with its expected answer and trajectory expectations.

    Attributes:
        id: Unique within its suite.
        text: The question, asked through the same path as ``indagent ask``.
        expected: The expected typed ``result.value`` (computed from data, never typed by hand).
        check: How ``expected`` is compared: exact | exact_count | set_equal | contains_all |
            number_within:<tol> | yes_no | text_contains | call:module:function.
        setup: The knowledge graph for this case (default: the suite's).
        expect_tools: Tool names that must all be called (a subset of the calls).
        expect_tools_ordered: The ``expect_tools`` must appear in this order.
        expect_tier: The model tier that must have handled the turn.
        expect_agent: The agent that must have answered.
        expect_degraded: Whether the route must (not) be degraded.
        model: The requested model for this case (auto | edge | cloud | a name); default: the run's.
        models: The model registry for this case (default | scripted | scripted-cloud-down);
            default: the run's (``--model scripted``) or the suite's.
        group: The group for per-group pass rates and thresholds.
        metadata: Free data (e.g. how the expected value was computed).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    expected: Any = None
    check: str | None = None
    setup: Setup | None = None
    expect_tools: list[str] | None = None
    expect_tools_ordered: bool = False
    expect_tier: Tier | None = None
    expect_agent: str | None = None
    expect_degraded: bool | None = None
    model: str | None = None
    models: ModelsKind | None = None
    group: str = "default"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("check")
    @classmethod
    def _valid_check(cls, v: str | None) -> str | None:
        if v is not None:
            parse_check(v)
        return v

    @model_validator(mode="after")
    def _gradable(self) -> Case:
        if self.check is not None and self.expected is None and not self.check.startswith("call:"):
            raise ValueError(f"check {self.check!r} needs an 'expected' value")
        if self.check is None and self.expected is not None:
            raise ValueError("'expected' is set but 'check' is not; say how to compare, e.g. \"check\": \"exact\"")
        expectations = (self.check, self.expect_tools, self.expect_tier, self.expect_agent, self.expect_degraded)
        if all(e is None for e in expectations):
            raise ValueError("the case checks nothing; give 'check'+'expected' or an expect_* field")
        return self


class Thresholds(BaseModel):
    """Minimum pass rates (0..1): overall and per group."""

    model_config = ConfigDict(extra="forbid")

    overall: float | None = Field(default=None, ge=0, le=1)
    groups: dict[str, float] = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {g: r for g, r in v.items() if not 0 <= r <= 1}
        if bad:
            raise ValueError(f"group thresholds must be pass rates in 0..1, got {bad}")
        return v


class MetricBound(BaseModel):
    """Bounds on one metric of a ``kind: metrics`` suite (inclusive)."""

    model_config = ConfigDict(extra="forbid")

    min: float | None = None
    max: float | None = None
    equals: float | bool | str | None = None
    group: str = "metrics"

    @model_validator(mode="after")
    def _some_bound(self) -> MetricBound:
        if self.min is None and self.max is None and self.equals is None:
            raise ValueError("a metric threshold needs min, max or equals")
        return self

    def describe(self) -> str:
        """Human form, e.g. ``<= 0.01``."""
        parts = []
        if self.equals is not None:
            parts.append(f"== {self.equals}")
        if self.min is not None:
            parts.append(f">= {self.min}")
        if self.max is not None:
            parts.append(f"<= {self.max}")
        return " and ".join(parts)


class Selection(BaseModel):
    """A deterministic subset of a suite's cases (used by ``ci`` and ``include``)."""

    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)
    sample: int | None = Field(default=None, ge=1, description="At most this many cases, spread round-robin over groups.")
    cases: list[str] = Field(default_factory=list, description="Case files replacing the suite's own cases.")


class Include(Selection):
    """One part of a composite suite: a suite file, or every suite matching a glob with a ``ci:`` section."""

    suite: str | None = None
    glob: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Include:
        if (self.suite is None) == (self.glob is None):
            raise ValueError("an include entry needs exactly one of 'suite' or 'glob'")
        return self


class _SuiteCommon(BaseModel):
    """Fields a suite file and a resolved suite share."""

    description: str = ""
    kind: Literal["cases", "metrics"] = "cases"
    setup: Setup = Field(default_factory=Setup)
    models: ModelsKind = "default"
    model: str = "auto"
    generator: str | None = None
    generator_args: dict[str, Any] = Field(default_factory=dict)
    metrics: str | None = None
    metrics_args: dict[str, Any] = Field(default_factory=dict)
    metric_thresholds: dict[str, MetricBound] = Field(default_factory=dict)
    ci: Selection | None = None


class SuiteFile(_SuiteCommon):
    """The YAML schema of a suite file (resolved into :class:`Suite`)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    thresholds: Thresholds | None = None
    cases: list[str | dict[str, Any]] = Field(default_factory=list)
    include: list[Include] = Field(default_factory=list)


class Suite(_SuiteCommon):
    """A resolved suite, ready to run (cases from files are loaded; generated ones come at run time)."""

    name: str
    thresholds: Thresholds = Field(default_factory=lambda: Thresholds())
    cases: list[Case] = Field(default_factory=list)
    selection: Selection | None = None
    parts: list[Suite] = Field(default_factory=list)
    path: Path | None = None

    @property
    def is_composite(self) -> bool:
        """A suite made of other suites (``include``)."""
        return bool(self.parts)


# -- loading -------------------------------------------------------------------------------------
def _where(path: Path, line: int | None = None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def _validation_msg(exc: ValidationError) -> str:
    out = []
    for err in exc.errors()[:4]:
        loc = ".".join(str(p) for p in err["loc"]) or "case"
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"{loc}: {msg}")
    return "; ".join(out)


def _case(obj: Any, where: str, base: Path) -> Case:
    if not isinstance(obj, dict):
        raise SuiteError(f"{where}: a case must be a JSON object, got {type(obj).__name__}")
    try:
        case = Case.model_validate(obj)
    except ValidationError as exc:
        cid = obj.get("id")
        raise SuiteError(f"{where}{f' (id {cid!r})' if cid else ''}: {_validation_msg(exc)}") from None
    if case.setup is not None:
        case = case.model_copy(update={"setup": case.setup.resolved(base)})
    return case


def load_cases_file(path: str | Path) -> list[Case]:
    """Read a JSONL case file (blank lines and lines starting with ``#`` are skipped).

    Args:
        path: The ``.jsonl`` file.
    """
    p = Path(path)
    if not p.is_file():
        raise SuiteError(f"Case file {p} does not exist; pass a .jsonl file with one case per line.")
    cases: list[Case] = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"{_where(p, i)}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        cases.append(_case(obj, _where(p, i), p.parent))
    if not cases:
        raise SuiteError(f"Case file {p} has no cases.")
    _check_unique(cases, str(p))
    return cases


def _check_unique(cases: list[Case], where: str) -> None:
    seen: set[str] = set()
    dups = sorted({c.id for c in cases if c.id in seen or seen.add(c.id)})  # type: ignore[func-returns-value]
    if dups:
        raise SuiteError(f"{where}: duplicate case ids {dups}; every id must be unique in a suite.")


def list_suites(directory: Path = SUITES_DIR) -> list[str]:
    """Names of the suites in ``directory``."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def _suite_path(name_or_path: str | Path, directory: Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        cand = p if p.is_absolute() or p.exists() else directory / p
        if cand.is_file():
            return cand
        raise SuiteError(f"Suite file {p} does not exist.")
    cand = directory / f"{name_or_path}.yaml"
    if cand.is_file():
        return cand
    names = list_suites(directory)
    raise SuiteError(did_you_mean(str(name_or_path), names, what="suite"))


def load_suite(name_or_path: str | Path, *, directory: Path = SUITES_DIR, _stack: tuple[Path, ...] = ()) -> Suite:
    """Load a suite by name (``evals/suites/NAME.yaml``) or path, with its case files and includes.

    Args:
        name_or_path: A suite name or a ``.yaml`` path.
        directory: Where suite names are looked up.
    """
    path = _suite_path(name_or_path, directory).resolve()
    if path in _stack:
        raise SuiteError(f"{path}: suite includes itself ({' -> '.join(p.name for p in (*_stack, path))}).")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite file must be a YAML mapping (name, cases, threshold...).")
    try:
        sf = SuiteFile.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(f"{path}: {_validation_msg(exc)}") from None
    return _resolve(sf, path, directory, (*_stack, path))


def _resolve(sf: SuiteFile, path: Path, directory: Path, stack: tuple[Path, ...]) -> Suite:
    base = path.parent
    thresholds = sf.thresholds or Thresholds()
    if sf.threshold is not None:
        if thresholds.overall is not None:
            raise SuiteError(f"{path}: give 'threshold' or 'thresholds.overall', not both.")
        thresholds = thresholds.model_copy(update={"overall": sf.threshold})
    if thresholds.overall is None and not sf.include:
        thresholds = thresholds.model_copy(update={"overall": 1.0})  # strict default: every case must pass
    sources = sum(bool(x) for x in (sf.cases, sf.generator, sf.metrics, sf.include))
    if sources != 1:
        raise SuiteError(f"{path}: a suite needs exactly one of 'cases', 'generator', 'metrics' or 'include'.")
    if (sf.kind == "metrics") != bool(sf.metrics):
        raise SuiteError(f"{path}: 'kind: metrics' and a 'metrics: module:function' go together.")
    if sf.metrics and not sf.metric_thresholds:
        raise SuiteError(f"{path}: a metrics suite needs 'metric_thresholds' (e.g. median_regret: {{max: 0.01}}).")
    for ref in (sf.generator, sf.metrics):
        if ref is not None and (ref.count(":") != 1 or not all(ref.split(":"))):
            raise SuiteError(f"{path}: {ref!r} must be 'package.module:function'.")
    cases = _inline_and_files(sf.cases, path)
    parts: list[Suite] = []
    for inc in sf.include:
        parts.extend(_include(inc, path, directory, stack))
    if sf.include and not parts:
        raise SuiteError(f"{path}: its includes matched no suite.")
    common = sf.model_dump(include=set(_SuiteCommon.model_fields) - {"setup"})
    return Suite(**common, name=sf.name or path.stem, thresholds=thresholds, setup=sf.setup.resolved(base),
                 cases=cases, parts=parts, path=path)


def _inline_and_files(entries: list[str | dict[str, Any]], path: Path) -> list[Case]:
    cases: list[Case] = []
    for j, entry in enumerate(entries):
        if isinstance(entry, str):
            cases.extend(load_cases_file(path.parent / entry))
        else:
            cases.append(_case(entry, f"{path} (cases[{j}])", path.parent))
    if cases:
        _check_unique(cases, str(path))
    return cases


def _include(inc: Include, path: Path, directory: Path, stack: tuple[Path, ...]) -> list[Suite]:
    sel = Selection.model_validate(inc.model_dump(include=set(Selection.model_fields)))
    if inc.suite is not None:
        target = _suite_path(inc.suite, path.parent)
        child = load_suite(target, directory=directory, _stack=stack)
        return [_apply_selection(child, sel if sel != Selection() else (child.ci or Selection()))]
    out = []
    for p in sorted(path.parent.glob(inc.glob or "")):
        if p.resolve() in stack or p.suffix not in (".yaml", ".yml"):
            continue
        child = load_suite(p, directory=directory, _stack=stack)
        if child.ci is None:
            continue
        merged = child.ci.model_copy(update={k: v for k, v in sel.model_dump().items() if v})
        out.append(_apply_selection(child, merged))
    return out


def _apply_selection(suite: Suite, sel: Selection) -> Suite:
    upd: dict[str, Any] = {"selection": sel}
    if sel.cases:
        if suite.path is None:
            raise SuiteError(f"suite {suite.name!r}: a selection's 'cases' files need a suite file.")
        cases = _inline_and_files(list(sel.cases), suite.path)
        upd.update(cases=cases, generator=None)
    return suite.model_copy(update=upd)


def select_cases(cases: list[Case], sel: Selection | None) -> list[Case]:
    """Apply a selection: filter by groups and ids, then take ``sample`` cases round-robin over groups.

    Args:
        cases: All cases, in file order.
        sel: The selection (None = all).
    """
    if sel is None:
        return list(cases)
    out = [c for c in cases if (not sel.groups or c.group in sel.groups) and (not sel.ids or c.id in sel.ids)]
    missing = sorted(set(sel.ids) - {c.id for c in out})
    if missing:
        hint = did_you_mean(missing[0], [c.id for c in cases], what="case id")
        raise SuiteError(f"selected case ids {missing} are not in the suite: {hint}")
    if sel.sample is not None and len(out) > sel.sample:
        by_group: dict[str, list[Case]] = {}
        for c in out:
            by_group.setdefault(c.group, []).append(c)
        picked: list[Case] = []
        queues = [list(v) for v in by_group.values()]
        while len(picked) < sel.sample:
            for q in queues:
                if q and len(picked) < sel.sample:
                    picked.append(q.pop(0))
        keep = {id(c) for c in picked}
        out = [c for c in out if id(c) in keep]
    return out

"""Run suites: build their knowledge graphs, ask every case through ``indagent ask``'s path, grade.

Each case is one fresh thread through :func:`agents.runner.ask` on a :class:`server.brain.Brain`
opened exactly as the CLI opens it (settings -> models, tools, planner, checkpointer, graph),
with the suite's knowledge graph and models. ``jobs > 1`` fans the cases out to worker
processes (forkserver, else spawn), or to Ray actors with ``executor="ray"`` (:mod:`evals.executors`);
each worker opens its own brain on its own copy of the knowledge-graph file, because DuckDB allows one
writer per file. Rows come back in case order, so the results do not depend on ``jobs`` or the
executor (latencies aside).
"""

from __future__ import annotations

import importlib
import inspect
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.models.health import CircuitBreaker
from agents.state import AskResult
from evals.cases import Case, ModelsKind, Setup, Suite, SuiteError, Thresholds, select_cases
from evals.executors import Executor, ExecutorKind, default_mp_context, open_executor
from evals.kgsetup import build_kg, copy_kg
from evals.report import CaseRow, SuiteResult, check_thresholds, summarize
from evals.scorers import Outcome, evaluators_for, grade
from server.settings import Settings
from tools.errors import did_you_mean

__all__ = ["CaseTask", "RunOptions", "ask_case", "materialize_cases", "run_metrics", "run_suite"]


@dataclass(frozen=True)
class RunOptions:
    """How to run a suite.

    Attributes:
        settings: The configuration (edge/cloud models come from here when ``models`` is default).
        model: Requested model for every case (auto | edge | cloud | a name); None = the suite's.
        models: Model registry override (default | scripted | scripted-cloud-down); None = the suite's.
        jobs: Worker processes (1 = in this process), or Ray actors with ``executor="ray"``.
        progress: Show a rich progress bar on stderr.
        workdir: Parent of the temporary directory (knowledge graphs, worker copies, checkpoints);
            on a multi-node Ray cluster it must be a path every node shares.
        executor: local (this process / a process pool), ray (see :mod:`evals.executors`), or an open
            executor to reuse (its own worker count applies; ``jobs`` is then only reported).
        ray_address: Ray cluster address for ``executor="ray"`` (None = a private local Ray instance).
    """

    settings: Settings
    model: str | None = None
    models: ModelsKind | None = None
    jobs: int = 1
    progress: bool = False
    workdir: Path | None = None
    executor: ExecutorKind | Executor = "local"
    ray_address: str | None = None


@dataclass
class _Run:
    """Per-run state: the temp dir and the knowledge graphs built so far (one per setup)."""

    root: Path
    opts: RunOptions
    executor: Executor
    kgs: dict[str, Path] = field(default_factory=dict)
    bar: Progress | None = None

    def kg_for(self, setup: Setup) -> Path:
        key = setup.kg_key()
        if key not in self.kgs:
            self.kgs[key] = build_kg(setup, self.root / "kgs" / f"kg{len(self.kgs)}.duckdb")
        return self.kgs[key]


def _load_ref(ref: str, what: str) -> Callable[..., Any]:
    modname, fname = ref.split(":")
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        raise SuiteError(f"{what} {ref!r}: module {modname!r} not found ({exc}).") from None
    fn = getattr(mod, fname, None)
    if not callable(fn):
        names = [n for n, v in vars(mod).items() if callable(v) and not n.startswith("_")]
        raise SuiteError(f"{what} {ref!r}: " + did_you_mean(fname, names, what=f"function in {modname}"))
    return fn


# -- cases ----------------------------------------------------------------------------------------
def materialize_cases(suite: Suite, kg_for: Callable[[Setup], Path]) -> list[Case]:
    """The suite's cases: from its files, or from its generator called with the open knowledge graph.

    Args:
        suite: The suite.
        kg_for: Builds (or returns) the knowledge-graph file of a setup.
    """
    from knowledge.store import KnowledgeStore

    cases = list(suite.cases)
    if suite.generator:
        fn = _load_ref(suite.generator, "generator")
        with KnowledgeStore(kg_for(suite.setup), read_only=True) as store:
            produced = list(fn(store, **suite.generator_args))
        cases = []
        for i, obj in enumerate(produced):
            try:
                cases.append(obj if isinstance(obj, Case) else Case.model_validate(obj))
            except ValidationError as exc:
                raise SuiteError(f"generator {suite.generator} case #{i}: {exc.errors()[0]['msg']}") from None
        dup = sorted({c.id for c in cases if sum(d.id == c.id for d in cases) > 1})
        if dup:
            raise SuiteError(f"generator {suite.generator} produced duplicate case ids {dup[:5]}.")
    return select_cases(cases, suite.selection)


@dataclass(frozen=True)
class CaseTask:
    """One case to ask, with everything a worker process needs to open the right brain."""

    index: int
    suite: str
    case: Case
    kg_src: str
    root: str
    settings: Settings
    models: ModelsKind
    model: str
    now: datetime | None


#: Brains opened by this process, per (knowledge graph, models); closed by :func:`_close_brains`.
_BRAINS: dict[tuple[str, str], tuple[ExitStack, Any]] = {}


def _brain(task: CaseTask) -> Any:
    from server.brain import open_brain

    key = (task.kg_src, task.models)
    if key not in _BRAINS:
        wdir = Path(task.root) / "workers" / f"p{os.getpid()}-{len(_BRAINS)}"
        kg = copy_kg(Path(task.kg_src), wdir / "kg.duckdb")
        settings = task.settings.model_copy(update={"data_dir": wdir, "db_path": kg})
        models = None
        if task.models != "default":
            from evals.scripted import scripted_models

            models = scripted_models(task.models)
        stack = ExitStack()
        _BRAINS[key] = (stack, stack.enter_context(open_brain(settings, models=models)))
    return _BRAINS[key][1]


def _close_brains() -> None:
    while _BRAINS:
        _key, (stack, _opened) = _BRAINS.popitem()
        stack.close()


def ask_case(task: CaseTask) -> CaseRow:
    """Ask one case in a fresh thread and grade it (an agent or scorer crash is a failed row)."""
    from agents.runner import ask

    case = task.case
    base = CaseRow(suite=task.suite, id=case.id, group=case.group, text=case.text, expected=case.expected,
                   check=case.check)
    t0 = time.perf_counter()
    try:
        brain = _brain(task)
        ctx = brain.context(requested_model=case.model or task.model, actor="eval")
        if task.now is not None:
            ctx.now = task.now
        # a fresh circuit breaker per case: cases stay independent of each other and of --jobs
        ctx.breaker = CircuitBreaker(failures=brain.settings.breaker_failures, reset_s=brain.settings.breaker_reset_s)
        res: AskResult = ask(brain.graph, ctx, case.text)
    except Exception as exc:  # the system under test failed on this case: record it, keep running
        return base.model_copy(update={"error": f"{type(exc).__name__}: {exc}",
                                       "latency_ms": round((time.perf_counter() - t0) * 1000, 3)})
    outcomes = grade(evaluators_for(case), res)
    return base.model_copy(update={
        "passed": all(o.passed for o in outcomes), "outcomes": outcomes, "answer": res.answer,
        "result_type": res.result.type, "value": res.result.value, "tools": [t.name for t in res.tool_calls],
        "agent": res.route.agent, "model": res.route.model, "tier": res.route.tier, "degraded": res.route.degraded,
        "latency_ms": res.latency_ms, "prompt_tokens": res.usage.prompt_tokens,
        "completion_tokens": res.usage.completion_tokens,
    })


def _mp_context() -> multiprocessing.context.BaseContext:
    """Worker processes start clean (no inherited threads or DuckDB handles).

    ``forkserver`` where available: one server process imports the heavy modules once (tools,
    graph, models) and forks each worker from that clean state; elsewhere ``spawn``.
    """
    from tools.registry import TOOL_MODULES

    return default_mp_context(["evals.runner", "server.brain", "agents.graph", "knowledge.store", *TOOL_MODULES])


def _run_cases(run: _Run, suite: Suite, cases: list[Case]) -> list[CaseRow]:
    models: ModelsKind = run.opts.models or suite.models
    model = run.opts.model or suite.model
    tasks = []
    for i, c in enumerate(cases):
        setup = c.setup.over(suite.setup) if c.setup is not None else suite.setup
        tasks.append(CaseTask(index=i, suite=suite.name, case=c, kg_src=str(run.kg_for(setup)), root=str(run.root),
                           settings=run.opts.settings, models=c.models or models, model=model, now=setup.now))
    bar_task = run.bar.add_task(suite.name, total=len(tasks)) if run.bar is not None else None

    def tick() -> None:
        if run.bar is not None and bar_task is not None:
            run.bar.advance(bar_task)

    rows: list[CaseRow | None] = [None] * len(tasks)
    for index, row in run.executor.map_unordered(ask_case, tasks, teardown=_close_brains):
        rows[index] = row
        tick()
    return [r for r in rows if r is not None]


# -- metrics suites -------------------------------------------------------------------------------------
def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(data, bool | int | float | str) or data is None:
        out[prefix.rstrip(".")] = data
    return out


def run_metrics(suite: Suite, kg_for: Callable[[Setup], Path]) -> tuple[list[CaseRow], dict[str, Any]]:
    """Call a metrics suite's function and grade each thresholded metric as one row.

    The function gets ``metrics_args`` and, when it has a ``store`` or ``kg`` parameter, the
    suite's knowledge graph opened read-only. It returns a pydantic model or a dict; nested
    fields are addressed with dots (``summary.f1``).

    Args:
        suite: A ``kind: metrics`` suite.
        kg_for: Builds (or returns) the knowledge-graph file of a setup.
    """
    from knowledge.store import KnowledgeStore

    assert suite.metrics is not None
    fn = _load_ref(suite.metrics, "metrics")
    params = inspect.signature(fn).parameters
    kwargs = dict(suite.metrics_args)
    t0 = time.perf_counter()
    error: str | None = None
    flat: dict[str, Any] = {}
    try:
        with ExitStack() as stack:
            for name in ("store", "kg"):
                if name in params:
                    kwargs[name] = stack.enter_context(KnowledgeStore(kg_for(suite.setup), read_only=True))
            flat = _flatten(fn(**kwargs))
    except SuiteError:
        raise
    except Exception as exc:  # the system under test failed: every thresholded metric fails with the error
        error = f"{type(exc).__name__}: {exc}"
    wall_ms = round((time.perf_counter() - t0) * 1000, 3)
    rows = []
    for name, bound in suite.metric_thresholds.items():
        row = CaseRow(suite=suite.name, id=name, group=bound.group, kind="metric", text=name,
                      expected=bound.describe(), check="metric", latency_ms=wall_ms)
        if error is None and name not in flat:
            row.error = did_you_mean(name, [k for k, v in flat.items() if v is not None], what="metric")
        elif error is not None:
            row.error = error
        else:
            value = flat[name]
            row.value = value
            ok = True
            if bound.equals is not None:
                ok = value == bound.equals
            if ok and bound.min is not None:
                ok = isinstance(value, int | float) and value >= bound.min
            if ok and bound.max is not None:
                ok = isinstance(value, int | float) and value <= bound.max
            row.passed = ok
            row.outcomes = [Outcome(evaluator="metric", passed=ok, score=float(ok),
                                    reason=f"{name} = {value} (want {bound.describe()})")]
        rows.append(row)
    return rows, {k: v for k, v in flat.items() if isinstance(v, int | float | bool)}


# -- suites -------------------------------------------------------------------------------------------------
def _run_one(run: _Run, suite: Suite) -> SuiteResult:
    t0 = time.perf_counter()
    started = datetime.now()
    metrics: dict[str, Any] = {}
    if suite.kind == "metrics":
        bar_task = run.bar.add_task(f"{suite.name} (metrics)", total=1) if run.bar is not None else None
        rows, metrics = run_metrics(suite, run.kg_for)
        if run.bar is not None and bar_task is not None:
            run.bar.advance(bar_task)
    else:
        rows = _run_cases(run, suite, materialize_cases(suite, run.kg_for))
    summary = summarize(rows, suite.thresholds)
    missed = check_thresholds(summary)
    return SuiteResult(
        suite=suite.name, description=suite.description, kind=suite.kind, passed=not missed, missed=missed,
        summary=summary, rows=rows, metrics=metrics, model=run.opts.model or suite.model,
        models=run.opts.models or suite.models, jobs=run.opts.jobs, wall_s=round(time.perf_counter() - t0, 3),
        started_at=started,
    )


def _run_composite(run: _Run, suite: Suite) -> SuiteResult:
    t0 = time.perf_counter()
    started = datetime.now()
    parts = [_run_one(run, p) if not p.is_composite else _run_composite(run, p) for p in suite.parts]
    rows = [r.model_copy(update={"group": p.suite}) for p in parts for r in p.rows]
    summary = summarize(rows, Thresholds(overall=suite.thresholds.overall, groups=suite.thresholds.groups))
    missed = [f"{p.suite}: {m}" for p in parts for m in p.missed] + check_thresholds(summary)
    by_part = {p.suite: p for p in parts}
    for g in summary.groups:  # a part's group shows the part's own verdict and overall threshold
        part = by_part[g.group]
        g.ok = g.ok and part.passed
        g.threshold = g.threshold if g.threshold is not None else part.summary.threshold
    return SuiteResult(
        suite=suite.name, description=suite.description, kind="composite", passed=not missed, missed=missed,
        summary=summary, rows=[r for p in parts for r in p.rows], parts=parts,
        metrics={f"{p.suite}.{k}": v for p in parts for k, v in p.metrics.items()},
        model=run.opts.model or suite.model, models=run.opts.models or "per suite", jobs=run.opts.jobs,
        wall_s=round(time.perf_counter() - t0, 3), started_at=started,
    )


@contextmanager
def _progress(show: bool) -> Iterator[Progress | None]:
    if not show:
        yield None
        return
    from server.clikit import err_console

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err_console, transient=False)
    with bar:
        yield bar


def run_suite(suite: Suite, opts: RunOptions) -> SuiteResult:
    """Run a suite (cases, metrics or composite) and grade it against its thresholds.

    Args:
        suite: A loaded suite (:func:`evals.cases.load_suite`).
        opts: Settings, model overrides, parallelism, progress.
    """
    if opts.jobs < 1:
        raise SuiteError(f"--jobs must be >= 1, got {opts.jobs}.")
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="indagent-eval-", dir=opts.workdir))
        bar = stack.enter_context(_progress(opts.progress))
        ex = opts.executor if not isinstance(opts.executor, str) else stack.enter_context(
            open_executor(opts.executor, jobs=opts.jobs, address=opts.ray_address, mp_context=_mp_context))
        run = _Run(root=Path(tmp), opts=opts, executor=ex, bar=bar)
        return _run_composite(run, suite) if suite.is_composite else _run_one(run, suite)

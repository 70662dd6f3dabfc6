"""``indagent eval``: run an evaluation suite (or a JSONL case file) and gate on its thresholds.

Exit codes: 0 when every threshold is met, 1 when one is missed, 2 on bad input (unknown suite,
malformed case file, bad option).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from server.clikit import cli_errors, emit_json, err_console, fail

if TYPE_CHECKING:
    from evals.cases import Setup, Suite
    from evals.report import SuiteResult

__all__ = ["app"]

app = typer.Typer(help="Run evaluation suites.", pretty_exceptions_enable=False, add_completion=False)

_SCRIPTED = ("scripted", "scripted-cloud-down")


def _print_result(result: SuiteResult) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Console()
    s = result.summary
    table = Table(title=f"eval {result.suite}: {s.passed}/{s.cases} passed ({s.pass_rate:.1%})", title_justify="left")
    for col in ("group", "passed", "rate", "threshold"):
        table.add_column(col)
    for g in s.groups:
        table.add_row(g.group, f"{g.passed}/{g.cases}", f"{g.pass_rate:.1%}",
                      ("" if g.threshold is None else f"{g.threshold:.0%}") + ("" if g.ok else " ✗"))
    out.print(table)
    for r in (r for r in result.rows if not r.passed):
        out.print(f"[red]✗[/red] {escape(f'{r.suite}/{r.id}: {r.failure_reason()}')}", highlight=False, soft_wrap=True)
    out.print(f"latency mean {s.latency_mean_ms:.1f} ms, p95 {s.latency_p95_ms:.1f} ms · tokens "
              f"{s.prompt_tokens}+{s.completion_tokens} · tiers {s.tiers} · {result.wall_s:.1f} s", highlight=False,
              soft_wrap=True, markup=False)
    for m in result.missed:
        out.print(f"[red]threshold missed:[/red] {escape(m)}", highlight=False)
    if result.report is not None:
        out.print(f"report: {result.report.markdown} · {result.report.html}", highlight=False, soft_wrap=True)
    out.print("[green]PASSED[/green]" if result.passed else "[red]FAILED[/red]")


@app.callback(invoke_without_command=True)
@cli_errors
def run(
    suite: Annotated[str | None, typer.Option("--suite", help="Suite name (evals/suites/NAME.yaml) or .yaml path.")] = None,
    cases: Annotated[Path | None, typer.Option("--cases", help="A JSONL case file to run as an ad hoc suite.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Import this directory of CSVs instead of the demo plant.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Mapping YAMLs (<csv stem>.yaml) for --data.")] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="auto | edge | cloud | a model name | scripted | scripted-cloud-down (default: the suite's).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (or Ray actors).")] = 1,
    executor: Annotated[str, typer.Option("--executor", help="local (processes on this machine) | ray.")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", envvar="INDAGENT_RAY_ADDRESS",
        help="Ray cluster for --executor ray (auto | ray://head:10001); default: a local Ray instance.")] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", help="Overall pass-rate threshold (0..1).")] = None,
    scale: Annotated[str, typer.Option("--scale", help="Demo plant scale for --cases: tiny | small.")] = "small",
    report: Annotated[Path | None, typer.Option("--report", help="Report path (.md/.html stem) or directory.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document: rows and summary.")] = False,
    list_suites: Annotated[bool, typer.Option("--list", help="List the suites and exit.")] = False,
) -> None:
    """Run a suite (``--suite NAME``) or a case file (``--cases FILE.jsonl``) and grade it."""
    from evals.cases import DemoSetup, Setup, Suite, Thresholds, load_cases_file, load_suite
    from evals.cases import list_suites as names
    from evals.report import write_reports
    from evals.runner import RunOptions, run_suite
    from server.settings import get_settings

    if list_suites:
        if as_json:
            emit_json({"suites": names()})
        else:
            typer.echo("\n".join(names()))
        return
    if (suite is None) == (cases is None):
        fail("give exactly one of --suite NAME or --cases FILE.jsonl (see --list for suite names)")
    if threshold is not None and not 0 <= threshold <= 1:
        fail(f"--threshold is a pass rate in 0..1, got {threshold}")
    if mapping is not None and data is None:
        fail("--mapping needs --data DIR (the CSVs it maps)")
    if scale not in ("tiny", "small"):
        fail(f"--scale must be 'tiny' or 'small', got {scale!r}")
    if executor not in ("local", "ray"):
        fail(f"--executor must be 'local' or 'ray', got {executor!r}")
    settings = get_settings()
    if cases is not None:
        s = Suite(name=cases.stem, cases=load_cases_file(cases), thresholds=Thresholds(overall=1.0),
                  setup=Setup(demo=DemoSetup(scale=scale)), path=cases.resolve())  # type: ignore[arg-type]
    else:
        s = load_suite(suite or "")
    if data is not None:
        s = _with_setup(s, Setup(data=data.resolve(), mapping=mapping.resolve() if mapping else None))
    if threshold is not None:
        s = s.model_copy(update={"thresholds": s.thresholds.model_copy(update={"overall": threshold})})
    scripted = model in _SCRIPTED
    opts = RunOptions(settings=settings, model=None if scripted else model,
                      models=model if scripted else None, jobs=jobs, progress=True,  # type: ignore[arg-type]
                      executor=executor, ray_address=ray_address)  # type: ignore[arg-type]
    result = run_suite(s, opts)
    paths = write_reports(result, report or settings.reports_dir)
    result = result.model_copy(update={"report": paths})
    if as_json:
        emit_json(result)
        err_console.print(f"[dim]report: {paths.html}[/dim]")
    else:
        _print_result(result)
    if not result.passed:
        raise typer.Exit(1)


def _with_setup(suite: Suite, setup: Setup) -> Suite:
    """The suite (and its parts) with another knowledge-graph setup."""
    return suite.model_copy(update={"setup": setup, "parts": [_with_setup(p, setup) for p in suite.parts]})

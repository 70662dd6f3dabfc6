"""The top-level CLI imports a sub-command's module only when that command runs."""

from __future__ import annotations

import subprocess
import sys

from server.cli import LAZY_COMMANDS

PROBE = """
import sys
from typer.testing import CliRunner
from server.cli import app
res = CliRunner().invoke(app, ["--help"])
assert res.exit_code == 0, res.output
heavy = sorted(m for m in ("langgraph", "langchain_core", "asyncua", "scipy", "matplotlib", "ortools", "duckdb")
               if m in sys.modules)
print(",".join(heavy))
print(res.output)
"""


def test_top_level_help_lists_every_command_without_importing_them():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True).stdout
    heavy, _, text = out.partition("\n")
    assert heavy == ""
    for name in (*LAZY_COMMANDS, "ask", "serve"):
        assert f" {name} " in text


def test_lazy_command_runs_and_unknown_command_is_a_usage_error():
    from typer.testing import CliRunner

    from server.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["kg", "--help"])
    assert res.exit_code == 0 and "export-site" in res.output and "neighbors" in res.output
    res = runner.invoke(app, ["diagnose", "--help"])
    assert res.exit_code == 0 and "ASSET" in res.output.upper()
    res = runner.invoke(app, ["no-such-command"])
    assert res.exit_code == 2

"""`indagent keys ...` through typer's CliRunner on the sub-app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from server.auth import ServerDB
from server.cli_keys import app

runner = CliRunner()


def test_keys_create_list_revoke(data_dir: Path) -> None:
    out = runner.invoke(app, ["create", "--role", "engineer", "--label", "HMI", "--json"])
    assert out.exit_code == 0, out.output
    new = json.loads(out.stdout)
    assert set(new) == {"id", "key", "role"} and new["role"] == "engineer" and new["key"].startswith("ik_")
    with ServerDB(data_dir / "server.sqlite") as db:
        assert db.verify(new["key"]).role == "engineer"
    listed = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert listed["count"] == 1 and listed["data"][0]["id"] == new["id"] and "key" not in listed["data"][0]
    assert new["key"] not in runner.invoke(app, ["list"]).stdout
    gone = json.loads(runner.invoke(app, ["revoke", new["id"], "--json"]).stdout)
    assert gone["revoked_at"]
    with ServerDB(data_dir / "server.sqlite") as db:
        assert db.verify(new["key"]) is None


def test_keys_errors_are_one_line_exit_2(data_dir: Path) -> None:
    bad = runner.invoke(app, ["revoke", "nope"])
    assert bad.exit_code == 2 and "Unknown key id 'nope'" in bad.output
    role = runner.invoke(app, ["create", "--role", "root"])
    assert role.exit_code == 2 and "root" in role.output

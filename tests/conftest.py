"""Shared fixtures: every test gets its own data dir (INDAGENT_DATA_DIR)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point INDAGENT_DATA_DIR at a fresh temporary directory for each test."""
    d = tmp_path / "var"
    d.mkdir()
    monkeypatch.setenv("INDAGENT_DATA_DIR", str(d))
    monkeypatch.delenv("INDAGENT_CLOUD_BASE_URL", raising=False)
    monkeypatch.delenv("INDAGENT_CLOUD_API_KEY", raising=False)
    yield d

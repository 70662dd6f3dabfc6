"""Schemathesis against the OpenAPI schema (bounded examples, positive and negative data): never a 5xx,
every error a JSON body naming what is wrong."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from server.app import create_app
from tests.server.conftest_api import LiveServer, make_settings, scripted_brain

SCHEMA = schemathesis.openapi.from_dict(create_app(make_settings(Path("var-unused"))).openapi())
SOLVERS = r"^/v1/(schedule|placement)/solve$"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    s = make_settings(tmp_path_factory.mktemp("fuzz") / "var", http_solve_max_s=0.3, max_message_chars=2000)
    with LiveServer(s, brain_factory=functools.partial(scripted_brain)) as server:
        yield server


def check(case: schemathesis.Case, srv: LiveServer) -> None:
    """Call the live server; no 5xx, and every 4xx is the JSON error shape."""
    response = case.call(base_url=srv.url, timeout=30)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        err = response.json()["error"]
        assert err["message"] and err["type"], response.text


@SCHEMA.exclude(path_regex=SOLVERS).parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_json_errors(case: schemathesis.Case, srv: LiveServer) -> None:
    check(case, srv)


@SCHEMA.include(path_regex=SOLVERS).parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_solvers_no_5xx(case: schemathesis.Case, srv: LiveServer) -> None:
    check(case, srv)

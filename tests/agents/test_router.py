"""Router decisions as a table: sensitivity, size, health, budget, explicit requests."""

from __future__ import annotations

import pytest

from agents.models.base import ModelRegistry, ModelSpec, UnknownModelError
from agents.models.health import CircuitBreaker
from agents.models.router import RouteRequest, route
from agents.models.scripted import ScriptedChatModel
from tools.errors import ConfigError


def registry(*, cloud: bool = True, device: bool = False) -> ModelRegistry:
    reg = ModelRegistry()
    mk = lambda: ScriptedChatModel(turns=["x"])  # noqa: E731
    reg.register(ModelSpec(name="smol", backend="llamacpp", tier="edge", params_b=0.135, context=2048,
                           tokens_per_s=85, prompt_tokens_per_s=700, region="site"), mk, aliases=("edge",))
    if cloud:
        reg.register(ModelSpec(name="big", backend="openai", tier="cloud", params_b=70, context=128000,
                               supports_tools=True, tokens_per_s=60, prompt_tokens_per_s=1200, link_latency_ms=80,
                               cost_per_1k_tokens=0.002, region="eu-cloud"), mk, aliases=("cloud",))
    if device:
        reg.register(ModelSpec(name="tiny", backend="llamacpp", tier="device", params_b=0.03, context=512,
                               tokens_per_s=20, prompt_tokens_per_s=100, region="site"), mk, aliases=("device",))
    return reg


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def open_breaker() -> CircuitBreaker:
    b = CircuitBreaker(failures=1, reset_s=30, clock=Clock())
    b.record_failure()
    return b


CASES = [
    # (name, request kwargs, registry kwargs, breaker, expected model, degraded, reason fragment)
    ("small task stays on edge", {"task": "small"}, {}, None, "smol", False, "fastest local"),
    ("large task goes to cloud", {"task": "large"}, {}, None, "big", False, "most capable"),
    ("sovereign never leaves site", {"task": "large", "sensitivity": "sovereign"}, {}, None, "smol", False, "sovereign"),
    ("cloud down -> edge degraded", {"task": "large"}, {}, "open", "smol", True, "breaker open"),
    ("long prompt exceeds edge ctx -> cloud", {"task": "small", "prompt_tokens": 5000}, {}, None, "big", False, ""),
    ("no cloud configured, large -> edge", {"task": "large"}, {"cloud": False}, None, "smol", False, "most capable"),
    ("explicit edge", {"task": "large", "requested": "edge"}, {}, None, "smol", False, "requested"),
    ("explicit cloud but sovereign -> edge degraded", {"requested": "cloud", "sensitivity": "sovereign"}, {}, None,
     "smol", True, "sovereign"),
    ("explicit cloud, breaker open -> degraded", {"requested": "cloud"}, {}, "open", "smol", True, "breaker"),
    ("tight budget prefers faster", {"task": "large", "latency_budget_ms": 100, "output_tokens": 2}, {"device": True},
     None, "smol", False, ""),
    ("device preferred for small", {"task": "small", "output_tokens": 4}, {"device": True}, None, "tiny", False, ""),
]


@pytest.mark.parametrize(("name", "req", "regkw", "breaker", "model", "degraded", "reason"), CASES, ids=[c[0] for c in CASES])
def test_route_table(name, req, regkw, breaker, model, degraded, reason) -> None:
    d = route(RouteRequest(**req), registry(**regkw), open_breaker() if breaker == "open" else CircuitBreaker())
    assert d.model == model, d.reason
    assert d.degraded is degraded, d.reason
    assert reason in d.reason


def test_breaker_half_open_probe_and_close() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=2, reset_s=10, clock=clock)
    b.record_failure()
    assert b.state == "closed"
    b.record_failure()
    assert b.state == "open" and not b.allow()
    clock.t = 10.5
    assert b.state == "half_open"
    assert b.begin() is True
    assert b.begin() is False  # only one probe
    b.record_failure()  # probe failed: open again
    assert b.state == "open"
    clock.t = 21
    assert b.begin()
    b.record_success()
    assert b.state == "closed"


def test_unknown_model_lists_known() -> None:
    with pytest.raises(UnknownModelError, match=r"known models: .*big.*smol"):
        route(RouteRequest(requested="gpt-9"), registry(), None)


def test_explicit_cloud_without_cloud_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="INDAGENT_CLOUD_BASE_URL"):
        route(RouteRequest(requested="cloud"), registry(cloud=False), None)

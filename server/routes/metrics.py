"""Prometheus metrics: requests, latency, tokens per tier, tool calls, router decisions, approvals."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from agents.state import AskResult
from server.auth import ASGIApp, Message, Receive, Scope, Send
from server.deps import ViewerDep

__all__ = ["Metrics", "MetricsMiddleware", "router"]

router = APIRouter(tags=["ops"])

_BREAKER_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """The app's metrics in their own registry (several apps may live in one process).

    Args:
        pending_approvals: Returns the number of approvals waiting for a person (read at scrape).
        breaker_state: Returns the cloud circuit breaker state (read at scrape).
    """

    def __init__(self, *, pending_approvals: Callable[[], int], breaker_state: Callable[[], str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("indagent_http_requests", "HTTP requests.", ["method", "route", "status"], registry=r)
        self.latency = Histogram("indagent_http_request_duration_seconds", "HTTP request latency (to the last byte).",
                                 ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("indagent_model_tokens", "Model tokens of chat turns, by answering tier.",
                              ["tier", "kind"], registry=r)
        self.tool_calls = Counter("indagent_tool_calls", "Tool calls made by agents.", ["tool", "ok"], registry=r)
        self.routes = Counter("indagent_router_decisions", "Which agent, tier and model answered a turn.",
                              ["agent", "tier", "model", "degraded"], registry=r)
        self.turns = Counter("indagent_chat_turns", "Chat turns by entry point.", ["endpoint"], registry=r)
        self.decisions = Counter("indagent_approval_decisions", "Approval decisions taken.", ["decision"], registry=r)
        self.rate_limited = Counter("indagent_rate_limited", "Requests refused by the rate limit.", registry=r)
        pending = Gauge("indagent_approvals_pending", "Mutating actions waiting for approval.", registry=r)
        pending.set_function(lambda: float(pending_approvals()))
        breaker = Gauge("indagent_cloud_breaker_state", "Cloud circuit breaker: 0 closed, 1 half-open, 2 open.",
                        registry=r)
        breaker.set_function(lambda: _BREAKER_VALUE.get(breaker_state(), -1.0))

    def observe_turn(self, result: AskResult | dict[str, Any], *, endpoint: str) -> None:
        """Count the tokens, tool calls and routing decision of one finished turn."""
        res = result if isinstance(result, AskResult) else AskResult.model_validate(result)
        tier = res.route.tier or "none"
        self.turns.labels(endpoint).inc()
        self.tokens.labels(tier, "prompt").inc(res.usage.prompt_tokens)
        self.tokens.labels(tier, "completion").inc(res.usage.completion_tokens)
        for tc in res.tool_calls:
            self.tool_calls.labels(tc.name, str(tc.ok).lower()).inc()
        self.routes.labels(res.route.agent, tier, res.route.model or "none", str(res.route.degraded).lower()).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request and its latency, labelled by route template (bounded cardinality).

    Args:
        app: The wrapped ASGI app.
        metrics: Returns the app's :class:`Metrics` (None before the lifespan ran).
    """

    def __init__(self, app: ASGIApp, *, metrics: Callable[[], Metrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app and record the request count and latency."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            m = self.metrics()
            if m is not None:
                route = scope.get("route")
                path = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/") else "unmatched")
                m.requests.labels(scope["method"], path, str(status[0])).inc()
                m.latency.labels(scope["method"], path).observe(time.perf_counter() - t0)
                if status[0] == 429:
                    m.rate_limited.inc()


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request, _who: ViewerDep) -> Response:
    """Prometheus metrics (text exposition format)."""
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

"""FastAPI application factory; the lifespan opens the brain, the server DB and the runs database.

The lifespan opens the brain (models, KG, checkpointer, graph), the server DB and the runs
database, and starts the run scheduler when ``settings.runs_in_server`` (stopped on exit, runs in
flight finishing first).

Errors are always JSON ``{"error": {"type", "message", "param"?, "code"?}}`` (the OpenAI error
shape): 4xx name the request field at fault; nothing a client sends yields a 5xx.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.auth import EdgeMiddleware, RateLimiter, ServerDB
from server.brain import Brain, measure_edge_speed
from server.deps import ApiError
from server.runs import RunStore, start_scheduler
from server.settings import Settings
from tools.errors import ConfigError, IndagentError

__all__ = ["BrainFactory", "create_app"]

log = logging.getLogger("indagent.server")
BrainFactory = Callable[[Settings], AbstractContextManager[Brain]]


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "null", "bytes"})


def _param(loc: tuple[Any, ...] | list[Any]) -> str:
    """The request field of a validation error location (union/type tags dropped)."""
    parts = [str(p) for p in loc if not ("[" in str(p) or str(p) in _TYPE_TAGS)]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _freeze_gc() -> None:
    """Move everything alive now (modules, graph, models) out of the collector's sight.

    A long-lived server holds ~300 k Python objects after start-up; without this every full collection
    walks them all (0.3-0.9 s pauses on a busy 2-core box, the whole event loop stopped: the API
    bench's p99). Objects created later are collected as usual.
    """
    gc.collect()
    gc.freeze()


def _warm_models(app: FastAPI, brain: Brain) -> None:
    """Load the on-site models in the background; /readyz reports their state."""
    status: dict[str, str] = app.state.model_status
    for spec in brain.models.specs():
        if spec.tier == "cloud":
            continue
        status[spec.name] = "loading"
        try:
            brain.models.get(spec.name)
            if spec.backend == "llamacpp" and brain.settings.edge_tokens_per_s is None:
                measure_edge_speed(brain.settings, brain.models)  # the router uses the measured speed
            status[spec.name] = "loaded"
        except Exception as exc:  # reported by /readyz, never raised into the server
            log.warning("model %s failed to load: %s", spec.name, exc)
            status[spec.name] = f"error: {exc}"
    if app.state.freeze_gc:
        _freeze_gc()


def _error(status: int, type_: str, message: str, *, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, **extra}}, status_code=status, headers=headers)


def create_app(settings: Settings, *, brain_factory: BrainFactory | None = None, freeze_gc: bool = False) -> FastAPI:
    """Build the app; ``brain_factory(settings)`` may replace the default wiring (tests, evals, benches).

    ``freeze_gc`` (``indagent serve`` sets it) freezes the start-up heap out of the garbage collector once the
    brain is open and again when the models are warm: a server process only, not an app inside a test run.
    """
    from server.brain import open_brain
    from server.routes import (
        approvals,
        chat,
        health,
        keys,
        kg,
        metrics,
        openai_compat,
        placement,
        runs,
        schedule,
        threads,
        turns,
        web,
    )

    factory = brain_factory or open_brain

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ServerDB(settings.server_db_path) as db, factory(settings) as brain, \
                RunStore(settings.runs_db_url) as store:
            app.state.db = db
            app.state.brain = brain
            app.state.run_store = store
            app.state.metrics = metrics.Metrics(pending_approvals=lambda: turns.count_pending(db),
                                                breaker_state=lambda: brain.breaker.state)
            if freeze_gc:
                _freeze_gc()
            threading.Thread(target=_warm_models, args=(app, brain), name="warm-models", daemon=True).start()
            # scheduled runs fire inside the server on its open brain (INDAGENT_RUNS_IN_SERVER)
            app.state.runs = (start_scheduler(settings, runs.run_brain_factory(app), store=store)
                              if settings.runs_in_server else None)
            try:
                yield
            finally:
                handle, app.state.runs = app.state.runs, None
                if handle is not None:
                    await asyncio.to_thread(handle.shutdown, wait=True)  # runs in flight finish first
                app.state.run_store = None

    app = FastAPI(title="indagent", version="0.1.0", lifespan=lifespan,
                  description="The plant's industrial brain over HTTP. See docs/api.md.")
    app.state.settings = settings
    app.state.limiter = RateLimiter(settings.rate_limit_per_min)
    app.state.thread_locks = turns.ThreadLocks()
    app.state.model_status = {}
    app.state.freeze_gc = freeze_gc
    app.state.db = None
    app.state.metrics = None
    app.state.run_store = None
    app.state.runs = None

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(IndagentError)
    async def _indagent_error(request: Request, exc: IndagentError) -> JSONResponse:
        status = 503 if isinstance(exc, ConfigError) else 400
        return _error(status, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"param": "body" if e.get("type") == "json_invalid" else _param(e.get("loc", ())),
             "message": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"param": "body", "message": "invalid request"}
        message = "; ".join(f"{e['param']}: {e['message']}" for e in errors[:5])
        return _error(422, "invalid_request_error", message, param=first["param"], code="validation_error",
                      errors=errors[:20])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404:
            msg = f"No route {request.method} {request.url.path}; see /docs for the API."
        return _error(exc.status_code, "http_error", msg, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", f"Internal error ({type(exc).__name__}); see the server log.")

    for module in (health, metrics, chat, openai_compat, threads, approvals, kg, schedule, placement, keys, web):
        app.include_router(module.router)
    app.include_router(runs.schedules_router)
    app.include_router(runs.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(EdgeMiddleware, db=lambda: app.state.db, max_body=settings.max_body_bytes)
    app.add_middleware(metrics.MetricsMiddleware, metrics=lambda: app.state.metrics)
    return app


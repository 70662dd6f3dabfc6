"""FastAPI application factory; the lifespan opens the brain (models, KG, checkpointer, graph)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from server.settings import Settings
from tools.errors import ConfigError, IndagentError

__all__ = ["create_app"]


def create_app(settings: Settings, *, brain_factory=None) -> FastAPI:
    """Build the app; ``brain_factory(settings)`` may replace the default wiring (tests, evals)."""
    from server.brain import open_brain
    from server.routes import chat, health

    factory = brain_factory or open_brain

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with factory(settings) as brain:
            app.state.brain = brain
            app.state.settings = settings
            yield

    app = FastAPI(title="indagent", version="0.1.0", lifespan=lifespan)

    @app.exception_handler(IndagentError)
    async def _indagent_error(request: Request, exc: IndagentError) -> JSONResponse:
        status = 503 if isinstance(exc, ConfigError) else 400
        return JSONResponse({"error": {"type": type(exc).__name__, "message": str(exc)}}, status_code=status)

    app.include_router(health.router)
    app.include_router(chat.router)
    return app

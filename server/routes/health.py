"""Liveness and readiness: models loaded, databases reachable, cloud breaker state."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

__all__ = ["Readiness", "router"]

router = APIRouter(tags=["ops"])


class Check(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str


class Readiness(BaseModel):
    """Whether the server can answer: every check ok."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]
    models: dict[str, str]
    cloud_breaker: str


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


def _probe(fn: Any) -> Check:
    try:
        detail = fn()
        return Check(ok=True, detail=str(detail))
    except Exception as exc:  # a readiness probe reports every failure as data
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")


def readiness(request: Request) -> Readiness:
    """Compute the readiness document (models warmed by the lifespan, DB probes, breaker)."""
    brain = getattr(request.app.state, "brain", None)
    status: dict[str, str] = dict(getattr(request.app.state, "model_status", {}))
    checks: dict[str, Check] = {}
    if brain is None:
        checks["brain"] = Check(ok=False, detail="starting")
        return Readiness(status="not_ready", checks=checks, models=status, cloud_breaker="unknown")
    local = [s.name for s in brain.models.specs() if s.tier != "cloud"]
    missing = [n for n in local if status.get(n) != "loaded"]
    detail = "loaded: " + (", ".join(n for n in local if n not in missing) or "-")
    if missing:
        detail += "; not yet: " + ", ".join(f"{n} ({status.get(n, 'pending')})" for n in missing)
    checks["models"] = Check(ok=bool(local) and not missing, detail=detail)
    if brain.kg is not None:
        checks["knowledge_graph"] = _probe(lambda: f"{brain.kg.scalar('SELECT count(*) FROM nodes')} nodes")
    else:
        checks["knowledge_graph"] = Check(ok=True, detail="no knowledge graph configured (KG questions get 'no data')")
    checks["server_db"] = _probe(lambda: f"{request.app.state.db.query('SELECT count(*) FROM api_keys')[0][0]} keys")
    checks["checkpoints"] = _probe(
        lambda: type(brain.graph.checkpointer).__name__
        + (" ok" if brain.graph.checkpointer.get_tuple({"configurable": {"thread_id": "__readyz__"}}) is None else "")
    )
    breaker = brain.breaker.state
    for spec in brain.models.specs(tier="cloud"):
        status[spec.name] = f"remote (breaker {breaker})"
    ok = all(c.ok for c in checks.values())
    return Readiness(status="ready" if ok else "not_ready", checks=checks, models=status, cloud_breaker=breaker)


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> Any:
    """Readiness: models loaded, knowledge graph and databases reachable, cloud breaker state (503 if not ready)."""
    doc = await run_in_threadpool(readiness, request)
    return JSONResponse(doc.model_dump(), status_code=200 if doc.status == "ready" else 503)

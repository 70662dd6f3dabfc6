"""Annotated dependency aliases for routes: app state, the caller (API key + role), errors.

The dependencies are ``async def`` on purpose: they only read app state (and, for the caller,
one SQLite primary-key lookup of ~35 µs), so running them on the event loop is cheaper than the
thread-pool hop FastAPI makes for every plain ``def`` dependency (one per dependency per request).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Depends, Request

from server.auth import ROLE_RANK, Principal, RateLimiter, Role, ServerDB, parse_bearer
from server.brain import Brain
from server.settings import Settings

__all__ = [
    "AdminDep",
    "ApiError",
    "BrainDep",
    "DBDep",
    "EngineerDep",
    "SettingsDep",
    "ViewerDep",
    "audit_detail",
    "require",
]


class ApiError(Exception):
    """An error answered as ``{"error": {"type", "message", "param"?, "code"?}}`` with ``status``.

    Args:
        status: HTTP status (4xx).
        message: What went wrong and how to fix it.
        type: Machine-readable kind, e.g. ``invalid_request_error``.
        param: The request field at fault, when there is one.
        code: A finer code (``model_not_found``...).
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            err["param"] = self.param
        if self.code is not None:
            err["code"] = self.code
        return {"error": err}


async def _brain(request: Request) -> Brain:
    return request.app.state.brain


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _db(request: Request) -> ServerDB:
    return request.app.state.db


def audit_detail(request: Request, **detail: Any) -> None:
    """Add fields to the audit entry of this request (written by the edge middleware)."""
    current = getattr(request.state, "audit", None) or {}
    request.state.audit = {**current, **detail}


def _authenticate(request: Request, settings: Settings) -> Principal:
    if settings.auth == "off":
        return Principal(id="local", role="admin", via="auth-off")
    token = parse_bearer(request.headers.get("authorization"))
    challenge = {"WWW-Authenticate": 'Bearer realm="indagent"'}
    if token is None:
        raise ApiError(401, "Missing API key; send 'Authorization: Bearer <key>' (create one with "
                       "'indagent keys create --role viewer').", type="authentication_error",
                       param="Authorization", code="missing_api_key", headers=challenge)
    principal = request.app.state.db.verify(token)
    if principal is None:
        raise ApiError(401, "Invalid or revoked API key; ask an admin for a key ('indagent keys create').",
                       type="authentication_error", param="Authorization", code="invalid_api_key", headers=challenge)
    return principal


def require(role: Role):
    """A dependency admitting callers whose role is at least ``role`` (and within the rate limit)."""

    async def dependency(request: Request) -> Principal:
        settings: Settings = request.app.state.settings
        principal = _authenticate(request, settings)
        request.state.principal = principal
        if ROLE_RANK[principal.role] < ROLE_RANK[role]:
            raise ApiError(403, f"This needs the {role!r} role; key {principal.id!r} has {principal.role!r}.",
                           type="permission_error", code="insufficient_role")
        limiter: RateLimiter = request.app.state.limiter
        caller = principal.id if principal.via == "key" else f"client:{request.client.host if request.client else '?'}"
        wait = limiter.take(caller)
        if wait > 0:
            raise ApiError(429, f"Rate limit of {settings.rate_limit_per_min} requests/min exceeded; retry in "
                           f"{wait:.1f} s.", type="rate_limit_error", code="rate_limited",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


BrainDep = Annotated[Brain, Depends(_brain)]
SettingsDep = Annotated[Settings, Depends(_settings)]
DBDep = Annotated[ServerDB, Depends(_db)]
ViewerDep = Annotated[Principal, Depends(require("viewer"))]
EngineerDep = Annotated[Principal, Depends(require("engineer"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]

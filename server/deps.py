"""Annotated dependency aliases for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.brain import Brain
from server.settings import Settings

__all__ = ["BrainDep", "SettingsDep"]


def _brain(request: Request) -> Brain:
    return request.app.state.brain


def _settings(request: Request) -> Settings:
    return request.app.state.settings


BrainDep = Annotated[Brain, Depends(_brain)]
SettingsDep = Annotated[Settings, Depends(_settings)]

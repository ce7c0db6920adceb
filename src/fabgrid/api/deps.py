"""FastAPI dependencies shared by the routers: settings and a unit of work per request."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from fabgrid.config import Settings
from fabgrid.store.uow import UnitOfWork


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """A unit of work for the request (rolled back unless the route commits)."""
    with UnitOfWork(get_settings(request).database_url) as uow:
        yield uow

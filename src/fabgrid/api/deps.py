"""FastAPI dependencies shared by the routers: the settings the app was created with.

Routers hand the settings to services, which open their own unit of work; nothing here touches the store.
"""

from __future__ import annotations

from fastapi import Request

from fabgrid.config import Settings


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings

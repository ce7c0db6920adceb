"""Liveness and readiness: GET /health. Calls services.health; never the store."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from fabgrid import __version__
from fabgrid.services import health as health_service

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service and database health")
def health(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    return {"status": "ok", "version": __version__, "database": health_service.database_backend(settings)}

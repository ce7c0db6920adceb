"""Liveness and readiness: GET /health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text

from fabgrid import __version__
from fabgrid.store.db import get_engine

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service and database health")
def health(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    with get_engine(settings.database_url).connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__,
            "database": "sqlite" if settings.is_sqlite else "postgresql"}

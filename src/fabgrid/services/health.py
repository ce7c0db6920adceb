"""Readiness of the platform: the database answers.

Depends on the store (`store.db.ping`) only; never on api, web or cli.
"""

from __future__ import annotations

from fabgrid.config import Settings
from fabgrid.store.db import ping


def database_backend(settings: Settings) -> str:
    """``sqlite`` or ``postgresql`` once the configured database has answered a query (raises otherwise)."""
    ping(settings.database_url)
    return "sqlite" if settings.is_sqlite else "postgresql"

"""Small helpers shared by the web-platform services: random ids, UTC timestamps.

Depends on the standard library only.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A random, non-enumerable id such as ``prt_3f9a0c1d2e4b5a69``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def utc(dt: datetime) -> datetime:
    """`dt` as an aware UTC datetime (SQLite hands back naive datetimes, stored as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with offset, or None."""
    return utc(dt).isoformat() if dt is not None else None


def now() -> datetime:
    """Aware now in UTC."""
    return datetime.now(UTC)

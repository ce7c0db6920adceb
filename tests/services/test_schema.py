"""The migrations create exactly the tables the ORM declares (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import fabgrid.store.disruptions  # network_disruptions on Base.metadata
import fabgrid.store.rfq_tables  # the RFQ tables on Base.metadata
import fabgrid.store.telemetry_rollups  # machine_hours, telemetry_rollups
import fabgrid.store.telemetry_tables  # noqa: F401  (machine_events on Base.metadata)
from fabgrid.store.db import get_engine, upgrade
from fabgrid.store.tables import Base

PLATFORM_TABLES = {"parts", "jobs", "quotes", "orders", "order_lines", "order_events", "datasets", "revisions",
                   "design_access", "rate_buckets", "webhooks", "webhook_deliveries", "disruptions", "machine_events",
                   "processes", "materials", "machine_models", "sites", "machines", "organisations", "users",
                   "access_tokens", "telemetry_dead_letters", "idempotency_keys", "login_throttle", "auth_events",
                   "factory_applications", "storefronts", "factory_events", "factory_documents",
                   # issue 19 (migration 0011)
                   "rfq_files", "rfqs", "rfq_invitations", "rfq_bids", "contracts", "threads", "messages",
                   "thread_reads", "claims", "exhibitions", "booths", "meeting_slots",
                   # issue 22 (migration 0012)
                   "network_disruptions",
                   # issue 21 (migration 0023)
                   "machine_hours", "telemetry_rollups"}


def _table(diff: tuple[object, ...]) -> str | None:
    kind = str(diff[0])
    if kind in ("add_table", "remove_table"):
        return str(getattr(diff[1], "name", ""))
    if kind.endswith("_column") or kind.startswith("modify_"):
        return str(diff[2])
    target = getattr(diff[1], "table", None)
    return str(getattr(target, "name", "")) or None


def test_migration_matches_the_tables(db_url: str) -> None:
    assert upgrade(db_url) is not None
    with get_engine(db_url).connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    ours = [d for d in flat if _table(d if isinstance(d, tuple) else (d,)) in PLATFORM_TABLES]
    assert ours == [], ours

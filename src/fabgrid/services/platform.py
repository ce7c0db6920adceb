"""Use cases of the platform itself: prepare the database (migrate, and seed the shipped network into an
empty one) and seed it on demand (`fabgrid db seed`).

Depends on the store and services.network; one transaction per use case.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.config import Settings
from fabgrid.services import network
from fabgrid.store.db import configure_pool, upgrade
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class DatabaseState:
    """What `prepare_database` left: the schema revision, the row counts of the network, and whether the
    shipped network was loaded now."""

    revision: str | None
    counts: dict[str, int]
    seeded: bool = False


def configure_database(settings: Settings) -> None:
    """Bound this process's connection pool by `settings` (FABGRID_DB_POOL_SIZE, FABGRID_DB_POOL_TIMEOUT_S): a
    request that finds no free connection in time is refused with 503 and Retry-After (`store.db.DatabaseBusy`)
    instead of stalling."""
    configure_pool(settings.database_url, settings.db_pool_size, settings.db_pool_timeout_s)


def prepare_database(url: str) -> DatabaseState:
    """Create or migrate the database at `url`; an empty one gets the shipped network (first start)."""
    return seed_database(url)


def seed_database(url: str, replace: bool = False) -> DatabaseState:
    """Migrate the database at `url` and load the shipped network into it when it holds none (or, with
    `replace`, overwrite the stored network with the shipped one)."""
    revision = upgrade(url)
    with UnitOfWork(url) as uow:
        result = network.seed(uow, replace=replace)
        uow.commit()
    return DatabaseState(revision=revision, counts=result.counts, seeded=result.seeded)


def migrate_database(url: str, revision: str = "head") -> str | None:
    """Migrate the database at `url` to `revision` (no seeding); returns the revision reached."""
    return upgrade(url, revision)

"""Use cases of the platform itself: prepare the database and load the shipped network into it.

The only layer that uses both the data/engines and the store; one transaction per use case.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.data import load_network
from fabgrid.store.db import upgrade
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class DatabaseState:
    """What `prepare_database` left: the schema revision and the row counts of the network."""

    revision: str | None
    counts: dict[str, int]


def prepare_database(url: str) -> DatabaseState:
    """Create or migrate the database at `url` and load the shipped network into it."""
    revision = upgrade(url)
    network = load_network()
    with UnitOfWork(url) as uow:
        counts = uow.catalog.sync(network)
        uow.commit()
    return DatabaseState(revision=revision, counts=counts)

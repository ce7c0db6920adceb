"""The store on SQLite and PostgreSQL: migrations, network sync, organisations and users."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from fabgrid.data import load_network
from fabgrid.services.platform import prepare_database
from fabgrid.store.db import get_engine, upgrade
from fabgrid.store.uow import UnitOfWork


def test_upgrade_creates_the_foundation_tables(db_url: str) -> None:
    assert upgrade(db_url) is not None
    names = set(inspect(get_engine(db_url)).get_table_names())
    wanted = {"processes", "materials", "machine_models", "sites", "machines", "organisations", "users"}
    assert wanted <= names
    assert upgrade(db_url) == upgrade(db_url)  # idempotent


def test_network_sync_round_trips_and_is_idempotent(db_url: str) -> None:
    network = load_network()
    first = prepare_database(db_url).counts
    second = prepare_database(db_url).counts
    assert first == second
    assert first["sites"] == len(network.sites)
    assert first["machines"] == sum(len(s.machines) for s in network.sites.values())
    assert first["materials"] == len(network.catalog.materials)
    with UnitOfWork(db_url) as uow:
        sites = {s.id: s for s in uow.catalog.sites()}
        assert sites == network.sites
        hunan = uow.catalog.sites("Hunan")
        assert hunan and all(s.province == "Hunan" for s in hunan)
        assert {m.id for m in uow.catalog.machine_models()} == set(network.catalog.machine_models)


def test_users_and_organisations(db_url: str) -> None:
    upgrade(db_url)
    with UnitOfWork(db_url) as uow:
        org = uow.organisations.add("Xiangjiang Robotics", "buyer")
        uow.users.add(org.id, "Ada@Example.com", "Ada", "argon2-hash", "buyer")
        uow.commit()
    with UnitOfWork(db_url) as uow:
        user = uow.users.by_email("ada@example.com")
        assert user is not None and user.organisation_id == org.id and user.email == "ada@example.com"
    with UnitOfWork(db_url) as uow:  # leaving without commit rolls back
        uow.organisations.add("Rolled Back Ltd", "buyer")
    with UnitOfWork(db_url) as uow:
        assert uow.organisations.by_name("Rolled Back Ltd") is None


def test_unreachable_database_is_a_clear_error(tmp_path: object) -> None:
    from fabgrid.errors import InputError

    with pytest.raises(InputError, match="cannot open the database"):
        upgrade("postgresql://nobody@127.0.0.1:1/none")

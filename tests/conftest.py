"""Shared test fixtures: an isolated data directory per test session, service availability."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest


def service_up(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a local service is missing, but fail under CI (CI=true): CI must have it."""
    if service_up(host, port):
        return
    msg = f"{name} is not answering at {host}:{port}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg + " (CI=true: a missing service fails the run)")
    pytest.skip(msg)


@pytest.fixture(autouse=True, scope="session")
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = tmp_path_factory.mktemp("fabgrid-data")
    os.environ["FABGRID_DATA_DIR"] = str(data)
    os.environ.pop("FABGRID_DATABASE_URL", None)


@pytest.fixture
def shared_benchmarks() -> Path:
    """../shared/benchmarks beside the checkout; skipped when absent (it is third-party data)."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
    if not path.is_dir():
        pytest.skip("../shared/benchmarks not found")
    return path


PG_ADMIN_URL = os.environ.get("FABGRID_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def pg_url() -> object:
    """A fresh, empty PostgreSQL database on the local server, dropped afterwards."""
    import uuid

    require_service("PostgreSQL", "127.0.0.1", 5432)
    from sqlalchemy import create_engine, text

    name = f"fabgrid_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        from fabgrid.store.db import get_engine

        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite:///{tmp_path / 'fabgrid.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each repository test runs against SQLite and against the local PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fabgrid.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url

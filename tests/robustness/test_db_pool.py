"""Issue 16, item 12: a saturated connection pool refuses at once (503 problem with Retry-After, after the short
pool timeout) instead of stalling 30 s and answering 500; the pool is bounded by the settings. SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.config import Settings
from fabgrid.store.db import DatabaseBusy, get_engine


@pytest.fixture
def small_pool(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    settings = Settings(data_dir=tmp_path, database_url=db_url, broker_url=None, mqtt_url=None, embedded_fleet=False,
                        db_pool_size=1, db_pool_timeout_s=0.3)
    with TestClient(create_app(settings)) as c:
        yield c, db_url
    from fabgrid.services.platform import configure_database

    configure_database(Settings(data_dir=tmp_path, database_url=db_url, broker_url=None, mqtt_url=None))


def test_a_saturated_pool_answers_503_with_retry_after(small_pool: tuple[TestClient, str]) -> None:
    client, url = small_pool
    assert client.get("/api/v1/sites").status_code == 200
    engine = get_engine(url)  # the app's engine: 1 connection + 1 in overflow
    assert engine.pool.size() == 1  # type: ignore[attr-defined]
    held = [engine.connect(), engine.connect()]  # a slow request holding every connection
    try:
        t0 = time.monotonic()
        r = client.get("/api/v1/sites")
        took = time.monotonic() - t0
        assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["title"] == "db.busy" and int(r.headers["Retry-After"]) >= 1
        assert took < 3.0  # the pool timeout (0.3 s), not SQLAlchemy's default 30 s
        with pytest.raises(DatabaseBusy):
            engine.connect()
    finally:
        for conn in held:
            conn.close()
    assert client.get("/api/v1/sites").status_code == 200  # free again


def test_past_max_in_flight_requests_are_refused_at_once(tmp_path: Path, sqlite_url: str) -> None:
    """One request in progress (it waits for a held connection) with FABGRID_MAX_IN_FLIGHT=1: the next is a 503
    with Retry-After at once; /health still answers."""
    import threading

    settings = Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url=None, mqtt_url=None,
                        embedded_fleet=False, db_pool_size=1, db_pool_timeout_s=2.0, max_in_flight=1)
    try:
        with TestClient(create_app(settings)) as client:
            engine = get_engine(sqlite_url)
            held = [engine.connect(), engine.connect()]
            slow: list[int] = []
            first = threading.Thread(target=lambda: slow.append(client.get("/api/v1/sites").status_code))
            first.start()
            time.sleep(0.5)  # the first request is in progress, waiting for a connection
            t0 = time.monotonic()
            r = client.get("/api/v1/processes")
            took = time.monotonic() - t0
            assert r.status_code == 503 and r.json()["title"] == "server.busy" and r.headers["Retry-After"] == "1"
            assert r.headers["x-frame-options"] == "DENY" and took < 1.0
            assert client.get("/health").status_code in (200, 503)  # never refused by the shedder
            first.join(10)
            for conn in held:
                conn.close()
            assert slow == [503]  # the first one ran out of the pool timeout: refused too, not a 500
            assert client.get("/api/v1/processes").status_code == 200
    finally:
        from fabgrid.services.platform import configure_database

        configure_database(Settings(data_dir=tmp_path, database_url=sqlite_url, broker_url=None, mqtt_url=None))

"""Fixtures of the page tests: one app on a fresh SQLite database; browsers are TestClients with cookies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pages_kit import Site

from fabgrid.app import create_app
from fabgrid.config import Settings


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("pages")
    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'fabgrid.db'}", broker_url=None, mqtt_url=None)
    app = create_app(settings)
    with TestClient(app) as first:
        yield Site(app, settings, first)

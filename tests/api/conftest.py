"""Fixtures of the web-platform API tests: an app on a fresh SQLite database and data directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from web_kit import Platform, make_settings

from fabgrid.app import create_app


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("platform"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)

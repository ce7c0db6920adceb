"""Fixtures of the web-platform service tests: settings on a migrated SQLite database, a buyer principal."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabgrid.config import Settings
from fabgrid.services import accounts
from fabgrid.store.db import upgrade


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("FABGRID_MASTER_KEY", raising=False)
    s = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'fabgrid.db'}", broker_url=None,
                 mqtt_url=None)
    upgrade(s.database_url)
    return s


@pytest.fixture
def buyer(settings: Settings) -> accounts.Principal:
    return accounts.signup(settings.database_url, email="ada@robotics.example.com", password="correct horse battery",
                           name="Ada", organisation="Xiangjiang Robotics")

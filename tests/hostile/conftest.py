"""Fixtures of the attack suite: the API on a fresh SQLite database (the API tests' `Platform`), the corpus."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))  # web_kit: the API tests' helpers
from web_kit import Platform, make_settings

from fabgrid.app import create_app


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # every corpus file is analysed inside its upload request (the path whose answer is the 4xx)
    settings = replace(make_settings(tmp_path_factory.mktemp("hostile")), inline_analysis_max_bytes=64 * 2**20)
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)

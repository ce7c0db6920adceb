"""Shared pieces of the browser tests: Debian's Chromium, its flags, the artifacts folder, the server record."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--use-gl=angle", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"]


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` unless `condition`; under CI=true fail instead (CI has the browser)."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " (CI=true: the browser tests must run)")
    pytest.skip(reason)


@dataclass(frozen=True)
class Server:
    """A running fabgrid server."""

    url: str
    data_dir: Path
    database_url: str

"""Dispatch through the Moonraker connector against a protocol SIMULATOR of Moonraker's web API (simulators.py):
upload with print=true, follow with Klipper's layer counts to complete, cancel, a refused key."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildStatus, ConnectionState
from fabgrid.services import builds, dispatch

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f01"
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


@needs_slicer
def test_moonraker_prints_to_complete_with_layers_then_cancel(settings: Settings, moonraker: Any,
                                                              cube: Path) -> None:
    bad = dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="nope")
    assert bad.state is ConnectionState.UNAUTHORIZED
    link = dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    assert link.state is ConnectionState.CONNECTED, link.message
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.2)
    assert result.build.status is BuildStatus.DONE and moonraker.uploads == [f"{build.id}.gcode"]
    layers = [e for e in result.events if e["type"] == "layer"]
    assert layers and all(e["layers"] == 20 and "basis" not in e for e in layers)
    assert result.events[-1]["good"] == 1
    moonraker.print_s = 60.0
    second = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    dispatch.dispatch_build(settings, second.id)
    assert dispatch.cancel_build(settings, second.id).status is BuildStatus.CANCELLED
    assert moonraker.state == "cancelled"

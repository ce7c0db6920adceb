"""Dispatch through the PrusaLink connector against a protocol SIMULATOR of PrusaLink's v1 API (simulators.py,
from Prusa-Link-Web's spec/openapi.yaml): upload with Print-After-Upload, follow to FINISHED, stop a job, a refused
key; and a slicer that is not installed names the Debian package."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fabgrid.config import Settings
from fabgrid.dispatch.slicer import find_slicer
from fabgrid.domain.dispatch import BuildStatus, ConnectionState
from fabgrid.errors import InputError
from fabgrid.services import builds, dispatch

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f02"
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


@needs_slicer
def test_prusalink_upload_with_print_after_upload_runs_to_done(settings: Settings, prusalink: Any,
                                                               cube: Path) -> None:
    link = dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="prusa-key")
    assert link.state is ConnectionState.CONNECTED, link.message
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.3)
    assert result.build.status is BuildStatus.DONE, result.build.message
    name, size, flag = prusalink.uploads[0]
    assert name == f"{build.id}.gcode" and size > 1000 and flag == "?1"
    end = result.events[-1]
    assert end["event"] == "end" and end["good"] == 1 and end["outcome"] == "done"
    assert {e["type"] for e in result.events} >= {"job", "state", "temperature", "layer"}


@needs_slicer
def test_prusalink_stop_and_refused_key(settings: Settings, prusalink: Any, cube: Path) -> None:
    bad = dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="wrong")
    assert bad.state is ConnectionState.UNAUTHORIZED and "401" in bad.message
    dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="prusa-key")
    prusalink.print_s = 60.0
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")
    dispatch.dispatch_build(settings, build.id)
    cancelled = dispatch.cancel_build(settings, build.id)
    assert cancelled.status is BuildStatus.CANCELLED and prusalink.state == "STOPPED"


def test_missing_slicer_names_the_package() -> None:
    with pytest.raises(InputError) as exc:
        find_slicer("prusa-slicer-that-is-not-installed")
    assert exc.value.code == "dispatch.no_slicer" and "apt-get install prusa-slicer" in (exc.value.hint or "")


@needs_slicer
def test_slicer_failure_fails_the_build_and_frees_its_parts(settings: Settings, prusalink: Any,
                                                            tmp_path: Path) -> None:
    dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="prusa-key")
    import trimesh

    tall = tmp_path / "tall.stl"
    trimesh.creation.box((5.0, 5.0, 200.0)).export(tall)  # fits the K1 Max's 300 mm; sliced with a broken model
    build = builds.create_build(settings, SITE, MACHINE, [tall], "fdm_petg")
    Path(str(build.model_file)).write_bytes(b"not a 3mf")
    with pytest.raises(InputError) as exc:
        dispatch.dispatch_build(settings, build.id)
    assert exc.value.code == "dispatch.slicer_failed" and "PrusaSlicer failed" in exc.value.message
    after = dispatch.get_build(settings, build.id)
    assert after.status is BuildStatus.FAILED and not after.status.active
    assert prusalink.uploads == []


@needs_slicer
def test_dropped_connection_mid_print_keeps_the_build_and_says_so(settings: Settings, prusalink: Any,
                                                                  cube: Path) -> None:
    import threading
    import time

    dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="prusa-key")
    prusalink.print_s = 60.0
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg", copies=2)

    def drop() -> None:
        time.sleep(1.5)
        prusalink.server.shutdown()
        prusalink.server.server_close()

    t = threading.Thread(target=drop)
    t.start()
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.3, lost_s=2.0)
    t.join()
    assert result.build.status is BuildStatus.PRINTING and result.build.status.active  # parts still held
    assert "lost the connection" in result.build.message and "dispatch --wait" in result.build.message
    assert result.build.estimated_time_s > 0  # PrusaSlicer's estimate from the G-code
    assert result.events[-1]["type"] == "state" and result.events[-1]["state"] == "offline"


@needs_slicer
def test_two_dispatches_of_one_build_upload_it_once(settings: Settings, prusalink: Any, cube: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    dispatch.connect_machine(settings, MACHINE, "prusalink", prusalink.url, api_key="prusa-key")
    prusalink.print_s = 60.0
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")

    def send() -> str:
        try:
            return dispatch.dispatch_build(settings, build.id).build.status.value
        except InputError as exc:
            return str(exc.code)

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: send(), range(2)))
    # the second either lost the claim or came after the first had sent it (then it only reads the state)
    assert "printing" in outcomes and set(outcomes) <= {"printing", "dispatch.sending"}
    assert len(prusalink.uploads) == 1

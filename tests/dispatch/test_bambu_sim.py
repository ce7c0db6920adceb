"""Dispatch through the Bambu Lab LAN connector. The MQTT side runs on a real Mosquitto with TLS and a password
file (user bblp, the access code), standing for the printer's own broker; the printer and its implicit-FTPS server
are protocol SIMULATORS (simulators.BambuPrinterSimulator, BambuFtpsSimulator) written from OpenBambuAPI's notes:
upload a 3MF over FTPS, print.project_file, follow the (delta) reports to FINISH, stop, pause/resume, a refused
access code, another filament loaded."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import BAMBU_CODE, BAMBU_SERIAL, BambuLan
from fabgrid.config import Settings
from fabgrid.dispatch.base import Connection, HostState, JobOutcome, connector
from fabgrid.domain.dispatch import BuildStatus, ConnectionState
from fabgrid.errors import InputError
from fabgrid.services import builds, dispatch

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f02"
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


def _connect(settings: Settings, bambu: BambuLan, code: str = BAMBU_CODE) -> dispatch.MachineConnection:
    return dispatch.connect_machine(settings, MACHINE, "bambu", bambu.url, serial=BAMBU_SERIAL, access_code=code)


@needs_slicer
def test_bambu_uploads_a_3mf_over_ftps_prints_and_reports_to_finish(settings: Settings, bambu: BambuLan,
                                                                    cube: Path) -> None:
    link = _connect(settings, bambu)
    assert link.state is ConnectionState.CONNECTED and link.kind == "bambu", link.message
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.3)
    assert result.build.status is BuildStatus.DONE, result.build.message
    file = f"{build.id}.gcode.3mf"
    with zipfile.ZipFile(io.BytesIO(bambu.ftps.files[file])) as z:
        plate = z.read("Metadata/plate_1.gcode")
    assert len(plate) > 1000 and b"G1 " in plate
    start = next(c for c in bambu.printer.commands if c["command"] == "project_file")
    assert start["url"] == f"file:///sdcard/{file}" and start["param"] == "Metadata/plate_1.gcode"
    assert start["subtask_name"] == f"{build.id}.gcode"
    layers = [e for e in result.events if e["type"] == "layer"]
    assert layers and all(e["layers"] == 25 for e in layers) and layers[-1]["layer"] == 25
    temps = {e["sensor"] for e in result.events if e["type"] == "temperature"}
    assert {"tool0", "bed"} <= temps
    end = result.events[-1]
    assert end["event"] == "end" and end["good"] == 1 and end["outcome"] == "done"
    stored = dispatch.machine_events(settings, build.id)
    assert len(stored) == len(result.events) and {e.type for e in stored} >= {"job", "state", "layer"}


@needs_slicer
def test_bambu_stop_cancels_and_frees_the_build(settings: Settings, bambu: BambuLan, cube: Path) -> None:
    _connect(settings, bambu)
    bambu.printer.print_s = 60.0
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")
    sent = dispatch.dispatch_build(settings, build.id)
    assert sent.build.status is BuildStatus.PRINTING
    cancelled = dispatch.cancel_build(settings, build.id)
    assert cancelled.status is BuildStatus.CANCELLED and not cancelled.status.active
    deadline = time.monotonic() + 5
    while bambu.printer.state["gcode_state"] != "FAILED":
        assert time.monotonic() < deadline, "the printer never got print.stop"
        time.sleep(0.1)
    assert bambu.printer.state["print_error"] == 50348044
    host = connector(Connection("bambu", bambu.url, serial=BAMBU_SERIAL, access_code=BAMBU_CODE))
    try:
        st = host.status()
    finally:
        host.close()
    assert st.state is HostState.IDLE and st.outcome is JobOutcome.CANCELLED


def test_bambu_pause_resume_and_merged_delta_reports(bambu: BambuLan) -> None:
    bambu.printer.print_s = 8.0  # long enough to see it print and pause on a loaded machine

    def until(state: HostState, within_s: float = 10.0) -> Any:
        """The printer's report once it reaches `state` (its reports come over MQTT: polled, never slept on)."""
        deadline = time.monotonic() + within_s
        while (st := host.status()).state is not state:
            assert time.monotonic() < deadline, st
            time.sleep(0.1)
        return st

    host = connector(Connection("bambu", bambu.url, serial=BAMBU_SERIAL, access_code=BAMBU_CODE))
    try:
        assert host.status().state is HostState.IDLE
        host.start("raw.gcode", b"G28\nG1 X10 Y10\n" * 200)
        st = until(HostState.PRINTING)
        assert st.state is HostState.PRINTING and st.job == "raw.gcode" and st.material == "PETG"
        assert st.temperatures["tool0"] == (220.0, 220.0) and st.layers == 25
        with pytest.raises(InputError) as busy:
            host.start("second.gcode", b"G28\n")
        assert busy.value.code == "dispatch.busy"
        host.pause()  # type: ignore[attr-defined]
        until(HostState.PAUSED)
        host.resume()  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while (st := host.status()).outcome is not JobOutcome.DONE:
            assert time.monotonic() < deadline, st
            time.sleep(0.3)
        assert st.progress == 1.0 and st.layer == 25 and st.state is HostState.IDLE
    finally:
        host.close()


def test_bambu_refused_access_code_and_unreachable(settings: Settings, bambu: BambuLan, closed_port: int) -> None:
    bad = _connect(settings, bambu, code="00000000")
    assert bad.state is ConnectionState.UNAUTHORIZED and "access code" in bad.message
    gone = dispatch.connect_machine(settings, MACHINE, "bambu", f"mqtts://127.0.0.1:{closed_port}",
                                    serial=BAMBU_SERIAL, access_code=BAMBU_CODE)
    assert gone.state is ConnectionState.UNREACHABLE and "cannot be reached" in gone.message
    with pytest.raises(InputError) as exc:
        dispatch.connect_machine(settings, MACHINE, "bambu", bambu.url, serial=BAMBU_SERIAL)
    assert exc.value.code == "dispatch.api_key" and "--access-code" in (exc.value.hint or "")
    with pytest.raises(InputError) as exc:
        dispatch.connect_machine(settings, MACHINE, "bambu", "http://127.0.0.1", serial="S", access_code="C")
    assert exc.value.code == "dispatch.url"


@needs_slicer
def test_bambu_other_filament_loaded_keeps_the_build_queued(settings: Settings, bambu: BambuLan,
                                                            cube: Path) -> None:
    _connect(settings, bambu)
    bambu.printer.state["vt_tray"]["tray_type"] = "PLA"
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_petg")
    with pytest.raises(InputError) as exc:
        dispatch.dispatch_build(settings, build.id)
    assert exc.value.code == "dispatch.material" and "PLA" in exc.value.message
    after = dispatch.get_build(settings, build.id)
    assert after.status is BuildStatus.PLANNED and bambu.ftps.files == {}

"""Dispatch to a real OctoPrint server with its virtual printer: a build is sliced by PrusaSlicer with the machine's
exported profile, uploaded with print=true, followed to completion with its machine events stored; a cancel
mid-print frees the build's parts; a wrong key, an unreachable host and a busy printer are clear states."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildStatus, ConnectionState
from fabgrid.errors import InputError
from fabgrid.services import builds, dispatch, jobs

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f01"  # a Creality K1 Max of the shipped network

pytestmark = [pytest.mark.integration, pytest.mark.slow]
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


def _wait_idle(octoprint: Any) -> None:
    deadline = time.monotonic() + 60
    while octoprint.api("GET", "/api/job").json()["state"] != "Operational":
        assert time.monotonic() < deadline
        time.sleep(0.5)


@needs_slicer
def test_dispatch_follows_a_build_to_done_and_stores_its_events(settings: Settings, octoprint: Any,
                                                                cube: Path) -> None:
    _wait_idle(octoprint)
    link = dispatch.connect_machine(settings, MACHINE, "octoprint", octoprint.url, api_key=octoprint.api_key)
    assert link.state is ConnectionState.CONNECTED and link.host == octoprint.url
    assert [m.machine_id for m in dispatch.list_machines(settings, SITE)] == [MACHINE]
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla", copies=2)
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.5)
    assert result.build.status is BuildStatus.DONE, result.build.message
    kinds = [e["type"] for e in result.events]
    assert kinds[0] == "job" and result.events[0]["event"] == "start"
    end = result.events[-1]
    assert end["type"] == "job" and end["event"] == "end" and end["good"] == 2 and end["scrap"] == 0
    states = [e["state"] for e in result.events if e["type"] == "state"]
    assert states[0] == "producing" and states[-1] == "idle"
    temps = [e for e in result.events if e["type"] == "temperature" and e["sensor"] == "tool0"]
    assert max(e["temperature_c"] for e in temps) > 150  # the virtual printer heated to the PLA profile's nozzle
    progress = [e["layer"] for e in result.events if e["type"] == "layer"]
    assert progress == sorted(progress) and progress[-1] == 100
    stored = dispatch.machine_events(settings, build.id)
    assert [e.id for e in stored] == [e["id"] for e in result.events]
    assert octoprint.api("GET", "/api/job").json()["job"]["file"]["name"] == f"{build.id}.gcode"
    # the same event model as MQTT/OPC UA telemetry: each event validates, and the KPI engine reads them
    from fabgrid.domain.telemetry import EVENT_ADAPTER
    from fabgrid.services.machine_data import kpis_of_file

    for e in result.events:
        EVENT_ADAPTER.validate_python(e)
    path = settings.data_dir / "events.jsonl"
    path.write_text("".join(e.model_dump_json(exclude_none=True) + "\n" for e in stored), encoding="utf-8")
    [row] = [r for r in kpis_of_file(path).rows if r.scope == "machine" and r.key == MACHINE]
    assert row.quality_ratio == 1.0 and row.availability is not None and row.availability > 0.5
    with pytest.raises(InputError) as again:
        dispatch.dispatch_build(settings, build.id)
    assert again.value.code == "dispatch.final"


@needs_slicer
def test_cancel_mid_print_puts_the_parts_back(settings: Settings, octoprint: Any, cube: Path) -> None:
    _wait_idle(octoprint)
    dispatch.connect_machine(settings, MACHINE, "octoprint", octoprint.url, api_key=octoprint.api_key)
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    dispatch.dispatch_build(settings, build.id)
    assert dispatch.get_build(settings, build.id).status is BuildStatus.PRINTING
    busy = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    with pytest.raises(InputError) as refused:
        dispatch.dispatch_build(settings, busy.id)
    assert refused.value.code == "dispatch.busy" and "waits in the queue" in refused.value.message
    assert dispatch.get_build(settings, busy.id).status is BuildStatus.PLANNED  # still queued

    def cancel_when_printing() -> None:
        deadline = time.monotonic() + 60
        while octoprint.api("GET", "/api/job").json()["state"] != "Printing" and time.monotonic() < deadline:
            time.sleep(0.3)
        dispatch.cancel_build(settings, build.id)

    t = threading.Thread(target=cancel_when_printing)
    t.start()
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.5)
    t.join()
    assert result.build.status is BuildStatus.CANCELLED
    assert "back in the queue" in result.build.message
    end = [e for e in dispatch.machine_events(settings, build.id) if e.type == "job" and e.event == "end"]
    assert len(end) == 1 and end[0].good == 0 and end[0].scrap == 1
    _wait_idle(octoprint)


def test_wrong_key_and_unreachable_host_are_clear_states(settings: Settings, octoprint: Any,
                                                          closed_port: int) -> None:
    wrong = dispatch.connect_machine(settings, MACHINE, "octoprint", octoprint.url, api_key="not-the-key")
    assert wrong.state is ConnectionState.UNAUTHORIZED and "refused the API key (403" in wrong.message
    gone = dispatch.connect_machine(settings, MACHINE, "octoprint", f"http://127.0.0.1:{closed_port}",
                                    api_key="k")
    assert gone.state is ConnectionState.UNREACHABLE and "cannot be reached" in gone.message
    build = builds.create_build(settings, SITE, MACHINE, [_cube(settings.data_dir)], "fdm_pla")
    with pytest.raises(InputError) as exc:
        dispatch.dispatch_build(settings, build.id)
    assert exc.value.code == "dispatch.unreachable"
    assert dispatch.get_build(settings, build.id).status is BuildStatus.PLANNED  # nothing lost


def _cube(folder: Path) -> Path:
    import trimesh

    path = folder / "c.stl"
    trimesh.creation.box((8.0, 8.0, 3.0)).export(path)
    return path


def _box_stl(x: float, y: float, z: float) -> bytes:
    import trimesh

    m = trimesh.creation.box((x, y, z))
    m.apply_translation((x / 2, y / 2, z / 2))
    data: bytes = m.export(file_type="stl")
    return data


@needs_slicer
def test_two_buyers_orders_become_one_mixed_build_printed_on_octoprint(settings: Settings, octoprint: Any) -> None:
    from fastapi.testclient import TestClient

    from fabgrid.app import create_app
    from fabgrid.services import accounts

    password = "correct horse battery"
    _wait_idle(octoprint)
    with TestClient(create_app(settings)) as client:
        def login(email: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": email, "password": password})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        orders: list[dict[str, Any]] = []
        buyers: list[dict[str, str]] = []
        for n, dims in enumerate([(12.0, 10.0, 3.0), (8.0, 8.0, 4.0)]):
            email = f"buyer{n}@org{n}.example.com"
            r = client.post("/api/v1/auth/signup", json={"email": email, "password": password, "name": f"B{n}",
                                                         "organisation": f"Buyer {n}"})
            assert r.status_code == 201, r.text
            h = login(email)
            buyers.append(h)
            part = client.post("/api/v1/parts", files={"file": (f"p{n}.stl", _box_stl(*dims))}, headers=h).json()
            q = client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": n + 1,
                                                    "destination": "Changsha"}, headers=h).json()
            assert SITE in {o["site"] for o in q["offers"]}, q["offers"]
            r = client.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": SITE}],
                                                    "consent_design_sharing": True}, headers=h)
            assert r.status_code == 201, r.text
            orders.append(r.json())
        accounts.signup(settings.database_url, email="f@tianxin.example.com", password=password, name="F",
                        organisation="Tianxin works", role="factory", site_id=SITE)
        fh = login("f@tianxin.example.com")
        plan = client.post("/api/v1/factory/builds/plan", headers=fh)
        assert plan.status_code == 200, plan.text
        [build] = plan.json()["builds"]
        assert {p["line_id"] for p in build["parts"]} == {o["lines"][0]["id"] for o in orders}  # two buyers, mixed
        assert build["copies"] == 3 and build["status"] == "planned" and build["material"] == "fdm_pla"
        r = client.put(f"/api/v1/factory/machines/{build['machine_id']}/connection",
                       json={"kind": "octoprint", "url": octoprint.url, "api_key": octoprint.api_key}, headers=fh)
        assert r.json()["state"] == "connected", r.text
        cancelled = client.post(f"/api/v1/factory/builds/{build['id']}/cancel", headers=fh).json()
        assert cancelled["status"] == "cancelled" and "back in the queue" in cancelled["message"]
        again = client.post("/api/v1/factory/builds/plan", headers=fh).json()
        [replanned] = [b for b in again["builds"] if b["status"] == "planned"]
        assert replanned["id"] != build["id"] and replanned["copies"] == 3  # the cancelled build's parts, again
        assert {p["line_id"] for p in replanned["parts"]} == {p["line_id"] for p in build["parts"]}
        build = replanned
        sent = client.post(f"/api/v1/factory/builds/{build['id']}/dispatch", headers=fh)  # the factory starts it
        assert sent.status_code == 202, sent.text
        followed = jobs.wait(settings, sent.json()["job"]["id"], timeout_s=240)
        assert followed.status == "succeeded" and followed.result and followed.result["status"] == "done", followed
        assert dispatch.get_build(settings, build["id"]).operator == "F"  # who started it, for the genealogy
        for o, h in zip(orders, buyers, strict=True):
            mine = client.get(f"/api/v1/orders/{o['id']}", headers=h).json()
            assert mine["lines"][0]["status"] == "built"
            assert [e["status"] for e in mine["timeline"]][-2:] == ["in_production", "built"]
        r = client.post(f"/api/v1/factory/orders/{orders[0]['id']}/inspection", json={"passed": True,
                        "inspected_qty": 1, "measurements": {"x_mm": 12.01}}, headers=fh)
        assert r.status_code == 200, r.text
        ins = r.json()["lines"][0]["inspection"]
        assert ins["build_id"] == build["id"] and ins["machine_id"] == build["machine_id"]
        assert ins["build_operator"] == "F" and ins["by"] == "f@tianxin.example.com"
        from fabgrid.services import orders as order_service
        from fabgrid.services.accounts import Principal
        from fabgrid.web.buyer import inspection_html

        ops = Principal(user_id=0, email="ops@park", name="ops", role="operator", organisation_id=0,
                        organisation="park", site_id=None)
        report = inspection_html(order_service.get_order(settings, ops, orders[0]["id"]), "zh")
        assert f"成型批次 {build['id']}" in report and "开机操作员 F" in report  # the genealogy in the report
        kept = client.post("/api/v1/factory/builds/plan", headers=fh).json()
        assert [b["id"] for b in kept["builds"] if b["status"] != "cancelled"] == [build["id"]]  # kept, no new


@needs_slicer
def test_the_camera_pauses_a_failing_print_through_octoprint(settings: Settings, octoprint: Any, cube: Path) -> None:
    """A camera (the SIMULATOR of camera_sim.py) shows spaghetti while the virtual printer prints: after two
    anomalous frames in a row fabgrid pauses the job through OctoPrint's REST API; then it is cancelled."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from camera_sim import CameraSimulator

    from fabgrid.services import camera_watch

    _wait_idle(octoprint)
    dispatch.connect_machine(settings, MACHINE, "octoprint", octoprint.url, api_key=octoprint.api_key)
    with CameraSimulator() as camera:
        camera_watch.link_camera(settings, MACHINE, camera.url, pause_after=2, every_s=1.0, learn_frames=6,
                                 learn_gap_s=0.0)
        camera.mode = "failure"
        build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
        result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.5, timeout_s=20)
    frames = [e for e in result.events if e["type"] == "camera"]
    assert [e["anomalous"] for e in frames] == [True, True], frames
    assert result.build.message.startswith("paused by the camera watch"), result.build.message
    deadline = time.monotonic() + 30
    while octoprint.api("GET", "/api/job").json()["state"] != "Paused":
        assert time.monotonic() < deadline, octoprint.api("GET", "/api/job").json()
        time.sleep(0.3)
    assert dispatch.cancel_build(settings, build.id).status is BuildStatus.CANCELLED
    camera_watch.unlink_camera(settings, MACHINE)
    _wait_idle(octoprint)

"""A machine's camera watching its builds (issue 20, item 4), against a camera SIMULATOR (camera_sim.py, synthetic
frames of a print bed over HTTP) and the Moonraker protocol SIMULATOR: the detector is learnt from the camera's
normal frames; while a build prints each scored frame is a `camera` machine event; after `pause_after` anomalous
frames in a row the print is paused through the host and the build says why; a normal print is never paused; a
camera that answers no image, cannot be reached or is linked to a machine without a host is a clear error and
changes nothing; the API and the CLI link, show and remove a camera. The real OctoPrint pause is in
test_octoprint.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from camera_sim import CameraSimulator
from fastapi.testclient import TestClient

from fabgrid.app import create_app
from fabgrid.cli import main
from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildStatus
from fabgrid.errors import InputError
from fabgrid.services import accounts, builds, camera_watch, dispatch

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f01"
PASSWORD = "correct horse battery"
needs_slicer = pytest.mark.skipif(shutil.which("prusa-slicer") is None,
                                  reason="prusa-slicer is not installed (Debian package prusa-slicer)")


@pytest.fixture
def camera() -> Iterator[CameraSimulator]:
    with CameraSimulator() as sim:
        yield sim


@needs_slicer
def test_anomalous_frames_in_a_row_pause_the_print(settings: Settings, moonraker: Any, camera: CameraSimulator,
                                                   cube: Path) -> None:
    dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    link = camera_watch.link_camera(settings, MACHINE, camera.url, pause_after=2, every_s=1.0, learn_frames=6,
                                    learn_gap_s=0.0)
    assert link.frames == 6 and link.camera == camera.url.split("/webcam")[0] and link.threshold > 0
    assert camera_watch.model_path(settings, MACHINE).is_file()
    moonraker.print_s = 120.0
    camera.fail_from = camera.requests + 3  # two normal frames of the print, then spaghetti
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.2, timeout_s=12)
    frames = [e for e in result.events if e["type"] == "camera"]
    assert [e["anomalous"] for e in frames[:4]] == [False, False, True, True], frames
    assert frames[3]["streak"] == 2 and frames[3]["score"] > frames[3]["threshold"]
    assert len(frames) == 4  # no frame is scored once the print is paused
    assert moonraker.state == "paused"
    assert result.build.status is BuildStatus.PRINTING
    assert result.build.message.startswith("paused by the camera watch: 2 anomalous frames in a row")
    assert any(e["type"] == "state" and e["state"] == "unplanned_downtime" for e in result.events)
    stored = [e for e in dispatch.machine_events(settings, build.id) if e.type == "camera"]
    assert len(stored) == 4  # the frames are machine events of the build
    again = dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    assert again.state.value == "connected" and camera_watch.camera_of(settings, MACHINE) is not None  # kept
    assert dispatch.cancel_build(settings, build.id).status is BuildStatus.CANCELLED
    assert moonraker.state == "cancelled"


@needs_slicer
def test_a_normal_print_is_not_paused(settings: Settings, moonraker: Any, camera: CameraSimulator,
                                      cube: Path) -> None:
    dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    camera_watch.link_camera(settings, MACHINE, camera.url, pause_after=3, every_s=1.0, learn_frames=8,
                             learn_gap_s=0.0)
    moonraker.print_s = 5.0
    build = builds.create_build(settings, SITE, MACHINE, [cube], "fdm_pla")
    result = dispatch.dispatch_build(settings, build.id, wait=True, poll_s=0.2)
    assert result.build.status is BuildStatus.DONE, result.build.message
    frames = [e for e in result.events if e["type"] == "camera"]
    assert len(frames) >= 3 and all(e["streak"] < 3 for e in frames)


def test_bad_cameras_are_clear_errors_and_change_nothing(settings: Settings, moonraker: Any,
                                                         camera: CameraSimulator, closed_port: int) -> None:
    with pytest.raises(InputError) as no_host:
        camera_watch.link_camera(settings, MACHINE, camera.url, learn_gap_s=0.0)
    assert no_host.value.code == "dispatch.not_connected" and "print host first" in str(no_host.value.hint)
    dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    camera.mode = "page"
    with pytest.raises(InputError) as page:
        camera_watch.link_camera(settings, MACHINE, camera.url, learn_gap_s=0.0)
    assert page.value.code == "dispatch.camera" and "not a JPEG or PNG image" in page.value.message
    assert "snapshot URL" in str(page.value.hint)
    with pytest.raises(InputError) as gone:
        camera_watch.link_camera(settings, MACHINE, f"http://127.0.0.1:{closed_port}/snap.jpg", learn_gap_s=0.0)
    assert gone.value.code == "dispatch.camera" and "cannot be reached" in gone.value.message
    for kw, code in (({"pause_after": 0}, "camera.pause_after"), ({"every_s": 0.1}, "camera.every"),
                     ({"learn_frames": 4}, "camera.frames")):
        with pytest.raises(InputError) as bad:
            camera_watch.link_camera(settings, MACHINE, camera.url, learn_gap_s=0.0, **kw)
        assert bad.value.code == code
    with pytest.raises(InputError) as scheme:
        camera_watch.link_camera(settings, MACHINE, "file:///etc/passwd")
    assert scheme.value.code == "camera.url"
    for metadata in ("http://169.254.169.254/latest/meta-data/", "http://100.100.100.200/latest/meta-data/",
                     "http://[::ffff:169.254.169.254]/", "http://[2002:a9fe:a9fe::1]/snap.jpg", "http://[fe80::1]/"):
        with pytest.raises(InputError) as ssrf:  # a cloud metadata service is never a camera (nothing is fetched)
            camera_watch.link_camera(settings, MACHINE, metadata, learn_gap_s=0.0)
        assert ssrf.value.code == "camera.url" and "metadata" in ssrf.value.message, metadata
    with pytest.raises(InputError) as host:
        dispatch.connect_machine(settings, MACHINE, "moonraker", "http://169.254.169.254", api_key="moon-key")
    assert host.value.code == "dispatch.url"
    assert camera_watch.camera_of(settings, MACHINE) is None  # nothing was linked
    assert not camera_watch.model_path(settings, MACHINE).exists()


def test_the_api_and_the_cli_link_show_and_remove_a_camera(settings: Settings, moonraker: Any,
                                                           camera: CameraSimulator,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABGRID_DATA_DIR", str(settings.data_dir))  # the CLI's master key and detector files
    dispatch.connect_machine(settings, MACHINE, "moonraker", moonraker.url, api_key="moon-key")
    accounts.signup(settings.database_url, email="f@tianxin.example.com", password=PASSWORD, name="F",
                    organisation="Tianxin works", role="factory", site_id=SITE)
    accounts.signup(settings.database_url, email="g@other.example.com", password=PASSWORD, name="G",
                    organisation="Other works", role="factory", site_id="cs-jingkai-01")
    with TestClient(create_app(settings)) as client:
        def login(email: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        fh, other = login("f@tianxin.example.com"), login("g@other.example.com")
        url = f"/api/v1/factory/machines/{MACHINE}/camera"
        assert client.get(url, headers=fh).status_code == 404
        r = client.put(url, json={"url": camera.url, "pause_after": 4, "every_s": 5, "learn_frames": 5}, headers=fh)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["pause_after"] == 4 and doc["frames"] == 5 and "webcam" not in json.dumps(doc)  # no path shown
        assert client.get(url, headers=fh).json()["threshold"] == doc["threshold"]
        assert client.get(url, headers=other).status_code in (403, 404)  # another site's machine
        bad = client.put(url, json={"url": camera.url, "pause_after": 99}, headers=fh)
        assert bad.status_code == 422
        assert client.delete(url, headers=fh).status_code == 204
        assert client.get(url, headers=fh).status_code == 404
    db = ["--database-url", settings.database_url]
    with pytest.raises(SystemExit) as shown:
        main(["machines", "camera", MACHINE, *db])
    assert shown.value.code == 1 and "no camera" in capsys.readouterr().out
    main(["machines", "camera", MACHINE, "--url", camera.url, "--frames", "5", "--every", "2", "--json", *db])
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 5 and out["every_s"] == 2.0 and out["pause_after"] == 3
    main(["machines", "camera", MACHINE, "--remove", *db])
    assert camera_watch.camera_of(settings, MACHINE) is None


def test_devices_may_be_on_the_factory_network_but_never_a_metadata_service() -> None:
    import ipaddress

    from fabgrid.services.device_urls import address_refusal

    for ok in ("192.168.1.20", "10.0.0.5", "127.0.0.1", "100.101.102.103", "fd7a:115c:a1e0::1", "8.8.8.8"):
        assert address_refusal(ipaddress.ip_address(ok)) is None, ok  # LAN, loopback, Tailscale, public
    for bad in ("169.254.169.254", "100.100.100.200", "fe80::1", "224.0.0.1", "0.0.0.0", "::ffff:169.254.1.1"):
        assert address_refusal(ipaddress.ip_address(bad)) is not None, bad

"""The camera card of a factory's machine page (issue 20, item 4): a machine with a print host (the Moonraker
protocol SIMULATOR) gets its camera (the camera SIMULATOR, tests/dispatch/camera_sim.py) from the page: the frames
are learnt, the card says how the builds are watched, in zh-CN and en; a bad URL is refused in the page's
language and changes nothing; the camera is removed from the page."""

from __future__ import annotations

import html
import sys
from pathlib import Path

from pages_kit import Site, csrf_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dispatch"))
from camera_sim import CameraSimulator
from simulators import MoonrakerSimulator

from fabgrid.services import camera_watch, dispatch

SITE = "cs-tianxin-01"
MACHINE = "cs-tianxin-01-f01"


def test_a_factory_links_and_removes_a_camera_from_the_machine_page(site: Site) -> None:
    with MoonrakerSimulator("moon-key", print_s=3.0) as host, CameraSimulator() as camera:
        dispatch.connect_machine(site.settings, MACHINE, "moonraker", host.url, api_key="moon-key")
        zh = site.browser("zh-CN")
        site.login(zh, site.account("factory", site_id=SITE))
        page = zh.get(f"/factory/machines/{MACHINE}")
        assert page.status_code == 200 and 'id="camera-card"' in page.text and 'id="camera-none"' in page.text
        assert "摄像头监控" in page.text and "快照地址" in page.text and "(已连接)" in page.text  # the host's state
        token = csrf_of(page.text)
        bad = zh.post(f"/factory/machines/{MACHINE}/camera", data={"csrf_token": token, "url": "ftp://cam.local/x",
                                                                    "pause_after": "3", "every_s": "10",
                                                                    "learn_frames": "5"})
        assert bad.status_code == 422 and "摄像头地址无效" in html.unescape(bad.text)
        assert camera_watch.camera_of(site.settings, MACHINE) is None  # nothing changed
        r = zh.post(f"/factory/machines/{MACHINE}/camera", data={"csrf_token": token, "url": camera.url,
                                                                  "pause_after": "4", "every_s": "5",
                                                                  "learn_frames": "5"})
        assert r.status_code == 303 and r.headers["location"].endswith("?done=camera"), r.text[:500]
        linked = html.unescape(zh.get(r.headers["location"]).text)
        assert 'id="camera-linked"' in linked and "每 5 秒拍一帧" in linked and "连续 4 帧异常" in linked
        assert "webcam" not in linked.split('id="camera-linked"')[1].split("</p>")[0]  # the URL's path is not shown
        en = site.browser("en")
        site.login(en, site.account("factory", site_id=SITE))
        shown = html.unescape(en.get(f"/factory/machines/{MACHINE}").text)
        assert "a frame every 5 s while a build prints" in shown and "after 4 anomalous frames" in shown
        r = zh.post(f"/factory/machines/{MACHINE}/camera/remove", data={"csrf_token": token})
        assert r.status_code == 303
        assert 'id="camera-none"' in zh.get(f"/factory/machines/{MACHINE}").text
        assert camera_watch.camera_of(site.settings, MACHINE) is None
        other = site.browser("en")
        site.login(other, site.account("factory", site_id="cs-jingkai-01"))
        refused = other.post(f"/factory/machines/{MACHINE}/camera", data={"csrf_token": csrf_of(
            other.get("/factory/machines").text), "url": camera.url})
        assert refused.status_code in (403, 404)  # another site's machine

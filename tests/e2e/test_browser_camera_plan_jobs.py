"""This session's pages in headless Chromium against a real server, in zh-CN and en, with screenshots in
test-artifacts/e2e/control-*.png: a machine's camera card linked to the camera SIMULATOR (tests/dispatch/camera_sim.py)
through the page (its print host: the Moonraker protocol SIMULATOR), the buyer's inspection plan of an order line,
and the operator's jobs page (queues, the jobs running now, the failed jobs with their reason)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server, login

from fabgrid.services import accounts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dispatch"))
from camera_sim import CameraSimulator
from simulators import MoonrakerSimulator

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
SITE = "cs-yuelu-01"  # a site no other browser test uses: the server's database is shared by them
MACHINE = "cs-yuelu-01-f01"


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"control-{name}.png"), full_page=True)


def _login(page: Any, server: Server, email: str) -> None:
    login(page, server, email, PASSWORD)


def _buyer_order(server: Server) -> str:
    box = trimesh.creation.box((12.0, 10.0, 3.0))
    box.apply_translation((6.0, 5.0, 1.5))
    with httpx.Client(base_url=server.url, timeout=60) as c:
        c.post("/api/v1/auth/signup", json={"email": "plan@buyer.example.com", "password": PASSWORD, "name": "P",
                                            "organisation": "Plan buyer"})
        token = c.post("/api/v1/auth/token", data={"username": "plan@buyer.example.com",
                                                   "password": PASSWORD}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        part = c.post("/api/v1/parts", files={"file": ("bracket.stl", box.export(file_type="stl"))}, headers=h).json()
        q = c.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 4,
                                           "destination": "Changsha"}, headers=h).json()
        r = c.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": SITE}],
                                           "consent_design_sharing": True}, headers=h)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def test_camera_card_inspection_plan_and_jobs_pages(browser: Any, server: Server) -> None:
    order_id = _buyer_order(server)
    accounts.signup(server.database_url, email="cam@yuelu.example.com", password=PASSWORD, name="Cam",
                    organisation="Yuelu camera", role="factory", site_id=SITE)
    accounts.signup(server.database_url, email="ops@park.example.com", password=PASSWORD, name="Ops",
                    organisation="Park operations", role="operator")
    with MoonrakerSimulator("moon-key", print_s=3.0) as host, CameraSimulator() as camera:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        _login(page, server, "cam@yuelu.example.com")
        page.goto(server.url + "/factory/machines/" + MACHINE)
        with httpx.Client(base_url=server.url, timeout=60) as c:  # the print host, through the API
            token = c.post("/api/v1/auth/token", data={"username": "cam@yuelu.example.com",
                                                       "password": PASSWORD}).json()["access_token"]
            r = c.put(f"/api/v1/factory/machines/{MACHINE}/connection", headers={"Authorization": f"Bearer {token}"},
                      json={"kind": "moonraker", "url": host.url, "api_key": "moon-key"})
            assert r.json()["state"] == "connected", r.text
        page.goto(server.url + "/lang/zh?next=/factory/machines/" + MACHINE)
        page.wait_for_selector("#camera-none")
        page.fill("#camera-card input[name=url]", camera.url)
        page.fill("#camera-card input[name=learn_frames]", "5")
        page.click("#camera-card .camera-form button[type=submit]")
        page.wait_for_selector("#camera-linked")
        assert "连续 3 帧异常" in page.inner_text("#camera-linked")
        _shot(page, "01-camera-zh")
        page.goto(server.url + "/lang/en?next=/factory/machines/" + MACHINE)
        assert "after 3 anomalous frames" in page.inner_text("#camera-linked")
        _shot(page, "02-camera-en")
        page.click("#camera-card form[action$='/camera/remove'] button")  # leave the machine as it was
        page.wait_for_selector("#camera-none")
        page.close()

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    _login(page, server, "plan@buyer.example.com")
    page.goto(server.url + f"/lang/zh?next=/orders/{order_id}")
    page.click("a.plan-link")
    page.wait_for_selector("#plan-form")
    page.fill("#plan-form textarea[name=plan]", "bore_d 5.00 ± 0.05\nslot_w 8.0 +0.1 -0.0")
    page.click("#plan-save")
    page.wait_for_selector("#plan-features tr[data-feature='slot_w']")
    _shot(page, "03-plan-zh")
    page.goto(server.url + f"/lang/en?next={page.url.split(server.url)[1].split('?')[0]}")
    page.wait_for_selector("#plan-features")
    _shot(page, "04-plan-en")
    page.close()

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    _login(page, server, "ops@park.example.com")
    page.goto(server.url + "/lang/zh?next=/operator/jobs")
    page.wait_for_selector("#job-queues tr[data-queue='analysis']")
    assert "后台任务" in page.inner_text("h1")
    _shot(page, "05-jobs-zh")
    page.goto(server.url + "/lang/en?next=/operator/jobs")
    page.wait_for_selector("#job-queues")
    _shot(page, "06-jobs-en")
    page.close()

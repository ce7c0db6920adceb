"""The factory's production pages in headless Chromium against a real server (issue 20): two buyers' orders at one
site, the factory re-plans them into one mixed build (its order lines, customers, plate picture and 3MF), locks and
unlocks it, sees the week's Gantt in calendar time with staffed hours, marks the build's machine in maintenance (the
plan moves off it), and reads its machines' data source (the demo fleet says simulated) with OEE, utilisation and
energy. Every page again in Chinese. Screenshots go to test-artifacts/e2e/production-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server

from fabgrid.services import accounts

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
SITE = "cs-tianxin-01"


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"production-{name}.png"), full_page=True)


def _stl(x: float, y: float, z: float) -> bytes:
    m = trimesh.creation.box((x, y, z))
    m.apply_translation((x / 2, y / 2, z / 2))
    data: bytes = m.export(file_type="stl")
    return data


def _order(server: Server, n: int, dims: tuple[float, float, float]) -> str:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        email = f"prod-buyer{n}@org{n}.example.com"
        c.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": f"B{n}",
                                            "organisation": f"Production buyer {n}"})
        token = c.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        part = c.post("/api/v1/parts", files={"file": (f"p{n}.stl", _stl(*dims))}, headers=h).json()
        q = c.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": n + 1,
                                           "destination": "Changsha"}, headers=h).json()
        r = c.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": SITE}],
                                           "consent_design_sharing": True}, headers=h)
        assert r.status_code == 201, r.text
        return str(r.json()["lines"][0]["id"])


def test_builds_gantt_and_machine_pages(browser: Any, server: Server) -> None:
    lines = {_order(server, n, dims) for n, dims in enumerate([(12.0, 10.0, 3.0), (8.0, 8.0, 4.0)])}
    accounts.signup(server.database_url, email="prod@tianxin.example.com", password=PASSWORD, name="F",
                    organisation="Tianxin production", role="factory", site_id=SITE)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "prod@tianxin.example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()

    page.goto(server.url + "/factory/builds")
    page.click("#replan")
    page.wait_for_selector("#builds tr[data-build]")
    rows = page.locator("#builds tbody > tr[data-build]")
    assert rows.count() == 1
    build = rows.first.get_attribute("data-build")
    assert {page.locator(".build-line").nth(i).get_attribute("data-line") for i in range(2)} == lines
    assert "Production buyer 0" in page.inner_text("#builds") and "Production buyer 1" in page.inner_text("#builds")
    assert page.locator("img.build-picture").count() == 1 and page.locator("a.download-3mf").count() == 1
    assert page.evaluate("document.querySelector('img.build-picture').naturalWidth") > 0
    page.click(f"tr[data-build='{build}'] .lock-btn")
    page.wait_for_selector(f"tr[data-build='{build}'].locked")
    _shot(page, "01-builds-en")

    page.goto(server.url + "/factory/gantt")
    page.wait_for_selector("#gantt-svg")
    assert page.locator(f"#gantt-svg rect.op[data-build='{build}']").count() >= 1
    assert page.locator(f"#gantt-svg rect.op.locked[data-build='{build}']").count() >= 1
    assert page.locator("#gantt-svg rect.staffed").count() >= 5
    assert "2 lines" in page.inner_text("#gantt-summary")
    _shot(page, "02-gantt-en")
    page.click(f"#gantt-builds tr[data-build='{build}'] .lock-btn")  # unlock, so the build may move
    page.wait_for_selector("#gantt-svg")
    assert page.locator(f"#gantt-svg rect.op[data-build='{build}'][data-step^='print']").count() == 1
    printer = page.inner_text(f"#gantt-builds tr[data-build='{build}'] td:nth-child(3)").strip()
    form = page.locator(f"#gantt-machines tr[data-machine='{printer}'] form")
    form.locator("select[name=mark]").select_option("maintenance")
    form.locator("input[name=hours]").fill("24")
    form.locator("button").click()
    page.wait_for_selector(f"#gantt-svg rect.down[data-machine='{printer}']")
    _shot(page, "03-gantt-maintenance-en")

    page.goto(server.url + "/factory/machines")
    sources = {page.locator("#machine-list tr[data-machine]").nth(i).get_attribute("data-source")
               for i in range(page.locator("#machine-list tr[data-machine]").count())}
    assert sources <= {"simulated", "no_data", "connected", "telemetry"} and sources
    _shot(page, "04-machines-en")
    page.goto(server.url + f"/factory/machines/{printer}")
    assert "planned downtime" in page.inner_text("#machine-figures")
    _shot(page, "05-machine-en")

    for path, name in (("/factory/builds", "06-builds-zh"), ("/factory/gantt", "07-gantt-zh"),
                       ("/factory/machines", "08-machines-zh"), (f"/factory/machines/{printer}", "09-machine-zh")):
        page.goto(server.url + f"/lang/zh?next={path}")
        page.wait_for_load_state()
        assert page.get_attribute("html", "lang") == "zh-CN"
        _shot(page, name)
    page.goto(server.url + "/factory/gantt")
    assert "本计划满足" in page.inner_text("#gantt-summary")
    page.goto(server.url + "/lang/en?next=/factory")
    page.close()

"""End-to-end in headless Chromium against a real server: sign up -> upload (drag-and-drop input) -> 3D view
(the WebGL canvas draws the part with the findings coloured) -> quote -> order -> status; a factory sees
only its work; Chinese pages. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import numpy as np
import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server, fill_checkout

from fabgrid.services import accounts

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def finned_block_stl() -> bytes:
    """A 40 x 30 x 20 mm block with a 0.6 mm fin on top: orderable, with thin-wall warnings on the fin's faces."""
    block = trimesh.creation.box((40.0, 30.0, 20.0))
    fin = trimesh.creation.box((30.0, 0.6, 10.0), transform=trimesh.transformations.translation_matrix([0, 0, 15]))
    data: bytes = trimesh.util.concatenate([block, fin]).export(file_type="stl")
    return data


def _plate_photo(path: Any) -> None:
    """A 320 x 240 'photo' of a build plate: a gradient with three grey parts, as PNG."""
    from PIL import Image, ImageDraw

    img = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(3):
        draw.rectangle((30 + 95 * i, 90, 100 + 95 * i, 160), fill=(170, 175, 185), outline=(40, 40, 40))
    img.save(path, format="PNG")


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _canvas_pixels(page: Any) -> np.ndarray:
    from PIL import Image

    png = page.locator("#viewer canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_buyer_journey_and_factory_isolation(browser: Any, server: Server, tmp_path: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server.url + "/")
    _shot(page, "01-home")
    page.click("#cta-signup")
    page.fill("input[name=name]", "Ada Lin")
    page.fill("input[name=organisation]", "Xiangjiang Robotics E2E")
    page.fill("input[name=email]", "ada.e2e@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url(re.compile(r"/parts$"))

    stl = tmp_path / "bracket.stl"
    stl.write_bytes(finned_block_stl())
    page.set_input_files("#file-input", str(stl))
    page.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    page.wait_for_selector("#viewer[data-status=ready]")
    assert page.get_attribute("#viewer", "data-triangles") == "24"
    assert int(page.get_attribute("#viewer", "data-marked") or "0") >= 2
    _shot(page, "02-part-viewer")
    px = _canvas_pixels(page)
    assert px.std() > 5, "the WebGL canvas is blank"
    # warning faces are drawn orange (R high, G middle, B low): the fin must show
    orange = (px[..., 0] > 150) & (px[..., 0] - px[..., 2] > 90) & (px[..., 1] > 60) & (px[..., 1] < px[..., 0] - 30)
    assert orange.sum() > 50, "the thin fin's faces are not highlighted"

    page.select_option("#process", "fdm")
    page.select_option("#material", "fdm_pla")
    page.fill("#quantity", "3")
    page.click("#quote-form button[type=submit]")
    page.wait_for_url(re.compile(r"/quotes/quo_[0-9a-f]+$"))
    offers = page.locator("article.offer")
    assert offers.count() >= 2
    _shot(page, "03-offers")
    second = offers.nth(1)
    site_id = second.get_attribute("data-site")
    second.locator("input[name=site]").check()
    second.locator("select").select_option("economy")  # express is offered only where it is faster (issue 17)
    page.click("#order-submit")
    fill_checkout(page)  # the one offer goes through the checkout (address, consent, review)
    order_id = page.url.rsplit("/", 1)[1]
    assert page.locator("#order-status").inner_text().strip() == "allocated"
    assert page.locator("#timeline tbody tr").count() == 2
    facts = page.locator("#order-facts").inner_text()
    assert "economy" in facts and re.search(r"Design sharing\s+yes", facts)
    _shot(page, "04-order-status")

    # the factory of the chosen site sees the order; another factory does not
    for email, sid in (("fab.e2e@park.example.com", site_id), ("other.e2e@park.example.com", None)):
        if sid is None:
            from fabgrid.data import load_network

            sid = next(s for s in load_network().sites if s != site_id)
        accounts.signup(server.database_url, email=email, password=PASSWORD, name="Factory", role="factory",
                        organisation=f"E2E factory {sid}", site_id=sid)
    fac = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    fac.set_default_timeout(60_000)
    fac.goto(server.url + "/login")
    fac.fill("input[name=email]", "fab.e2e@park.example.com")
    fac.fill("input[name=password]", PASSWORD)
    fac.click("#login-form button[type=submit]")
    fac.wait_for_url(re.compile(r"/factory$"))
    assert fac.locator(f'tr[data-order="{order_id}"]').count() == 1
    assert "工厂任务" in fac.content()  # Chinese from Accept-Language
    fac.locator(f'tr[data-order="{order_id}"] form.accept-form button').click()  # the factory takes the work
    fac.wait_for_url(re.compile(r"/factory\?done=1$"))
    fac.locator(f'tr[data-order="{order_id}"] form[action$="/status"] button').click()  # -> in production
    fac.wait_for_url(re.compile(r"/factory\?done=1$"))
    photo = tmp_path / "plate.png"
    _plate_photo(photo)
    row = fac.locator(f'tr[data-order="{order_id}"]')
    row.locator("details.photo summary").click()
    row.locator("form.photo-form input[type=file]").set_input_files(str(photo))
    row.locator("form.photo-form button").click()
    fac.wait_for_url(re.compile(r"/factory\?done=1$"))
    _shot(fac, "05-factory-zh")
    other = browser.new_context(locale="en-US").new_page()
    other.goto(server.url + "/login")
    other.fill("input[name=email]", "other.e2e@park.example.com")
    other.fill("input[name=password]", PASSWORD)
    other.click("#login-form button[type=submit]")
    other.wait_for_url(re.compile(r"/factory$"))
    assert order_id not in other.content()
    _shot(other, "06-other-factory")

    page.reload()
    assert page.locator("#order-status").inner_text().strip() == "in production"
    assert page.locator("#photos img").count() == 1
    assert page.locator("#photos img").evaluate("img => img.naturalWidth") == 320
    page.click("#lang-switch a[hreflang=zh]")
    page.wait_for_load_state()
    assert page.locator("#order-status").inner_text().strip() == "生产中"
    _shot(page, "07-order-zh")
    assert not errors, errors


def test_operator_sees_the_load_map(browser: Any, server: Server) -> None:
    accounts.signup(server.database_url, email="op.e2e@park.example.com", password=PASSWORD, name="Operator",
                    role="operator", organisation="E2E park operations")
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=email]", "op.e2e@park.example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/operator$"))
    assert page.locator("#load-map g.site").count() >= 10
    # every site of the table is on the map: a mark of its own, or a member of a cluster at this zoom
    on_map = page.locator("#load-map g.site[data-site]").count() + page.locator("#load-map g.member").count()
    assert page.locator("#site-loads tbody tr").count() == on_map
    # the telemetry KPIs are computed in the background; the page shows them once ready
    deadline = time.monotonic() + 60
    while page.locator("#kpi-computing").count() and time.monotonic() < deadline:
        time.sleep(2)
        page.reload()
    kpis = page.locator("#kpis").inner_text()
    assert "OEE (8 h)" in kpis or "no machine telemetry" in kpis, kpis
    _shot(page, "08-operator-map")

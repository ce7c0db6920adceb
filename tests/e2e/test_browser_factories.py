"""A factory joins through the pages in headless Chromium against a real server: it signs up and applies (a wrong
check character of the credit code is shown on the form), the operator approves it in the queue, the factory declares
a Prusa MK4 with PLA in stock and a rate on its storefront, a buyer's PLA quote shows its offer, at capacity it shows
none; the operator verifies it and its booth is in the showroom. Every page again in Chinese. Screenshots go to
test-artifacts/e2e/factories-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server

from fabgrid.services import accounts

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
CODE = "91430100MA4L0XXXXD"


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # a saved form lands on its #anchor; sticky headers would move
    page.screenshot(path=str(ARTIFACTS / f"factories-{name}.png"), full_page=True)


def _login(page: Any, server: Server, email: str) -> None:
    page.goto(server.url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def _quote_sites(page: Any, server: Server, stl: Any) -> set[str]:
    page.goto(server.url + "/parts")
    page.set_input_files("#file-input", str(stl))
    page.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    page.wait_for_selector("#viewer[data-status=ready]")
    page.select_option("#process", "fdm")
    page.select_option("#material", "fdm_pla")
    page.fill("#quantity", "4")
    page.click("#quote-form button[type=submit]")
    page.wait_for_url(re.compile(r"/quotes/quo_[0-9a-f]+$"))
    return {page.locator("article.offer").nth(i).get_attribute("data-site") or ""
            for i in range(page.locator("article.offer").count())}


def test_a_factory_joins_through_the_pages(browser: Any, server: Server, tmp_path: Any) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server.url + "/join")
    page.fill("#factory-signup-form input[name=name]", "Li Wei")
    page.fill("#factory-signup-form input[name=organisation]", "Lugu Additive E2E")
    page.fill("#factory-signup-form input[name=email]", "li.e2e@lugu-am.example.com")
    page.fill("#factory-signup-form input[name=password]", PASSWORD)
    page.click("#factory-signup-form button[type=submit]")
    page.wait_for_selector("#application-form")
    fields = {"legal_name": "长沙麓谷增材科技有限公司", "address": "岳麓区麓谷大道 627 号", "contact_name": "Li Wei",
              "contact_phone": "+86 731 8888 0000", "cert_name_0": "ISO 9001", "cert_number_0": "CN-QMS-2025-0815",
              "cert_expires_0": "2028-06-30"}
    for k, v in fields.items():
        page.fill(f"#application-form [name={k}]", v)
    page.select_option("#application-form [name=province]", "Hunan")
    page.select_option("#application-form [name=city]", "Changsha")
    page.fill("#application-form [name=credit_code]", CODE[:-1] + "7")
    page.click("#application-form button[type=submit]")
    page.wait_for_selector("#form-error")
    assert "position 18" in page.inner_text("#form-error") and "'D'" in page.inner_text("#form-error")
    _shot(page, "01-application-wrong-code-en")
    page.fill("#application-form [name=credit_code]", CODE)
    page.click("#application-form button[type=submit]")
    page.wait_for_selector("#my-applications")
    assert "pending" in page.inner_text("#my-applications")
    _shot(page, "02-application-sent-en")

    accounts.signup(server.database_url, email="op.factories.e2e@park.example.com", password=PASSWORD, name="Zhou Min",
                    organisation="Park operations (factories E2E)", role="operator")
    op = ctx.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    op.set_default_timeout(60_000)
    _login(op, server, "op.factories.e2e@park.example.com")
    op.goto(server.url + "/operator/factories")
    card = op.locator("section.card[data-application]").first
    assert CODE in card.inner_text()
    card.locator(".approve-form input[name=reason]").fill("licence checked on gsxt.gov.cn")
    _shot(op, "03-operator-queue-en")
    card.locator(".approve-form button").click()
    op.wait_for_selector("#probation")
    _shot(op, "04-operator-approved-en")

    page.goto(server.url + "/factory/storefront")
    page.select_option("#machines-form select[name=machine_model_0]", "prusa_mk4")
    page.fill("#machines-form input[name=machine_name_0]", "MK4 #1")
    page.click("#machines-form button[type=submit]")
    page.wait_for_selector("#materials-form")
    page.select_option("#materials-form select[name=stock_material_0]", "fdm_pla")
    page.fill("#materials-form input[name=stock_kg_0]", "25")
    page.fill("#materials-form input[name=stock_lot_0]", "PLA-2026-11-A")
    page.click("#materials-form button[type=submit]")
    page.wait_for_selector("#rates-form input[name=rate_prusa_mk4]")
    page.fill("#rates-form input[name=rate_prusa_mk4]", "12")
    page.click("#rates-form button[type=submit]")
    page.wait_for_load_state()
    assert page.input_value("#rates-form input[name=rate_prusa_mk4]") == "12.0"
    _shot(page, "05-storefront-en")
    site_id = (page.get_attribute("#store-status a", "href") or "").rsplit("/", 1)[1]

    buyer = ctx.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    buyer.set_default_timeout(60_000)
    buyer.goto(server.url + "/signup")
    for k, v in {"name": "Ada Lin", "organisation": "Xiangjiang Robotics F2E", "email": "ada.f2e@example.com",
                 "password": PASSWORD}.items():
        buyer.fill(f"#signup-form input[name={k}]", v)
    buyer.click("#signup-form button[type=submit]")
    buyer.wait_for_load_state()
    if "/login" in buyer.url or buyer.locator("#signup-form").count():  # sign-up answers "log in now"
        _login(buyer, server, "ada.f2e@example.com")
    stl = tmp_path / "block.stl"
    stl.write_bytes(trimesh.creation.box((80.0, 60.0, 40.0)).export(file_type="stl"))
    assert site_id in _quote_sites(buyer, server, stl)
    _shot(buyer, "06-quote-with-new-factory-en")

    page.goto(server.url + "/factory/storefront")
    page.check("#capacity-form input[name=at_capacity]")
    page.click("#capacity-form button[type=submit]")
    page.wait_for_selector("#at-capacity-badge")
    assert site_id not in _quote_sites(buyer, server, stl)

    op.goto(server.url + "/operator/factories")
    op.locator(f"#probation tr[data-site='{site_id}'] button").click()
    op.wait_for_load_state()
    booth = ctx.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    booth.goto(server.url + "/showroom?material=fdm_pla&city=Changsha")
    assert booth.locator(f"a.booth[data-site='{site_id}']").count() == 1
    _shot(booth, "07-showroom-en")
    booth.goto(server.url + f"/showroom/{site_id}")
    assert booth.locator("#verified-badge").count() == 1 and "Prusa" in booth.inner_text("#booth-machines")
    _shot(booth, "08-booth-en")

    # the same pages in Chinese
    for p, path, name in ((page, "/join", "09-application-zh"), (op, "/operator/factories", "10-operator-queue-zh"),
                          (page, "/factory/storefront", "11-storefront-zh"), (booth, "/showroom", "12-showroom-zh"),
                          (booth, f"/showroom/{site_id}", "13-booth-zh")):
        p.goto(server.url + f"/lang/zh?next={path}")
        p.wait_for_load_state()
        assert p.get_attribute("html", "lang") == "zh-CN"
        _shot(p, name)
    page.goto(server.url + "/join")
    assert "统一社会信用代码" in page.inner_text("#my-applications")
    booth.goto(server.url + f"/showroom/{site_id}")
    assert "已认证" in booth.inner_text("#verified-badge")
    assert not errors, errors
    ctx.close()

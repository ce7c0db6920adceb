"""A factory answers its allocated work on its page in headless Chromium against a real server (issue 18, item 5): a
buyer orders through the quote page and the checkout, the factory sees the line with accept, decline (with its
reasons) and propose-a-date, in English and in Chinese, and accepts it. Screenshots go to
test-artifacts/e2e/factory-answers-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server, fill_checkout
from test_browser_factories import PASSWORD, _login, _quote_sites

from fabgrid.services import accounts
from fabgrid.store.uow import UnitOfWork

pytestmark = pytest.mark.integration


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"factory-answers-{name}.png"), full_page=True)


def test_the_factory_accepts_on_its_page(browser: Any, server: Server, tmp_path: Any) -> None:
    accounts.signup(server.database_url, email="ans.buyer@example.com", password=PASSWORD, name="Buyer",
                    organisation="Answer Buyers E2E", role="buyer")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    buyer = ctx.new_page()
    buyer.set_default_timeout(60_000)
    errors: list[str] = []
    buyer.on("pageerror", lambda e: errors.append(str(e)))
    _login(buyer, server, "ans.buyer@example.com")
    stl = tmp_path / "plate.stl"
    stl.write_bytes(trimesh.creation.box((50.0, 40.0, 8.0)).export(file_type="stl"))
    assert _quote_sites(buyer, server, stl)
    first = buyer.locator("article.offer").nth(0)
    first.locator("input[name=site]").check()
    buyer.click("#order-submit")
    fill_checkout(buyer)
    order_id = re.search(r"/orders/(ord_[0-9a-f]+)$", buyer.url).group(1)  # type: ignore[union-attr]
    with UnitOfWork(server.database_url) as uow:
        order = uow.orders.get(order_id)
        assert order is not None
        site_id = str(order.lines[0].site_id)
    accounts.signup(server.database_url, email="ans.factory@example.com", password=PASSWORD, name="Shift lead",
                    organisation="Answer Factory E2E", role="factory", site_id=site_id)

    fctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    fac = fctx.new_page()
    fac.set_default_timeout(60_000)
    fac.on("pageerror", lambda e: errors.append(str(e)))
    _login(fac, server, "ans.factory@example.com")
    fac.goto(server.url + "/factory")
    row = fac.locator(f"#work tr[data-order='{order_id}']")
    assert row.locator("form.accept-form").count() == 1
    row.locator("details.decline summary").click()
    assert "Cannot meet the date" in row.locator("form.decline-form select").inner_text()
    row.locator("details.propose summary").click()
    _shot(fac, "01-work-en")
    fac.goto(server.url + "/lang/zh?next=/factory")
    fac.wait_for_load_state()
    assert fac.get_attribute("html", "lang") == "zh-CN"
    row = fac.locator(f"#work tr[data-order='{order_id}']")
    row.locator("details.decline summary").click()
    assert "无法按期交付" in row.locator("form.decline-form select").inner_text()
    _shot(fac, "02-work-zh")
    row.locator("form.accept-form button").click()
    fac.wait_for_load_state()
    assert fac.locator(f"#work tr[data-order='{order_id}'] .badge.accepted").count() == 1
    _shot(fac, "03-accepted-zh")
    assert not errors, errors
    ctx.close()
    fctx.close()

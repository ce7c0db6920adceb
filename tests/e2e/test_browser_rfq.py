"""Requests for quotes through the pages (issue 19) in headless Chromium against a real server. The buyer's half: an
RFQ of an uploaded part with a PDF drawing and an NDA sent to two factories, the bids side by side, the award, the
contract accepted, a message on the order's thread. The factory's half: the teaser (no file), the NDA accepted, the
files, the bid; the other factory bids on the teaser and learns it lost. The pages again in Chinese (CJK text is
rendered with the Noto CJK font). Screenshots go to test-artifacts/e2e/rfq-*.png."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server

from fabgrid.config import Settings
from fabgrid.services import accounts, exhibitions

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"rfq-{name}.png"), full_page=True)


def _login(page: Any, server: Server, email: str) -> None:
    page.goto(server.url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def _chinese(page: Any) -> None:
    page.click("#lang-switch a[hreflang=zh]")
    page.wait_for_load_state()


def _page(browser: Any) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US").new_page()
    page.set_default_timeout(60_000)
    return page


def _order_of(page: Any, server: Server, contract_url: str) -> str:
    page.goto(contract_url)
    href = page.get_attribute("a[href^='/orders/ord_']", "href") or ""
    return href.rsplit("/", 1)[1]


def _sites(server: Server) -> list[str]:
    url = server.url + "/api/v1/sites?verified=true&process=fdm&material=fdm_pla"
    with urllib.request.urlopen(url, timeout=30) as r:
        return sorted(s["id"] for s in json.load(r)["sites"])


def test_rfq_buyer_and_factory_halves(browser: Any, server: Server, tmp_path: Any) -> None:
    site_a, site_b = _sites(server)[:2]
    for who, site in (("a", site_a), ("b", site_b)):
        accounts.signup(server.database_url, email=f"rfq.{who}.e2e@factory.example.com", password=PASSWORD,
                        name=f"Factory {who.upper()}", organisation=f"RFQ E2E factory {who}", role="factory",
                        site_id=site)
    stl = tmp_path / "bracket.stl"
    trimesh.creation.box((40, 30, 20)).export(str(stl))
    import weasyprint

    pdf = tmp_path / "bracket-B12.pdf"
    pdf.write_bytes(weasyprint.HTML(string="<h1>Bracket B-12</h1><p>M6, ±0.05 mm</p>").write_pdf())

    # the buyer: a part, then the RFQ with the drawing and the NDA, sent to the two factories
    buyer = _page(browser)
    errors: list[str] = []
    buyer.on("pageerror", lambda e: errors.append(str(e)))
    buyer.goto(server.url + "/signup")
    for k, v in {"name": "Ada Lin", "organisation": "Xiangjiang Robotics RFQ", "email": "ada.rfq@example.com",
                 "password": PASSWORD}.items():
        buyer.fill(f"#signup-form input[name={k}]", v)
    buyer.click("#signup-form button[type=submit]")
    buyer.wait_for_load_state()
    buyer.goto(server.url + "/parts")
    buyer.set_input_files("#file-input", str(stl))
    buyer.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    part_id = buyer.url.rsplit("/", 1)[1]
    buyer.wait_for_selector("#viewer[data-status=ready]")
    # the park's exhibition: a booth of each factory; the buyer books a meeting and posts the RFQ to the exhibitors
    settings = Settings(data_dir=server.data_dir, database_url=server.database_url, broker_url=None, mqtt_url=None)
    op = accounts.signup(server.database_url, email="op.rfq.e2e@park.example.com", password=PASSWORD, name="Zhou",
                         organisation="Park operations (RFQ E2E)", role="operator")
    exh = exhibitions.create(settings, op, "湖南智能制造线上展", "precision parts", date.today(),
                             date.today() + timedelta(days=2))
    start = datetime.now(UTC) + timedelta(hours=2)
    for k, site in enumerate((site_a, site_b)):
        exhibitions.add_booth(settings, op, exh.id, site, ["PLA brackets"], [(start + timedelta(hours=k), 30)])
    buyer.goto(server.url + f"/exhibitions/{exh.id}")
    buyer.locator(f".booth[data-site='{site_a}'] .book-form button").click()
    buyer.wait_for_selector(f".booth[data-site='{site_a}'] .yours")
    _shot(buyer, "00-buyer-exhibition-en")
    buyer.goto(server.url + f"/rfqs?part={part_id}&exhibition={exh.id}")
    buyer.select_option("#rfq-process", "fdm")
    buyer.select_option("#rfq-material", "fdm_pla")
    buyer.fill("#rfq-quantities", "50, 500")
    buyer.set_input_files("#rfq-drawing", str(pdf))
    buyer.check("#rfq-form input[name=threads]")
    for s in (site_a, site_b):
        assert buyer.is_checked(f"#rfq-invite input[value='{s}']")  # the exhibitors
    _shot(buyer, "01-buyer-new-rfq-en")
    buyer.click("#rfq-form button[type=submit]")
    buyer.wait_for_url(re.compile(r"/rfqs/rfq_[0-9a-f]+$"))
    rfq_id = buyer.url.rsplit("/", 1)[1]
    assert buyer.locator(f"#invitations tr[data-site='{site_a}']").count() == 1
    assert buyer.locator(f"#invitations tr[data-site='{site_b}']").count() == 1
    _shot(buyer, "02-buyer-rfq-sent-en")

    # factory A: the teaser, the NDA, then the files and a bid
    fa = _page(browser)
    _login(fa, server, "rfq.a.e2e@factory.example.com")
    fa.goto(server.url + "/factory/rfqs")
    fa.click(f"#invitations tr[data-rfq='{rfq_id}'] a")
    fa.wait_for_selector("#nda-form")
    assert fa.inner_text("#access") == "teaser" and fa.locator(".drawing-link").count() == 0
    assert "bracket" not in fa.inner_text("#rfq-parts").lower()
    r = fa.request.get(server.url + f"/api/v1/factory/rfqs/{rfq_id}/parts/{part_id}/design")
    assert r.status == 403
    _shot(fa, "03-factory-teaser-en")
    fa.check("#nda-form input[name=agree]")
    fa.click("#nda-form button[type=submit]")
    fa.wait_for_selector(".drawing-link")
    assert fa.inner_text("#access") == "full"
    href = fa.get_attribute(".drawing-link", "href")
    assert fa.request.get(server.url + href).body() == pdf.read_bytes()
    fa.fill("#bid-form input[name=price_0_50]", "12.5")
    fa.fill("#bid-form input[name=price_0_500]", "9.8")
    fa.fill("#bid-form input[name=notes]", "PLA+, 0.1 mm layers")
    _shot(fa, "04-factory-full-bid-en")
    fa.click("#bid-form button[type=submit]")
    fa.wait_for_selector(".bid")
    assert "9.80" in fa.inner_text(".bid")

    # factory B bids on the teaser, withdraws and bids again
    fb = _page(browser)
    _login(fb, server, "rfq.b.e2e@factory.example.com")
    fb.goto(server.url + f"/factory/rfqs/{rfq_id}")
    fb.fill("#bid-form input[name=price_0_50]", "13")
    fb.click("#bid-form button[type=submit]")
    fb.wait_for_selector(".withdraw-form")
    fb.click(".withdraw-form button")
    fb.wait_for_selector("#bid-form")
    assert "withdrawn" in fb.inner_text(".bid")
    fb.fill("#bid-form input[name=price_0_50]", "11")
    fb.fill("#bid-form input[name=price_0_500]", "10.5")
    fb.fill("#bid-form input[name=lead_0_500]", "16")
    fb.click("#bid-form button[type=submit]")
    fb.wait_for_selector(".bid")

    # the buyer compares and awards A at 500; accepts the contract; writes on the order's thread
    buyer.goto(server.url + f"/rfqs/{rfq_id}")
    assert buyer.locator("#bids tbody tr").count() == 3  # B's withdrawn bid is listed, without an award button
    assert buyer.locator("#bids .award-form").count() == 2
    _shot(buyer, "05-buyer-bids-en")
    row = buyer.locator(f"#bids tr[data-site='{site_a}']")
    row.locator("select[name=quantity]").select_option("500")
    row.locator(".award-form button").click()
    buyer.wait_for_url(re.compile(r"/contracts/ctr_[0-9a-f]+$"))
    contract_url = buyer.url
    assert "4900.00" in buyer.inner_text("#contract-lines")
    buyer.click("#accept-form button")
    buyer.wait_for_load_state()
    assert buyer.locator("#accept-form").count() == 0
    _shot(buyer, "06-buyer-contract-en")
    buyer.click("#order-thread")
    buyer.fill("#message-form textarea[name=body]", "请按图纸 B-12 加工 / please follow drawing B-12")
    buyer.click("#message-form button[type=submit]")
    buyer.wait_for_selector("#messages li.message")
    _shot(buyer, "07-buyer-message-en")

    # factory A accepts the contract and answers; factory B learns it lost and cannot read the thread
    fa.goto(contract_url)
    fa.click("#accept-form button")
    fa.wait_for_load_state()
    assert fa.inner_text("#contract-status") == "signed"
    fa.click("#order-thread")
    assert "please follow drawing B-12" in fa.inner_text("#messages")
    fa.fill("#message-form textarea[name=body]", "收到 / noted")
    fa.click("#message-form button[type=submit]")
    fa.wait_for_selector("#messages li.message >> nth=1")
    thread_url = fa.url.split("#")[0]
    fb.goto(server.url + f"/factory/rfqs/{rfq_id}")
    assert fb.inner_text("#outcome") == "awarded to another factory" and "9.8" not in fb.inner_text("main")
    assert fb.goto(thread_url).status == 404

    # delivery (the factory's API, with its page session and CSRF token), then a claim through the pages
    order_id = _order_of(buyer, server, contract_url)
    csrf = next(c["value"] for c in fa.context.cookies() if c["name"] == "fabgrid_csrf")

    def factory_post(path: str, body: dict[str, Any] | None = None) -> None:
        r = fa.request.post(server.url + path, headers={"X-CSRF-Token": csrf}, data=body or {})
        assert r.ok, r.text()

    factory_post(f"/api/v1/factory/orders/{order_id}/accept")
    for st in ("in_production", "built"):
        factory_post(f"/api/v1/factory/orders/{order_id}/status", {"status": st})
    factory_post(f"/api/v1/factory/orders/{order_id}/inspection", {"passed": True, "inspected_qty": 20})
    for st in ("shipped", "delivered"):
        factory_post(f"/api/v1/factory/orders/{order_id}/status", {"status": st})
    photo = tmp_path / "warped.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 40, 40)).save(photo)
    buyer.goto(server.url + f"/orders/{order_id}/claims")
    buyer.fill("#claim-form textarea[name=description]", "12 of 500 warped")
    buyer.set_input_files("#claim-form input[name=photos]", str(photo))
    buyer.click("#claim-form button[type=submit]")
    buyer.wait_for_selector(".claim[data-status=open]")
    fa.goto(server.url + f"/orders/{order_id}/claims")
    fa.fill(".answer-form textarea[name=text]", "we remake 12 parts")
    fa.click(".answer-form button")
    fa.wait_for_selector(".claim[data-status=answered]")
    opp = _page(browser)
    _login(opp, server, "op.rfq.e2e@park.example.com")
    opp.goto(server.url + f"/orders/{order_id}/claims")
    opp.select_option(".decision-form select[name=outcome]", "partial_refund")
    opp.fill(".decision-form input[name=refund_cny]", "117.6")
    opp.click(".decision-form button")
    opp.wait_for_selector(".claim[data-status=decided]")
    assert "117.60" in opp.inner_text(".claim .outcome")
    _shot(opp, "12-claim-decided-en")
    with urllib.request.urlopen(server.url + f"/api/v1/sites/{site_a}", timeout=30) as r:
        assert json.load(r)["scorecard"]["claims_upheld"] >= 1

    # the same pages in Chinese, with the CJK font
    for page, url, name in ((buyer, f"/rfqs/{rfq_id}", "08-buyer-rfq-zh"), (buyer, contract_url, "09-contract-zh"),
                            (fb, f"/factory/rfqs/{rfq_id}", "10-factory-lost-zh"), (fa, thread_url, "11-thread-zh"),
                            (buyer, f"/orders/{order_id}/claims", "13-claims-zh")):
        page.goto(url if url.startswith("http") else server.url + url)
        if page.evaluate("document.documentElement.lang") != "zh-CN":
            _chinese(page)
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        _shot(page, name)
    assert "部分退款" in buyer.inner_text(".claim .outcome")  # the claims page, last of the loop
    buyer.goto(contract_url)
    assert "已签署" in buyer.inner_text("#contract-status")
    fb.goto(server.url + f"/factory/rfqs/{rfq_id}")
    assert fb.inner_text("#outcome") == "已授予其他工厂"
    buyer.goto(server.url + f"/exhibitions/{exh.id}")
    counts = buyer.inner_text("#counts")
    assert "询价: 1" in counts and "洽谈: 1" in counts and "现场签约项目: 1 (¥4900.00)" in counts, counts
    _shot(buyer, "14-exhibition-counts-zh")
    assert not errors, errors


def test_split_award_and_the_operators_exhibition_page(browser: Any, server: Server, tmp_path: Any) -> None:
    """The buyer splits an RFQ's two quantity tiers over two factories on the comparison per part; the operator
    edits an exhibition on its page; screenshots in English and Chinese (rfq-20..23)."""
    from fabgrid.services import rfq

    settings = Settings(data_dir=server.data_dir, database_url=server.database_url, broker_url=None, mqtt_url=None)
    site_a, site_b = _sites(server)[:2]
    buyer_p = accounts.signup(server.database_url, email="split.e2e@example.com", password=PASSWORD, name="Lin",
                              organisation="Split E2E Robotics")
    stl = tmp_path / "clip.stl"
    trimesh.creation.box((30, 20, 10)).export(str(stl))
    buyer = _page(browser)
    _login(buyer, server, "split.e2e@example.com")
    buyer.goto(server.url + "/parts")
    buyer.set_input_files("#file-input", str(stl))
    buyer.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    part_id = buyer.url.rsplit("/", 1)[1]
    buyer.wait_for_selector("#viewer[data-status=ready]")
    made = rfq.create_rfq(settings, buyer_p, [rfq.PartWish(part_id=part_id, quantities=(20, 200), material="fdm_pla",
                                                           process="fdm")],
                          need_by=date.today() + timedelta(days=40),
                          bid_deadline=datetime.now(UTC) + timedelta(hours=2), nda_required=False,
                          invite=[site_a, site_b])
    bids: dict[str, Any] = {}
    for k, site in enumerate((site_a, site_b)):
        fac = accounts.signup(server.database_url, email=f"split.{k}.e2e@factory.example.com", password=PASSWORD,
                              name=f"F{k}", organisation=f"Split E2E factory {k}", role="factory", site_id=site)
        bids[site] = rfq.place_bid(settings, fac, made.rfq.id, [
            {"part_id": part_id, "quantity": q, "unit_price_cny": p, "lead_time_days": 8}
            for q, p in ((20, 6.0 + k), (200, 4.0 - k))], valid_until=date.today() + timedelta(days=10))
    buyer.goto(server.url + f"/rfqs/{made.rfq.id}")
    buyer.select_option("#split-form select[name=pick_0_20]", bids[site_a].id)
    buyer.select_option("#split-form select[name=pick_0_200]", bids[site_b].id)
    _shot(buyer, "20-buyer-split-en")
    buyer.click("#split-form button[type=submit]")
    buyer.wait_for_selector("#awarded")
    assert buyer.locator("#awarded tbody tr").count() == 2 and buyer.inner_text("#rfq-status") == "awarded"
    _shot(buyer, "21-buyer-split-awarded-en")
    _chinese(buyer)
    assert "已授标" in buyer.inner_text("main")
    _shot(buyer, "21-buyer-split-awarded-zh")

    op = _page(browser)
    accounts.signup(server.database_url, email="op.split.e2e@park.example.com", password=PASSWORD, name="Zhou",
                    organisation="Park operations (split E2E)", role="operator")
    _login(op, server, "op.split.e2e@park.example.com")
    op.goto(server.url + "/operator/exhibitions")
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    op.fill("#exhibition-form input[name=name]", "湖南精密制造线上展")
    op.fill("#exhibition-form input[name=theme]", "precision parts")
    op.fill("#exhibition-form input[name=starts_on]", day.isoformat())
    op.fill("#exhibition-form input[name=ends_on]", (day + timedelta(days=1)).isoformat())
    op.click("#exhibition-form button[type=submit]")
    op.wait_for_url(re.compile(r"/operator/exhibitions/exh_[0-9a-f]+$"))
    op.select_option("#booth-new select[name=site_id]", site_a)
    op.fill("#booth-new input[name=featured]", "PLA clips, brackets")
    op.click("#booth-new button[type=submit]")
    op.wait_for_selector(f".booth[data-site='{site_a}'] .remove-slot")
    _shot(op, "22-operator-exhibition-en")
    _chinese(op)
    assert "添加展位" in op.inner_text("main")
    _shot(op, "23-operator-exhibition-zh")

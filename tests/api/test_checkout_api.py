"""Issue 17, item 7: checkout through the API and the pages. Shipping address, contact, PO number and tax details
are checked (GB 32100) and kept with the order; consent is a required choice and can be given later (the factory
may then download the design); lines are cancelled before production and not after; a delivered line is
reordered at a fresh quote; the old order bodies keep working."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import PASSWORD, Platform, box_stl

from fabgrid.services.factories import credit_code_rule

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def valid_code(first17: str = "91430100MA4L1234X") -> str:
    """A unified social credit code with the right GB 32100 check character."""
    return first17 + credit_code_rule().check_character(first17)


SHIPPING = {"recipient": "Li Lei", "phone": "0731-88886666", "province": "Hunan", "city": "Changsha",
            "district": "Yuelu", "street": "Lushan South Road 932", "postal_code": "410083"}


def _quote(platform: Platform, h: dict[str, str], part: dict[str, Any], qty: int) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": qty,
                                                     "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.fixture(scope="module")
def buyer(platform: Platform) -> dict[str, Any]:
    h = platform.buyer()
    return {"h": h, "part": platform.upload(h, box_stl(25, 25, 12), "mount.stl")}


def _order(platform: Platform, buyer: dict[str, Any], qty: int, **extra: Any) -> Any:
    q = _quote(platform, buyer["h"], buyer["part"], qty)
    body = {"quote_id": q["id"], "site": q["offers"][0]["site"]} | extra
    return q, platform.client.post("/api/v1/orders", json=body, headers=buyer["h"])


def test_checkout_details_are_checked(platform: Platform, buyer: dict[str, Any]) -> None:
    bad = valid_code()[:-1] + ("0" if valid_code()[-1] != "0" else "1")
    _, r = _order(platform, buyer, 2, shipping=SHIPPING, tax={"company_name": "Changsha Robotics Ltd",
                                                              "credit_code": bad})
    assert r.status_code == 422 and r.json()["title"] == "checkout.tax_credit_code"
    assert "check character" in r.json()["detail"]
    _, r = _order(platform, buyer, 2, shipping=SHIPPING | {"postal_code": "41008"})
    assert r.status_code == 422 and r.json()["title"] == "checkout.shipping_postal_code"
    special = {"company_name": "Changsha Robotics Ltd", "credit_code": valid_code(), "invoice_kind": "vat_special"}
    _, r = _order(platform, buyer, 2, shipping=SHIPPING, tax=special)
    assert r.status_code == 422 and r.json()["title"] == "checkout.tax_address"


def test_checkout_order_consent_later_and_cancel(platform: Platform, buyer: dict[str, Any]) -> None:
    tax = {"company_name": "长沙机器人有限公司", "credit_code": valid_code(),
           "address": "长沙市岳麓区麓山南路 932 号", "phone": "0731-88880000", "bank_name": "中国建设银行长沙岳麓支行",
           "bank_account": "4305 0161 6208 0000 0123", "invoice_kind": "vat_special"}
    q, r = _order(platform, buyer, 3, shipping=SHIPPING, po_number="PO-2026-0042", tax=tax,
                  contact={"email": "li.lei@robotics.example.com"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["consent_design_sharing"] is False
    got = platform.client.get(f"/api/v1/orders/{order['id']}/checkout", headers=buyer["h"]).json()
    assert got["po_number"] == "PO-2026-0042" and got["shipping"]["postal_code"] == "410083"
    assert got["tax"]["credit_code"] == valid_code() and got["tax"]["kind"] == "vat_special"
    assert got["contact"]["name"] == "Li Lei" and got["consent_at"] is None
    site = q["offers"][0]["site"]
    fh = platform.account("factory", site)
    design = f"/api/v1/factory/designs/{buyer['part']['id']}"
    assert platform.client.get(design, headers=fh).status_code == 403
    r = platform.client.post(f"/api/v1/orders/{order['id']}/consent", headers=buyer["h"])
    assert r.status_code == 200 and r.json()["consent_design_sharing"] is True
    assert platform.client.get(design, headers=fh).status_code == 200  # the factory sees the consent
    after = platform.client.get(f"/api/v1/orders/{order['id']}/checkout", headers=buyer["h"]).json()
    assert after["consent_at"] is not None
    notes = [e["note"] for e in platform.client.get(f"/api/v1/orders/{order['id']}", headers=buyer["h"]).json()
             ["timeline"]]
    assert "design sharing consented by the buyer" in notes
    # cancellation before production
    r = platform.client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "design changed"},
                             headers=buyer["h"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and all(ln["status"] == "cancelled" for ln in r.json()["lines"])
    again = platform.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=buyer["h"])
    assert again.status_code == 409
    other = platform.buyer()
    assert platform.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=other).status_code == 404


def test_no_cancel_after_production_starts_and_reorder(platform: Platform, buyer: dict[str, Any]) -> None:
    q, r = _order(platform, buyer, 4, consent_design_sharing=True)  # the old body, without checkout
    assert r.status_code == 201, r.text
    order = r.json()
    fh = platform.account("factory", q["offers"][0]["site"])

    def step(s: str) -> None:
        res = platform.client.post(f"/api/v1/factory/orders/{order['id']}/status", json={"status": s}, headers=fh)
        assert res.status_code == 200, res.text

    step("in_production")
    r = platform.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=buyer["h"])
    assert r.status_code == 409 and r.json()["title"] == "order.cancel_too_late"
    assert "production has started" in r.json()["detail"]
    line_id = order["lines"][0]["id"]
    r = platform.client.post(f"/api/v1/orders/{order['id']}/lines/{line_id}/reorder", headers=buyer["h"])
    assert r.status_code == 409  # only a delivered line
    step("built")
    ok = platform.client.post(f"/api/v1/factory/orders/{order['id']}/inspection",
                              json={"passed": True, "inspected_qty": 4}, headers=fh)
    assert ok.status_code == 200
    step("shipped")
    step("delivered")
    # the inspection report as a PDF, in Chinese, with the CJK font embedded
    email = f"reorder{platform._next()}@pages.example.com"
    from fabgrid.services import accounts

    accounts.signup(platform.settings.database_url, email=email, password=PASSWORD, name="R",
                    organisation=f"reorder colleague {email}", role="buyer")
    mine = _browser(platform, email)
    assert mine.get(f"/orders/{order['id']}/inspection-report.pdf").status_code == 404  # not the buyer's order
    b = _browser_of(platform, buyer)
    pdf = b.get(f"/orders/{order['id']}/inspection-report.pdf?lang=zh")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "检验报告" in text and order["id"] in text
    fonts = {str(f.get_object()["/BaseFont"]) for p in reader.pages
             for f in (p["/Resources"].get_object().get("/Font") or {}).values()}
    assert any("CJK" in f for f in fonts), fonts
    r = platform.client.post(f"/api/v1/orders/{order['id']}/lines/{line_id}/reorder", headers=buyer["h"])
    assert r.status_code == 201, r.text
    fresh = r.json()
    assert fresh["id"] != q["id"] and fresh["part_id"] == buyer["part"]["id"]
    assert fresh["request"]["quantity"] == 4 and fresh["request"]["material"] == "fdm_pla"
    assert fresh["request"]["destination"] == "Changsha" and fresh["offers"]
    assert platform.client.get(f"/api/v1/orders/{order['id']}/checkout", headers=buyer["h"]).status_code == 404


def _browser(platform: Platform, email: str) -> TestClient:
    b = TestClient(platform.client.app, follow_redirects=False, headers={"Accept-Language": "zh-CN"})
    m = _CSRF.search(b.get("/login").text)
    assert m is not None
    assert b.post("/login", data={"csrf_token": m.group(1), "email": email, "password": PASSWORD}).status_code == 303
    return b


def _browser_of(platform: Platform, buyer: dict[str, Any]) -> TestClient:
    """A browser logged in as the module's buyer (its e-mail read back from its token)."""
    me = platform.client.get("/api/v1/auth/me", headers=buyer["h"])
    assert me.status_code == 200, me.text
    return _browser(platform, me.json()["email"])


def test_checkout_pages_review_and_place(platform: Platform) -> None:
    n = platform._next()
    email = f"checkout{n}@pages.example.com"
    r = platform.client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "C",
                                                          "organisation": f"Checkout Org {n}"})
    assert r.status_code == 201
    h = platform.login(email)
    part = platform.upload(h, box_stl(30, 20, 15), "cover.stl")
    q = _quote(platform, h, part, 20)
    offer = q["offers"][0]
    b = _browser(platform, email)
    page = b.get(f"/quotes/{q['id']}")
    m = _CSRF.search(page.text)
    assert m is not None
    assert b.post(f"/quotes/{q['id']}/order", data={"csrf_token": m.group(1), "site": offer["site"],
                                                    "action": "cart"}).status_code == 303
    form = b.get("/checkout")
    assert form.status_code == 200 and "统一社会信用代码" in form.text and 'name="consent"' in form.text
    token = _CSRF.search(form.text)
    assert token is not None
    fields = {"csrf_token": token.group(1), **{f"shipping_{k}": v for k, v in SHIPPING.items()},
              "tax_company_name": "长沙机器人有限公司", "tax_credit_code": valid_code(), "po_number": "PO-7"}
    missing = b.post("/checkout/review", data=fields)  # no consent choice: the form again, with the reason
    assert missing.status_code == 422 and 'id="checkout-error"' in missing.text
    review = b.post("/checkout/review", data=fields | {"consent": "later"})
    assert review.status_code == 200, review.text
    unit = next(t for t in offer["tiers"] if t["tier"] == "standard")["unit_price_cny"]
    from decimal import Decimal

    net = (Decimal(str(unit)) * 20).quantize(Decimal("0.01"))
    assert f"¥{net}" in review.text and "增值税" in review.text and "价税合计" in review.text
    vat = re.search(r'id="review-vat">¥([0-9.]+)<', review.text)
    gross = re.search(r'id="review-gross">¥([0-9.]+)<', review.text)
    assert vat and gross and Decimal(vat.group(1)) + net == Decimal(gross.group(1))
    placed = b.post("/checkout/place", data=dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                                           review.text.split('id="checkout-place"')[1])))
    assert placed.status_code == 303, placed.text
    order_page = b.get(placed.headers["location"])
    assert order_page.status_code == 200
    assert "PO-7" in order_page.text and 'id="consent-form"' in order_page.text and "410083" in order_page.text
    assert 'id="cancel-form"' in order_page.text
    assert b.get("/cart").text.count("data-quote=") == 0  # the cart was emptied

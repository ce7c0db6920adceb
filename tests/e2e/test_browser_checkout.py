"""Checkout in headless Chromium against a real server (issue 17, items 7 and 8), in zh-CN and en: a PETG part
with sanding and painting is quoted, put in the cart and checked out (address, company tax details, consent),
reviewed with VAT shown separately, ordered; the PDF invoice's VAT and totals are checked; a second order,
placed with consent for later, gets the consent from the order page and is then cancelled. Screenshots go to
test-artifacts/e2e/checkout-<lang>-*.png."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pytest
import trimesh
from e2e_kit import ARTIFACTS, Server

from fabgrid.services.factories import credit_code_rule

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"
CODE17 = "91430104MA4QX1234"


def _shot(page: Any, lang: str, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"checkout-{lang}-{name}.png"), full_page=True)


def _money(text: str) -> Decimal:
    m = re.search(r"¥\s*([0-9]+\.[0-9]{2})", text)
    assert m, text
    return Decimal(m.group(1))


def _quote_to_cart(page: Any, server: Server, part_url: str, qty: int) -> None:
    page.goto(part_url)
    page.select_option("#process", "fdm")
    page.select_option("#material", "fdm_petg")
    page.select_option("#finish", "sanding_painting")
    page.fill("#quantity", str(qty))
    page.click("#quote-form button[type=submit]")
    page.wait_for_url(re.compile(r"/quotes/quo_[0-9a-f]+$"))
    page.click("#cart-add")
    page.wait_for_url(re.compile(r"/cart$"))


def _fill_checkout(page: Any, consent: str) -> None:
    page.click("#cart-checkout")
    page.wait_for_url(re.compile(r"/checkout$"))
    for name, value in (("shipping_recipient", "李雷 Li Lei"), ("shipping_phone", "0731-88886666"),
                        ("shipping_province", "湖南省"), ("shipping_city", "长沙市"), ("shipping_district", "岳麓区"),
                        ("shipping_street", "麓山南路 932 号"), ("shipping_postal_code", "410083"),
                        ("contact_email", "li.lei@robotics.example.com"), ("po_number", "PO-E2E-7"),
                        ("tax_company_name", "长沙机器人有限公司"),
                        ("tax_credit_code", CODE17 + credit_code_rule().check_character(CODE17)),
                        ("tax_address", "长沙市岳麓区麓山南路 932 号"), ("tax_phone", "0731-88880000"),
                        ("tax_bank_name", "中国建设银行长沙岳麓支行"),
                        ("tax_bank_account", "4305 0161 6208 0000 0123")):
        page.fill(f"input[name={name}]", value)
    page.select_option("select[name=invoice_kind]", "vat_special")
    page.check(f"input[name=consent][value={consent}]")
    page.click("#checkout-review")
    page.wait_for_selector("#review-lines")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_checkout_invoice_and_cancel(browser: Any, server: Server, tmp_path: Any, lang: str) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/signup")
    page.fill("input[name=name]", "Li Lei")
    page.fill("input[name=organisation]", f"Changsha Robotics {lang}")
    page.fill("input[name=email]", f"li.lei.{lang.lower()}@checkout.example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url(re.compile(r"/parts$"))
    stl = tmp_path / "cover.stl"
    stl.write_bytes(trimesh.creation.box((40.0, 30.0, 12.0)).export(file_type="stl"))
    page.set_input_files("#file-input", str(stl))
    page.wait_for_url(re.compile(r"/parts/prt_[0-9a-f]+$"))
    part_url = page.url

    # 1: quote with a finish -> cart -> checkout (address, tax details, consent now) -> review -> order
    _quote_to_cart(page, server, part_url, 20)
    _shot(page, lang, "1-cart")
    _fill_checkout(page, "yes")
    net, vat, gross = (_money(page.inner_text(s)) for s in ("#review-net", "#review-vat", "#review-gross"))
    assert vat == (net * Decimal("0.13")).quantize(Decimal("0.01")) and net + vat == gross
    assert ("增值税专用发票" if lang == "zh-CN" else "VAT special invoice") in page.inner_text("#review-details")
    _shot(page, lang, "2-review")
    page.click("#checkout-submit")
    page.wait_for_url(re.compile(r"/orders/ord_[0-9a-f]+$"))
    assert "PO-E2E-7" in page.inner_text("#order-po") and "410083" in page.inner_text("#order-shipping")
    assert page.locator("#consent-form").count() == 0  # consented at checkout
    assert _money(page.inner_text("#order-facts")) == net  # the order's total is the reviewed net, to the cent
    _shot(page, lang, "3-order")
    pdf = page.request.get(server.url + page.get_attribute("#invoice-pdf-link", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).replace(" ", "")
    assert f"¥{net}" in text and f"¥{vat}" in text and f"¥{gross}" in text
    order_url = page.url
    page.goto(server.url + f"/api/v1/orders/{order_url.rsplit('/', 1)[1]}/invoice?lang={lang}")  # the PDF's HTML
    _shot(page, lang, "3b-invoice")
    if lang == "zh-CN":
        assert "价税合计" in text and "长沙机器人有限公司" in text and "加工劳务" in text
    else:
        assert "Totalincl.VAT" in text and "Sanding" in text

    # 2: a second order with consent for later: consent from the order page, then cancel before production
    _quote_to_cart(page, server, part_url, 5)
    _fill_checkout(page, "later")
    page.click("#checkout-submit")
    page.wait_for_url(re.compile(r"/orders/ord_[0-9a-f]+$"))
    assert page.locator("#consent-form").count() == 1
    _shot(page, lang, "4-second-order-no-consent")
    page.click("#consent-submit")
    page.wait_for_selector("#order-consent")
    assert page.locator("#consent-form").count() == 0
    page.click("#cancel-submit")
    page.wait_for_selector("#order-status")
    assert page.locator("#order-status").inner_text().strip() == ("已取消" if lang == "zh-CN" else "cancelled")
    assert page.locator("#cancel-form").count() == 0
    _shot(page, lang, "5-cancelled")
    assert errors == []
    ctx.close()

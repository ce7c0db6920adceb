"""Issue 17, item 2: one finish followed end to end. A PETG part quoted with sanding and painting keeps the
finish and its tier on the order line, the factory's work list shows them, the site's workload and planned
schedule have the finishing operation with its duration from finishes.yaml, and the invoice lists it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import PASSWORD, Platform, box_stl

from fabgrid.data import load_catalog
from fabgrid.services import accounts, web_factory

FINISH = "sanding_painting"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def ordered(platform: Platform) -> dict[str, Any]:
    h = platform.buyer()
    part = platform.upload(h, box_stl(40, 30, 20), "bracket.stl")
    r = platform.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_petg", "quantity": 20,
                                                     "finish": FINISH, "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    q = r.json()
    offer = q["offers"][0]
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": offer["site"], "tier": "standard",
                                                     "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201, r.text
    return {"h": h, "part": part, "quote": q, "offer": offer, "order": r.json()}


def test_the_order_line_keeps_finish_and_tier(platform: Platform, ordered: dict[str, Any]) -> None:
    line = ordered["order"]["lines"][0]
    assert line["finish"] == FINISH and line["tier"] == "standard" and line["quantity"] == 20
    got = platform.client.get(f"/api/v1/orders/{ordered['order']['id']}", headers=ordered["h"]).json()
    assert got["lines"][0]["finish"] == FINISH


def _factory_browser(platform: Platform, email: str) -> TestClient:
    b = TestClient(platform.client.app, follow_redirects=False)
    token = _CSRF.search(b.get("/login").text)
    assert token is not None
    r = b.post("/login", data={"csrf_token": token.group(1), "email": email, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return b


def test_factory_work_list_and_schedule_have_the_finish(platform: Platform, ordered: dict[str, Any]) -> None:
    site = ordered["offer"]["site"]
    email = f"finisher@{site}.example.com"
    accounts.signup(platform.settings.database_url, email=email, password=PASSWORD, name="F",
                    organisation=f"finish factory {site}", role="factory", site_id=site)
    page = _factory_browser(platform, email).get("/factory")
    assert page.status_code == 200
    fin = load_catalog().finishes[FINISH]
    row = next(r for r in page.text.split("<tr ") if ordered["order"]["id"] in r)
    assert fin.name in row and "standard" in row  # the finish by name and the tier, not dropped
    who = accounts.find_user(platform.settings.database_url, email)
    assert who is not None
    work = web_factory.site_workload(platform.settings, who)
    job = next(j for j in work.jobs if j.id.startswith(ordered["order"]["id"]))
    area_cm2 = ordered["part"]["facts"]["area_mm2"] / 100.0
    for b in job.builds:
        (step,) = b.finish_steps
        expected_h = b.parts * (fin.time_s_per_part + fin.time_s_per_cm2 * area_cm2) / 3600.0
        assert step.step == FINISH and step.duration_h == pytest.approx(max(0.25, expected_h))
    sched = web_factory.site_schedule(platform.settings, who)
    assert sched is not None
    ops = sorted((r for r in sched.rows if str(r["build"]).startswith(job.id) and r["step"] == FINISH),
                 key=lambda r: str(r["build"]))
    assert len(ops) == len(job.builds)
    for op, b in zip(ops, sorted(job.builds, key=lambda b: b.id), strict=True):
        minutes = (datetime.fromisoformat(str(op["end"])) - datetime.fromisoformat(str(op["start"]))).total_seconds()
        assert minutes / 60 == pytest.approx(b.finish_steps[0].duration_h * 60, abs=1.0)


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    fonts = {str(f.get_object()["/BaseFont"]) for page in reader.pages
             for f in (page["/Resources"].get_object().get("/Font") or {}).values()}
    assert any("CJK" in f for f in fonts), fonts  # the CJK font is embedded (subset)
    return "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_lists_the_finish_and_adds_up(platform: Platform, ordered: dict[str, Any]) -> None:
    from decimal import Decimal

    oid = ordered["order"]["id"]
    line = ordered["order"]["lines"][0]
    unit = Decimal(str(line["unit_price_cny"])).quantize(Decimal("0.01"))
    net = (unit * 20).quantize(Decimal("0.01"))
    vat = (net * Decimal("13") / 100).quantize(Decimal("0.01"))
    assert Decimal(str(line["total_price_cny"])) == net  # the order charges the unit price shown x 20, to the cent
    fin = load_catalog().finishes[FINISH]
    zh = platform.client.get(f"/api/v1/orders/{oid}/invoice.pdf", params={"lang": "zh-CN"}, headers=ordered["h"])
    assert zh.status_code == 200 and zh.headers["content-type"] == "application/pdf"
    text = _pdf_text(zh.content)
    flat = text.replace("\n", "").replace(" ", "")
    for words in ("发票信息", "购买方", "销售方", "统一社会信用代码", "价税合计", "税率", "标准", "加工劳务"):
        assert words in flat, words
    assert fin.name_zh.replace(" ", "") in flat and "13%" in flat  # the finish in Chinese on the zh-CN invoice
    assert "2019年第39号" in flat  # the rate's source, in Chinese
    assert f"¥{net}" in flat and f"¥{vat}" in flat and f"¥{net + vat}" in flat
    en = platform.client.get(f"/api/v1/orders/{oid}/invoice.pdf", headers=ordered["h"] | {"Accept-Language": "en"})
    etext = _pdf_text(en.content).replace("\n", " ")
    assert "Invoice" in etext and "VAT" in etext and "standard" in etext and fin.name in " ".join(etext.split())
    assert "Announcement 2019 No. 39".lower() in " ".join(etext.split()).lower()  # the rate's source
    other = platform.buyer()
    assert platform.client.get(f"/api/v1/orders/{oid}/invoice.pdf", headers=other).status_code == 404

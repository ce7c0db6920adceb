"""Quotes and orders through the API: same input same quote, order at the quoted price, the factory's
production steps and inspection, the timeline, the invoice, consent-gated design access, disruptions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from web_kit import Platform

from fabgrid.services._util import now
from fabgrid.store.tables import QuoteRow
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def buyer(platform: Platform) -> dict[str, Any]:
    h = platform.buyer()
    part = platform.upload(h)
    return {"h": h, "part": part}


def quote(platform: Platform, buyer: dict[str, Any], qty: int = 5, **extra: Any) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": buyer["part"]["id"], "material": "fdm_pla",
                                                     "quantity": qty, "destination": "Changsha"} | extra,
                             headers=buyer["h"])
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def test_same_input_same_quote(platform: Platform, buyer: dict[str, Any]) -> None:
    q1 = quote(platform, buyer, qty=3)
    assert q1["offers"] and q1["expires_at"] > q1["created_at"] and not q1["expired"]
    assert all(o["material"] == "fdm_pla" and o["quantity"] == 3 for o in q1["offers"])
    q2 = quote(platform, buyer, qty=3)
    assert q2["id"] == q1["id"] and q2["offers"] == q1["offers"]
    q3 = quote(platform, buyer, qty=4)
    assert q3["id"] != q1["id"] and q3["input_hash"] != q1["input_hash"]
    got = platform.client.get(f"/api/v1/quotes/{q1['id']}", headers=buyer["h"]).json()
    assert got["offers"] == q1["offers"]
    assert {q["id"] for q in platform.client.get("/api/v1/quotes", headers=buyer["h"]).json()} >= {q1["id"], q3["id"]}


def test_quote_input_errors(platform: Platform, buyer: dict[str, Any]) -> None:
    r = platform.client.post("/api/v1/quotes", json={"part_id": buyer["part"]["id"], "material": "unobtainium",
                                                     "quantity": 1}, headers=buyer["h"])
    assert r.status_code in (404, 422) and r.headers["content-type"].startswith("application/problem+json")
    r = platform.client.post("/api/v1/quotes", json={"part_id": buyer["part"]["id"], "material": "fdm_pla",
                                                     "quantity": 0}, headers=buyer["h"])
    assert r.status_code == 422
    r = platform.client.post("/api/v1/quotes", json={"part_id": "prt_0000000000000000", "material": "fdm_pla",
                                                     "quantity": 1}, headers=buyer["h"])
    assert r.status_code == 404


def test_order_lifecycle(platform: Platform, buyer: dict[str, Any]) -> None:
    q = quote(platform, buyer, qty=5)
    offer = q["offers"][0]
    # the dearest tier offered (express is offered only where it ships earlier than standard: issue 17)
    express = max(offer["tiers"], key=lambda t: t["unit_price_cny"])
    assert express["tier"] != "express" or express["ship_date"] < offer["ship_date"]
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": offer["site"],
                                                     "tier": express["tier"],
                                                     "consent_design_sharing": True}, headers=buyer["h"])
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["total_price_cny"] == express["total_price_cny"] and order["site_id"] == offer["site"]
    assert [e["status"] for e in order["timeline"]] == ["placed", "allocated"]
    assert all(e["at"].endswith("+00:00") for e in order["timeline"])
    again = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": offer["site"]},
                                 headers=buyer["h"])
    assert again.status_code == 409 and again.json()["title"] == "order.duplicate"

    fh = platform.account("factory", offer["site"])
    work = platform.client.get("/api/v1/factory/work", headers=fh).json()
    assert order["id"] in [w["id"] for w in work]
    step = lambda s: platform.client.post(f"/api/v1/factory/orders/{order['id']}/status",  # noqa: E731
                                          json={"status": s}, headers=fh)
    assert step("built").status_code == 409  # not yet in production
    assert step("in_production").status_code == 200
    assert step("built").status_code == 200
    assert step("shipped").status_code == 409  # inspection first
    fail = platform.client.post(f"/api/v1/factory/orders/{order['id']}/inspection",
                                json={"passed": False, "inspected_qty": 5, "defects": ["warping"]}, headers=fh)
    assert fail.status_code == 200 and fail.json()["status"] == "in_production"
    assert step("built").status_code == 200
    ok = platform.client.post(f"/api/v1/factory/orders/{order['id']}/inspection",
                              json={"passed": True, "inspected_qty": 5, "measurements": {"length_mm": 20.02}},
                              headers=fh)
    assert ok.status_code == 200 and ok.json()["inspection"]["measurements"] == {"length_mm": 20.02}
    assert step("shipped").status_code == 200 and step("delivered").status_code == 200
    final = platform.client.get(f"/api/v1/orders/{order['id']}", headers=buyer["h"]).json()
    assert [e["status"] for e in final["timeline"]] == [
        "placed", "allocated", "in_production", "built", "in_production", "built", "inspected", "shipped",
        "delivered"]
    inv = platform.client.get(f"/api/v1/orders/{order['id']}/invoice", headers=buyer["h"])
    assert inv.status_code == 200 and inv.headers["content-type"].startswith("text/html")
    assert f"{express['total_price_cny']:.2f}" in inv.text and "Asia/Shanghai" in inv.text
    assert "length_mm = 20.02" in inv.text and "passed, 5 inspected" in inv.text
    assert platform.client.get(f"/api/v1/orders/{order['id']}/invoice", headers=fh).status_code == 404
    listed = platform.client.get("/api/v1/orders", headers=buyer["h"]).json()
    assert order["id"] in [o["id"] for o in listed]


def test_order_errors(platform: Platform, buyer: dict[str, Any]) -> None:
    q = quote(platform, buyer, qty=6)
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": "no-such-site"},
                             headers=buyer["h"])
    assert r.status_code == 422 and r.json()["title"] == "order.offer"
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": q["offers"][0]["site"],
                                                     "tier": "warp"}, headers=buyer["h"])
    assert r.status_code == 422 and r.json()["title"] == "order.tier"
    with UnitOfWork(platform.settings.database_url) as uow:
        row = uow.session.get(QuoteRow, q["id"])
        assert row is not None
        row.expires_at = now() - timedelta(seconds=1)
        uow.commit()
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": q["offers"][0]["site"]},
                             headers=buyer["h"])
    assert r.status_code == 409 and r.json()["title"] == "order.quote_expired"
    assert quote(platform, buyer, qty=6)["id"] != q["id"]  # an expired quote is not reused


def test_allocation_engine_picks_a_site(platform: Platform, buyer: dict[str, Any]) -> None:
    q = quote(platform, buyer, qty=7)
    r = platform.client.post("/api/v1/orders", json={"quote_id": q["id"]}, headers=buyer["h"])
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["site_id"] in {o["site"] for o in q["offers"]}
    assert "allocation engine" in order["timeline"][-1]["note"]


def test_consent_and_audit_of_factory_downloads(platform: Platform) -> None:
    h = platform.buyer()
    part = platform.upload(h)
    qb = {"part": part, "h": h}
    q1 = quote(platform, qb, qty=2)
    site = q1["offers"][0]["site"]
    fh = platform.account("factory", site)
    url = f"/api/v1/factory/designs/{part['id']}"
    assert platform.client.get(url, headers=fh).status_code == 404  # no order of this part at the site
    no = platform.client.post("/api/v1/orders", json={"quote_id": q1["id"], "site": site}, headers=h).json()
    r = platform.client.get(url, headers=fh)
    assert r.status_code == 403 and r.json()["title"] == "design.no_consent"
    q2 = quote(platform, qb, qty=9)
    yes = platform.client.post("/api/v1/orders", json={"quote_id": q2["id"], "site": site,
                                                       "consent_design_sharing": True}, headers=h).json()
    r = platform.client.get(url, headers=fh)
    assert r.status_code == 200 and r.content == platform.client.get(part["links"]["design"], headers=h).content
    other_site = next(o["site"] for o in q1["offers"] if o["site"] != site)
    assert platform.client.get(url, headers=platform.account("factory", other_site)).status_code == 404
    for oid in (no["id"], yes["id"]):
        for s in ("in_production", "built", "shipped"):
            if s == "shipped":
                platform.client.post(f"/api/v1/factory/orders/{oid}/inspection",
                                     json={"passed": True, "inspected_qty": 1}, headers=fh)
            platform.client.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=fh)
    r = platform.client.get(url, headers=fh)
    assert r.status_code == 403 and r.json()["title"] == "design.no_work"  # work shipped: access ends
    log = platform.client.get(part["links"]["audit"], headers=h).json()
    factory = [(e["allowed"], e["order_id"]) for e in log if e["action"] == "factory_download"]
    assert factory[:3] == [(False, None), (False, no["id"]), (True, yes["id"])]
    assert [a for a, _ in factory[3:]] == [False, False]  # the other site, and after shipping
    assert log[1]["actor"]["site_id"] == site and "consent" in log[1]["reason"]


def test_disruption_reroutes_open_orders(platform: Platform) -> None:
    h = platform.buyer()
    qb = {"part": platform.upload(h), "h": h}
    q = quote(platform, qb, qty=4)
    site = q["offers"][0]["site"]
    order = platform.client.post("/api/v1/orders", json={"quote_id": q["id"], "site": site}, headers=h).json()
    oh = platform.account("operator")
    assert platform.client.post("/api/v1/operator/disruptions", json={"site_id": site, "days": 20},
                                headers=h).status_code == 403
    r = platform.client.post("/api/v1/operator/disruptions", json={"site_id": site, "days": 20}, headers=oh)
    assert r.status_code == 202, r.text  # the older body is a site disruption from now, applied at once
    doc = r.json()
    assert doc["kind"] == "site" and doc["target"] == site and doc["state"] == "active"
    moved = {m["order_id"]: m for m in doc["moves"] if m["moved"]}
    assert moved[order["id"]]["from_site"] == site
    after = platform.client.get(f"/api/v1/orders/{order['id']}", headers=h).json()
    assert after["site_id"] == moved[order["id"]]["to_site"] != site
    assert after["total_price_cny"] == order["total_price_cny"]  # the buyer keeps the quoted price
    assert any("disruption" in e["note"] for e in after["timeline"])
    listed = platform.client.get("/api/v1/operator/disruptions", headers=oh).json()
    assert listed[0]["id"] == doc["id"] and listed[0]["moves"]
    assert order["id"] in [o["id"] for o in platform.client.get("/api/v1/operator/orders", headers=oh).json()]
    r = platform.client.post("/api/v1/operator/disruptions", json={"site_id": "atlantis", "days": 2}, headers=oh)
    assert r.status_code == 404

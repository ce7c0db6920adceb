"""The quote resource a buyer can trust (issue 17, items 1, 5, 6): dates from the site's queue (an order moves the
next quote's dates at that site), price breaks in the same request, VAT, set-up and run time, shipping by
distance; and when nothing can make the part, the limits, the alternatives and the RFQ flag."""

from __future__ import annotations

import time
from typing import Any

import pytest
from web_kit import Platform, box_stl


def _ready(platform: Platform, h: dict[str, str], data: bytes) -> str:
    part = platform.upload(h, data)
    deadline = time.monotonic() + 60
    while platform.client.get(f"/api/v1/parts/{part['id']}", headers=h).json()["status"] != "ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return str(part["id"])


def _quote(platform: Platform, h: dict[str, str], part_id: str, **body: Any) -> dict[str, Any]:
    r = platform.client.post("/api/v1/quotes", json={"part_id": part_id} | body, headers=h)
    assert r.status_code in (200, 201), r.text
    doc: dict[str, Any] = r.json()
    return doc


def test_price_breaks_vat_time_split_and_queue(platform: Platform) -> None:
    h = platform.buyer()
    pid = _ready(platform, h, box_stl(40, 30, 10))
    q = _quote(platform, h, pid, material="fdm_pla", quantity=30, destination="Changsha")
    assert q["vat_pct"] == 13 and q["unmakeable"] is None and q["rfq_suggested"] is False
    assert [b["quantity"] for b in q["price_breaks"]] == [1, 10, 30, 100, 1000]
    units = [b["unit_price_cny"] for b in q["price_breaks"]]
    assert units == sorted(units, reverse=True) and units[0] > units[-1]  # larger lines are cheaper per part
    asked = next(b for b in q["price_breaks"] if b["quantity"] == 30)
    assert asked["unit_price_cny"] == q["offers"][0]["unit_price_cny"] and asked["offers"] == len(q["offers"])
    for o in q["offers"]:
        assert o["time_s"] == pytest.approx(o["setup_s"] + o["run_s"], abs=0.2)
        assert o["total_price_incl_vat_cny"] == pytest.approx(round(o["total_price_cny"] * 1.13, 2), abs=0.011)
        assert o["distance_km"] is not None and o["shipping_cny"] > 0 and o["site_name"]
    # a big order at the cheapest site queues work there: the same part quoted again ships later at that site
    first = q["offers"][0]
    big = _quote(platform, h, pid, material="fdm_pla", quantity=2000, destination="Changsha")
    at = next(o for o in big["offers"] if o["site"] == first["site"])
    r = platform.client.post("/api/v1/orders", json={"quote_id": big["id"], "site": at["site"], "tier": "standard",
                                                     "consent_design_sharing": True}, headers=h)
    assert r.status_code == 201, r.text
    again = _quote(platform, h, pid, material="fdm_pla", quantity=31, destination="Changsha")
    later = next(o for o in again["offers"] if o["site"] == first["site"])
    assert later["breakdown"]["queued_h"] > 0 and later["ship_date"] > first["ship_date"]
    tiers = {t["tier"]: t for t in later["tiers"]}
    assert "express" in tiers and tiers["express"]["ship_date"] < tiers["standard"]["ship_date"]


def test_nothing_can_make_it(platform: Platform) -> None:
    h = platform.buyer()
    pid = _ready(platform, h, box_stl(600, 40, 40))
    q = _quote(platform, h, pid, material="fdm_pla", quantity=2)
    assert q["offers"] == [] and q["price_breaks"] == [] and q["rfq_suggested"] is True
    assert q["links"]["rfq"] == "/api/v1/rfqs"
    codes = [lim["code"] for lim in q["unmakeable"]["limits"]]
    assert codes[0] == "too_big" and "600 x 40 x 40 mm" in q["unmakeable"]["limits"][0]["message"]
    alts = q["unmakeable"]["alternatives"]
    assert alts and all(a["offers"] > 0 for a in alts) and {a["process"] for a in alts} >= {"cnc"}
    assert alts == sorted(alts, key=lambda a: (-a["offers"], a["unit_price_cny"], a["material"]))

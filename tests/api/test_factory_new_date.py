"""A decline that no site can take at the ordered date (issue 18, item 5): the buyer is asked to accept a new date
(the earliest other offer of the quote, at the price ordered) or cancel the line, through the same proposal and
cancellation as a disruption's later date (issue 22); accepting allocates the line to the proposing site."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services._util import now
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("new-date"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def _declined_beyond_reach(p: Platform, buyer: dict[str, str], z: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order whose line is due today (no site can make it by then), declined by its site: (order, proposal)."""
    part = p.upload(buyer, box_stl(24, 16, z))
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                              "destination": "Changsha"}, headers=buyer)
    assert r.status_code in (200, 201), r.text
    quote = r.json()
    site = quote["offers"][0]["site"]
    r = p.client.post("/api/v1/orders", json={"lines": [{"quote_id": quote["id"], "site": site}]}, headers=buyer)
    assert r.status_code == 201, r.text
    order = r.json()
    line = order["lines"][0]
    with UnitOfWork(p.settings.database_url) as uow:  # a date no offer of the quote meets
        uow.acceptance.set_delivery_date(line["id"], now().date())
        uow.commit()
    r = p.client.post(f"/api/v1/factory/orders/{order['id']}/decline", json={"reason": "no_capacity"},
                      headers=p.account("factory", site=site))
    assert r.status_code == 200 and r.json()["responses"][0]["reallocated_to"] is None, r.text
    view = p.client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()
    assert view["lines"][0]["state"] == "awaiting_buyer"
    [prop] = [x for x in view["proposals"] if x["status"] == "pending"]
    earliest = min((date.fromisoformat(o["delivery_date"]), o["site"]) for o in quote["offers"] if o["site"] != site)
    assert (prop["site_id"], prop["proposed_date"]) == (earliest[1], earliest[0].isoformat())
    assert prop["proposed_date"] > now().date().isoformat()
    order["quote"] = quote
    return order, prop


def test_the_buyer_accepts_the_new_date(own: Platform) -> None:
    buyer = own.buyer()
    order, prop = _declined_beyond_reach(own, buyer, 7)
    r = own.client.post(f"/api/v1/orders/{order['id']}/date-proposals/{prop['id']}/accept", headers=buyer)
    assert r.status_code == 200, r.text
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    ln = after["lines"][0]
    assert ln["status"] == "allocated" and ln["site_id"] == prop["site_id"]
    assert ln["delivery_date"] == prop["proposed_date"]
    assert ln["total_price_cny"] == order["lines"][0]["total_price_cny"]  # the price ordered stays
    # the new site answers it like any allocated line
    r = own.client.post(f"/api/v1/factory/orders/{order['id']}/accept",
                        headers=own.account("factory", site=prop["site_id"]))
    assert r.status_code == 200, r.text


def test_the_buyer_cancels_instead(own: Platform) -> None:
    buyer = own.buyer()
    order, prop = _declined_beyond_reach(own, buyer, 8)
    line_id = order["lines"][0]["id"]
    r = own.client.post(f"/api/v1/orders/{order['id']}/lines/{line_id}/cancel", headers=buyer)
    assert r.status_code == 200, r.text
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=buyer).json()
    assert after["lines"][0]["status"] == "cancelled"
    props = own.client.get(f"/api/v1/orders/{order['id']}/acceptance", headers=buyer).json()["proposals"]
    assert [x["status"] for x in props] == ["rejected"]
    assert date.fromisoformat(prop["proposed_date"]) <= now().date() + timedelta(days=60)

"""What a factory declares on its storefront reaches the next quote (issue 18, items 1-3): a maintenance window over
its queue moves its offer's date, the provinces it ships to decide who gets an offer (and where the allocation may
place a line; an unknown province is a 422), and its own finishing price is in its offer, which cites the rate
version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_factories_onboarding import problem
from test_factory_rules import equipped
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.costing.leadtime import local_today
from fabgrid.services import placement
from fabgrid.services._util import now
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    settings = make_settings(tmp_path_factory.mktemp("storefront-quotes"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


_sizes = iter(range(10, 80))


def quote(p: Platform, buyer: dict[str, str], to: str = "Changsha", finish: str | None = None) -> dict[str, Any]:
    part = p.upload(buyer, box_stl(30, 20, next(_sizes) / 2))
    body: dict[str, Any] = {"part_id": part["id"], "material": "fdm_pla", "quantity": 2, "destination": to}
    if finish:
        body["finish"] = finish
    r = p.client.post("/api/v1/quotes", json=body, headers=buyer)
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def offer_of(q: dict[str, Any], site: str) -> dict[str, Any] | None:
    return next((o for o in q["offers"] if o["site"] == site), None)


def test_a_maintenance_window_over_the_queue_moves_the_date(own: Platform) -> None:
    fh, site = equipped(own, "Yuelu Maintenance Works")
    buyer = own.buyer()
    # some work queued at the site
    q = quote(own, buyer)
    r = own.client.post("/api/v1/orders", json={"lines": [{"quote_id": q["id"], "site": site}]}, headers=buyer)
    assert r.status_code == 201, r.text
    before = offer_of(quote(own, buyer), site)
    assert before is not None
    machine = own.client.get("/api/v1/factory/machines", headers=fh).json()["machines"][0]["id"]
    today = local_today(now())
    r = own.client.put("/api/v1/factory/calendar", headers=fh, json={
        "shifts": [{"name": "day", "start": "08:00", "end": "17:00"}], "workdays": [0, 1, 2, 3, 4, 5],
        "entries": [{"kind": "maintenance", "start": today.isoformat(),
                     "end": (today + timedelta(days=8)).isoformat(), "machine_id": machine, "note": "rebuild"}]})
    assert r.status_code == 200, r.text
    after = offer_of(quote(own, buyer), site)
    assert after is not None
    assert after["ship_date"] > before["ship_date"]
    assert after["ship_date"] > (today + timedelta(days=8)).isoformat()  # no capacity in the window
    doc = own.client.get(f"/api/v1/sites/{site}").json()
    assert doc["maintenance"] == [{"start": today.isoformat(), "end": (today + timedelta(days=8)).isoformat(),
                                   "machine_id": machine}]
    # the window gone: the date comes back
    r = own.client.put("/api/v1/factory/calendar", headers=fh, json={
        "shifts": [{"name": "day", "start": "08:00", "end": "17:00"}], "workdays": [0, 1, 2, 3, 4, 5],
        "entries": []})
    assert r.status_code == 200 and own.client.get(f"/api/v1/sites/{site}").json()["maintenance"] == []


def test_ship_regions_decide_who_gets_an_offer(own: Platform) -> None:
    fh, site = equipped(own, "Xiangjiang Regional Prints")
    buyer = own.buyer()
    far = quote(own, buyer, "Guangzhou")
    assert offer_of(far, site) is not None  # no regions declared: every destination
    before = own.client.get("/api/v1/factory/regions", headers=fh).json()
    assert before["provinces"] == []
    body = problem(own.client.put("/api/v1/factory/regions", json={"provinces": ["Hunan", "Atlantis"]}, headers=fh))
    assert body["title"] == "storefront.province" and "provinces[1]" in body["detail"], body
    assert own.client.get("/api/v1/factory/regions", headers=fh).json() == before  # nothing changed
    r = own.client.put("/api/v1/factory/regions", json={"provinces": ["湖南", "Hubei"]}, headers=fh)
    assert r.status_code == 200, r.text
    assert r.json()["provinces"] == ["Hunan", "Hubei"] and r.json()["version"] > before["version"]
    assert offer_of(quote(own, buyer, "Changsha"), site) is not None
    assert offer_of(quote(own, buyer, "Wuhan"), site) is not None
    gz = quote(own, buyer, "Guangzhou")
    assert offer_of(gz, site) is None and gz["offers"]
    why = next(x for x in gz["rejected"] if x["site"] == site)
    assert why["code"] == "ships_to" and "Guangdong" in why["reason"]
    # a buyer naming it for Guangzhou from a quote made before is refused; the allocation does not place it there
    r = own.client.post("/api/v1/orders", json={"lines": [{"quote_id": far["id"], "site": site}]}, headers=buyer)
    assert r.status_code == 409 and "order.ships_to" in r.text, r.text
    with UnitOfWork(own.settings.database_url) as uow:
        stored = uow.quotes.by_id(far["id"])
        assert stored is not None
        w = placement.Wanted("ln_x", stored.quote, dict(stored.request or {}), 2, None)
        sc = placement.scenario(uow, [w], set())
    assert site not in {c.site for c in sc.lines[0].candidates} and sc.lines[0].candidates


def test_the_factorys_own_finishing_price_is_in_its_offer(own: Platform) -> None:
    fh, site = equipped(own, "Tianxin Paint Shop")
    buyer = own.buyer()
    costed = offer_of(quote(own, buyer, finish="sanding_painting"), site)
    assert costed is not None and "finish_cny" not in costed["breakdown"]
    r = own.client.put("/api/v1/factory/rates", headers=fh, json={
        "machine_hour_cny": {"prusa_mk4": 12.0}, "finishes": {"sanding_painting": 45.0}})
    assert r.status_code == 200, r.text
    version = r.json()["rate_version"]
    assert r.json()["finishes"] == {"sanding_painting": 45.0} and version > costed["rate_version"]
    own_price = offer_of(quote(own, buyer, finish="sanding_painting"), site)
    assert own_price is not None
    assert own_price["rate_version"] == version and own_price["breakdown"]["finish_cny"] == 45.0
    assert own_price["breakdown"]["consumables_cny"] < costed["breakdown"]["consumables_cny"]
    # a quote without the finish is not charged for it
    plain = offer_of(quote(own, buyer), site)
    assert plain is not None and "finish_cny" not in plain["breakdown"]

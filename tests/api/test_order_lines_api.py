"""Orders of several lines through the API, each line with its own site and status; the network read from the
database (a changed machine-hour rate is priced by the next quote)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services import network
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: this module changes a site's rates."""
    settings = make_settings(tmp_path_factory.mktemp("lines"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def _quote(p: Platform, h: dict[str, str], part_id: str, material: str = "fdm_pla", qty: int = 2) -> dict[str, Any]:
    r = p.client.post("/api/v1/quotes", json={"part_id": part_id, "material": material, "quantity": qty,
                                              "destination": "Changsha"}, headers=h)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    assert body["offers"], body
    return body


def test_three_parts_in_one_order(own: Platform) -> None:
    h = own.buyer()
    parts = [own.upload(h, box_stl(*dims), name=f"p{i}.stl")
             for i, dims in enumerate([(20, 30, 10), (40, 15, 12), (25, 25, 25)])]
    quotes = [_quote(own, h, p["id"], qty=i + 1) for i, p in enumerate(parts)]
    chosen = quotes[0]["offers"][-1]["site"]
    body = {"lines": [{"quote_id": quotes[0]["id"], "site": chosen, "tier": "standard"},
                      {"quote_id": quotes[1]["id"]}, {"quote_id": quotes[2]["id"], "tier": "economy"}],
            "consent_design_sharing": True}
    r = own.client.post("/api/v1/orders", json=body, headers=h)
    assert r.status_code == 201, r.text
    order = r.json()
    assert r.headers["location"] == f"/api/v1/orders/{order['id']}"
    lines = order["lines"]
    assert [ln["position"] for ln in lines] == [1, 2, 3]
    assert [ln["quote_id"] for ln in lines] == [q["id"] for q in quotes]
    assert [ln["part_id"] for ln in lines] == [p["id"] for p in parts]
    assert [ln["quantity"] for ln in lines] == [1, 2, 3]
    assert lines[0]["site_id"] == chosen and lines[2]["tier"] == "economy"
    for ln, q in zip(lines, quotes, strict=True):
        assert ln["status"] == "allocated" and ln["site_id"] in {o["site"] for o in q["offers"]}
        offer = next(o for o in q["offers"] if o["site"] == ln["site_id"])
        tier = next(t for t in offer["tiers"] if t["tier"] == ln["tier"])
        assert ln["total_price_cny"] == tier["total_price_cny"]
    assert order["status"] == "allocated"
    assert order["total_price_cny"] == pytest.approx(sum(ln["total_price_cny"] for ln in lines), abs=0.011)
    assert order["quote_id"] is None  # the single-part fields are for one-line orders
    assert own.client.get(f"/api/v1/orders/{order['id']}", headers=h).json() == order
    events = {(e["status"], e["line_id"]) for e in order["timeline"]}
    assert ("placed", None) in events and all(("allocated", ln["id"]) in events for ln in lines)

    # the factory of line 1 sees and moves its line only; the order follows its least advanced line
    fh = own.account("factory", site=chosen)
    work = own.client.get("/api/v1/factory/work", headers=fh).json()
    mine = next(o for o in work if o["id"] == order["id"])
    assert {ln["site_id"] for ln in mine["lines"]} == {chosen}
    r = own.client.post(f"/api/v1/factory/orders/{order['id']}/status", json={"status": "in_production"},
                        headers=fh)
    assert r.status_code == 200, r.text
    after = own.client.get(f"/api/v1/orders/{order['id']}", headers=h).json()
    statuses = {ln["id"]: ln["status"] for ln in after["lines"]}
    at_chosen = {ln["id"] for ln in lines if ln["site_id"] == chosen}
    assert all(statuses[i] == "in_production" for i in at_chosen)
    assert all(statuses[ln["id"]] == "allocated" for ln in lines if ln["id"] not in at_chosen)
    assert after["status"] == ("in_production" if len(at_chosen) == 3 else "allocated")

    # a quote is ordered once, in whichever order
    r = own.client.post("/api/v1/orders", json={"quote_id": quotes[1]["id"]}, headers=h)
    assert r.status_code == 409 and r.json()["title"] == "order.duplicate"


def test_bad_line_bodies(own: Platform) -> None:
    h = own.buyer()
    part = own.upload(h)
    q = _quote(own, h, part["id"])
    for body, code in (({"lines": []}, 422), ({}, 422), ({"lines": [{"quote_id": q["id"]}], "quote_id": q["id"]}, 422),
                       ({"lines": [{"quote_id": q["id"]}, {"quote_id": q["id"]}]}, 422),
                       ({"lines": [{"quote_id": q["id"], "site": "nowhere-01"}]}, 422),
                       ({"lines": [{"quote_id": "quo_0000000000000000"}]}, 404)):
        r = own.client.post("/api/v1/orders", json=body, headers=h)
        assert r.status_code == code, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert own.client.get("/api/v1/orders", headers=h).json() == []  # nothing was stored


def test_a_changed_rate_is_priced_by_the_next_quote(own: Platform) -> None:
    """The factory doubles the machine-hour rate of each of its machine models (stored in the database): the next
    quote of the same request is priced anew, that site's offer uses the doubled rate, other sites are unchanged."""
    from fabgrid.costing.price import machine_rate_cny_per_h

    h = own.buyer()
    part = own.upload(h, box_stl(80, 60, 40), name="block.stl")  # large enough to price above the minimum
    before = _quote(own, h, part["id"], qty=4)
    offer = before["offers"][0]
    with UnitOfWork(own.settings.database_url) as uow:
        data = network.current(uow)
        site = data.network.sites[offer["site"]]
        catalog_rate = {m.model: machine_rate_cny_per_h(data.network.catalog.machine_models[m.model], data.rates)
                        for m in site.machines}
        for model, rate in catalog_rate.items():
            network.set_machine_rate(uow, site.id, model, rate * 2)
        uow.commit()
    assert offer["breakdown"]["machine_rate_cny_h"] == pytest.approx(
        catalog_rate[next(m.model for m in site.machines if m.model == offer["machine"] or m.id == offer["machine"])],
        rel=1e-3)
    after = _quote(own, h, part["id"], qty=4)
    assert after["id"] != before["id"] and after["input_hash"] != before["input_hash"]
    moved = next(o for o in after["offers"] if o["site"] == offer["site"])
    model = next(m.model for m in site.machines if m.model == moved["machine"] or m.id == moved["machine"])
    assert moved["breakdown"]["machine_rate_cny_h"] == pytest.approx(catalog_rate[model] * 2, rel=1e-3)
    assert moved["unit_price_cny"] > offer["unit_price_cny"]
    others = {o["site"]: o["unit_price_cny"] for o in before["offers"] if o["site"] != offer["site"]}
    assert {o["site"]: o["unit_price_cny"] for o in after["offers"] if o["site"] in others} == others

"""The network's rules for factories that joined (issue 18, items 1 and 5) through the API and the store:
a factory on probation takes at most `max_open_lines` open lines (a buyer choosing it beyond gets 409, the
allocation passes it over) and leaves probation by itself after `lines_to_verify` lines delivered on time; the
scorecard is a cost in the allocation, so of two otherwise equal factories the one with the worse record loses
the line (and wins it back when the other's record becomes worse)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_factories_onboarding import joined
from web_kit import Platform, box_stl, make_settings

from fabgrid.app import create_app
from fabgrid.services import factories, placement
from fabgrid.services._util import now
from fabgrid.store.uow import UnitOfWork


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: this module adds factories and gives them records."""
    settings = make_settings(tmp_path_factory.mktemp("factory-rules"))
    with TestClient(create_app(settings)) as client:
        yield Platform(client, settings)


def equipped(p: Platform, org: str) -> tuple[dict[str, str], str]:
    """A factory that joined with one Prusa MK4, PLA in stock and a machine-hour rate."""
    h, site = joined(p, org)
    for kind, body in (("machines", {"machines": [{"model": "prusa_mk4"}]}),
                       ("materials", {"materials": [{"material": "fdm_pla", "stock_kg": 50}]}),
                       ("rates", {"machine_hour_cny": {"prusa_mk4": 12.0}})):
        r = p.client.put(f"/api/v1/factory/{kind}", json=body, headers=h)
        assert r.status_code == 200, r.text
    return h, site


_sizes = iter(range(10, 80))


def quote(p: Platform, buyer: dict[str, str]) -> dict[str, Any]:
    """A quote of a new small PLA part (each one a little different)."""
    part = p.upload(buyer, box_stl(20, 15, next(_sizes) / 2))
    r = p.client.post("/api/v1/quotes", json={"part_id": part["id"], "material": "fdm_pla", "quantity": 2,
                                              "destination": "Changsha"}, headers=buyer)
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


def order(p: Platform, buyer: dict[str, str], q: dict[str, Any], site: str | None) -> Any:
    line: dict[str, Any] = {"quote_id": q["id"]} if site is None else {"quote_id": q["id"], "site": site}
    return p.client.post("/api/v1/orders", json={"lines": [line]}, headers=buyer)


def deliver(p: Platform, fh: dict[str, str], oid: str) -> None:
    assert p.client.post(f"/api/v1/factory/orders/{oid}/accept", headers=fh).status_code == 200
    for s in ("in_production", "built"):
        assert p.client.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=fh).status_code \
            == 200
    r = p.client.post(f"/api/v1/factory/orders/{oid}/inspection", json={"passed": True, "inspected_qty": 2},
                      headers=fh)
    assert r.status_code == 200, r.text
    for s in ("shipped", "delivered"):
        r = p.client.post(f"/api/v1/factory/orders/{oid}/status", json={"status": s}, headers=fh)
        assert r.status_code == 200, r.text


def test_probation_caps_open_lines_and_ends_by_itself(own: Platform) -> None:
    rules = factories.factory_rules()
    assert (rules.max_open_lines, rules.lines_to_verify) == (3, 5)
    fh, site = equipped(own, "Tianxin Trial Works")
    buyer = own.buyer()
    placed = []
    early = quote(own, buyer)  # quoted while it had room
    assert site in {o["site"] for o in early["offers"]}
    for _ in range(rules.max_open_lines):
        r = order(own, buyer, quote(own, buyer), site)
        assert r.status_code == 201, r.text
        placed.append(r.json()["id"])
    # at its cap it is not offered in quotes (item 6), and the rejection says why
    q = quote(own, buyer)
    assert site not in {o["site"] for o in q["offers"]} and q["offers"]
    assert next(x for x in q["rejected"] if x["site"] == site)["code"] == "probation_cap"
    # an order from the earlier quote that names it is refused
    r = order(own, buyer, early, site)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "order.probation_cap" in r.text and "3 open lines" in r.text
    # the allocation passes over it while it is full
    r = order(own, buyer, early, None)
    assert r.status_code == 201 and r.json()["lines"][0]["site_id"] != site, r.text

    for oid in placed:
        deliver(own, fh, oid)
    doc = own.client.get(f"/api/v1/sites/{site}").json()
    assert doc["verified"] is False and doc["scorecard"]["on_time"] == 3 and doc["max_order_cny"] == 20_000
    for _ in range(rules.lines_to_verify - rules.max_open_lines):
        r = order(own, buyer, quote(own, buyer), site)  # room again: the delivered lines are not open
        assert r.status_code == 201, r.text
        deliver(own, fh, r.json()["id"])
    doc = own.client.get(f"/api/v1/sites/{site}").json()
    assert doc["verified"] is True and doc["max_order_cny"] is None and doc["scorecard"]["on_time"] == 5, doc
    with UnitOfWork(own.settings.database_url) as uow:
        ev = [e for e in uow.factories.events(site_id=site) if e.kind == "verified"]
    assert len(ev) == 1 and ev[0].actor_user_id is None and ev[0].reason.startswith("probation ended by itself")
    # verified: no open-line cap any more
    for _ in range(rules.max_open_lines + 1):
        assert order(own, buyer, quote(own, buyer), site).status_code == 201


def _decline(p: Platform, buyer: dict[str, str], fh: dict[str, str], site: str) -> None:
    r = order(p, buyer, quote(p, buyer), site)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = p.client.post(f"/api/v1/factory/orders/{oid}/decline", json={"reason": "no_capacity"}, headers=fh)
    assert r.status_code == 200, r.text
    # the declined line went to the next best site, often the other of the pair: the buyer cancels it, so that it
    # does not sit in that site's queue and make its dates later than this one's (the pair must stay equal)
    r = p.client.post(f"/api/v1/orders/{oid}/cancel", json={"reason": "test"}, headers=buyer)
    assert r.status_code == 200, r.text


def _moved_to(p: Platform, buyer: dict[str, str], pair: tuple[str, str]) -> str:
    """Order a line at a seed site, then ask the allocation to place it again among the two factories only."""
    q = quote(p, buyer)
    offers = {o["site"]: o for o in q["offers"]}
    a, b = (offers[s] for s in pair)
    assert a["unit_price_cny"] == b["unit_price_cny"] and a["delivery_date"] == b["delivery_date"]  # equal
    seed = max((o for s, o in offers.items() if s not in pair), key=lambda o: o["delivery_date"])
    r = order(p, buyer, q, seed["site"])
    assert r.status_code == 201, r.text
    with UnitOfWork(p.settings.database_url) as uow:
        placed = uow.orders.get(r.json()["id"])
        assert placed is not None
        line = placed.lines[0]
        others = set(offers) - set(pair)
        out = placement.place_elsewhere(uow, [line], seed["site"], {line.id: others})
    assert line.id in out, (seed, a)
    return out[line.id][0]


def test_the_worse_record_loses_the_line(own: Platform) -> None:
    op = own.account("operator")
    (ha, a), (hb, b) = equipped(own, "Kaifu Prints"), equipped(own, "Wangcheng Prints")
    for s in (a, b):  # verified: probation's caps are not what decides here
        assert own.client.post(f"/api/v1/operator/factories/{s}/verify", json={}, headers=op).status_code == 200
    buyer = own.buyer()
    for _ in range(2):
        _decline(own, buyer, hb, b)
    with UnitOfWork(own.settings.database_url) as uow:
        pen = factories.allocation_penalties(uow, {a, b}, now())
    assert pen == {b: pytest.approx(0.1 * 1.0 * 2 / 5)}  # decline weight x rate 1 x shrink 2/(2+3)
    assert _moved_to(own, buyer, (a, b)) == a
    for _ in range(3):
        _decline(own, buyer, ha, a)
    with UnitOfWork(own.settings.database_url) as uow:
        pen = factories.allocation_penalties(uow, {a, b}, now())
    assert pen[a] == pytest.approx(0.1 * 3 / 6) and pen[a] > pen[b]
    assert _moved_to(own, buyer, (a, b)) == b

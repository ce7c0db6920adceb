"""Promised dates against the sites' schedules (issue 17, item 1): a week's orders on the shipped network, placed
through the services (stored quotes priced with the queue of open lines, orders at a chosen offer and tier), then
every site holding a line planned by the site planner and every line's end held against its promised dispatch."""

from __future__ import annotations

import random

import trimesh

from fabgrid.config import Settings
from fabgrid.services import accounts, network, orders, parts, promises, quotes_store
from fabgrid.services.quotes_store import QuoteRequest
from fabgrid.store.uow import UnitOfWork


def _seed(settings: Settings) -> None:
    with UnitOfWork(settings.database_url) as uow:
        network.seed(uow)
        uow.commit()


def test_a_week_of_orders_is_kept_by_every_sites_schedule(settings: Settings, buyer: accounts.Principal) -> None:
    _seed(settings)
    rng = random.Random(17)
    meshes = {"bracket.stl": trimesh.creation.box((60.0, 30.0, 20.0)),
              "bar.stl": trimesh.creation.box((300.0, 30.0, 30.0)),
              "boss.stl": trimesh.creation.cylinder(radius=15.0, height=40.0, sections=48)}
    uploaded = [parts.upload_bytes(settings, buyer, name, m.export(file_type="stl"))[0] for name, m in meshes.items()]
    materials = ["fdm_pla", "fdm_petg", "sla_standard", "sls_pa12", "cnc_al6061", "cnc_steel_45"]
    cities = ["Changsha", "Wuhan", "Shenzhen", "Shanghai"]
    placed = 0
    for _ in range(40):
        material = rng.choice(materials)
        # a finish on some lines: a step of every build in the site's plan, and days in the quote
        finish = rng.choice([None, None, "anodising" if material.startswith("cnc") else "sanding_painting"])
        req = QuoteRequest(part_id=rng.choice(uploaded).id, material=material, finish=finish,
                           quantity=rng.choice([1, 2, 5, 10, 20, 50]), destination=rng.choice(cities))
        quote, _ = quotes_store.create_quote(settings, buyer, req)
        if not quote.offers or any(ln.quote_id == quote.id for o in orders.list_orders(settings, buyer)
                                   for ln in o.lines):
            continue
        # orders pile up at the cheapest sites: the queue ahead grows with every order
        offer = quote.offers[rng.randrange(min(2, len(quote.offers)))]
        tier = rng.choice([t.tier for t in offer.tiers])
        orders.place_order(settings, buyer, [orders.LineRequest(quote.id, site=offer.site, tier=tier)], True)
        placed += 1
    assert placed >= 30
    checks = promises.check_orders(settings, time_limit_s=1.0)
    assert len(checks) == placed
    assert len({c.site_id for c in checks}) >= 3
    assert any(c.tier == "express" for c in checks) and any(c.tier == "economy" for c in checks)
    finished = [ln for ln in promises.ordered_lines(settings) if ln.finish]
    assert finished and all(ln.area_mm2 > 0 for ln in finished)
    late = [c for c in checks if not c.kept]
    assert not late, [(c.line_id, c.site_id, c.tier, str(c.ship_date), c.completion.isoformat()) for c in late]

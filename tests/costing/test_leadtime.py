"""Dates from capacity (issue 17, item 1): the site clock, a job through machines and stations, the issue's examples
on the shipped network (two 600 mm steel bars by CNC, 20 PLA brackets in one build), tiers that buy something,
shipping by distance and weight, ties broken by delivery date and distance."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time

import pytest
import trimesh

from fabgrid.costing import leadtime
from fabgrid.costing.part import from_mesh
from fabgrid.costing.rates import load_rates
from fabgrid.data import load_network
from fabgrid.domain.catalog import Calendar, ProcessFamily, Shift
from fabgrid.network import geo
from fabgrid.services.quotes import PreparedPart, quote_prepared, routing

#: Thursday 2026-12-03 15:14 in Changsha, the time of the issue's quotes.
AT_1514 = datetime(2026, 12, 3, 7, 14, tzinfo=UTC)
DAY = Calendar(shifts=(Shift(name="day", start=time(8), end=time(17)),), workdays=(0, 1, 2, 3, 4),
               holidays=(date(2026, 12, 4),))


def test_clock_keeps_shifts_holidays_and_staffed_steps_inside_one_shift() -> None:
    clk = leadtime.Clock(DAY, AT_1514)  # Thursday 15:14 local; Friday is a holiday here
    at = lambda m: clk.at(m).astimezone(leadtime.SITE_TZ)  # noqa: E731
    assert at(clk.start(0)).hour == 15
    s, e = clk.staffed(0, 120)  # two hours do not fit the 1 h 46 min left today: Monday 08:00
    assert at(s) == datetime(2026, 12, 7, 8, 0, tzinfo=leadtime.SITE_TZ) and e - s == 120
    end = clk.attended(0, 120)  # work that may stop at the shift's end: 106 min today, 14 on Monday
    assert at(end) == datetime(2026, 12, 7, 8, 14, tzinfo=leadtime.SITE_TZ)
    assert leadtime.ship_after(DAY, clk.at(0), 16.0) == date(2026, 12, 3)
    assert leadtime.ship_after(DAY, clk.at(60), 16.0) == date(2026, 12, 7)  # 16:14 is after the cut-off


def test_builds_spread_over_machines_and_queue_ahead() -> None:
    clk = leadtime.Clock(DAY, datetime(2026, 12, 7, 0, 0, tzinfo=UTC))  # Monday 08:00 local
    job = leadtime.Job(builds=4, build_min=300, machines=2, attended=False, steps=())
    assert leadtime.completion(clk, job, 0) == 600  # two builds per machine: 08:00-13:00, 13:00-18:00
    # five hours queued on each machine: 13:00-18:00, then an operator starts the next on Tuesday 08:00
    assert leadtime.completion(clk, job, 300) == 1440 + 300
    long = leadtime.Job(builds=2, build_min=600, machines=1, attended=False, steps=())
    assert leadtime.completion(clk, long, 0) == 1440 + 600  # runs through the evening, the next starts Tuesday
    cnc = leadtime.Job(builds=1, build_min=600, machines=1, attended=True, steps=())
    assert leadtime.completion(clk, cnc, 0) > 600  # cut within shifts only: 9 h a day
    assert leadtime.completion(clk, cnc, 0, overtime=True) == 600
    step = leadtime.Step("inspection", 30, True, 1)
    with_steps = leadtime.Job(builds=2, build_min=60, machines=2, attended=False, steps=(step,))
    assert leadtime.completion(clk, with_steps, 0) == 120  # one inspection station: the second waits
    assert leadtime.completion(clk, with_steps, 0, station_min={"inspection": 90}) == 150


def _offers(mesh: trimesh.Trimesh, material: str, qty: int, to: str, now: datetime = AT_1514,
            queued: dict[tuple[str, ProcessFamily], float] | None = None) -> list:
    q = quote_prepared(PreparedPart(from_mesh(mesh), "part"), material, qty, destination=to, now=now,
                       queued_h=queued)
    return q.offers


def test_two_steel_bars_by_cnc_do_not_ship_the_day_they_are_quoted() -> None:
    offers = _offers(trimesh.creation.box((600.0, 40.0, 40.0)), "cnc_steel_45", 2, "Changsha")
    assert offers
    today = leadtime.local_today(AT_1514)
    for o in offers:
        assert o.estimate.job_time_s / 3600 > 20
        assert o.ship_date > today and o.delivery_date > o.ship_date
        hh = next((x for x in offers if x.city == "Huaihua"), None)
        if hh is not None:
            assert hh.delivery_date > today
    # machine hours the offer's dates counted cover the estimate (set-up per batch added when split)
    assert all(o.breakdown["builds"] * o.breakdown["build_h"] >= o.estimate.job_time_s / 3600 - 0.1 for o in offers)


def test_twenty_pla_brackets_quoted_in_the_afternoon_ship_later_than_today() -> None:
    offers = _offers(trimesh.creation.box((60.0, 30.0, 20.0)), "fdm_pla", 20, "Changsha")
    today = leadtime.local_today(AT_1514)
    assert offers and all(o.ship_date > today for o in offers)
    early = _offers(trimesh.creation.box((60.0, 30.0, 20.0)), "fdm_pla", 20, "Changsha",
                    now=datetime(2026, 12, 3, 0, 0, tzinfo=UTC))  # 08:00 local: a few hours of print fit today
    assert min(o.ship_date for o in early) <= min(o.ship_date for o in offers)


def test_tiers_buy_something_or_are_not_offered() -> None:
    bar = trimesh.creation.box((600.0, 40.0, 40.0))
    network = load_network()
    queued = {(s, ProcessFamily.CNC): 200.0 for s in network.sites}
    for offers in (_offers(bar, "cnc_steel_45", 2, "Changsha"), _offers(bar, "cnc_steel_45", 2, "Changsha",
                                                                         queued=queued)):
        for o in offers:
            by = {t.tier: t for t in o.tiers}
            assert by["economy"].ship_date > by["standard"].ship_date
            assert by["economy"].unit_price_cny < by["standard"].unit_price_cny
            if "express" in by:
                assert by["express"].ship_date < by["standard"].ship_date
                assert by["express"].unit_price_cny > by["standard"].unit_price_cny
    loaded = _offers(bar, "cnc_steel_45", 2, "Changsha", queued=queued)
    assert sum("express" in {t.tier for t in o.tiers} for o in loaded) == len(loaded)  # a queue: express helps


def test_shipping_grows_with_distance_and_weight_and_ranks_the_near_factory_first() -> None:
    lg = geo.load_logistics()
    assert geo.consignment_cny(50, 0.2, lg) < geo.consignment_cny(1500, 0.2, lg)
    assert geo.consignment_cny(50, 0.2, lg) < geo.consignment_cny(50, 12.0, lg)
    offers = _offers(trimesh.creation.box((40.0, 30.0, 10.0)), "fdm_pla", 1, "Shenzhen")
    assert offers[0].city == "Shenzhen"
    assert [o.unit_price_cny for o in offers] == sorted(o.unit_price_cny for o in offers)
    for a, b in itertools.pairwise(offers):
        if a.unit_price_cny == b.unit_price_cny:
            assert (a.delivery_date, a.distance_km) <= (b.delivery_date, b.distance_km)
    assert offers[0].shipping_cny < offers[-1].shipping_cny


def test_offers_show_set_up_and_run_time_and_prices_with_vat() -> None:
    rates = load_rates()
    assert rates.vat_pct == 13
    for o in _offers(trimesh.creation.box((40.0, 30.0, 10.0)), "fdm_pla", 5, "Changsha"):
        assert o.time_s == pytest.approx(o.setup_s + o.run_s, abs=0.2) and o.setup_s > 0 and o.run_s > 0
        assert o.unit_price_incl_vat_cny == pytest.approx(round(o.unit_price_cny * 1.13, 2), abs=0.011)
        for t in o.tiers:
            assert t.total_price_incl_vat_cny == pytest.approx(round(t.total_price_cny * 1.13, 2), abs=0.011)


def test_routing_is_the_planners() -> None:
    r = routing()
    assert r.cool_down["mjf"].where == "off" and r.attended["stress_relief"] == "start"
    assert "inspection" in r.station_kinds

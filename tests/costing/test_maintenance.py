"""Maintenance windows in the quote's dates (issue 18, item 1): a machine in maintenance works neither its queue nor a
build then; the windows of a site and of one machine become minutes of the site's clock; the offer's ship date
moves when a window covers the queue; the site's own finishing price replaces the costed step (item 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import trimesh

from fabgrid.costing import leadtime
from fabgrid.costing.part import from_mesh
from fabgrid.costing.postprocess import post_process
from fabgrid.costing.quote import quote_network
from fabgrid.costing.rates import load_rates
from fabgrid.data import load_network
from fabgrid.domain.catalog import Calendar, Maintenance, ProcessFamily, Shift
from fabgrid.domain.quote import QuoteRequest

DAY = Calendar(shifts=(Shift(name="day", start=time(8), end=time(17)),), workdays=(0, 1, 2, 3, 4))
MONDAY_0800 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def test_the_queue_pauses_and_a_build_waits_over_a_window() -> None:
    clk = leadtime.Clock(DAY, MONDAY_0800)
    job = leadtime.Job(builds=1, build_min=300, machines=1, attended=False, steps=())
    # ten hours queued run until 18:00; the build starts with the next shift, Tuesday 08:00
    assert leadtime.completion(clk, job, 600) == 1440 + 300
    # the machine is down until Tuesday 00:00 (minute 960): the queue runs 00:00-10:00, the build 10:00-15:00
    assert leadtime.completion(clk, job, 600, down=(((0, 960),),)) == 1560 + 300
    # a build does not run across a window: it starts after it
    long = leadtime.Job(builds=1, build_min=600, machines=1, attended=False, steps=())
    assert leadtime.completion(clk, long, 0) == 600
    assert leadtime.completion(clk, long, 0, down=(((300, 400),),)) == 400 + 600
    # two machines, one down: the build goes to the other
    two = leadtime.Job(builds=1, build_min=300, machines=2, attended=False, steps=())
    assert leadtime.completion(clk, two, 0, down=(((0, 2000),), ())) == 300
    # attended work (CNC) paused over a window resumes within shifts
    cnc = leadtime.Job(builds=1, build_min=60, machines=1, attended=True, steps=())
    plain = leadtime.completion(clk, cnc, 300)
    assert leadtime.completion(clk, cnc, 300, down=(((120, 1440 + 8 * 60 - 480),),)) > plain


def test_windows_of_the_site_and_of_one_machine() -> None:
    net = load_network()
    site = next(s for s in net.sites.values() if len(s.machines) >= 2)
    a, b = site.machines[0].id, site.machines[1].id
    origin = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 08:00 site time
    down = site.model_copy(update={"maintenance": (
        Maintenance(start=date(2026, 12, 8), end=date(2026, 12, 9), machine_id=a),
        Maintenance(start=date(2026, 12, 10), end=date(2026, 12, 10)))})
    w = leadtime.down_windows(down, origin, [a, b])
    tue = 16 * 60  # Tuesday 00:00 site time, in minutes from Monday 08:00
    # machine a: its own window (Tuesday, Wednesday) and the site's (Thursday) as one; machine b: the site's
    assert w == (((tue, tue + 3 * 1440),), ((tue + 2 * 1440, tue + 3 * 1440),))
    assert leadtime.down_windows(site, origin, [a, b]) == ()  # no window: nothing to wait for
    past = site.model_copy(update={"maintenance": (Maintenance(start=date(2026, 12, 1), end=date(2026, 12, 2)),)})
    assert leadtime.down_windows(past, origin, [a]) == ()


def _pla_site_offer(maintenance: tuple[Maintenance, ...], now: datetime, finishes: dict[str, float] | None = None,
                    finish: str | None = None) -> tuple[object, object]:
    net = load_network()
    site = next(s for s in sorted(net.sites.values(), key=lambda s: s.id) if "fdm_pla" in s.materials)
    changed = site.model_copy(update={"maintenance": maintenance, "finishes_cny": finishes or {}})
    one = net.model_copy(update={"sites": {site.id: changed}})
    part = from_mesh(trimesh.creation.box(extents=(40, 30, 20)))
    queued = {(site.id, ProcessFamily.FDM): 48.0 * len(site.machines)}
    offers, rejected = quote_network(part, one, QuoteRequest(material="fdm_pla", quantity=4, finish=finish),
                                     load_rates(), now, queued_h=queued)
    assert offers, rejected
    return offers[0], site


def test_an_offer_moves_when_a_window_covers_its_queue() -> None:
    now = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 site time
    before, _ = _pla_site_offer((), now)
    today = date(2026, 12, 7)
    window = (Maintenance(start=today, end=today + timedelta(days=6)),)
    after, _ = _pla_site_offer(window, now)
    assert after.ship_date > before.ship_date  # type: ignore[attr-defined]
    assert after.ship_date > today + timedelta(days=6)  # type: ignore[attr-defined]
    assert after.unit_price_cny == before.unit_price_cny  # type: ignore[attr-defined]


def test_the_sites_own_finishing_price_replaces_the_costed_step() -> None:
    now = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    costed, _ = _pla_site_offer((), now, finish="sanding_painting")
    own, _ = _pla_site_offer((), now, {"sanding_painting": 30.0}, finish="sanding_painting")
    assert own.breakdown["finish_cny"] == 30.0  # type: ignore[attr-defined]
    assert "finish_cny" not in costed.breakdown  # type: ignore[attr-defined]
    # the painting's 10 CNY of consumables are no longer costed; support removal (no consumables) still is
    assert own.breakdown["consumables_cny"] < costed.breakdown["consumables_cny"]  # type: ignore[attr-defined]
    net = load_network()
    mat = net.catalog.materials["fdm_pla"]
    post = post_process(net.catalog, mat.process, 5200.0, "sanding_painting")
    op, cons, price = post.priced_by({"sanding_painting": 30.0})
    assert price == 30.0 and cons == post.consumables_cny - 10.0 and op < post.operator_s

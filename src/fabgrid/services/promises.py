"""Do the sites' schedules keep the dates the quotes promised? Each site's ordered lines become a workload (builds as
the quoted estimate batches them, released when ordered, due at the dispatch cut-off of the promised ship date),
the site planner (`services.planning.plan_site`) schedules it and every line's end is held against its promise.

Used by the promise test and `bench/quote_dates.py`. The planning runs in a spawned child process (OR-Tools and
the allocation engine's HiGHS cannot share one process). Depends on the store (orders, quotes), services.network
and services.planning; never on api, web or cli.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from fabgrid.config import Settings
from fabgrid.costing import leadtime
from fabgrid.domain.catalog import Catalog, Network, ProcessFamily
from fabgrid.domain.order import QUEUED_AT_SITE, OrderLine
from fabgrid.domain.quote import Offer, Quote
from fabgrid.domain.schedule import WorkBuild, WorkJob, Workload
from fabgrid.services import network as network_service
from fabgrid.store.uow import UnitOfWork

#: Planner time limit per site (dispatch rules, then CP-SAT warm-started from the best of them).
PLAN_TIME_LIMIT_S = 3.0
#: Weight of a line's lateness in the planner's objective, per tier (express lines are protected first).
TIER_WEIGHT = {"express": 3, "standard": 2, "economy": 1}


@dataclass(frozen=True)
class PromisedLine:
    """An ordered line as its site must make it: builds, when it was ordered and the ship date promised."""

    id: str
    site_id: str
    process: ProcessFamily
    material: str
    quantity: int
    machine_h: float
    builds: int
    build_h: float
    tier: str
    ordered_at: datetime
    ship_date: date
    #: the buyer's finish (a step of every build in the plan) and the part's surface area it takes time by
    finish: str | None = None
    area_mm2: float = 0.0


@dataclass(frozen=True)
class PromiseCheck:
    """One line against the site's schedule: the deadline to ship on the promised date and when the plan ends it."""

    line_id: str
    site_id: str
    tier: str
    ship_date: date
    deadline: datetime
    completion: datetime

    @property
    def kept(self) -> bool:
        """True when the schedule finishes the line by its promised dispatch."""
        return self.completion <= self.deadline


def _typed(quote: object) -> Quote:
    return quote if isinstance(quote, Quote) else Quote.model_validate(quote)


def line_of(line_id: str, offer: Offer, tier: str, ordered_at: datetime, ship: date, finish: str | None = None,
            area_mm2: float = 0.0) -> PromisedLine:
    """A line ordered at `offer` in `tier`, with its builds as the offer's dates batched them (an offer stored
    before the batching was recorded: the estimate's builds)."""
    builds = int(offer.breakdown.get("builds", offer.estimate.builds))
    build_h = offer.breakdown.get("build_h") or leadtime.build_hours(offer.estimate.job_time_s, builds)
    return PromisedLine(id=line_id, site_id=offer.site, process=offer.process, material=offer.material,
                        quantity=offer.quantity, machine_h=offer.estimate.job_time_s / 3600.0, builds=builds,
                        build_h=float(build_h), tier=tier, ordered_at=ordered_at, ship_date=ship, finish=finish,
                        area_mm2=area_mm2)


def occupancy_hours(offer: Offer) -> float:
    """Hours the offer's line holds the machines (builds with on-machine cool-down; machine hours in offers stored
    before it was recorded)."""
    return float(offer.breakdown.get("occupancy_h") or offer.estimate.job_time_s / 3600.0)


def station_hours(offer: Offer) -> dict[str, float]:
    """Hours of station work per step the offer's dates counted for its line (none in offers stored before)."""
    return {k.split(".", 1)[1]: float(v) for k, v in offer.breakdown.items() if k.startswith("station_h.")}


class OpenQueue(NamedTuple):
    """What the queued lines hold beyond their machine hours: express hours per (site, process), station hours per
    (site, step), and per (site, process) the other lines' (dispatch deadline, machine hours)."""

    priority_h: dict[tuple[str, ProcessFamily], float]
    station_h: dict[tuple[str, str], float]
    due: dict[tuple[str, ProcessFamily], list[tuple[datetime, float]]]
    occupancy_h: dict[tuple[str, ProcessFamily], float]


_line_cache: dict[str, tuple[dict[str, float], date | None, float | None]] = {}
_line_lock = threading.Lock()


def _promise_of(uow: UnitOfWork, ln: OrderLine) -> tuple[dict[str, float], date | None, float | None]:
    """(station hours, promised ship date, hours it holds the machines) of a queued line from its quote (read
    once: a stored quote does not change)."""
    key = f"{ln.quote_id}:{ln.offer_site_id}:{ln.tier}"
    with _line_lock:
        hit = _line_cache.get(key)
    if hit is not None:
        return hit
    stored = uow.quotes.by_id(ln.quote_id)
    offer = next((o for o in _typed(stored.quote).offers if o.site == ln.offer_site_id),
                 None) if stored is not None else None
    tier = next((t for t in offer.tiers if t.tier == ln.tier), None) if offer is not None else None
    out = (station_hours(offer) if offer is not None else {},
           tier.ship_date if tier is not None else (offer.ship_date if offer is not None else None),
           offer.breakdown.get("occupancy_h") if offer is not None else None)
    with _line_lock:
        if len(_line_cache) > 100_000:
            _line_cache.clear()
        _line_cache[key] = out
    return out


def open_queue(uow: UnitOfWork, cutoff_h: float | None = None) -> OpenQueue:
    """What the queued lines hold beyond their machine hours (`services.network.open_machine_hours`): the machine
    hours ordered express per (site, process), which a new express line does not overtake; the station hours per
    (site, step) their quotes' dates counted; and the other lines' promised dispatch deadlines with their machine
    hours, which express overtakes only where the promise leaves room."""
    if cutoff_h is None:
        cutoff_h = float(network_service.current(uow).rates.shipping["dispatch_cutoff_h"])
    q = OpenQueue({}, {}, {}, {})
    for ln in uow.orders.lines(statuses=QUEUED_AT_SITE):
        if ln.site_id is None:
            continue
        key = (ln.site_id, ln.process)
        hours, ship, held = _promise_of(uow, ln)
        held = max(float(held or 0.0), ln.machine_h)  # builds with their on-machine cool-down
        q.occupancy_h[key] = q.occupancy_h.get(key, 0.0) + held
        if ln.tier == "express":
            q.priority_h[key] = q.priority_h.get(key, 0.0) + held
        elif ship is not None:
            q.due.setdefault(key, []).append((leadtime.ship_deadline(ship, cutoff_h), held))
        for step, h in hours.items():
            q.station_h[(ln.site_id, step)] = q.station_h.get((ln.site_id, step), 0.0) + h
    return q


def ordered_lines(settings: Settings, site_id: str | None = None) -> list[PromisedLine]:
    """The lines queued at the sites (allocated or in production) with the ship date their quote's offer and tier
    promised and the number of builds of the quoted estimate."""
    out: list[PromisedLine] = []
    with UnitOfWork(settings.database_url) as uow:
        for ln in uow.orders.lines(site_id=site_id, statuses=QUEUED_AT_SITE):
            if ln.site_id is None:
                continue
            stored = uow.quotes.by_id(ln.quote_id)
            order = uow.orders.get(ln.order_id)
            if stored is None or order is None:
                continue
            quote = _typed(stored.quote)
            offer = next((o for o in quote.offers if o.site == ln.offer_site_id), None)
            if offer is None:
                continue
            tier = next((t for t in offer.tiers if t.tier == ln.tier), None)
            ship = tier.ship_date if tier is not None else offer.ship_date
            part = uow.parts.get(ln.part_id, None)
            report: Any = part.report if part is not None else None
            area = report.get("area_mm2") if isinstance(report, dict) else getattr(report, "area_mm2", None)
            out.append(line_of(ln.id, offer, ln.tier, order.created_at, ship, ln.finish, float(area or 0.0)))
    return out


def workload(site_id: str, lines: Sequence[PromisedLine], cutoff_h: float, catalog: Catalog | None = None) -> Workload:
    """The site's workload of `lines`: one job per line, its builds as the quote batched them with the buyer's
    finish as a step of each (`services.planning.finish_steps`, with `catalog`), released when ordered, due at
    the promised dispatch."""
    from fabgrid.services.planning import finish_steps

    start = min(ln.ordered_at for ln in lines).replace(second=0, microsecond=0)
    jobs = []
    for ln in lines:
        n = max(ln.builds, 1)
        per_build = max(1, math.ceil(ln.quantity / n))
        print_h = ln.build_h
        steps = finish_steps(catalog, ln.finish, per_build, ln.area_mm2) if catalog is not None and ln.finish else ()
        builds = tuple(WorkBuild(id=f"{ln.id}-b{i + 1}", process=ln.process, material=ln.material, print_h=print_h,
                                 parts=per_build, finish_steps=steps) for i in range(n))
        jobs.append(WorkJob(id=ln.id, due=leadtime.ship_deadline(ln.ship_date, cutoff_h),
                            release=max(ln.ordered_at, start), weight=TIER_WEIGHT.get(ln.tier, 1), builds=builds))
    return Workload(site=site_id, start=start, source="orders", jobs=tuple(jobs))


def _plan(network: Network, site_id: str, work: Workload, horizon_days: float,
          time_limit_s: float) -> list[tuple[str, datetime]]:
    from fabgrid.services.planning import plan_site

    p = plan_site(network, site_id, work, horizon_days, time_limit_s=time_limit_s, workers=1)
    if not p.check_ok:
        raise AssertionError(f"the schedule of site {site_id} fails the independent check")
    return [(o.job, o.completion) for o in p.orders]


def check_sites(network: Network, lines: Iterable[PromisedLine], cutoff_h: float,
                time_limit_s: float = PLAN_TIME_LIMIT_S) -> list[PromiseCheck]:
    """Plan every site holding some of `lines` and hold each line's end against its promised dispatch."""
    by_site: dict[str, list[PromisedLine]] = {}
    for ln in lines:
        by_site.setdefault(ln.site_id, []).append(ln)
    out: list[PromiseCheck] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        futures = {}
        for site_id, mine in sorted(by_site.items()):
            work = workload(site_id, mine, cutoff_h, network.catalog)
            assert work.start is not None
            last = max(leadtime.ship_deadline(ln.ship_date, cutoff_h) for ln in mine)
            horizon = max(1.0, (last - work.start + timedelta(days=2)).total_seconds() / 86400.0)
            futures[site_id] = pool.submit(_plan, network, site_id, work, horizon, time_limit_s)
        for site_id, fut in futures.items():
            done = dict(fut.result(timeout=600))
            for ln in by_site[site_id]:
                out.append(PromiseCheck(line_id=ln.id, site_id=site_id, tier=ln.tier, ship_date=ln.ship_date,
                                        deadline=leadtime.ship_deadline(ln.ship_date, cutoff_h),
                                        completion=done[ln.id]))
    return out


def check_orders(settings: Settings, time_limit_s: float = PLAN_TIME_LIMIT_S) -> list[PromiseCheck]:
    """Every line queued at a site of the configured database against its site's schedule."""
    with UnitOfWork(settings.database_url) as uow:
        data = network_service.current(uow)
    return check_sites(data.network, ordered_lines(settings), float(data.rates.shipping["dispatch_cutoff_h"]),
                       time_limit_s)

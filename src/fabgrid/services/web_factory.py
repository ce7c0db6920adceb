"""Use cases of the factory pages: the site's open orders as a scheduling workload (builds from the quoted
estimates), the planned schedule with its Gantt PNG, and the machines' latest telemetry state.

Thin glue over the scheduling engine (`fabgrid.scheduling`), the store and services.telemetry's event
reader; never imports api, web or cli.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from fabgrid.config import Settings
from fabgrid.costing import leadtime
from fabgrid.domain.order import QUEUED_AT_SITE
from fabgrid.errors import InputError
from fabgrid.services.accounts import Principal
from fabgrid.services.network import current as current_network
from fabgrid.services.planning import finish_steps
from fabgrid.store.uow import UnitOfWork

SCHEDULE_TIME_LIMIT_S = 3.0
MAX_BUILD_H = 24.0 * 14
#: Plans kept per server process (keyed by their exact input, so a changed workload is planned again).
SCHEDULE_CACHE_SIZE = 8
_cache: OrderedDict[str, SiteSchedule] = OrderedDict()
_cache_lock = threading.Lock()
#: How far back the machine-status table looks for telemetry.
STATUS_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class SiteSchedule:
    """A planned schedule of the site's open orders: rows (UTC), the Gantt PNG, the solver's status."""

    rows: list[dict[str, Any]]
    png: bytes
    status: str
    makespan_h: float
    weighted_tardiness_min: int
    builds: list[dict[str, Any]]


def _factory(who: Principal) -> str:
    if who.role != "factory" or not who.site_id:
        raise InputError("this needs a factory account with a site", code="factory.not_factory", status=403)
    return who.site_id


def _area_mm2(uow: UnitOfWork, part_id: str) -> float:
    """The analysed surface area of a part (0 when it has no report): what a finish's time per cm2 takes."""
    part = uow.parts.get(part_id, None)
    report: Any = part.report if part is not None else None
    area = report.get("area_mm2") if isinstance(report, dict) else getattr(report, "area_mm2", None)
    return float(area or 0.0)


def site_workload(settings: Settings, who: Principal, start: datetime | None = None) -> Any:
    """The open order lines of the caller's site as a `Workload`: each line one job (named after its order, with
    the line's position when the order has several lines here), its builds from the quoted estimate (machine time of
    all copies split over the builds the quote's dates counted) with the buyer's finish as a step of each build
    (`planning.finish_steps`), due at the dispatch cut-off of the ship date its tier promised."""
    from fabgrid.domain.schedule import WorkBuild, WorkJob, Workload
    from fabgrid.scheduling.workload import default_start

    site_id = _factory(who)
    t0 = start or default_start()
    jobs = []
    with UnitOfWork(settings.database_url) as uow:
        catalog = current_network(uow).network.catalog
        cutoff = float(current_network(uow).rates.shipping["dispatch_cutoff_h"])
        lines = uow.orders.lines(site_id=site_id, statuses=QUEUED_AT_SITE, limit=500)
        per_order = Counter(ln.order_id for ln in lines)
        for ln in lines:
            q = uow.quotes.by_id(ln.quote_id)
            offer = next((x for x in (q.quote.offers if q else []) if x.site == ln.offer_site_id), None)
            # the builds as the quote's dates batched them (machining split over the machines), where it says so
            batched = offer is not None and "build_h" in offer.breakdown
            n_builds = max(1, int(offer.breakdown.get("builds", offer.estimate.builds)) if offer else 1)
            print_h = min(MAX_BUILD_H, max(0.1, float(offer.breakdown["build_h"]) if offer is not None and batched
                                           else math.ceil(ln.machine_h / n_builds * 10) / 10))
            per_build = max(1, math.ceil(ln.quantity / n_builds))
            job_id = ln.order_id if per_order[ln.order_id] == 1 else f"{ln.order_id}/{ln.position}"
            finishing = finish_steps(catalog, ln.finish, per_build, _area_mm2(uow, ln.part_id)) if ln.finish else ()
            builds = tuple(WorkBuild(id=f"{job_id}-b{i + 1}", process=ln.process, material=ln.material,
                                     print_h=print_h, parts=per_build, finish_steps=finishing)
                           for i in range(n_builds))
            # due when the line must be done to ship on the date its tier promised (the dispatch cut-off)
            promised = next((t.ship_date for t in offer.tiers if t.tier == ln.tier), None) if offer else None
            due = (leadtime.ship_deadline(promised, cutoff) if promised is not None
                   else datetime.combine(ln.delivery_date, time(18, 0), tzinfo=UTC))
            due = max(due, t0 + timedelta(hours=1))
            jobs.append(WorkJob(id=job_id, due=due, builds=builds))
    if not jobs:
        return None
    return Workload(site=site_id, start=t0, source="orders", jobs=tuple(jobs))


def site_schedule(settings: Settings, who: Principal, horizon_days: float = 14.0) -> SiteSchedule | None:
    """Plan the site's open orders (dispatch rules, then CP-SAT within a few seconds) and draw the Gantt.
    None when the site has nothing to schedule.

    The planning runs in a fresh child process: OR-Tools and highspy (the allocation engine's solver, used
    by reroutes in this server process) bundle clashing HiGHS symbols and cannot both load into one process.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workload = site_workload(settings, who)
    if workload is None:
        return None
    site_id = _factory(who)
    # the page and its Gantt PNG ask for the same plan: keep the last few by their exact input
    key = hashlib.sha256(f"{site_id}|{horizon_days}|{workload.model_dump_json()}".encode()).hexdigest()
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(plan_workload, site_id, workload, horizon_days).result(timeout=120)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > SCHEDULE_CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def plan_workload(site_id: str, workload: Any, horizon_days: float) -> SiteSchedule:
    """Schedule `workload` at `site_id` and draw its Gantt chart (run in a child process by `site_schedule`)."""
    from fabgrid.services.catalog import shipped_network
    from fabgrid.services.planning import plan_site

    p = plan_site(shipped_network(), site_id, workload, horizon_days, time_limit_s=SCHEDULE_TIME_LIMIT_S, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        png = p.gantt(Path(tmp) / "gantt.png", title=f"{site_id}: {len(workload.jobs)} orders", time_unit="h",
                      label_builds=False).read_bytes()
    rows: list[dict[str, Any]] = []
    for r in p.rows:
        start, end = r["start"], r["end"]
        assert isinstance(start, datetime) and isinstance(end, datetime)
        rows.append({**r, "start": start.isoformat(), "end": end.isoformat()})
    builds = [{"id": b.id, "order": j.id, "process": b.process.value, "material": b.material,
               "print_h": b.print_h, "parts": b.parts} for j in workload.jobs for b in j.builds]
    return SiteSchedule(rows=rows, png=png, status=str(p.schedule.status.value), makespan_h=p.schedule.makespan / 60.0,
                        weighted_tardiness_min=p.schedule.weighted_tardiness, builds=builds)


@dataclass(frozen=True)
class MachineStatus:
    """A machine of the site with its model, process and latest telemetry state (None: no state lately)."""

    id: str
    model: str
    process: str
    state: str | None
    at: datetime | None


def machine_status(settings: Settings, who: Principal, now: datetime | None = None) -> list[MachineStatus]:
    """The site's machines with their model, process and the latest telemetry state (None when the
    machine has sent no state in the last two days). One indexed query over the site's state events."""
    from fabgrid.services.network import network_of
    from fabgrid.store.db import StoreError
    from fabgrid.store.telemetry import MachineEventStore

    site_id = _factory(who)
    network = network_of(settings)  # the network in the store (a joined factory is not in the shipped YAML)
    site = network.site(site_id)
    now = now or datetime.now(UTC)
    latest: dict[str, tuple[datetime, Any]] = {}
    try:
        latest = MachineEventStore(settings.database_url, create=False).latest_states(site_id, now - STATUS_LOOKBACK)
    except StoreError:
        latest = {}  # a database without the telemetry table: no states to show
    out = []
    for m in site.machines:
        model = network.machine_model(m)
        ts, payload = latest.get(m.id, (None, None))
        state = payload.get("state") if isinstance(payload, dict) else None
        out.append(MachineStatus(id=m.id, model=f"{model.vendor} {model.model}", process=model.process.value,
                                 state=str(state) if state is not None else None, at=ts))
    return out

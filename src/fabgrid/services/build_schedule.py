"""The live schedule of a site's builds: the builds still to run (planned, sending, printing) planned by the
scheduling engine in calendar time on the site's machines and stations, with its shifts, the machines marked
down or in maintenance as down-time, locked and started builds kept on their machine; each order line's promised
date held against its build's end, the late lines flagged.

Composes services.site_plan (run in a fresh child process: OR-Tools and highspy cannot share one), the store and
services.machine_pages; never imports api, web or cli.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fabgrid.config import Settings
from fabgrid.domain.dispatch import BuildStatus, PlannedBuild
from fabgrid.errors import InputError
from fabgrid.services.accounts import Principal
from fabgrid.services.dispatch import own_site
from fabgrid.store.uow import UnitOfWork

#: Builds the schedule plans (the others are over).
TO_RUN = (BuildStatus.PLANNED, BuildStatus.SENDING, BuildStatus.PRINTING)
#: Print hours assumed for a build without an estimate (its lines had no machine hours).
DEFAULT_PRINT_H = 1.0
MAX_PRINT_H = 24.0 * 14
PLAN_TIME_LIMIT_S = 3.0
_cache: OrderedDict[str, Any] = OrderedDict()  # the planned weeks (site_plan.WeekPlan) by their exact input
_lock = threading.Lock()


@dataclass(frozen=True)
class LiveSchedule:
    """The site's planned week of builds: the engine's plan, the builds, the machines marked down."""

    site_id: str
    start: str
    plan: dict[str, Any]
    rows: list[dict[str, Any]]
    staffed: list[tuple[str, str]]
    machines: list[str]
    builds: list[PlannedBuild]
    down: list[tuple[str, str, str]]
    due: dict[str, str]

    @property
    def late_lines(self) -> list[dict[str, Any]]:
        """The order lines the plan finishes after their promised date (or cannot plan)."""
        return list(self.plan.get("late", []))

    @property
    def late_builds(self) -> set[str]:
        """Builds holding a late line."""
        return {str(x["job"]) for x in self.late_lines}


def _due(uow: UnitOfWork, line: Any, cutoff_h: float) -> datetime:
    """When a line must be done: the dispatch cut-off of the ship date its tier promised, else its delivery date."""
    from fabgrid.costing import leadtime

    q = uow.quotes.by_id(line.quote_id)
    offer = next((x for x in (q.quote.offers if q else []) if x.site == line.offer_site_id), None)
    promised = next((t.ship_date for t in offer.tiers if t.tier == line.tier), None) if offer else None
    if promised is not None:
        return leadtime.ship_deadline(promised, cutoff_h)
    return datetime.combine(line.delivery_date, time(18, 0), tzinfo=UTC)


def _workload(settings: Settings, site_id: str, start: datetime,
              now: datetime) -> tuple[Any, list[PlannedBuild], dict[str, str], dict[str, list[str]]]:
    from fabgrid.domain.catalog import ProcessFamily
    from fabgrid.domain.schedule import Maintenance, WorkBuild, WorkJob, Workload
    from fabgrid.services.machine_pages import down_windows
    from fabgrid.services.network import current

    with UnitOfWork(settings.database_url) as uow:
        cutoff = float(current(uow).rates.shipping["dispatch_cutoff_h"])
        builds = uow.dispatch.builds(site_id, TO_RUN)
        lines = {ln.id: ln for ln in uow.orders.lines(site_id=site_id)}
        dues = {i: _due(uow, ln, cutoff) for i, ln in lines.items()
                if any(p.line_id == i for b in builds for p in b.parts)}
    jobs, lines_of, due_of = [], {}, {}
    for b in builds:
        ids = [p.line_id for p in b.parts if p.line_id]
        due = min((dues[i] for i in ids if i in dues), default=start + timedelta(days=7))
        pinned = b.locked or b.status is not BuildStatus.PLANNED
        print_h = min(MAX_PRINT_H, max(0.1, b.estimated_time_s / 3600.0 if b.estimated_time_s else DEFAULT_PRINT_H))
        wb = WorkBuild(id=b.id, process=ProcessFamily(b.process), material=b.material, print_h=round(print_h, 2),
                       parts=max(1, b.copies), machines=(b.machine_id,) if pinned and b.machine_id else ())
        jobs.append(WorkJob(id=b.id, due=max(due, start + timedelta(minutes=1)), builds=(wb,)))
        lines_of[b.id] = ids or [b.id]
        due_of[b.id] = due.isoformat()
    down = [Maintenance(resource=m, start=a, end=u) for m, a, u in down_windows(settings, site_id, now)]
    if not jobs:
        return None, builds, due_of, lines_of
    return Workload(site=site_id, start=start, source="builds", jobs=tuple(jobs), maintenance=tuple(down)), builds, \
        due_of, lines_of


def _plan_child(network: Any, site_id: str, workload: Any, lines_of: dict[str, list[str]],
                lights_out: bool) -> Any:
    from fabgrid.services.site_plan import plan_week

    return plan_week(network, site_id, workload, lights_out=lights_out, time_limit_s=PLAN_TIME_LIMIT_S,
                     lines_of=lines_of)


def live_schedule(settings: Settings, who: Principal, *, lights_out: bool = True,
                  now: datetime | None = None) -> LiveSchedule:
    """Plan the caller's site's builds from now (rounded to the quarter hour) over a week."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from fabgrid.services.machine_pages import down_windows
    from fabgrid.services.network import network_of

    site_id = own_site(who)
    if site_id is None:
        raise InputError("this needs a factory account with a site", code="factory.not_factory", status=403)
    t = now or datetime.now(UTC)
    start = t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)
    workload, builds, due_of, lines_of = _workload(settings, site_id, start, t)
    down = [(m, a.isoformat(), u.isoformat()) for m, a, u in down_windows(settings, site_id, t)]
    network = network_of(settings)
    site = network.site(site_id)
    if workload is None:
        from fabgrid.scheduling.site import work_windows

        staffed = [((start + timedelta(minutes=a)).isoformat(), (start + timedelta(minutes=b)).isoformat())
                   for a, b in work_windows(site.calendar, start, 7 * 1440)]
        return LiveSchedule(site_id, start.isoformat(), {"lines": 0, "lines_kept": 0, "late": [], "utilisation": 0.0,
                                                         "status": "empty", "lights_out": lights_out}, [], staffed,
                            [m.id for m in site.machines], builds, down, due_of)
    key = hashlib.sha256(f"{site_id}|{lights_out}|{workload.model_dump_json()}".encode()).hexdigest()
    with _lock:
        week = _cache.get(key)
    if week is None:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            week = pool.submit(_plan_child, network, site_id, workload, lines_of, lights_out).result(timeout=120)
        with _lock:
            _cache[key] = week
            while len(_cache) > 8:
                _cache.popitem(last=False)
    return LiveSchedule(site_id, start.isoformat(), week.as_dict(), week.rows, week.staffed, week.machines, builds,
                        down, due_of)


def mark_and_replan(settings: Settings, who: Principal, machine_id: str, mark: str, hours: float,
                    note: str = "") -> Any:
    """Mark a machine down, in maintenance or back up, then re-plan the site's builds around it (started and
    locked builds kept)."""
    from fabgrid.services import builds, machine_pages

    view = machine_pages.mark_machine(settings, who, machine_id, mark, hours, note)
    builds.plan_own_site(settings, who)
    return view

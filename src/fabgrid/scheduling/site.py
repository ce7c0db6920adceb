"""Turns a site (machines, stations, calendar) and its workload into a scheduling `Problem` in minutes.

Each build becomes a job: print (start needs an operator; printers run through the night), cool-down,
the process's follow-up steps at the stations that perform them, and inspection. Shifts become
operator work windows, maintenance becomes down-time, material changes become setups.
Depends on domain records and the problem model; the station kinds are handed in (services read them from
fabgrid.data); never on store, services or cli.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fabgrid.domain.catalog import Calendar, Network, Site
from fabgrid.domain.schedule import ScheduledOperation, WorkBuild, Workload, WorkStep
from fabgrid.errors import InputError
from fabgrid.scheduling.problem import Alternative, Job, Operation, Order, Problem, Resource, Window
from fabgrid.scheduling.workload import SITE_TZ, load_routes

COOL_DOWN = "cool_down"
INSPECTION = "inspection"
MAX_PLAN_DAYS = 120


@dataclass(frozen=True)
class SiteProblem:
    """A site's scheduling problem with what is needed to read its answer back in site terms."""

    problem: Problem
    site: Site
    workload: Workload
    start: datetime
    builds: tuple[WorkBuild, ...]
    build_job: tuple[str, ...]
    horizon_min: int

    def at(self, minute: int) -> datetime:
        """The UTC time of minute offset ``minute``."""
        return self.start + timedelta(minutes=minute)

    def rows(self, operations: tuple[ScheduledOperation, ...]) -> list[dict[str, object]]:
        """The operations in site terms: build, order, step, resource id, UTC start and end."""
        out: list[dict[str, object]] = []
        for o in sorted(operations, key=lambda o: (o.start, o.job, o.index)):
            job = self.problem.jobs[o.job]
            out.append({
                "job": self.build_job[o.job], "build": job.name, "index": o.index,
                "step": job.operations[o.index].name,
                "resource": None if o.machine is None else self.problem.resources[o.machine].name,
                "start": self.at(o.start), "end": self.at(o.end), "start_min": o.start, "end_min": o.end,
            })
        return out


def work_windows(calendar: Calendar, start: datetime, horizon_min: int) -> tuple[Window, ...]:
    """Shift windows in minutes from ``start`` (site time Asia/Shanghai); touching shifts are merged."""
    first = start.astimezone(SITE_TZ).date() - timedelta(days=1)
    days = horizon_min // 1440 + 3
    raw: list[Window] = []
    for d in range(days):
        day: date = first + timedelta(days=d)
        if not calendar.is_workday(day):
            continue
        for s in calendar.shifts:
            a = datetime.combine(day, s.start, tzinfo=SITE_TZ)
            b = datetime.combine(day, s.end, tzinfo=SITE_TZ)
            if b <= a:
                b += timedelta(days=1)
            lo = max(0, int((a - start).total_seconds() // 60))
            hi = min(horizon_min, int((b - start).total_seconds() // 60))
            if hi > lo:
                raw.append((lo, hi))
    merged: list[Window] = []
    for lo, hi in sorted(raw):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def longest_shift_min(calendar: Calendar, start: datetime) -> int:
    """Minutes of the longest staffed window in the two weeks from ``start`` (0: no shift)."""
    return max((b - a for a, b in work_windows(calendar, start, 14 * 1440)), default=0)


def print_minutes(build: WorkBuild) -> int:
    """Minutes the machine is held by ``build``: the print and a cool-down on the machine, as `site_problem`."""
    cool = load_routes().cool_down.get(build.process.value)
    return _minutes(build.print_h + (cool.hours(build.print_h) if cool and cool.where == "machine" else 0.0))


def _minutes(hours: float) -> int:
    return max(1, math.ceil(hours * 60 - 1e-9))


class _Resources:
    """Resource index of the site: machines, station units, and workbenches for steps without a station.

    ``station_kinds``: the follow-up steps each station kind performs (finishes.yaml ``station_kinds``).
    """

    def __init__(self, site: Site, station_kinds: Mapping[str, tuple[str, ...]]) -> None:
        self.items: list[Resource] = []
        self.index: dict[str, list[int]] = {}
        for m in site.machines:
            self._add(m.id, Resource(m.id, kind="machine"))
        self.kinds = station_kinds
        self.by_step: dict[str, list[int]] = {}
        for st in site.stations:
            for u in range(st.count):
                name = st.id if st.count == 1 else f"{st.id}#{u + 1}"
                idx = self._add(st.id, Resource(name, kind=st.kind))
                for step in (*self.kinds.get(st.kind, ()), st.kind):
                    self.by_step.setdefault(step, []).append(idx)

    def _add(self, key: str, res: Resource) -> int:
        self.items.append(res)
        self.index.setdefault(key, []).append(len(self.items) - 1)
        return len(self.items) - 1

    def for_step(self, step: str) -> list[int]:
        """Station units that perform ``step``; a workbench resource when the site has none."""
        if step not in self.by_step:
            self.by_step[step] = [self._add(f"bench:{step}", Resource(f"bench:{step}", kind="workbench"))]
        return self.by_step[step]

    def down(self, workload: Workload, start: datetime, horizon_min: int) -> None:
        """Add the workload's maintenance windows as down-times."""
        for i, mw in enumerate(workload.maintenance):
            if mw.resource not in self.index:
                raise InputError(f"maintenance[{i}].resource: {mw.resource!r} is not a machine or station "
                                 f"of site {workload.site}", hint="use a machine or station id of the site",
                                 code="schedule.work")
            a = max(0, int((mw.start - start).total_seconds() // 60))
            b = min(horizon_min, math.ceil((mw.end - start).total_seconds() / 60))
            if b <= a:
                continue
            for r in self.index[mw.resource]:
                old = self.items[r]
                self.items[r] = Resource(old.name, old.kind, tuple(sorted((*old.down, (a, b)))))


def _eligible(network: Network, site: Site, build: WorkBuild, where: str) -> list[str]:
    ok = [m.id for m in site.machines
          if network.machine_model(m).process == build.process
          and build.material in network.machine_model(m).materials]
    if build.machines:
        unknown = [m for m in build.machines if m not in {x.id for x in site.machines}]
        if unknown:
            raise InputError(f"{where}.machines: {unknown} are not machines of site {site.id}",
                             hint=f"machines there: {[m.id for m in site.machines]}", code="schedule.work")
        ok = [m for m in build.machines if m in ok]
    if not ok:
        raise InputError(f"{where}: no machine of site {site.id} prints {build.process.value} in "
                         f"{build.material!r}", hint="change the material or the machines of the build",
                         code="schedule.work")
    return ok


def _steps(network: Network, build: WorkBuild) -> list[WorkStep]:
    if build.steps is not None:
        return list(build.steps)
    routes = load_routes()
    proc = network.catalog.processes.get(build.process)
    out = []
    for step in proc.post_processing if proc else ():
        fin = network.catalog.finishes.get(step)
        per_part_s = fin.time_s_per_part if fin else 0.0
        out.append(WorkStep(step=step, duration_h=max(routes.step(step).min_h, build.parts * per_part_s / 3600)))
    out.extend(fs for fs in build.finish_steps if fs.step not in {o.step for o in out})  # the buyer's finish
    out.append(WorkStep(step=INSPECTION, duration_h=max(routes.inspection_min_h,
                                                        build.parts * routes.inspection_s_per_part / 3600)))
    return out


def site_problem(network: Network, site: Site, workload: Workload, horizon_days: float, *,
                 station_kinds: Mapping[str, tuple[str, ...]], lights_out: bool = True) -> SiteProblem:
    """The scheduling problem of ``workload`` at ``site`` over ``horizon_days`` days from its start.

    ``station_kinds`` maps a station kind to the follow-up steps it performs (`fabgrid.data.load_station_kinds`).
    ``lights_out``: a print only needs an operator to start it and runs unattended through the night (True), or
    it must start and end inside one staffed window (False; a print longer than the longest shift is refused).
    """
    routes = load_routes()
    if workload.start is None:
        raise InputError("work: `start` is missing", hint="give the schedule start as an ISO time with zone",
                         code="schedule.work")
    start = workload.start
    horizon = round(horizon_days * 1440)
    # Work that does not fit the horizon is planned late rather than refused: the model runs on
    # until everything can be done (the serial length of all the work, at most MAX_PLAN_DAYS).
    serial = sum(_minutes(b.print_h) * 3 for j in workload.jobs for b in j.builds)
    limit = min(MAX_PLAN_DAYS * 1440, horizon + serial + 2 * 1440)
    windows = work_windows(site.calendar, start, limit)
    if not any(a < horizon for a, _ in windows):
        raise InputError(f"site {site.id}: no shift in the {horizon_days:g}-day horizon",
                         hint="give a longer --horizon", code="schedule.horizon")
    longest = max(b - a for a, b in windows)
    res = _Resources(site, station_kinds)
    jobs: list[Job] = []
    orders: list[Order] = []
    builds: list[WorkBuild] = []
    build_job: list[str] = []
    setup: dict[tuple[str, str], int] = {}
    materials: dict[str, set[str]] = {}
    for o, wj in enumerate(workload.jobs):
        orders.append(Order(wj.id, due=int((wj.due - start).total_seconds() // 60), weight=wj.weight))
        release = 0 if wj.release is None else max(0, int((wj.release - start).total_seconds() // 60))
        for b, build in enumerate(wj.builds):
            where = f"jobs[{o}].builds[{b}]"
            machines = _eligible(network, site, build, where)
            cool = routes.cool_down.get(build.process.value)
            print_h = build.print_h + (cool.hours(build.print_h) if cool and cool.where == "machine" else 0.0)
            name = "print+cool_down" if cool and cool.where == "machine" else "print"
            if not lights_out and _minutes(print_h) > longest:
                raise InputError(f"{where}: build {build.id!r} prints {_minutes(print_h)} min, longer than the longest "
                                 f"shift ({longest} min), and lights-out printing is off",
                                 hint="allow unattended printing or split the build", code="schedule.work")
            ops = [Operation(tuple(Alternative(r, _minutes(print_h)) for m in machines for r in res.index[m]),
                             name=name, family=build.material, start_staffed=lights_out, staffed=not lights_out)]
            if cool and cool.where == "off":
                ops.append(Operation((Alternative(None, _minutes(cool.hours(build.print_h))),), name=COOL_DOWN))
            for step in _steps(network, build):
                d = _minutes(step.duration_h)
                if step.step == COOL_DOWN:
                    ops.append(Operation((Alternative(None, d),), name=COOL_DOWN))
                    continue
                attended = routes.step(step.step).attended
                if attended == "full" and d > longest:
                    raise InputError(f"{where}: step {step.step!r} takes {d} min, longer than the longest "
                                     f"shift ({longest} min)", hint="split the build or the step",
                                     code="schedule.work")
                ops.append(Operation(tuple(Alternative(r, d) for r in res.for_step(step.step)), name=step.step,
                                     staffed=attended == "full", start_staffed=attended == "start"))
            jobs.append(Job(tuple(ops), name=build.id, release=release, order=o))
            builds.append(build)
            build_job.append(wj.id)
            materials.setdefault(build.process.value, set()).add(build.material)
    for proc, mats in materials.items():
        gap = _minutes(routes.changeover_h.get(proc, 0.0)) if routes.changeover_h.get(proc, 0.0) > 0 else 0
        for m_from in mats:
            for m_to in mats:
                if m_from != m_to and gap:
                    setup[(m_from, m_to)] = gap
    res.down(workload, start, limit)
    problem = Problem(jobs=tuple(jobs), resources=tuple(res.items), orders=tuple(orders), work_windows=windows,
                      setup=setup, horizon=limit, name=f"site {site.id}")
    return SiteProblem(problem, site, workload, start, tuple(builds), tuple(build_job), horizon)

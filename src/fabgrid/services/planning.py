"""Use cases of planning inside a factory: solve a job-shop instance file, schedule a site's workload
(builds, follow-up steps, shifts, maintenance) and draw the Gantt chart. One composition of the
scheduling engine for the CLI and the factory portal; hands the engine its data; never imports api, web or cli.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fabgrid.domain.catalog import Catalog, Network
from fabgrid.domain.schedule import Schedule, Workload, WorkStep
from fabgrid.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from fabgrid.scheduling.plan import OrderOutcome, Plan
    from fabgrid.scheduling.site import SiteProblem

#: Longest solver time limit accepted: scheduling.plan.MAX_TIME_LIMIT_S (a test keeps them equal), not
#: imported, so that importing this module never loads OR-Tools into a server process (it clashes with highspy).
MAX_TIME_LIMIT_S = 3600.0
#: Instance file formats `solve_instance` reads.
INSTANCE_FORMATS = ("fjs", "jsplib")


@dataclass(frozen=True)
class InstancePlan:
    """A solved job-shop instance: its size, the schedule, the dispatch baseline and the checker's verdict."""

    name: str
    format: str
    jobs: int
    machines: int
    schedule: Schedule
    baseline: Schedule
    check_ok: bool
    check_makespan: int
    gantt: Path | None

    @property
    def baseline_rule(self) -> str:
        """The dispatch rule of the baseline (e.g. ``mwkr``)."""
        return self.baseline.solver.split(":")[-1]


@dataclass(frozen=True)
class SitePlan:
    """A site's schedule in site terms: UTC start, builds, the schedule, its baseline and per-order outcome."""

    site_id: str
    workload: Workload
    start: datetime
    horizon_days: float
    schedule: Schedule
    baseline: Schedule
    check_ok: bool
    orders: list[OrderOutcome]
    rows: list[dict[str, object]]
    builds: int
    _problem: SiteProblem
    _plan: Plan

    @property
    def baseline_rule(self) -> str:
        """The dispatch rule of the baseline (e.g. ``mwkr``)."""
        return self.baseline.solver.split(":")[-1]

    def gantt(self, path: Path, *, title: str, time_unit: str = "h from start", label_builds: bool = True) -> Path:
        """Draw the schedule to ``path`` (PNG), hours on the time axis; builds named on their bars."""
        from fabgrid.scheduling.gantt import gantt_png

        sp = self._problem
        return gantt_png(sp.problem, self.schedule.operations, path, title=title, time_unit=time_unit,
                         scale=60.0, label=(lambda o: sp.problem.jobs[o.job].name) if label_builds else None)


def _check_time_limit(time_limit_s: float) -> None:
    if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
        raise InputError(f"time limit {time_limit_s:g} s is outside (0, {MAX_TIME_LIMIT_S:g}]",
                         hint="give a time limit in seconds", code="schedule.time_limit")


def solve_instance(path: Path, fmt: str | None, *, time_limit_s: float, workers: int,
                   gantt: Path | None = None) -> InstancePlan:
    """Read a job-shop instance (`fmt` jsplib or fjs; default from the suffix), schedule it, check it and
    optionally draw its Gantt chart (machines numbered from 0)."""
    from fabgrid.scheduling.plan import plan
    from fabgrid.scheduling.readers import READERS, read_instance

    fmt = (fmt or ("fjs" if path.suffix.lower() == ".fjs" else "jsplib")).lower()
    if fmt not in READERS:
        raise InputError(f"--format {fmt!r} is not known", hint=f"use one of {sorted(READERS)}",
                         code="schedule.format")
    _check_time_limit(time_limit_s)
    problem = read_instance(path, fmt)
    result = plan(problem, time_limit_s=time_limit_s, workers=workers)
    s = result.schedule
    picture = None
    if gantt is not None:
        from fabgrid.scheduling.gantt import gantt_png

        picture = gantt_png(problem, s.operations, gantt, title=f"{path.name}: makespan {s.makespan}",
                            label=lambda o: str(o.job))
    return InstancePlan(name=path.name, format=fmt, jobs=len(problem.jobs), machines=len(problem.resources),
                        schedule=s, baseline=result.baseline, check_ok=result.check.ok,
                        check_makespan=result.check.makespan, gantt=picture)


def finish_steps(catalog: Catalog, finish: str | None, parts: int, area_mm2: float) -> tuple[WorkStep, ...]:
    """The finishing operation a buyer chose for `parts` copies of a part of `area_mm2`, as a schedule step:
    its duration from finishes.yaml (time per part plus time per cm2 of surface, the same figures its price
    and lead time were quoted with), at least the step's shortest batch (routes.yaml). Empty without a
    finish, or for a finish the catalog does not know."""
    from fabgrid.scheduling.workload import load_routes

    fin = catalog.finishes.get(finish) if finish else None
    if fin is None:
        return ()
    hours = parts * (fin.time_s_per_part + fin.time_s_per_cm2 * area_mm2 / 100.0) / 3600.0
    return (WorkStep(step=fin.id, duration_h=min(24.0 * 14, max(load_routes().step(fin.id).min_h, hours))),)


def require_site(network: Network, site_id: str) -> None:
    """NotFoundError unless `site_id` is a site of `network`."""
    if site_id not in network.sites:
        raise NotFoundError(f"site {site_id!r} is not in the network", code="schedule.site",
                            hint="list the sites with `fabgrid sites` (ids like cs-jingkai-01)")


def demo_workload(network: Network, site_id: str, horizon_days: float, *, seed: int = 0) -> Workload:
    """A reproducible generated workload (not real orders) filling the site's machines over the horizon."""
    from fabgrid.scheduling.workload import demo_workload as generate

    require_site(network, site_id)
    return generate(network, network.sites[site_id], horizon_days, seed=seed)


def plan_site(network: Network, site_id: str, workload: Workload, horizon_days: float, *,
              time_limit_s: float, workers: int, lights_out: bool = True) -> SitePlan:
    """Schedule ``workload`` at the site (dispatch rules, then CP-SAT warm-started, then the checker);
    ``lights_out`` False: each print starts and ends inside one shift (`scheduling.site.site_problem`)."""
    from fabgrid.data import load_station_kinds
    from fabgrid.scheduling.plan import order_summary, plan
    from fabgrid.scheduling.site import site_problem

    require_site(network, site_id)
    _check_time_limit(time_limit_s)
    sp = site_problem(network, network.sites[site_id], workload, horizon_days, station_kinds=load_station_kinds(),
                      lights_out=lights_out)
    result = plan(sp.problem, time_limit_s=time_limit_s, workers=workers)
    s = result.schedule
    return SitePlan(site_id=site_id, workload=workload, start=sp.start, horizon_days=horizon_days, schedule=s,
                    baseline=result.baseline, check_ok=result.check.ok, orders=order_summary(sp, s),
                    rows=sp.rows(s.operations), builds=len(sp.builds), _problem=sp, _plan=result)

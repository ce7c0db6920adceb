"""Route parameters of site scheduling (data/scheduling/routes.yaml) and the reproducible demo workload.

The demo workload stands in for a site's order book until the order store exists; it is built from
the site's machines with a seed and is labelled ``source: generated``. Depends on domain records,
the packaged data and numpy; never on store, services or cli.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from fabgrid.domain.catalog import Network, ProcessFamily, Site
from fabgrid.domain.schedule import CoolDown, Maintenance, WorkBuild, WorkJob, Workload
from fabgrid.errors import InputError

SITE_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class StepRule:
    """How a follow-up step is staffed and its shortest cycle."""

    attended: str
    min_h: float


@dataclass(frozen=True)
class Routes:
    """The parsed routes.yaml."""

    changeover_h: dict[str, float]
    cool_down: dict[str, CoolDown]
    steps: dict[str, StepRule]
    inspection_s_per_part: float
    inspection_min_h: float
    demo: dict[str, Any]

    def step(self, finish_id: str) -> StepRule:
        """Staffing rule of a follow-up step (the default when not listed)."""
        return self.steps.get(finish_id, self.steps["default"])


@lru_cache(maxsize=1)
def load_routes() -> Routes:
    """Read the packaged data/scheduling/routes.yaml."""
    text = resources.files("fabgrid.data").joinpath("scheduling/routes.yaml").read_text(encoding="utf-8")
    return parse_routes(yaml.safe_load(text))


def parse_routes(doc: Any) -> Routes:
    """The routes from the document of routes.yaml (as the store keeps it); InputError naming the field."""
    try:
        return Routes(
            changeover_h={str(k): float(v) for k, v in doc["changeover_h"].items()},
            cool_down={str(k): CoolDown(str(v["where"]), float(v["ratio"]), float(v["min_h"]))
                       for k, v in doc["cool_down"].items()},
            steps={str(k): StepRule(str(v["attended"]), float(v["min_h"])) for k, v in doc["steps"].items()},
            inspection_s_per_part=float(doc["inspection"]["time_s_per_part"]),
            inspection_min_h=float(doc["inspection"]["min_h"]),
            demo=dict(doc["demo"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"data/scheduling/routes.yaml: bad or missing field ({exc})",
                         hint="fix the packaged routes.yaml", code="schedule.routes") from None


def default_start(now: datetime | None = None) -> datetime:
    """The coming Monday 00:00 site time (Asia/Shanghai), in UTC: a stable origin for demo workloads."""
    local = (now or datetime.now(UTC)).astimezone(SITE_TZ)
    days = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday.astimezone(UTC)


def follow_up_hours(network: Network, process: ProcessFamily, parts: int, print_h: float) -> float:
    """Hours of cool-down and follow-up steps of a build (for due dates of generated work)."""
    routes = load_routes()
    total = routes.cool_down[process.value].hours(print_h) if process.value in routes.cool_down else 0.0
    proc = network.catalog.processes.get(process)
    for step in proc.post_processing if proc else ():
        fin = network.catalog.finishes.get(step)
        per_part = fin.time_s_per_part if fin else 0.0
        total += max(routes.step(step).min_h, parts * per_part / 3600.0)
    return total + max(routes.inspection_min_h, parts * routes.inspection_s_per_part / 3600.0)


def demo_workload(network: Network, site: Site, horizon_days: float, seed: int = 0,
                  start: datetime | None = None) -> Workload:
    """A reproducible demo workload for ``site``: builds filling its machines to the demo utilisation.

    Every build's material is one the machine model and the site both have; orders group one or two
    builds of one process, with due dates after their route time and one maintenance window per machine.
    """
    routes = load_routes()
    demo = routes.demo
    rng = np.random.default_rng(seed)
    t0 = start or default_start()
    horizon_h = horizon_days * 24.0
    builds: list[tuple[WorkBuild, float]] = []
    maintenance: list[Maintenance] = []
    for m in site.machines:
        model = network.machine_model(m)
        mats = [x for x in model.materials if x in site.materials] or list(model.materials)
        lo, hi = demo["print_h"][model.process.value]
        cool = routes.cool_down.get(model.process.value)
        filled = 0.0
        while True:
            print_h = float(np.round(rng.uniform(lo, hi), 1))
            busy_h = print_h + (cool.hours(print_h) if cool and cool.where == "machine" else 0.0)
            if filled + busy_h > demo["utilisation"] * horizon_h:
                break
            filled += busy_h
            parts = int(rng.integers(demo["parts_per_build"][0], demo["parts_per_build"][1] + 1))
            release_h = float(rng.uniform(0, 0.5 * horizon_h))
            build = WorkBuild(id=f"B{len(builds) + 1:03d}", process=model.process,
                              material=str(rng.choice(mats)), print_h=print_h, parts=parts)
            builds.append((build, release_h))
        day = int(rng.integers(0, max(1, int(horizon_days))))
        mstart = t0 + timedelta(days=day, hours=int(rng.integers(8, 12)))
        maintenance.append(Maintenance(resource=m.id, start=mstart,
                                       end=mstart + timedelta(hours=float(demo["maintenance_h"]))))
    jobs: list[WorkJob] = []
    i = 0
    order = rng.permutation(len(builds))
    while i < len(order):
        first, release_h = builds[int(order[i])]
        group = [first]
        n = int(rng.integers(demo["builds_per_job"][0], demo["builds_per_job"][1] + 1))
        i += 1
        while len(group) < n and i < len(order) and builds[int(order[i])][0].process == first.process:
            group.append(builds[int(order[i])][0])
            i += 1
        work_h = max(b.print_h + follow_up_hours(network, b.process, b.parts, b.print_h) for b in group)
        due_h = release_h + float(rng.uniform(*demo["due_slack"])) * work_h
        release = t0 + timedelta(hours=round(release_h))
        due = t0 + timedelta(hours=int(np.ceil(due_h)))
        jobs.append(WorkJob(id=f"J{len(jobs) + 1:03d}", due=due, release=release, builds=tuple(group),
                            weight=int(rng.integers(demo["weights"][0], demo["weights"][1] + 1))))
    if not jobs:
        raise InputError(f"site {site.id}: no machine to generate demo work for",
                         hint="pick a site with machines, or give --work FILE", code="schedule.no_work")
    return Workload(site=site.id, start=t0, source="generated", jobs=tuple(jobs),
                    maintenance=tuple(maintenance))

"""A site's planned week in calendar time: the scheduling engine's plan of a workload with or without
lights-out printing (a print starts inside staffed hours and runs unattended, or it must start and end inside
one shift), the machines' utilisation over the week and the lines whose promised dates the plan keeps.

Composes services.planning (the scheduling engine); run it in a process where OR-Tools may load (never beside
highspy: `services.build_schedule` runs it in a child process). Never imports api, web or cli.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fabgrid.domain.catalog import Network
from fabgrid.domain.schedule import WorkJob, Workload

#: The planned week.
WEEK = timedelta(days=7)
PRINT_STEPS = ("print", "print+cool_down")


@dataclass(frozen=True)
class WeekPlan:
    """The plan of a workload over its first week: rows (UTC ISO times), the staffed windows, utilisation."""

    site_id: str
    lights_out: bool
    start: datetime
    rows: list[dict[str, Any]]
    staffed: list[tuple[str, str]]
    machines: list[str]
    utilisation: float = field(metadata={"unit": "share of the machines' week printing"})
    per_machine: dict[str, float]
    lines: int
    lines_kept: int
    late: list[dict[str, Any]]
    refused: list[str]
    status: str

    def as_dict(self) -> dict[str, Any]:
        """The plan as a JSON document."""
        return {"site": self.site_id, "lights_out": self.lights_out, "start": self.start.isoformat(),
                "utilisation": round(self.utilisation, 4),
                "per_machine": {k: round(v, 4) for k, v in self.per_machine.items()},
                "lines": self.lines, "lines_kept": self.lines_kept, "late": self.late, "refused": self.refused,
                "status": self.status}


def _overlap(a: datetime, b: datetime, lo: datetime, hi: datetime) -> float:
    return max(0.0, (min(b, hi) - max(a, lo)).total_seconds())


def plan_week(network: Network, site_id: str, workload: Workload, *, lights_out: bool, time_limit_s: float = 5.0,
              lines_of: dict[str, list[str]] | None = None) -> WeekPlan:
    """Plan `workload` at the site and measure its first week. Without lights-out, builds that print longer
    than the site's longest shift cannot be planned: they are named in `refused` and their lines are late.
    `lines_of`: the order lines each job (by id) stands for (default: one line per job)."""
    from fabgrid.scheduling.site import longest_shift_min, print_minutes, work_windows
    from fabgrid.services.planning import plan_site, require_site

    require_site(network, site_id)
    site = network.sites[site_id]
    assert workload.start is not None
    start = workload.start
    refused: list[str] = []
    jobs: list[WorkJob] = list(workload.jobs)
    if not lights_out:
        longest = longest_shift_min(site.calendar, start)
        fits = [j for j in jobs if all(print_minutes(b) <= longest for b in j.builds)]
        refused = [j.id for j in jobs if j not in fits]
        jobs = fits
    lines_of = lines_of or {j.id: [j.id] for j in workload.jobs}
    processes = {b.process for j in workload.jobs for b in j.builds}
    machines = [m.id for m in site.machines if network.machine_model(m).process in processes]
    end = start + WEEK
    windows = [(start + timedelta(minutes=a), start + timedelta(minutes=b))
               for a, b in work_windows(site.calendar, start, int(WEEK.total_seconds() // 60))]
    staffed = [(a.isoformat(), b.isoformat()) for a, b in windows]
    late: list[dict[str, Any]] = [{"job": j, "line": ln, "reason": "needs lights-out"}
                                  for j in refused for ln in lines_of.get(j, [j])]
    if not jobs:
        return WeekPlan(site_id, lights_out, start, [], staffed, machines, 0.0, dict.fromkeys(machines, 0.0),
                        sum(len(v) for v in lines_of.values()), 0, late, refused, "empty")
    plan = plan_site(network, site_id, workload.model_copy(update={"jobs": tuple(jobs)}), WEEK.days,
                     time_limit_s=time_limit_s, workers=1, lights_out=lights_out)
    busy = dict.fromkeys(machines, 0.0)
    rows: list[dict[str, Any]] = []
    for r in plan.rows:
        a, b = r["start"], r["end"]
        assert isinstance(a, datetime) and isinstance(b, datetime)
        if r["resource"] in busy and r["step"] in PRINT_STEPS:
            busy[str(r["resource"])] += _overlap(a, b, start, end)
        rows.append({**r, "start": a.isoformat(), "end": b.isoformat()})
    for o in plan.orders:
        if o.tardiness_min > 0 or o.after_horizon:
            late += [{"job": o.job, "line": ln, "due": o.due.isoformat(), "completion": o.completion.isoformat(),
                      "late_h": round(o.tardiness_min / 60, 1)} for ln in lines_of.get(o.job, [o.job])]
    week_s = WEEK.total_seconds()
    per = {m: busy[m] / week_s for m in machines}
    total = sum(len(v) for v in lines_of.values())
    return WeekPlan(site_id, lights_out, start, rows, staffed, machines,
                    sum(busy.values()) / (week_s * len(machines)) if machines else 0.0, per, total,
                    total - len({x["line"] for x in late}), late, refused, str(plan.schedule.status.value))


def compare_lights_out(site_id: str, *, seed: int = 0, time_limit_s: float = 5.0) -> dict[str, Any]:
    """The site's generated demo week (`planning.demo_workload`, not real orders) planned with and without
    lights-out printing: utilisation and promised dates kept each way."""
    from fabgrid.services.catalog import shipped_network
    from fabgrid.services.planning import demo_workload

    network = shipped_network()
    workload = demo_workload(network, site_id, WEEK.days, seed=seed)
    on = plan_week(network, site_id, workload, lights_out=True, time_limit_s=time_limit_s)
    off = plan_week(network, site_id, workload, lights_out=False, time_limit_s=time_limit_s)
    return {"site": site_id, "seed": seed, "workload": "planning.demo_workload (generated, not real orders)",
            "builds": sum(len(j.builds) for j in workload.jobs), "with_lights_out": on.as_dict(),
            "without_lights_out": off.as_dict()}

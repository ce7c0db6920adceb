"""`fabgrid schedule`: solve a job-shop instance file, or schedule a site's builds and follow-up steps.

Imports the scheduling engine inside the command so `fabgrid --help` stays fast.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.errors import InputError, LimitError, NotFoundError

MAX_HORIZON_DAYS = 60.0


def _check_limits(time_limit: float, horizon: float) -> None:
    from fabgrid.scheduling.plan import MAX_TIME_LIMIT_S

    if not 0 < time_limit <= MAX_TIME_LIMIT_S:
        raise LimitError(f"--time-limit {time_limit:g} s is outside (0, {MAX_TIME_LIMIT_S:g}]",
                         hint="give a time limit in seconds, e.g. --time-limit 30", code="schedule.time_limit")
    if not 0 < horizon <= MAX_HORIZON_DAYS:
        raise LimitError(f"--horizon {horizon:g} days is outside (0, {MAX_HORIZON_DAYS:g}]",
                         hint="plan at most two months ahead", code="schedule.horizon")


def _instance(path: Path, fmt: str | None, time_limit: float, workers: int, gantt: Path | None,
              as_json: bool) -> None:
    from fabgrid.scheduling.plan import plan
    from fabgrid.scheduling.readers import READERS, read_instance

    fmt = (fmt or ("fjs" if path.suffix.lower() == ".fjs" else "jsplib")).lower()
    if fmt not in READERS:
        raise InputError(f"--format {fmt!r} is not known", hint=f"use one of {sorted(READERS)}",
                         code="schedule.format")
    problem = read_instance(path, fmt)
    result = plan(problem, time_limit_s=time_limit, workers=workers)
    s = result.schedule
    rule = result.baseline.solver.split(":")[-1]
    picture = None
    if gantt is not None:
        from fabgrid.scheduling.gantt import gantt_png

        picture = gantt_png(problem, s.operations, gantt, title=f"{path.name}: makespan {s.makespan}",
                            label=lambda o: str(o.job))
    doc = {
        "instance": path.name, "format": fmt, "jobs": len(problem.jobs), "machines": len(problem.resources),
        "makespan": s.makespan, "lower_bound": s.lower_bound, "status": s.status.value,
        "time_s": round(s.time_s, 2),
        "baseline": {"rule": rule, "makespan": result.baseline.makespan},
        "check": {"ok": result.check.ok, "makespan": result.check.makespan},
        "gantt": str(picture) if picture else None,
        "operations": [o.model_dump() for o in s.operations],
    }
    if as_json:
        emit_json(doc)
        return
    gap = 100.0 * (s.makespan - s.lower_bound) / max(1, s.makespan)
    table(f"{path.name}: {len(problem.jobs)} jobs x {len(problem.resources)} machines",
          ["schedule", "makespan", "lower bound", "status", "time s"],
          [["CP-SAT", s.makespan, s.lower_bound, f"{s.status.value} (gap {gap:.1f} %)", f"{s.time_s:.1f}"],
           [f"dispatch {rule}", result.baseline.makespan, "", "", ""]])
    console.print("machines are numbered from 0; use --json for every operation")
    if picture:
        console.print(f"Gantt chart: {picture}")


def _load_work(path: Path) -> Any:
    from pydantic import ValidationError

    from fabgrid.domain.schedule import Workload

    if not path.is_file():
        raise InputError(f"{path}: no such file", hint="give a work JSON file (see `fabgrid schedule --help`)",
                         code="schedule.work_missing")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})", hint="check the file's syntax",
                         code="schedule.work") from None
    try:
        return Workload.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}: {err['msg']}", code="schedule.work",
                         hint="jobs: [{id, due, weight, builds: [{id, process, material, print_h}]}]; "
                              "times ISO 8601 with a zone") from None


def _site(site_id: str, work: Path | None, horizon: float, seed: int, time_limit: float, workers: int,
          gantt: Path | None, as_json: bool) -> None:
    from fabgrid.data import load_network
    from fabgrid.scheduling.gantt import gantt_png
    from fabgrid.scheduling.plan import order_summary, plan
    from fabgrid.scheduling.site import site_problem
    from fabgrid.scheduling.workload import demo_workload

    network = load_network()
    if site_id not in network.sites:
        raise NotFoundError(f"site {site_id!r} is not in the network", code="schedule.site",
                            hint="list the sites with `fabgrid sites` (ids like cs-jingkai-01)")
    site = network.sites[site_id]
    if work is not None:
        workload = _load_work(work)
        if workload.site is not None and workload.site != site_id:
            raise InputError(f"{work}: site: the work is for {workload.site!r}, not {site_id!r}",
                             hint="pass the matching --site", code="schedule.work")
        if workload.start is None:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            workload = workload.model_copy(update={"start": now})
    else:
        workload = demo_workload(network, site, horizon, seed=seed)
    sp = site_problem(network, site, workload, horizon)
    result = plan(sp.problem, time_limit_s=time_limit, workers=workers)
    s = result.schedule
    rule = result.baseline.solver.split(":")[-1]
    orders = order_summary(sp, s)
    picture = None
    if gantt is not None:
        picture = gantt_png(sp.problem, s.operations, gantt, time_unit="h from start", scale=60.0,
                            title=f"{site.id} from {sp.start:%Y-%m-%d %H:%M} UTC",
                            label=lambda o: sp.problem.jobs[o.job].name)
    source = "generated demo workload (not real orders)" if workload.source == "generated" else str(work)
    doc = {
        "site": site.id, "start": sp.start, "horizon_days": horizon,
        "workload": {"source": workload.source, "seed": seed if workload.source == "generated" else None,
                     "file": str(work) if work else None, "jobs": len(workload.jobs), "builds": len(sp.builds)},
        "status": s.status.value, "weighted_tardiness_min": s.weighted_tardiness,
        "makespan_min": s.makespan, "lower_bound_min": s.lower_bound, "time_s": round(s.time_s, 2),
        "baseline": {"rule": rule,
                     "weighted_tardiness_min": result.baseline.weighted_tardiness,
                     "makespan_min": result.baseline.makespan},
        "check": {"ok": result.check.ok},
        "late_jobs": sum(1 for o in orders if o.tardiness_min),
        "after_horizon": sum(1 for o in orders if o.after_horizon),
        "orders": [asdict(o) for o in orders], "operations": sp.rows(s.operations),
        "gantt": str(picture) if picture else None,
    }
    if as_json:
        emit_json(doc)
        return
    console.print(f"site {site.id}: {source}, {len(workload.jobs)} jobs, {len(sp.builds)} builds, "
                  f"start {sp.start:%Y-%m-%d %H:%M} UTC")
    table("schedule (minutes)", ["schedule", "weighted tardiness", "makespan", "status", "time s"],
          [["CP-SAT", s.weighted_tardiness, s.makespan, s.status.value, f"{s.time_s:.1f}"],
           [f"dispatch {rule}", result.baseline.weighted_tardiness,
            result.baseline.makespan, "", ""]])
    late = [o for o in orders if o.tardiness_min]
    table(f"late jobs ({len(late)} of {len(orders)})", ["job", "weight", "due", "completion", "late h"],
          [[o.job, o.weight, f"{o.due:%m-%d %H:%M}", f"{o.completion:%m-%d %H:%M}",
            f"{o.tardiness_min / 60:.1f}"] for o in late[:30]])
    if picture:
        console.print(f"Gantt chart: {picture}")


def register(app: typer.Typer) -> None:
    """Add the `schedule` command."""

    @app.command("schedule")
    def schedule(
        instance: Path | None = typer.Option(None, "--instance", help="a job-shop instance file to solve"),
        fmt: str | None = typer.Option(None, "--format",
                                       help="instance format: jsplib (OR-Library text) or fjs (Brandimarte); "
                                            "default from the file name"),
        site: str | None = typer.Option(None, "--site", help="schedule the current work of this site"),
        work: Path | None = typer.Option(None, "--work", help=(
            "the site's work as JSON: {start?, jobs: [{id, due, weight?, release?, builds: [{id, process, "
            "material, print_h, parts?, machines?, steps?: [{step, duration_h}]}]}], maintenance?: "
            "[{resource, start, end}]}; without it a reproducible demo workload is generated")),
        horizon: float = typer.Option(7.0, "--horizon", help="planning horizon in days (site)"),
        seed: int = typer.Option(0, "--seed", help="seed of the generated demo workload"),
        time_limit: float = typer.Option(10.0, "--time-limit", help="CP-SAT time limit in seconds"),
        workers: int = typer.Option(2, "--workers", min=1, max=64, help="CP-SAT worker threads"),
        gantt: Path | None = typer.Option(None, "--gantt", help="write a Gantt chart PNG here"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
    ) -> None:
        """Solve a job-shop instance (--instance) or schedule a site's builds and follow-up steps (--site).

        Minimises weighted tardiness, then makespan, with CP-SAT warm-started from the best dispatch
        rule; every schedule is verified by an independent checker before it is printed. Instance
        output numbers machines from 0 (an .fjs file's machine k is k-1); site times are UTC.
        """
        if (instance is None) == (site is None):
            raise InputError("give exactly one of --instance FILE or --site ID",
                             hint="e.g. fabgrid schedule --instance ft06.txt --format jsplib", code="schedule.args")
        _check_limits(time_limit, horizon)
        if instance is not None:
            if work is not None:
                raise InputError("--work goes with --site, not --instance",
                                 hint="drop it, or use --site", code="schedule.args")
            _instance(instance, fmt, time_limit, workers, gantt, as_json)
        else:
            assert site is not None
            _site(site, work, horizon, seed, time_limit, workers, gantt, as_json)

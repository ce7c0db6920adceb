"""`fabgrid schedule`: solve a job-shop instance file, or schedule a site's builds and follow-up steps.

Calls services.planning (imported inside the command so `fabgrid --help` stays fast); never an engine.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from fabgrid.cli._common import console, emit_json, table
from fabgrid.errors import InputError, LimitError

MAX_HORIZON_DAYS = 60.0


def _check_limits(time_limit: float, horizon: float) -> None:
    from fabgrid.services.planning import MAX_TIME_LIMIT_S

    if not 0 < time_limit <= MAX_TIME_LIMIT_S:
        raise LimitError(f"--time-limit {time_limit:g} s is outside (0, {MAX_TIME_LIMIT_S:g}]",
                         hint="give a time limit in seconds, e.g. --time-limit 30", code="schedule.time_limit")
    if not 0 < horizon <= MAX_HORIZON_DAYS:
        raise LimitError(f"--horizon {horizon:g} days is outside (0, {MAX_HORIZON_DAYS:g}]",
                         hint="plan at most two months ahead", code="schedule.horizon")


def _instance(path: Path, fmt: str | None, time_limit: float, workers: int, gantt: Path | None,
              as_json: bool) -> None:
    from fabgrid.services.planning import solve_instance

    p = solve_instance(path, fmt, time_limit_s=time_limit, workers=workers, gantt=gantt)
    s = p.schedule
    doc = {
        "instance": p.name, "format": p.format, "jobs": p.jobs, "machines": p.machines,
        "makespan": s.makespan, "lower_bound": s.lower_bound, "status": s.status.value,
        "time_s": round(s.time_s, 2),
        "baseline": {"rule": p.baseline_rule, "makespan": p.baseline.makespan},
        "check": {"ok": p.check_ok, "makespan": p.check_makespan},
        "gantt": str(p.gantt) if p.gantt else None,
        "operations": [o.model_dump() for o in s.operations],
    }
    if as_json:
        emit_json(doc)
        return
    gap = 100.0 * (s.makespan - s.lower_bound) / max(1, s.makespan)
    table(f"{p.name}: {p.jobs} jobs x {p.machines} machines",
          ["schedule", "makespan", "lower bound", "status", "time s"],
          [["CP-SAT", s.makespan, s.lower_bound, f"{s.status.value} (gap {gap:.1f} %)", f"{s.time_s:.1f}"],
           [f"dispatch {p.baseline_rule}", p.baseline.makespan, "", "", ""]])
    console.print("machines are numbered from 0; use --json for every operation")
    if p.gantt:
        console.print(f"Gantt chart: {p.gantt}")


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
    from fabgrid.services.catalog import shipped_network
    from fabgrid.services.planning import demo_workload, plan_site, require_site

    network = shipped_network()
    require_site(network, site_id)
    if work is not None:
        workload = _load_work(work)
        if workload.site is not None and workload.site != site_id:
            raise InputError(f"{work}: site: the work is for {workload.site!r}, not {site_id!r}",
                             hint="pass the matching --site", code="schedule.work")
        if workload.start is None:
            now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            workload = workload.model_copy(update={"start": now})
    else:
        workload = demo_workload(network, site_id, horizon, seed=seed)
    p = plan_site(network, site_id, workload, horizon, time_limit_s=time_limit, workers=workers)
    s = p.schedule
    orders = p.orders
    picture = None
    if gantt is not None:
        picture = p.gantt(gantt, title=f"{site_id} from {p.start:%Y-%m-%d %H:%M} UTC")
    source = "generated demo workload (not real orders)" if workload.source == "generated" else str(work)
    doc = {
        "site": site_id, "start": p.start, "horizon_days": horizon,
        "workload": {"source": workload.source, "seed": seed if workload.source == "generated" else None,
                     "file": str(work) if work else None, "jobs": len(workload.jobs), "builds": p.builds},
        "status": s.status.value, "weighted_tardiness_min": s.weighted_tardiness,
        "makespan_min": s.makespan, "lower_bound_min": s.lower_bound, "time_s": round(s.time_s, 2),
        "baseline": {"rule": p.baseline_rule,
                     "weighted_tardiness_min": p.baseline.weighted_tardiness,
                     "makespan_min": p.baseline.makespan},
        "check": {"ok": p.check_ok},
        "late_jobs": sum(1 for o in orders if o.tardiness_min),
        "after_horizon": sum(1 for o in orders if o.after_horizon),
        "orders": [asdict(o) for o in orders], "operations": p.rows,
        "gantt": str(picture) if picture else None,
    }
    if as_json:
        emit_json(doc)
        return
    console.print(f"site {site_id}: {source}, {len(workload.jobs)} jobs, {p.builds} builds, "
                  f"start {p.start:%Y-%m-%d %H:%M} UTC")
    table("schedule (minutes)", ["schedule", "weighted tardiness", "makespan", "status", "time s"],
          [["CP-SAT", s.weighted_tardiness, s.makespan, s.status.value, f"{s.time_s:.1f}"],
           [f"dispatch {p.baseline_rule}", p.baseline.weighted_tardiness,
            p.baseline.makespan, "", ""]])
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

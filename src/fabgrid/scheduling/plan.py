"""One call to schedule a problem: best dispatch rule as baseline and warm start, CP-SAT, then the checker.

Also the summaries the CLI and services print (orders, lateness). Depends on the scheduling engine
modules and domain records; never on store, services or cli.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fabgrid.domain.schedule import Schedule
from fabgrid.scheduling.check import CheckReport, check_schedule
from fabgrid.scheduling.cpsat import solve
from fabgrid.scheduling.dispatch import best_dispatch
from fabgrid.scheduling.problem import Problem
from fabgrid.scheduling.site import SiteProblem

MAX_TIME_LIMIT_S = 3600.0


@dataclass(frozen=True)
class Plan:
    """The schedule found, the best dispatch-rule baseline and the checker's report on the schedule."""

    schedule: Schedule
    baseline: Schedule
    check: CheckReport


def plan(problem: Problem, *, time_limit_s: float = 10.0, workers: int = 2, seed: int = 0) -> Plan:
    """Schedule ``problem``: dispatch rules, then CP-SAT warm-started from the best rule, then check.

    A schedule that fails the independent check is a bug, not bad input: it raises AssertionError.
    """
    baseline = best_dispatch(problem)
    base_check = check_schedule(problem, baseline.operations)
    if not base_check.ok:
        raise AssertionError(f"dispatch schedule fails the check: {base_check.violations[:3]}")
    schedule = solve(problem, time_limit_s=time_limit_s, warm=baseline, workers=workers, seed=seed)
    report = check_schedule(problem, schedule.operations)
    if not report.ok:
        raise AssertionError(f"CP-SAT schedule fails the check: {report.violations[:3]}")
    if (report.weighted_tardiness, report.makespan) != (schedule.weighted_tardiness, schedule.makespan):
        raise AssertionError("objectives reported by the solver differ from the checker's")
    return Plan(schedule, baseline, report)


@dataclass(frozen=True)
class OrderOutcome:
    """When an order of a site schedule is done against its due date."""

    job: str
    weight: int
    due: datetime
    completion: datetime
    tardiness_min: int
    after_horizon: bool


def order_summary(sp: SiteProblem, schedule: Schedule) -> list[OrderOutcome]:
    """Per order: due date, completion, tardiness in minutes, weight and whether it ends past the horizon."""
    done: dict[int, int] = {}
    for o in schedule.operations:
        order = sp.problem.jobs[o.job].order
        if order is not None:
            done[order] = max(done.get(order, 0), o.end)
    return [OrderOutcome(rec.name, rec.weight, sp.at(rec.due), sp.at(done.get(i, 0)),
                         max(0, done.get(i, 0) - rec.due), done.get(i, 0) > sp.horizon_min)
            for i, rec in enumerate(sp.problem.orders)]

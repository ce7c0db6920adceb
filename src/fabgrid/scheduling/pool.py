"""A pool of identical machines and its queue of candidate builds as a scheduling `Problem`, and the
build order of its best dispatch-rule schedule (the network simulator's fabgrid policy sequences each
machine pool with this).

Each candidate build is one job of one order (due date and weight of the build): the print on any
machine of the pool, then an optional follow-up without a resource (finishing, handling). A machine
still busy with earlier work is down until it frees. Times are integer minutes from now. Depends on
the problem model and the dispatch rules; no solver, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fabgrid.domain.schedule import Schedule
from fabgrid.errors import InputError
from fabgrid.scheduling.dispatch import best_dispatch_order
from fabgrid.scheduling.problem import Alternative, Job, Operation, Order, Problem, Resource

#: Rules tried by default: apparent tardiness cost (weighted tardiness) and earliest due date.
DEFAULT_RULES = ("ATC", "EDD")
#: Explicit size limits of one pool problem (the caller limits its queue further).
MAX_BUILDS = 200
MAX_MACHINES = 200


@dataclass(frozen=True)
class QueuedBuild:
    """A candidate build: print minutes on one machine of the pool, follow-up minutes after it, the due
    minute of its earliest order (may be negative: already late), its weight and setup family."""

    print_min: int
    due: int
    weight: int = 1
    after_min: int = 0
    family: str | None = None
    name: str = ""


@dataclass(frozen=True)
class PoolSequence:
    """The builds (indices into the candidates) in order of print start, and the schedule they come from."""

    order: tuple[int, ...]
    schedule: Schedule
    problem: Problem


def pool_problem(builds: Sequence[QueuedBuild], free_at: Sequence[int], *,
                 setup: dict[tuple[str, str], int] | None = None, name: str = "pool") -> Problem:
    """The pool as a problem: a machine per entry of ``free_at`` (minutes until it frees, down until then);
    a job and an order per build. Machines beyond the number of builds are left out (identical machines:
    only the earliest-free ones can matter)."""
    if not builds:
        raise InputError("pool problem without builds", hint="give at least one queued build", code="schedule.pool")
    if not free_at:
        raise InputError("pool problem without machines", hint="give at least one machine", code="schedule.pool")
    if len(builds) > MAX_BUILDS:
        raise InputError(f"{len(builds)} builds in one pool problem (limit {MAX_BUILDS})",
                         hint="consider fewer queued builds", code="schedule.pool")
    free = sorted(max(0, int(t)) for t in free_at)[: min(len(builds), MAX_MACHINES)]
    resources = tuple(Resource(f"M{i}", down=((0, t),) if t > 0 else ()) for i, t in enumerate(free))
    jobs: list[Job] = []
    orders: list[Order] = []
    for b, qb in enumerate(builds):
        label = qb.name or f"build {b}"
        ops = [Operation(tuple(Alternative(r, max(1, qb.print_min)) for r in range(len(resources))),
                         name="print", family=qb.family)]
        if qb.after_min > 0:
            ops.append(Operation((Alternative(None, qb.after_min),), name="follow-up"))
        jobs.append(Job(tuple(ops), name=label, order=b))
        orders.append(Order(label, due=qb.due, weight=max(1, qb.weight)))
    return Problem(jobs=tuple(jobs), resources=resources, orders=tuple(orders), setup=dict(setup or {}), name=name)


def sequence_builds(builds: Sequence[QueuedBuild], free_at: Sequence[int], *,
                    rules: Sequence[str] = DEFAULT_RULES,
                    setup: dict[tuple[str, str], int] | None = None) -> PoolSequence:
    """Schedule the pool's candidate builds with the best of ``rules`` (weighted tardiness, then makespan)
    and return them in order of print start (builds starting together: in the rule's priority)."""
    problem = pool_problem(builds, free_at, setup=setup)
    schedule, order = best_dispatch_order(problem, rules)
    return PoolSequence(order, schedule, problem)

"""The scheduling problem every solver, rule and checker here reads: a flexible job shop with extras.

Jobs are chains of operations; each operation picks one of its alternative resources (or none, for a
pure waiting time such as natural cool-down). Extras for a factory: release times, orders with due
dates and weights, resource down-times (maintenance), operator work windows (shifts), and
sequence-dependent setup between families (material changeovers). Times are integers (instance
units, or minutes for a site). Pure data; depends on nothing but the standard library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Window = tuple[int, int]
"""A half-open time interval ``[start, end)``."""


@dataclass(frozen=True)
class Alternative:
    """One way to run an operation: on resource ``resource`` (None: no resource) for ``duration``."""

    resource: int | None
    duration: int


@dataclass(frozen=True)
class Operation:
    """One step of a job.

    ``staffed``: needs an operator for its whole length, so it lies inside one work window.
    ``start_staffed``: an operator starts it (loads a machine), so its start lies in a work window.
    ``family``: the setup family (material) for changeovers on its resource; None: no setup.
    """

    alternatives: tuple[Alternative, ...]
    name: str = ""
    family: str | None = None
    staffed: bool = False
    start_staffed: bool = False


@dataclass(frozen=True)
class Job:
    """A chain of operations run in order; ``order`` is the index of the order it belongs to."""

    operations: tuple[Operation, ...]
    name: str = ""
    release: int = 0
    order: int | None = None


@dataclass(frozen=True)
class Order:
    """A customer order: it is late when the last operation of its last job ends after ``due``."""

    name: str
    due: int
    weight: int = 1


@dataclass(frozen=True)
class Resource:
    """A machine or station unit; ``down`` are windows it cannot work in (maintenance)."""

    name: str
    kind: str = "machine"
    down: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A flexible job shop with orders, calendars and changeovers.

    ``work_windows`` is None when operators are always there; ``setup`` maps a pair of families
    ``(before, after)`` to the setup time between consecutive operations on one resource (absent
    pairs and equal families: 0). ``horizon`` bounds every end time.
    """

    jobs: tuple[Job, ...]
    resources: tuple[Resource, ...]
    orders: tuple[Order, ...] = ()
    work_windows: tuple[Window, ...] | None = None
    setup: dict[tuple[str, str], int] = field(default_factory=dict)
    horizon: int | None = None
    name: str = ""

    @property
    def num_operations(self) -> int:
        """Number of operations over all jobs."""
        return sum(len(j.operations) for j in self.jobs)

    def setup_time(self, before: str | None, after: str | None) -> int:
        """Setup time between an operation of family ``before`` and one of ``after`` on one resource."""
        if before is None or after is None or before == after:
            return 0
        return self.setup.get((before, after), 0)

    def trivial_horizon(self) -> int:
        """A horizon every sensible schedule fits in: releases, longest durations, setups, down-times."""
        total = max((j.release for j in self.jobs), default=0)
        for job in self.jobs:
            for op in job.operations:
                total += max(a.duration for a in op.alternatives)
        total += max(self.setup.values(), default=0) * self.num_operations
        for r in self.resources:
            total += sum(e - s for s, e in r.down)
        if self.work_windows:
            total = max(total, self.work_windows[-1][1])
        return total

    def lower_bound(self) -> int:
        """A simple makespan bound: the longest job and the heaviest machine with only one choice."""
        best = 0
        load = [0] * len(self.resources)
        for job in self.jobs:
            length = job.release
            for op in job.operations:
                shortest = min(a.duration for a in op.alternatives)
                length += shortest
                if len(op.alternatives) == 1 and op.alternatives[0].resource is not None:
                    load[op.alternatives[0].resource] += shortest
            best = max(best, length)
        return max([best, *load])


def jobshop(name: str, routes: Sequence[Sequence[tuple[int, int]]], num_machines: int) -> Problem:
    """A classic job shop: ``routes[j]`` is the list of ``(machine, duration)`` of job ``j``."""
    jobs = tuple(
        Job(tuple(Operation((Alternative(m, d),)) for m, d in route), name=f"job {j}")
        for j, route in enumerate(routes)
    )
    resources = tuple(Resource(f"M{m}") for m in range(num_machines))
    return Problem(jobs=jobs, resources=resources, name=name)


def flexible_jobshop(name: str, routes: Sequence[Sequence[Sequence[tuple[int, int]]]],
                     num_machines: int) -> Problem:
    """A flexible job shop: ``routes[j][k]`` lists the ``(machine, duration)`` choices of operation k."""
    jobs = tuple(
        Job(tuple(Operation(tuple(Alternative(m, d) for m, d in choices)) for choices in route),
            name=f"job {j}")
        for j, route in enumerate(routes)
    )
    resources = tuple(Resource(f"M{m}") for m in range(num_machines))
    return Problem(jobs=jobs, resources=resources, name=name)

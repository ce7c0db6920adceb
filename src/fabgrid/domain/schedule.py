"""Typed records of scheduling: a site's work to plan (the ``--work`` JSON) and the schedule found.

Pydantic v2 models; no I/O, no database, no web. Times are timezone-aware UTC datetimes in the work
records and integer offsets (instance units or minutes) in `ScheduledOperation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fabgrid.domain.catalog import ProcessFamily


@dataclass(frozen=True)
class CoolDown:
    """Cool-down after a build (data/scheduling/routes.yaml): `where` "machine" keeps the machine busy, "off"
    happens outside it; it lasts `ratio` times the build's machine hours, at least `min_h`. The site planner and
    the quote's dates read the same record."""

    where: str
    ratio: float
    min_h: float

    def hours(self, build_h: float) -> float:
        """Cool-down hours of a build of `build_h` machine hours."""
        return max(self.min_h, self.ratio * build_h)


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _aware(v: datetime) -> datetime:
    if v.tzinfo is None or v.utcoffset() is None:
        raise ValueError("must carry a timezone, e.g. 2026-11-23T08:00:00Z or +08:00")
    return v


class SolveStatus(StrEnum):
    """How good a schedule is known to be."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"


class ScheduledOperation(_Record):
    """Operation ``index`` of job ``job`` on resource ``machine`` (None: no resource) from start to end."""

    job: int = Field(ge=0)
    index: int = Field(ge=0)
    machine: int | None
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ScheduledOperation:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class Schedule(_Record):
    """A complete schedule with its quality: objective values, the proven bound and the status."""

    operations: tuple[ScheduledOperation, ...]
    makespan: int = Field(ge=0)
    weighted_tardiness: int = Field(ge=0, default=0)
    lower_bound: int = Field(ge=0)
    status: SolveStatus
    solver: str
    time_s: float = Field(ge=0, default=0.0)


class WorkStep(_Record):
    """A follow-up step of a build (e.g. ``depowdering``) and how long it takes, in hours."""

    step: str
    duration_h: float = Field(gt=0, le=24 * 14)


class WorkBuild(_Record):
    """A build (one machine run) with its material and print time.

    ``machines``: the machine ids allowed (empty: every machine of the site that runs the material).
    ``steps``: its follow-up steps in order; None takes the process's standard steps from the catalog.
    ``finish_steps``: the buyer's chosen finishing operations (with their durations), done after the
    process's standard steps and before inspection when ``steps`` is None.
    """

    id: str = Field(min_length=1)
    process: ProcessFamily
    material: str = Field(min_length=1)
    print_h: float = Field(gt=0, le=24 * 14)
    parts: int = Field(ge=1, default=1)
    machines: tuple[str, ...] = ()
    steps: tuple[WorkStep, ...] | None = None
    finish_steps: tuple[WorkStep, ...] = ()


class WorkJob(_Record):
    """An order to produce at the site: its builds, due date and weight (tardiness cost per minute)."""

    id: str = Field(min_length=1)
    due: datetime
    weight: int = Field(ge=1, le=1000, default=1)
    release: datetime | None = None
    builds: tuple[WorkBuild, ...] = Field(min_length=1)

    _due_aware = field_validator("due")(_aware)

    @field_validator("release")
    @classmethod
    def _release_aware(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _aware(v)


class Maintenance(_Record):
    """A window in which a machine or station unit cannot work."""

    resource: str
    start: datetime
    end: datetime

    _start_aware = field_validator("start", "end")(_aware)

    @model_validator(mode="after")
    def _ordered(self) -> Maintenance:
        if self.end <= self.start:
            raise ValueError(f"maintenance of {self.resource!r} ends before it starts")
        return self


class Workload(_Record):
    """The work of one site to schedule (the ``fabgrid schedule --site S --work FILE`` JSON).

    ``source`` says where it came from: ``file`` or ``generated`` (a reproducible demo workload).
    ``start`` is the time the schedule starts from (default: the next full hour).
    """

    site: str | None = None
    start: datetime | None = None
    source: str = "file"
    jobs: tuple[WorkJob, ...] = Field(min_length=1)
    maintenance: tuple[Maintenance, ...] = ()

    @field_validator("start")
    @classmethod
    def _start_aware(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _aware(v)

    @model_validator(mode="after")
    def _unique_ids(self) -> Workload:
        seen: set[str] = set()
        for job in self.jobs:
            for b in job.builds:
                if b.id in seen:
                    raise ValueError(f"build id {b.id!r} appears twice")
                seen.add(b.id)
        if len({j.id for j in self.jobs}) != len(self.jobs):
            raise ValueError("job ids must be unique")
        return self

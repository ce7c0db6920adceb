"""Records of network allocation: scenarios (lines, candidate offers, site capacity), plans, disruptions.

Pydantic v2 models, the documented JSON schema of `fabgrid allocate --schema`. No I/O, no solver:
the engines in `fabgrid.network` read these. Must not import engines, store, services or web.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Resource name used by the compact ``[site, cost, capacity_use]`` candidate form.
DEFAULT_RESOURCE = "capacity"


class Record(BaseModel):
    """Base of the allocation records: frozen, unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LineConstraints(Record):
    """Hard customer constraints of a line; an empty tuple means 'no restriction'."""

    provinces: tuple[str, ...] = Field(default=(), description="allowed provinces of the making site")
    certifications: tuple[str, ...] = Field(default=(), description="certifications the site must hold")
    sites: tuple[str, ...] = Field(default=(), description="allowed sites (whitelist)")
    max_late_days: int | None = Field(default=None, ge=0, description="hard limit on lateness, days")


class Candidate(Record):
    """An offer of a site for a line (from the quote engine, or given explicitly).

    The compact form ``["site", cost, capacity_use]`` (classic generalized assignment) means
    ``unit_price_cny=cost`` and ``hours_per_unit={"capacity": capacity_use}``.
    """

    site: str
    unit_price_cny: float = Field(ge=0)
    hours_per_unit: dict[str, float] = Field(
        default_factory=dict, description="machine-hours (capacity use) per unit, per process/resource")
    lead_days: int = Field(default=0, ge=0, description="production lead time, days from the start")
    shipping_cny_per_unit: float | None = Field(default=None, ge=0, description="None: from geo tariffs")
    shipping_days: int | None = Field(default=None, ge=0, description="None: from geo tariffs")
    shipping_co2_kg_per_unit: float | None = Field(default=None, ge=0, description="None: from geo")
    production_co2_kg_per_unit: float = Field(default=0.0, ge=0)
    risk_cny_per_unit: float = Field(
        default=0.0, ge=0, description="the site's record (lateness, defects, declines) as a cost per unit, added "
        "to the objective only (services.factories.record_penalty)")

    @model_validator(mode="before")
    @classmethod
    def _compact_form(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            if len(data) != 3:
                raise ValueError("a compact candidate is [site, cost, capacity_use] (3 items)")
            site, cost, use = data
            return {"site": site, "unit_price_cny": cost, "hours_per_unit": {DEFAULT_RESOURCE: use}}
        return data

    @field_validator("hours_per_unit")
    @classmethod
    def _nonneg_hours(cls, v: dict[str, float]) -> dict[str, float]:
        for k, h in v.items():
            if not h >= 0:
                raise ValueError(f"hours_per_unit[{k!r}] must be >= 0, got {h}")
        return v


class Line(Record):
    """An order line to place: part, material, quantity, due date, destination, constraints."""

    id: str
    part: str = ""
    material: str = ""
    quantity: int = Field(ge=1)
    unit_mass_kg: float = Field(default=0.0, ge=0, description="for shipping cost and CO2")
    due_date: date | None = None
    destination: str | None = Field(default=None, description="city name (see data/logistics.yaml)")
    destination_province: str | None = None
    destination_lat: float | None = Field(default=None, ge=-90, le=90)
    destination_lon: float | None = Field(default=None, ge=-180, le=180)
    constraints: LineConstraints = LineConstraints()
    split: bool = Field(default=True, description="may be made at several sites")
    min_lot: int = Field(default=1, ge=1, description="smallest quantity a site may make of this line")
    late_penalty_cny_per_unit_day: float | None = Field(default=None, ge=0)
    candidates: tuple[Candidate, ...] = ()


class ScenarioMachine(Record):
    """A machine of a site, for capacity and machine-down disruptions."""

    id: str
    resource: str = Field(description="process/resource the machine's hours count against")
    hours_per_day: float = Field(gt=0, le=24)


class ScenarioSite(Record):
    """A site's free capacity and attributes relevant to allocation."""

    id: str
    city: str = ""
    province: str = ""
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    certifications: tuple[str, ...] = ()
    capacity_h_per_day: dict[str, float] = Field(
        default_factory=dict, description="free machine-hours per day, per process/resource")
    machines: tuple[ScenarioMachine, ...] = Field(
        default=(), description="machines whose hours/day add to capacity_h_per_day")

    @field_validator("capacity_h_per_day")
    @classmethod
    def _nonneg_capacity(cls, v: dict[str, float]) -> dict[str, float]:
        for k, h in v.items():
            if not h >= 0:
                raise ValueError(f"capacity_h_per_day[{k!r}] must be >= 0, got {h}")
        return v


class DisruptionKind(StrEnum):
    """What is disrupted."""

    SITE = "site"
    MACHINE = "machine"
    PROVINCE = "province"
    ROUTE = "route"
    MATERIAL = "material"


class Disruption(Record):
    """An event in force: a site closed, a machine down, logistics halted, a material short.

    Effects (applied by the engine and, independently, by the checker), for `days` from the start:
    site: its capacity loses `days` of every resource and its offers are `days` later;
    machine: its site loses the machine's hours for `days`;
    province: shipments from or to the province leave `days` later;
    route: shipments between the two cities leave `days` later;
    material: offers for lines of that material (at `site`, or everywhere) are `days` later.
    """

    kind: DisruptionKind
    days: int = Field(ge=1)
    site: str | None = None
    machine: str | None = None
    province: str | None = None
    route: tuple[str, str] | None = None
    material: str | None = None

    @model_validator(mode="after")
    def _target_given(self) -> Disruption:
        need = {"site": self.site, "machine": self.machine, "province": self.province,
                "route": self.route, "material": self.material}[self.kind.value]
        if need is None:
            raise ValueError(f"a {self.kind.value} disruption needs the field {self.kind.value!r}")
        return self


class Scenario(Record):
    """Lines with their candidate offers, sites with free capacity, over a horizon of days."""

    name: str = "scenario"
    start_date: date | None = Field(default=None, description="day 0; needed when lines have due dates")
    horizon_days: int = Field(default=1, ge=1, description="capacity per day is available this many days")
    late_penalty_cny_per_unit_day: float = Field(default=5.0, ge=0, description="default for lines")
    co2_cny_per_kg: float = Field(default=0.0, ge=0, description="weight of CO2 in the objective")
    allow_partial: bool = Field(
        default=False, description="False: every unit must be placed (else infeasible)")
    unassigned_penalty_cny_per_unit: float | None = Field(
        default=None, ge=0, description="cost of an unplaced unit when allow_partial (default: large)")
    sites: tuple[ScenarioSite, ...]
    lines: tuple[Line, ...]
    disruptions: tuple[Disruption, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        site_ids = [s.id for s in self.sites]
        if len(set(site_ids)) != len(site_ids):
            dup = sorted({s for s in site_ids if site_ids.count(s) > 1})
            raise ValueError(f"duplicate site ids: {dup[:5]}")
        known = set(site_ids)
        seen: set[str] = set()
        for i, line in enumerate(self.lines):
            if line.id in seen:
                raise ValueError(f"lines[{i}]: duplicate line id {line.id!r}")
            seen.add(line.id)
            if line.due_date is not None and self.start_date is None:
                raise ValueError(f"lines[{i}] ({line.id}): due_date needs the scenario's start_date")
            for j, c in enumerate(line.candidates):
                if c.site not in known:
                    raise ValueError(f"lines[{i}] ({line.id}).candidates[{j}]: unknown site {c.site!r}")
        return self


class Assignment(Record):
    """Quantity of a line made at a site, with its delivery and cost."""

    line: str
    site: str
    quantity: int = Field(ge=1)
    delivery_day: int | None = None
    late_days: int = 0
    unit_cost_cny: float | None = None


class Unassigned(Record):
    """Quantity of a line that could not be placed, and why."""

    line: str
    quantity: int = Field(ge=1)
    reason: str


class Costs(Record):
    """Breakdown of the objective in CNY (and the CO2 it carries)."""

    production_cny: float = 0.0
    shipping_cny: float = 0.0
    lateness_cny: float = 0.0
    co2_cny: float = 0.0
    risk_cny: float = Field(default=0.0, description="the sites' records (candidates' risk_cny_per_unit)")
    unassigned_cny: float = 0.0
    churn_cny: float = Field(default=0.0, description="charge for units moved by a re-plan (disrupt)")
    co2_kg: float = 0.0


Status = Literal["optimal", "feasible", "infeasible", "unknown"]


class Plan(Record):
    """The result of an allocation: the contract of `fabgrid allocate --json`."""

    status: Status
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    assignments: tuple[Assignment, ...] = ()
    unassigned: tuple[Unassigned, ...] = ()
    costs: Costs = Costs()
    solver: str = ""
    time_s: float = 0.0
    components: int = 0
    greedy_objective: float | None = None
    messages: tuple[str, ...] = ()


class Move(Record):
    """Quantity of a line that changed site in a replan."""

    line: str
    from_site: str | None
    to_site: str | None
    quantity: int


class Alternative(Record):
    """Another offer for a line that became late: when it would arrive, at what cost."""

    site: str
    delivery_day: int | None
    late_days: int
    unit_cost_cny: float
    free_h: float | None = Field(description="hours left at that site for this line's resources (None: uses none)")


class LateLine(Record):
    """A line that is later after the disruption than before."""

    line: str
    late_days_before: int
    late_days_after: int | None = Field(description="None when part of it could not be placed")
    alternatives: tuple[Alternative, ...] = ()


class DisruptionReport(Record):
    """What a disruption did to a plan: what moved, what became late, the new plan."""

    disruption: Disruption
    affected_lines: tuple[str, ...]
    moved: tuple[Move, ...]
    churn_units: int
    churn_fraction: float
    late: tuple[LateLine, ...]
    objective_before: float | None
    plan: Plan

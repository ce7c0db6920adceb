"""Typed records of the network simulator: its parameters (data/sim.yaml) and disruption windows.

Pydantic v2 models, frozen; no I/O, no engine, no database, no web.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Record(BaseModel):
    """Base of the simulator records: frozen, unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(Record):
    """An inclusive range of days or counts."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class SmallQuantity(Record):
    """Quantity of a small order: geometric with this mean, capped."""

    mean: float = Field(ge=1)
    max: int = Field(ge=1)


class OemQuantity(Record):
    """Quantity of an OEM batch: lognormal around the median, 10..max."""

    median: float = Field(ge=1)
    sigma: float = Field(ge=0)
    max: int = Field(ge=1)


class Demand(Record):
    """Order arrival rate, mix, quantities, due dates and patterns."""

    orders_per_day: float = Field(gt=0)
    small_share: float = Field(ge=0, le=1)
    small_quantity: SmallQuantity
    oem_quantity: OemQuantity
    small_due_days: Range
    oem_due_days: Range
    hourly_weights: tuple[float, ...] = Field(min_length=24, max_length=24)
    weekday_weights: tuple[float, ...] = Field(min_length=7, max_length=7)
    material_weights: dict[str, float]
    home_province: str
    home_province_weight: float = Field(gt=0)


class SizeRange(Record):
    """Size range of generated parts, mm."""

    min: float = Field(gt=0)
    max: float = Field(gt=0)


class Library(Record):
    """Part library settings."""

    generated_parts: int = Field(ge=1, le=500)
    size_mm: SizeRange
    quote_quantities: tuple[int, ...] = Field(min_length=1)
    reference_quantity: int = Field(ge=2)


class Reliability(Record):
    """Failures per process family (hours of operation)."""

    mtbf_h: dict[str, float]
    mttr_h: dict[str, float]
    scrap_on_failure: dict[str, float]


class Maintenance(Record):
    """Planned maintenance per machine."""

    interval_h: float = Field(gt=0)
    duration_h: dict[str, float]


class Operators(Record):
    """Operators per site and handling time per part."""

    machines_per_operator: float = Field(gt=0)
    min_per_site: int = Field(ge=1)
    handling_s_per_part: float = Field(ge=0)


class Shipping(Record):
    """Daily pick-up hour (local time)."""

    pickup_local_h: int = Field(ge=0, le=23)


class Customers(Record):
    """Customer patience before an unstarted order is cancelled."""

    cancel_after_late_days: float = Field(ge=0)


class ValueAdded(Record):
    """How value added per part is defined."""

    basis: str


class Density(Record):
    """Packing densities used when the nesting engine is not run."""

    volume: float = Field(gt=0, le=1)
    plate: float = Field(gt=0, le=1)


class Sequencing(Record):
    """How the fabgrid policy sequences a machine pool's queue with the scheduling engine's dispatch rules."""

    rules: tuple[str, ...] = Field(default=("ATC", "EDD"), min_length=1)
    max_lines: int = Field(default=40, ge=1, le=1000)
    max_builds: int = Field(default=12, ge=1, le=200)


class FabgridPolicy(Record):
    """Settings of the fabgrid platform policy."""

    batch_h: float = Field(gt=0)
    candidates_per_line: int = Field(ge=1)
    horizon_days: int = Field(ge=1)
    allocation_time_limit_s: float = Field(gt=0)
    packing_time_limit_s: float = Field(gt=0)
    default_density: Density
    sequencing: Sequencing = Sequencing()


class Claim(Record):
    """An industry claim to compare the measured change with: its figure (%), the metric it is read as, the
    public publication it comes from and how the figure maps to the metric."""

    value: float
    metric: str
    source: str
    source_zh: str = ""  # the same citation in Chinese (zh-CN pages)
    note: str = ""


class SimParams(Record):
    """Every assumption of the simulator (the contents of data/sim.yaml)."""

    start_date: date
    demand: Demand
    library: Library
    reliability: Reliability
    maintenance: Maintenance
    operators: Operators
    shipping: Shipping
    customers: Customers
    value_added: ValueAdded
    fabgrid: FabgridPolicy
    industry_claims: dict[str, Claim]
    sources: dict[str, str] = Field(default_factory=dict, description="source or rationale per section")


class DisruptionKind(StrEnum):
    """What a simulated disruption stops."""

    SITE = "site"          # a factory closed: no production, no dispatch
    PROVINCE = "province"  # logistics halted: no shipment leaves or enters the province
    MATERIAL = "material"  # a material is short: no build of it starts anywhere


class SimDisruption(Record):
    """A disruption in force from the start of `start_day` to the end of `end_day` (days from 0)."""

    kind: DisruptionKind
    target: str
    start_day: int = Field(ge=0)
    end_day: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> SimDisruption:
        if self.end_day < self.start_day:
            raise ValueError(f"end day {self.end_day} is before start day {self.start_day}")
        return self

    @property
    def start_h(self) -> float:
        """Start in simulation hours."""
        return self.start_day * 24.0

    @property
    def end_h(self) -> float:
        """End (exclusive) in simulation hours."""
        return (self.end_day + 1) * 24.0

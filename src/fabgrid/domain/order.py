"""Typed records of orders: an `Order` of several `OrderLine`s (each its own quote, site and status), the
`OrderStatus` with its allowed transitions (the one place that says which status may follow which), the
timeline events and the inspection result.

Pydantic v2, frozen; no I/O, no database, no web.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fabgrid.domain.catalog import ProcessFamily


class OrderStatus(StrEnum):
    """Where an order line is on its way from the order to the buyer, in that order."""

    PLACED = "placed"
    ALLOCATED = "allocated"
    IN_PRODUCTION = "in_production"
    BUILT = "built"
    INSPECTED = "inspected"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    #: Cancelled before it was built (a buyer who does not accept the date a disruption moved it to); no way on.
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        """Position on the way (placed 0 .. delivered 6)."""
        return _ORDERED.index(self)

    def can_become(self, new: OrderStatus) -> bool:
        """True when `new` may follow this status (see `TRANSITIONS`)."""
        return new in TRANSITIONS[self]


_ORDERED = tuple(OrderStatus)

#: Allowed transitions. `allocated -> allocated` is a reroute to another site; `allocated -> placed` is a line
#: declined (or not answered in time) that no other site can take: it waits for the buyer without a site;
#: `built -> in_production` is rework after a failed inspection; `inspected` is set by entering a passed inspection;
#: a line not yet built may be cancelled (`cancelled` is final).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.ALLOCATED, OrderStatus.CANCELLED}),
    OrderStatus.ALLOCATED: frozenset({OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION, OrderStatus.PLACED,
                                      OrderStatus.CANCELLED}),
    OrderStatus.IN_PRODUCTION: frozenset({OrderStatus.ALLOCATED, OrderStatus.BUILT, OrderStatus.CANCELLED}),
    OrderStatus.BUILT: frozenset({OrderStatus.INSPECTED, OrderStatus.IN_PRODUCTION}),
    OrderStatus.INSPECTED: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

#: Statuses a factory sets itself, each only from the one before it on the way.
FACTORY_STATUSES = (OrderStatus.IN_PRODUCTION, OrderStatus.BUILT, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
#: Work still ahead of the site's machines: its machine hours count in the site's queue.
QUEUED_AT_SITE = frozenset({OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION})
#: Lines a disruption of their site moves to another site.
REROUTABLE = frozenset({OrderStatus.PLACED, OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION})
#: Lines on a factory's work list (allocated up to ready to ship).
FACTORY_OPEN = frozenset({OrderStatus.ALLOCATED, OrderStatus.IN_PRODUCTION, OrderStatus.BUILT,
                          OrderStatus.INSPECTED})
#: Not yet delivered (nor cancelled).
OPEN = frozenset(s for s in OrderStatus if s not in (OrderStatus.DELIVERED, OrderStatus.CANCELLED))


def order_status(lines: tuple[OrderLine, ...] | list[OrderLine]) -> OrderStatus:
    """The status of an order: that of its least advanced line."""
    return min((ln.status for ln in lines), key=lambda s: s.rank, default=OrderStatus.PLACED)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


#: Most measured features per inspection, and most measured values of one feature (its subgroup).
MAX_FEATURES = 50
MAX_FEATURE_VALUES = 25


class FeatureSpec(_Frozen):
    """A feature the buyer requires measured on a line's parts (its inspection plan): nominal and tolerance limits
    (at least one)."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[\w.\-]+$")
    nominal_mm: float = Field(ge=-1e5, le=1e5)
    lsl_mm: float | None = Field(default=None, ge=-1e5, le=1e5)
    usl_mm: float | None = Field(default=None, ge=-1e5, le=1e5)

    @model_validator(mode="after")
    def _limits(self) -> FeatureSpec:
        if self.lsl_mm is None and self.usl_mm is None:
            raise ValueError(f"feature {self.name!r}: give a tolerance (lsl_mm, usl_mm or both)")
        if self.lsl_mm is not None and self.usl_mm is not None and self.lsl_mm >= self.usl_mm:
            raise ValueError(f"feature {self.name!r}: lsl_mm {self.lsl_mm} must be below usl_mm {self.usl_mm}")
        return self


class FeatureMeasurement(_Frozen):
    """One feature measured against its nominal and tolerance limits (at least one limit): the values measured on
    the inspected parts, in production order; a value outside [lsl_mm, usl_mm] is out of tolerance."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[\w.\-]+$")
    nominal_mm: float = Field(ge=-1e5, le=1e5)
    lsl_mm: float | None = Field(default=None, ge=-1e5, le=1e5)
    usl_mm: float | None = Field(default=None, ge=-1e5, le=1e5)
    values: tuple[float, ...] = Field(min_length=1, max_length=MAX_FEATURE_VALUES)

    @model_validator(mode="after")
    def _limits(self) -> FeatureMeasurement:
        if self.lsl_mm is None and self.usl_mm is None:
            raise ValueError(f"feature {self.name!r}: give a tolerance (lsl_mm, usl_mm or both)")
        if self.lsl_mm is not None and self.usl_mm is not None and self.lsl_mm >= self.usl_mm:
            raise ValueError(f"feature {self.name!r}: lsl_mm {self.lsl_mm} must be below usl_mm {self.usl_mm}")
        if not all(math.isfinite(v) and abs(v) <= 1e5 for v in self.values):
            raise ValueError(f"feature {self.name!r}: values must be finite numbers")
        return self

    @property
    def out_of_tolerance(self) -> int:
        """How many values fall outside the limits."""
        return sum(1 for v in self.values if (self.lsl_mm is not None and v < self.lsl_mm)
                   or (self.usl_mm is not None and v > self.usl_mm))

    @property
    def passed(self) -> bool:
        """Every value within the limits."""
        return self.out_of_tolerance == 0


class Inspection(_Frozen):
    """The result of inspecting a built line: free measurements and features against their tolerances."""

    passed: bool
    inspected_qty: int = Field(ge=1)
    defects: tuple[str, ...] = ()
    measurements: dict[str, float] = Field(default_factory=dict)
    features: tuple[FeatureMeasurement, ...] = Field(default=(), max_length=MAX_FEATURES)
    #: the build the line's parts came from, its machine, and the site's lot of the material when inspected
    build_id: str | None = None
    machine_id: str | None = None
    material_lot: str | None = None
    #: who started the build on its machine (empty when it was started from the command line, or unknown)
    build_operator: str = ""
    #: the line's earlier inspections (failed ones, before the rework), oldest first; each with no `previous`
    previous: tuple[Inspection, ...] = Field(default=(), max_length=20)
    note: str = ""
    by: str = ""
    at: datetime | None = None


class OrderLine(_Frozen):
    """One part of an order: its quote and chosen offer (site, tier) at the quoted price, and its own status."""

    id: str
    order_id: str
    position: int = Field(ge=1)
    quote_id: str
    part_id: str
    site_id: str | None
    offer_site_id: str
    process: ProcessFamily
    material: str
    finish: str | None = None
    quantity: int = Field(ge=1)
    tier: str
    unit_price_cny: float
    total_price_cny: float
    lead_time_days: int
    delivery_date: date
    machine_h: float = Field(ge=0, description="machine hours of all copies (the offer's estimate)")
    status: OrderStatus
    inspection: Inspection | None = None
    certifications: tuple[str, ...] = Field(default=(), description="certificates the making site must hold (the "
                                            "quote's request); re-allocation keeps to sites holding them")
    feature_plan: tuple[FeatureSpec, ...] = Field(default=(), max_length=MAX_FEATURES,
                                                  description="the features the buyer requires measured, with their "
                                                  "tolerances: the inspection must measure each against them")


class OrderEvent(_Frozen):
    """One step of an order's timeline; `line_id` names the line it concerns (None: the whole order)."""

    status: OrderStatus
    at: datetime
    site_id: str | None = None
    line_id: str | None = None
    note: str = Field(default="", description="what happened, in English (or as the person wrote it)")
    note_key: str | None = Field(default=None, description="the text's key in services/timeline.yaml (None: free "
                                 "text), so that a client can show it in its reader's language")
    note_args: dict[str, Any] = Field(default_factory=dict, description="the values of the keyed text")


class Order(_Frozen):
    """A buyer's order: several lines, the destination and the design-sharing consent, and the timeline."""

    id: str
    organisation_id: int
    user_id: int
    status: OrderStatus
    destination: str | None = None
    consent_design_sharing: bool = False
    created_at: datetime
    lines: tuple[OrderLine, ...]
    events: tuple[OrderEvent, ...] = ()

    @property
    def total_price_cny(self) -> float:
        """Sum of the lines' totals."""
        return round(sum(ln.total_price_cny for ln in self.lines), 2)

    @property
    def delivery_date(self) -> date | None:
        """The latest line's delivery date."""
        return max((ln.delivery_date for ln in self.lines), default=None)

    def line(self, line_id: str) -> OrderLine | None:
        """The line with that id, or None."""
        return next((ln for ln in self.lines if ln.id == line_id), None)

    def lines_at(self, site_id: str) -> tuple[OrderLine, ...]:
        """The lines allocated to `site_id`."""
        return tuple(ln for ln in self.lines if ln.site_id == site_id)

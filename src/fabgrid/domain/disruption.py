"""Typed records of the park operator's disruptions (issue 22): a site closed, a machine down, a province's
logistics halted, a route cut or a material short, over a window (start, end or open-ended), and the moves it
makes: per affected order line the old and new site, price, promised date, distance, CO2 and the load it adds.

Pydantic v2, frozen; no I/O, no database, no web.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fabgrid.domain.allocation import DisruptionKind
from fabgrid.domain.order import OrderStatus

__all__ = ["DisruptionKind", "DisruptionMove", "DisruptionState", "LineCancelled", "NetworkDisruption"]


class DisruptionState(StrEnum):
    """Where a disruption stands: declared for later, in force, over, or cancelled by the operator."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DisruptionMove(_Frozen):
    """What a disruption does to one order line. `to_site` None: no site can take it (it stays, the buyer is told);
    `to_site == from_site`: it stays but its date slips. The buyer keeps `old_price_cny`; `new_price_cny` is the new
    site's price for the line (the difference is the platform's cost). `new_date` after `old_date`: the buyer
    accepts the new date or cancels the line (a date proposal, `proposal_id`, once applied)."""

    line_id: str
    order_id: str
    from_site: str
    to_site: str | None
    old_price_cny: float
    new_price_cny: float | None
    old_date: date
    new_date: date | None
    distance_km: float | None
    co2_kg: float | None
    old_distance_km: float | None = None
    old_co2_kg: float | None = None
    added_machine_h: float = 0.0
    to_site_load_days: float | None = None
    old_status: OrderStatus = OrderStatus.ALLOCATED
    proposal_id: str | None = None
    #: why no site takes a line (`to_site` None): `no_other_offer` (no other site's offer in its quote can make it
    #: in its process and tier) or `others_full` (the `alternatives` that can are taken or hit within the horizon)
    unplaced_reason: Literal["no_other_offer", "others_full"] | None = None
    alternatives: int = 0

    @property
    def moved(self) -> bool:
        """True when the line changes site."""
        return self.to_site is not None and self.to_site != self.from_site

    @property
    def slips(self) -> bool:
        """True when the promised date moves later."""
        return self.new_date is not None and self.new_date > self.old_date


class NetworkDisruption(_Frozen):
    """A declared disruption: kind and target (site id, machine id, province, ``FROM:TO`` route of city names, or a
    material id), its window (`end` None: open-ended), the moves applied, and when it was cancelled."""

    id: str
    kind: DisruptionKind
    target: str
    start: datetime
    end: datetime | None
    declared_by: int
    created_at: datetime
    cancelled_at: datetime | None = None
    moves: tuple[DisruptionMove, ...] = ()
    note: str = ""

    def state(self, at: datetime) -> DisruptionState:
        """Its state at `at`."""
        if self.cancelled_at is not None:
            return DisruptionState.CANCELLED
        if at < self.start:
            return DisruptionState.SCHEDULED
        if self.end is not None and at >= self.end:
            return DisruptionState.ENDED
        return DisruptionState.ACTIVE


class LineCancelled(_Frozen):
    """A line the buyer cancelled because a disruption moved its date."""

    order_id: str
    line_id: str
    disruption_id: str | None
    at: datetime

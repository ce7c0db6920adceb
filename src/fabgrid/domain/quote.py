"""Typed records of estimates and quotes: Estimate (one machine), Offer (one site), Rejection, Quote.

Produced by `fabgrid.costing`, stored by the store, shown by the API/CLI. Pydantic v2, frozen;
no I/O, no database, no web.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from fabgrid.domain.catalog import ProcessFamily


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Estimate(_Frozen):
    """What making `quantity` copies of a part on one machine model takes (time, material, energy).

    Per-part figures include the part's share of shared builds (powder bed) and of supports.
    `details` holds the family-specific breakdown (e.g. FDM perimeter_s, infill_s, travel_s).
    """

    process: ProcessFamily
    machine_model: str
    material: str
    quantity: int = Field(ge=1)
    time_s: float = Field(ge=0, description="machine time per part, incl. its share of shared build time")
    job_time_s: float = Field(ge=0, description="machine time for all copies")
    builds: int = Field(ge=1)
    material_g: float = Field(ge=0, description="feedstock consumed per part (part, supports, waste)")
    part_g: float = Field(ge=0)
    support_g: float = Field(ge=0)
    energy_kwh: float = Field(ge=0, description="machine energy per part")
    operator_s: float = Field(ge=0, description="operator time per part (handling, post-processing)")
    setup_s: float = Field(ge=0, description="operator setup time per job")
    details: dict[str, float] = Field(default_factory=dict)


class TierOffer(_Frozen):
    """One lead-time tier of an offer."""

    tier: str
    unit_price_cny: float
    total_price_cny: float
    lead_time_days: int
    ship_date: date
    delivery_date: date


class Offer(_Frozen):
    """A binding offer of one site for the part on its best machine for the request."""

    site: str
    city: str
    process: ProcessFamily
    machine: str
    material: str
    quantity: int
    unit_price_cny: float
    total_price_cny: float
    lead_time_days: int
    ship_date: date
    delivery_date: date
    meets_need_by: bool | None = None
    energy_kwh: float
    co2_kg: float
    tiers: list[TierOffer]
    breakdown: dict[str, float]
    estimate: Estimate
    #: the version of the site's rates this offer was priced with (its storefront's rate version)
    rate_version: int | None = None


class Rejection(_Frozen):
    """Why a site (optionally one process there) cannot make the part."""

    site: str
    reason: str
    code: str
    process: ProcessFamily | None = None


class Quote(_Frozen):
    """All offers for one request, with the rejections; the same input gives the same `input_hash`."""

    input_hash: str
    part_name: str
    material: str
    quantity: int
    process: ProcessFamily | None = None
    finish: str | None = None
    need_by: date | None = None
    #: the destination city (stored quotes written before the rename carry it as ``to_city``)
    destination: str | None = Field(default=None, validation_alias=AliasChoices("destination", "to_city"))
    created_at: datetime
    expires_at: datetime
    offers: list[Offer]
    rejected: list[Rejection]

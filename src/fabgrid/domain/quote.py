"""Typed records of estimates and quotes: Estimate (one machine), Offer (one site), Rejection, Quote.

Produced by `fabgrid.costing`, stored by the store, shown by the API/CLI. Pydantic v2, frozen;
no I/O, no database, no web.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from fabgrid.domain.catalog import ProcessFamily
from fabgrid.errors import InputError


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
    unit_price_incl_vat_cny: float | None = None
    total_price_incl_vat_cny: float | None = None


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
    #: the site's name (readable), road distance to the destination, machine time per part split into its share
    #: of set-up and its run (time_s = setup_s + run_s), prices with VAT; absent in quotes stored before them
    site_name: str | None = None
    distance_km: float | None = None
    time_s: float | None = None
    setup_s: float | None = None
    run_s: float | None = None
    shipping_cny: float | None = Field(default=None, description="shipping of the line (one consignment)")
    unit_price_incl_vat_cny: float | None = None
    total_price_incl_vat_cny: float | None = None


class PriceBreak(_Frozen):
    """The best standard-tier offer at one quantity (the quote page's price-break table)."""

    quantity: int
    #: offers at the asked quantity (None on the other rows: only the cheapest is computed there)
    offers: int | None = None
    site: str | None = None
    unit_price_cny: float | None = None
    total_price_cny: float | None = None
    unit_price_incl_vat_cny: float | None = None
    total_price_incl_vat_cny: float | None = None
    delivery_date: date | None = None


class Alternative(_Frozen):
    """Another process or material that can make a part no site offers: how many offers, the cheapest."""

    process: ProcessFamily
    material: str
    offers: int
    unit_price_cny: float
    delivery_date: date


class Limit(_Frozen):
    """What keeps every site from making the part: a code, a sentence, and the figures behind it."""

    code: str
    message: str
    figures: dict[str, float | str] = Field(default_factory=dict)


class Unmakeable(_Frozen):
    """Why no site offers (the limits), what could make it instead, and whether to ask for a quote by hand."""

    limits: list[Limit]
    alternatives: list[Alternative]
    rfq_suggested: bool = True


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
    #: VAT rate the prices with VAT add (percent), price breaks at 1, 10, 100, 1000 and the asked quantity, and
    #: when no site offers: the limits and alternatives (absent in quotes stored before them)
    vat_pct: float | None = None
    price_breaks: list[PriceBreak] = Field(default_factory=list)
    unmakeable: Unmakeable | None = None


@dataclass(frozen=True)
class QuoteRequest:
    """What a buyer asks a price for: the one request type of the API, the CLI, the store and this engine.

    `process` may be given as its id (the API's string); `part_id` names a stored part (services) and
    is not part of the input hash, which takes the part by content.
    """

    material: str
    quantity: int = 1
    process: ProcessFamily | str | None = None  # a string is turned into its ProcessFamily (see `family`)
    finish: str | None = None
    need_by: date | None = None
    destination: str | None = None
    certifications: tuple[str, ...] = ()
    part_id: str | None = None

    def __post_init__(self) -> None:
        proc: object = self.process
        if isinstance(proc, str) and not isinstance(proc, ProcessFamily):
            try:
                object.__setattr__(self, "process", ProcessFamily(proc.strip().lower()) if proc.strip() else None)
            except ValueError:
                known = ", ".join(p.value for p in ProcessFamily)
                raise InputError(f"unknown process {proc!r}", hint=f"use one of: {known}",
                                 code="quote.process") from None

    @property
    def family(self) -> ProcessFamily | None:
        """The requested process family (None: any process of the material)."""
        return self.process if isinstance(self.process, ProcessFamily) else None

    def canonical(self, part_sha256: str) -> dict[str, Any]:
        """The request as it enters the input hash and the stored quote (the part by content, not by id)."""
        doc: dict[str, Any] = {
            "part_sha256": part_sha256, "material": self.material, "quantity": self.quantity,
            "process": self.family.value if self.family is not None else None, "finish": self.finish,
            "need_by": self.need_by.isoformat() if self.need_by else None, "destination": self.destination}
        if self.certifications:
            doc["certifications"] = sorted(self.certifications)
        return doc


def input_hash(req: QuoteRequest, part_sha256: str, data: str = "") -> str:
    """SHA-256 of the canonical request with the part's content key and (when given) the fingerprint of
    the catalog, network and rates priced with: equal inputs, equal hash (one stored quote)."""
    doc = req.canonical(part_sha256) | ({"data": data} if data else {})
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class StoredQuote:
    """A quote the store keeps for an organisation: the engine's `Quote` (offers, rejections, validity) with
    its id, part and the canonical request it was priced for (`QuoteRequest.canonical`, as stored). The
    store re-validates the stored JSON into it (`Quote.model_validate`), never reads it as a dict."""

    id: str
    part_id: str
    input_hash: str
    request: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    quote: Quote

    @property
    def expired(self) -> bool:
        """True once the validity has passed (an expired quote can no longer be ordered)."""
        return self.expires_at <= datetime.now(UTC)

    @property
    def offers(self) -> list[Any]:
        """The offers (`domain.quote.Offer`), cheapest first."""
        return list(self.quote.offers)

    @property
    def rejected(self) -> list[Any]:
        """The sites that could not offer and why (`domain.quote.Rejection`)."""
        return list(self.quote.rejected)

"""Typed records of work that no instant quote covers (issue 19): files attached to requests, requests for
quotes (RFQs) with their parts and quantity tiers, invitations with the NDA's acceptance, bids, contracts with
their versions and acceptances, message threads, claims on delivered lines, and the park's exhibitions.

Pydantic v2, frozen; no I/O, no database, no web.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StoredFile(_Frozen):
    """A drawing, image, model or attachment, stored encrypted; `media_type` from its leading bytes."""

    id: str
    organisation_id: int
    user_id: int
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class RfqStatus(StrEnum):
    """Where an RFQ stands: open for bids, awarded (every part), or cancelled."""

    OPEN = "open"
    AWARDED = "awarded"
    CANCELLED = "cancelled"


class RfqPart(_Frozen):
    """One part of an RFQ: the stored part, the wishes, the quantity tiers and the drawing."""

    part_id: str
    material: str | None = None
    process: str | None = None
    quantities: tuple[int, ...]
    drawing_file_id: str | None = None
    tolerances: bool = False
    threads: bool = False
    finish: str | None = None
    #: of the part's analysis (mm), for the teaser
    bbox_mm: tuple[float, float, float] | None = None
    filename: str = ""


class AwardedTier(_Frozen):
    """One quantity tier of one part, awarded to a bid (a split award gives parts or tiers to several bids)."""

    part_id: str
    quantity: int
    bid_id: str
    order_id: str


class Rfq(_Frozen):
    """A buyer's request for quotes."""

    id: str
    organisation_id: int
    user_id: int
    status: RfqStatus
    parts: tuple[RfqPart, ...]
    need_by: date
    bid_deadline: datetime
    nda_required: bool
    certificates: tuple[str, ...] = ()
    target_price_cny: float | None = None
    destination: str | None = None
    exhibition_id: str | None = None
    #: part id -> bid id of the parts awarded so far (the first bid, when its tiers went to several)
    awarded: dict[str, str] = Field(default_factory=dict)
    #: every tier awarded: part, quantity, bid and the order it became
    awarded_tiers: tuple[AwardedTier, ...] = ()
    #: site -> the parts it was sent, for sites matched for some parts only (no single site makes them all);
    #: a site not named here was sent every part
    part_sites: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    created_at: datetime

    def parts_for(self, site_id: str) -> tuple[RfqPart, ...]:
        """The parts sent to `site_id` (all, unless it was matched for some only)."""
        only = self.part_sites.get(site_id)
        return self.parts if only is None else tuple(p for p in self.parts if p.part_id in only)


class Invitation(_Frozen):
    """An RFQ sent to one site: how it came (matched by capability or invited from the showroom), its rank, the
    NDA's acceptance (text hash, user, time) and a revocation by the owner."""

    rfq_id: str
    site_id: str
    source: str
    rank: int
    nda_sha256: str | None = None
    nda_user_id: int | None = None
    nda_at: datetime | None = None
    revoked_at: datetime | None = None
    thread_id: str | None = None

    @property
    def full_access(self) -> bool:
        """True after the NDA was accepted and while the owner has not revoked access."""
        return self.nda_at is not None and self.revoked_at is None


class BidStatus(StrEnum):
    """A bid is active until withdrawn, awarded or lost to another bid."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    AWARDED = "awarded"
    LOST = "lost"


class BidTier(_Frozen):
    """The price of one part at one quantity of the RFQ's tiers."""

    part_id: str
    quantity: int = Field(ge=1)
    unit_price_cny: float = Field(gt=0, le=10_000_000)
    lead_time_days: int = Field(ge=1, le=365)


class Bid(_Frozen):
    """A factory's bid on an RFQ."""

    id: str
    rfq_id: str
    site_id: str
    user_id: int
    status: BidStatus
    tiers: tuple[BidTier, ...]
    valid_until: date
    notes: str = ""
    deviations: str = ""
    created_at: datetime

    def tier(self, part_id: str, quantity: int) -> BidTier | None:
        """The price of `part_id` at `quantity`, or None."""
        return next((t for t in self.tiers if t.part_id == part_id and t.quantity == quantity), None)


class ContractStatus(StrEnum):
    """A contract version is a draft until both sides accepted it (signed); a signed version a later one replaces
    is superseded."""

    DRAFT = "draft"
    SIGNED = "signed"
    SUPERSEDED = "superseded"


class Contract(_Frozen):
    """A contract version: the terms as a document (parties, documents with SHA-256, lines, payment terms,
    milestones) and the acceptance of each side."""

    id: str
    rfq_id: str
    order_id: str
    organisation_id: int
    site_id: str
    version: int
    previous_id: str | None = None
    status: ContractStatus
    total_cny: float
    terms: dict[str, Any]
    buyer_user_id: int | None = None
    buyer_at: datetime | None = None
    factory_user_id: int | None = None
    factory_at: datetime | None = None
    signed_at: datetime | None = None
    created_at: datetime


class Thread(_Frozen):
    """A message thread about an RFQ (one per invited site) or an order; its parties are the buyer organisation,
    the sites named and the park's operators."""

    id: str
    kind: str
    ref_id: str
    organisation_id: int
    site_ids: tuple[str, ...]
    created_at: datetime


class Message(_Frozen):
    """One message; `internal` ones are the operators' notes, shown to operators only."""

    id: int
    thread_id: str
    user_id: int
    author_email: str
    author_role: str
    body: str
    internal: bool = False
    file_id: str | None = None
    created_at: datetime


class ClaimOutcome(StrEnum):
    """The operator's decision on a claim."""

    REMAKE = "remake"
    PARTIAL_REFUND = "partial_refund"
    REJECTED = "rejected"


class Claim(_Frozen):
    """A buyer's claim on a delivered order line, the factory's answer and the operator's decision."""

    id: str
    order_id: str
    line_id: str
    site_id: str
    organisation_id: int
    user_id: int
    description: str
    photo_file_ids: tuple[str, ...] = ()
    answer: str | None = None
    answered_at: datetime | None = None
    outcome: ClaimOutcome | None = None
    refund_cny: float | None = None
    decision_note: str = ""
    decided_at: datetime | None = None
    #: a remake: the new order line (no charge to the buyer) and how many parts it makes again
    remake_line_id: str | None = None
    remake_quantity: int | None = None
    #: what the outcome costs the factory (CNY): the remade parts at the line's unit price, or the refund
    factory_cost_cny: float | None = None
    created_at: datetime

    @property
    def status(self) -> str:
        """open, answered or decided."""
        return "decided" if self.outcome else "answered" if self.answer else "open"


class MeetingSlot(_Frozen):
    """A matchmaking slot of a booth; booked by one buyer organisation at most."""

    id: str
    booth_id: str
    starts_at: datetime
    ends_at: datetime
    organisation_id: int | None = None
    user_id: int | None = None


class Booth(_Frozen):
    """A factory's booth at an exhibition: its showroom with featured parts, and meeting slots."""

    id: str
    exhibition_id: str
    site_id: str
    featured: tuple[str, ...] = ()
    slots: tuple[MeetingSlot, ...] = ()


class Exhibition(_Frozen):
    """The park's online exhibition: dates (Asia/Shanghai days, inclusive), theme and booths."""

    id: str
    name: str
    theme: str
    starts_on: date
    ends_on: date
    booths: tuple[Booth, ...] = ()
    created_at: datetime

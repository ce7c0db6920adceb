"""Typed records of a factory's answer to the work allocated to it: accept, decline with a reason (or no
answer within the response time), and a proposed delivery date the buyer accepts or rejects.

Pydantic v2, frozen; no I/O, no database, no web.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Answer(StrEnum):
    """What a site answered to a line allocated to it."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMEOUT = "timeout"


class DeclineReason(StrEnum):
    """Why a site declines a line (`timeout`: it did not answer within the response time)."""

    NO_CAPACITY = "no_capacity"
    NOT_MANUFACTURABLE = "not_manufacturable"
    CANNOT_MEET_DATE = "cannot_meet_date"
    OTHER = "other"
    TIMEOUT = "timeout"


#: Reasons a factory may give (the timeout is the platform's).
FACTORY_REASONS = tuple(r for r in DeclineReason if r is not DeclineReason.TIMEOUT)


class ProposalStatus(StrEnum):
    """A proposed date: waiting for the buyer, accepted (the line's date moves) or rejected (it stays)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FactoryResponse(_Frozen):
    """A site's answer to a line: when the line reached it, when it answered, and for a decline where the line
    went (None: no site could take it; the buyer is asked) and the price difference the platform bears."""

    order_id: str
    line_id: str
    site_id: str
    answer: Answer
    reason: DeclineReason | None = None
    note: str = ""
    allocated_at: datetime
    answered_at: datetime
    reallocated_to: str | None = None
    platform_cost_cny: float | None = None

    @property
    def response_s(self) -> float:
        """Seconds from the allocation to the answer."""
        return max(0.0, (self.answered_at - self.allocated_at).total_seconds())


class DateProposal(_Frozen):
    """A factory's proposed delivery date for one line, and the buyer's decision."""

    id: str
    order_id: str
    line_id: str
    site_id: str
    proposed_date: date
    previous_date: date
    note: str = ""
    status: ProposalStatus
    created_at: datetime
    decided_at: datetime | None = None

    @property
    def keepable(self) -> bool:
        """True when the buyer may keep the date they have: the line's own factory proposed another of its own
        accord. A date from a disruption or after a decline (notes `disruption <id>`, `declined by <site>: ...`)
        is the earliest one the network can make, so the buyer accepts it or cancels the line."""
        return not self.note.startswith(("disruption ", "declined by "))

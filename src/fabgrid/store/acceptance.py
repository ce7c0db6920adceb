"""The repository of factories' answers to their work: responses (accepted, declined, timeout) and proposed
dates, `fabgrid.domain.acceptance` records out; the two line changes they make (a new delivery date, a line no
site can take going back to placed without a site).

Each method works on the unit of work's session and never commits. Depends on the ORM tables and the domain.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fabgrid.domain.acceptance import Answer, DateProposal, DeclineReason, FactoryResponse, ProposalStatus
from fabgrid.store.tables import DateProposalRow, FactoryResponseRow, OrderLineRow


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _response(r: FactoryResponseRow) -> FactoryResponse:
    return FactoryResponse(order_id=r.order_id, line_id=r.line_id, site_id=r.site_id, answer=Answer(r.answer),
                           reason=DeclineReason(r.reason) if r.reason else None, note=r.note,
                           allocated_at=_utc(r.allocated_at), answered_at=_utc(r.answered_at),
                           reallocated_to=r.reallocated_to, platform_cost_cny=r.platform_cost_cny)


def _proposal(r: DateProposalRow) -> DateProposal:
    return DateProposal(id=r.id, order_id=r.order_id, line_id=r.line_id, site_id=r.site_id,
                        proposed_date=date.fromisoformat(r.proposed_date),
                        previous_date=date.fromisoformat(r.previous_date), note=r.note,
                        status=ProposalStatus(r.status), created_at=_utc(r.created_at),
                        decided_at=_utc(r.decided_at) if r.decided_at else None)


class AcceptanceRepository:
    """Factories' responses and date proposals."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_response(self, resp: FactoryResponse) -> FactoryResponse:
        """Record a site's answer (flushed)."""
        self.session.add(FactoryResponseRow(
            order_id=resp.order_id, line_id=resp.line_id, site_id=resp.site_id, answer=resp.answer.value,
            reason=resp.reason.value if resp.reason else None, note=resp.note[:500], allocated_at=resp.allocated_at,
            answered_at=resp.answered_at, reallocated_to=resp.reallocated_to,
            platform_cost_cny=resp.platform_cost_cny))
        self.session.flush()
        return resp

    def responses(self, *, site_id: str | None = None, line_id: str | None = None,
                  since: datetime | None = None) -> list[FactoryResponse]:
        """Answers by site and/or line (answered at or after `since`), oldest first."""
        q = select(FactoryResponseRow)
        if site_id is not None:
            q = q.where(FactoryResponseRow.site_id == site_id)
        if line_id is not None:
            q = q.where(FactoryResponseRow.line_id == line_id)
        if since is not None:
            q = q.where(FactoryResponseRow.answered_at >= since)
        return [_response(r) for r in self.session.scalars(q.order_by(FactoryResponseRow.id))]

    def add_proposal(self, p: DateProposal) -> DateProposal:
        """Record a proposed date (flushed)."""
        self.session.add(DateProposalRow(id=p.id, order_id=p.order_id, line_id=p.line_id, site_id=p.site_id,
                                         proposed_date=p.proposed_date.isoformat(),
                                         previous_date=p.previous_date.isoformat(), note=p.note[:500],
                                         status=p.status.value, created_at=p.created_at))
        self.session.flush()
        return p

    def proposal(self, order_id: str, proposal_id: str) -> DateProposal | None:
        """The order's proposal, or None."""
        row = self.session.get(DateProposalRow, proposal_id)
        return _proposal(row) if row is not None and row.order_id == order_id else None

    def proposals(self, order_id: str) -> list[DateProposal]:
        """The order's proposals, oldest first."""
        q = select(DateProposalRow).where(DateProposalRow.order_id == order_id).order_by(DateProposalRow.created_at)
        return [_proposal(r) for r in self.session.scalars(q)]

    def decide(self, proposal_id: str, status: ProposalStatus, at: datetime) -> DateProposal:
        """Set a pending proposal's decision (flushed)."""
        row = self.session.get_one(DateProposalRow, proposal_id)
        row.status = status.value
        row.decided_at = at
        self.session.flush()
        return _proposal(row)

    def set_delivery_date(self, line_id: str, when: date) -> None:
        """Move a line's promised delivery date (an accepted proposal)."""
        row = self.session.get_one(OrderLineRow, line_id)
        row.delivery_date = when.isoformat()
        self.session.flush()

    def clear_site(self, line_id: str) -> None:
        """Take a line off its site (no site can take it; its status is set through the order repository)."""
        row = self.session.get_one(OrderLineRow, line_id)
        row.site_id = None
        self.session.flush()

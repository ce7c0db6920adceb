"""ORM tables of the work no instant quote covers (issue 19, migration 0011): RFQ files, RFQs and their
invitations, bids, contracts, message threads and read markers, claims, exhibitions with booths and meeting
slots. On the shared `Base.metadata` of `store.tables`; read and written by `store.rfq` only.
Depends on SQLAlchemy only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fabgrid.store.tables import Base, utcnow


class RfqFileRow(Base):
    """A file attached to an RFQ, a message or a claim (drawing, image, model), encrypted like designs."""

    __tablename__ = "rfq_files"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RfqRow(Base):
    """A request for quotes: the parts, tiers and wishes as the `domain.rfq.Rfq` document."""

    __tablename__ = "rfqs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    bid_deadline: Mapped[datetime] = mapped_column()
    exhibition_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RfqInvitationRow(Base):
    """An RFQ sent to one site, with the NDA's acceptance and the owner's revocation."""

    __tablename__ = "rfq_invitations"
    __table_args__ = (UniqueConstraint("rfq_id", "site_id", name="uq_rfq_invitations_site"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rfq_id: Mapped[str] = mapped_column(ForeignKey("rfqs.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    nda_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nda_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    nda_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    thread_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class BidRow(Base):
    """A factory's bid on an RFQ (`domain.rfq.Bid` as a document beside the queried columns)."""

    __tablename__ = "rfq_bids"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rfq_id: Mapped[str] = mapped_column(ForeignKey("rfqs.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContractRow(Base):
    """A contract version: the terms (document), the two acceptances, signed once both accepted."""

    __tablename__ = "contracts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rfq_id: Mapped[str] = mapped_column(ForeignKey("rfqs.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(Integer, index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    total_cny: Mapped[float] = mapped_column(Float)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    buyer_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    buyer_at: Mapped[datetime | None] = mapped_column(nullable=True)
    factory_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    factory_at: Mapped[datetime | None] = mapped_column(nullable=True)
    signed_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThreadRow(Base):
    """A message thread about an RFQ (per invited site) or an order (`key` names it once)."""

    __tablename__ = "threads"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[str] = mapped_column(String(40), index=True)
    organisation_id: Mapped[int] = mapped_column(Integer)
    site_ids: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"sites": [...]}
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MessageRow(Base):
    """One message of a thread; internal notes are the operators' only."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    author_email: Mapped[str] = mapped_column(String(254))
    author_role: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(String(5000))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    file_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThreadReadRow(Base):
    """How far a user has read a thread (the read marker)."""

    __tablename__ = "thread_reads"

    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_message_id: Mapped[int] = mapped_column(Integer)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimRow(Base):
    """A buyer's claim on a delivered line, the factory's answer and the operator's decision."""

    __tablename__ = "claims"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    organisation_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ExhibitionRow(Base):
    """The park's online exhibition."""

    __tablename__ = "exhibitions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(500))
    starts_on: Mapped[str] = mapped_column(String(10))  # ISO date
    ends_on: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BoothRow(Base):
    """A factory's booth at an exhibition, with its featured parts."""

    __tablename__ = "booths"
    __table_args__ = (UniqueConstraint("exhibition_id", "site_id", name="uq_booths_site"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exhibition_id: Mapped[str] = mapped_column(ForeignKey("exhibitions.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(String(64))
    featured: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"items": [...]}


class MeetingSlotRow(Base):
    """A meeting slot of a booth; booking sets the buyer only where none is set (no double booking)."""

    __tablename__ = "meeting_slots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    booth_id: Mapped[str] = mapped_column(ForeignKey("booths.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    organisation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    booked_at: Mapped[datetime | None] = mapped_column(nullable=True)

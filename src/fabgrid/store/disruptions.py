"""The repository of the park operator's disruptions (issue 22, migration 0012): kind, target, window, the moves
applied and the cancellation, `fabgrid.domain.disruption.NetworkDisruption` records out; and the e-mail addresses
of an organisation's users (whom a disruption's notice is sent to).

Each method works on the unit of work's session and never commits. Depends on the ORM tables and the domain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fabgrid.domain.disruption import DisruptionKind, DisruptionMove, NetworkDisruption
from fabgrid.store.tables import Base, UserRow, utcnow


class NetworkDisruptionRow(Base):
    """A disruption declared by the operator over a window, with the moves it applied (JSON list)."""

    __tablename__ = "network_disruptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    declared_by: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    moves: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _record(r: NetworkDisruptionRow) -> NetworkDisruption:
    start, created = _utc(r.start_at), _utc(r.created_at)
    assert start is not None and created is not None
    return NetworkDisruption(id=r.id, kind=DisruptionKind(r.kind), target=r.target, start=start, end=_utc(r.end_at),
                             declared_by=r.declared_by, created_at=created, cancelled_at=_utc(r.cancelled_at),
                             moves=tuple(DisruptionMove.model_validate(m) for m in r.moves or ()), note=r.note)


class NetworkDisruptionRepository:
    """Disruptions of the network declared by the operator."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, d: NetworkDisruption) -> NetworkDisruption:
        """Store a new disruption."""
        row = NetworkDisruptionRow(id=d.id, kind=d.kind.value, target=d.target, start_at=d.start, end_at=d.end,
                                   declared_by=d.declared_by, note=d.note,
                                   moves=[m.model_dump(mode="json") for m in d.moves], created_at=d.created_at,
                                   cancelled_at=d.cancelled_at)
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def update(self, d: NetworkDisruption) -> NetworkDisruption:
        """Store a disruption's new window, moves and cancellation."""
        row = self.session.get_one(NetworkDisruptionRow, d.id)
        row.start_at, row.end_at, row.cancelled_at, row.note = d.start, d.end, d.cancelled_at, d.note
        row.moves = [m.model_dump(mode="json") for m in d.moves]
        self.session.flush()
        return _record(row)

    def get(self, disruption_id: str) -> NetworkDisruption | None:
        """One disruption, or None."""
        row = self.session.get(NetworkDisruptionRow, disruption_id)
        return _record(row) if row is not None else None

    def find(self, limit: int = 200) -> list[NetworkDisruption]:
        """Disruptions, newest first."""
        q = select(NetworkDisruptionRow).order_by(NetworkDisruptionRow.created_at.desc()).limit(limit)
        return [_record(r) for r in self.session.scalars(q)]

    def emails(self, organisation_id: int) -> list[str]:
        """The e-mail addresses of the organisation's users."""
        q = select(UserRow.email).where(UserRow.organisation_id == organisation_id).order_by(UserRow.id)
        return list(self.session.scalars(q))

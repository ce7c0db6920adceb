"""The repository of the operator's value reports (issue 22, item 4; migration 0016): the options asked, the job
that runs them, the progress, and the simulator's document and charts once done; `ValueReport` records out.

Each method works on the unit of work's session and never commits. Depends on the ORM tables and the domain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from fabgrid.domain.value_report import ValueReport, ValueReportStatus
from fabgrid.store.tables import Base, utcnow


class ValueReportRow(Base):
    """A value report: options, status, progress; the document and charts (JSON) once it succeeded."""

    __tablename__ = "value_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    requested_by: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    runs_done: Mapped[int] = mapped_column(Integer, default=0)
    runs_total: Mapped[int] = mapped_column(Integer, default=0)
    doc: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    charts: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _record(r: ValueReportRow) -> ValueReport:
    created = _utc(r.created_at)
    assert created is not None
    return ValueReport(id=r.id, status=ValueReportStatus(r.status), options=dict(r.options),
                       requested_by=r.requested_by, job_id=r.job_id, runs_done=r.runs_done,
                       runs_total=r.runs_total, doc=r.doc, charts=r.charts, problem=r.problem,
                       created_at=created, finished_at=_utc(r.finished_at))


class ValueReportRepository:
    """The operator's value reports."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, r: ValueReport) -> ValueReport:
        """Store a new report."""
        row = ValueReportRow(id=r.id, status=r.status.value, options=r.options, requested_by=r.requested_by,
                             job_id=r.job_id, runs_done=r.runs_done, runs_total=r.runs_total, created_at=r.created_at)
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def update(self, r: ValueReport) -> ValueReport:
        """Store a report's job, status, progress, document, charts and problem."""
        row = self.session.get_one(ValueReportRow, r.id)
        row.status, row.job_id, row.runs_done, row.runs_total = r.status.value, r.job_id, r.runs_done, r.runs_total
        row.doc, row.charts, row.problem, row.finished_at = r.doc, r.charts, r.problem, r.finished_at
        self.session.flush()
        return _record(row)

    def get(self, report_id: str) -> ValueReport | None:
        """One report, or None."""
        row = self.session.get(ValueReportRow, report_id)
        return _record(row) if row is not None else None

    def find(self, limit: int = 50) -> list[ValueReport]:
        """Reports, newest first."""
        q = select(ValueReportRow).order_by(ValueReportRow.created_at.desc()).limit(limit)
        return [_record(r) for r in self.session.scalars(q)]

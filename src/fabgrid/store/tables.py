"""ORM tables of the fabgrid database (SQLAlchemy 2 declarative).

The catalog and network tables mirror the shipped data (`fabgrid.data`), keeping the full
record as JSON beside the columns that are queried. Later features add tables by migration.
Depends on SQLAlchemy only; the domain never imports this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every fabgrid table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class ProcessRow(Base):
    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[dict[str, Any]]


class MaterialRow(Base):
    __tablename__ = "materials"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    process: Mapped[str] = mapped_column(ForeignKey("processes.id"), index=True)
    price_cny_per_kg: Mapped[float] = mapped_column(Float)
    spec: Mapped[dict[str, Any]]


class MachineModelRow(Base):
    __tablename__ = "machine_models"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(120))
    model: Mapped[str] = mapped_column(String(120))
    process: Mapped[str] = mapped_column(ForeignKey("processes.id"), index=True)
    spec: Mapped[dict[str, Any]]


class SiteRow(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(80), index=True)
    province: Mapped[str] = mapped_column(String(80), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    spec: Mapped[dict[str, Any]]


class MachineRow(Base):
    __tablename__ = "machines"
    __table_args__ = (UniqueConstraint("site_id", "machine_id", name="uq_machines_site_machine"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    machine_id: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(ForeignKey("machine_models.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="idle")


class OrganisationRow(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # buyer | factory | operator
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))  # buyer | factory | operator | admin
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessTokenRow(Base):
    """A bearer credential: a login session token or a named API key. Only its SHA-256 is kept."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # session | api_key
    name: Mapped[str] = mapped_column(String(120), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)

"""Typed records of factories joining and running the network: the unified social credit code rule
(GB 32100-2015), applications and their statuses, certificates, and the storefront a factory declares (stock
lots, rates, calendar entries, capacity).

Pydantic v2 and dataclasses; no I/O, no database, no web. The code rule's figures are handed in (they live in
fabgrid.data, gb32100.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ---------------------------------------------------------------------------- the unified social credit code


@dataclass(frozen=True)
class CreditCodeProblem:
    """What is wrong with a code: the 1-based position (None: the length), and for a wrong check character the
    character the first 17 give."""

    message: str
    position: int | None = None
    expected: str | None = None


@dataclass(frozen=True)
class CreditCodeRule:
    """GB 32100-2015: 18 characters of `charset` (value = index), positions `digits_only` are digits, and the
    18th is the mod-31 check character of the first 17 weighted by `weights`."""

    charset: str
    weights: tuple[int, ...]
    digits_only: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    length: int = 18

    def check_character(self, first17: str) -> str:
        """The check character of the first 17 characters: C18 = 31 - (sum Ci*Wi mod 31), 31 written as 0."""
        n = len(self.charset)
        total = sum(self.charset.index(c) * w for c, w in zip(first17, self.weights, strict=True))
        return self.charset[(n - total % n) % n]

    def problem(self, code: str) -> CreditCodeProblem | None:
        """None for a valid code, else the first problem found (length, character, digit position, check)."""
        if len(code) != self.length:
            return CreditCodeProblem(f"a unified social credit code has {self.length} characters, this one "
                                     f"has {len(code)}")
        for i, c in enumerate(code, start=1):
            if c not in self.charset:
                why = ("the letters I, O, Z, S and V are not used" if c.upper() in "IOZSV"
                       else "only digits and upper-case letters are used")
                return CreditCodeProblem(f"character {i} ({c!r}) is not allowed: {why}", position=i)
            if i in self.digits_only and not c.isdigit():
                return CreditCodeProblem(f"character {i} ({c!r}) must be a digit: positions 3-8 are the "
                                         "administrative division code", position=i)
        expected = self.check_character(code[:-1])
        if code[-1] != expected:
            return CreditCodeProblem(f"check character (position {self.length}) is {code[-1]!r}, but the first "
                                     f"{self.length - 1} characters give {expected!r}: a character is mistyped",
                                     position=self.length, expected=expected)
        return None


def normalise_code(code: str) -> str:
    """A code as typed: spaces and hyphens dropped, upper case."""
    return "".join(c for c in code.strip() if c not in " -\u3000").upper()


# ---------------------------------------------------------------------------- applications


class ApplicationStatus(StrEnum):
    """Where an application to join stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class FactoryStatus(StrEnum):
    """A factory's standing in the network: new ones start on probation."""

    PROBATION = "probation"
    VERIFIED = "verified"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Certificate(_Frozen):
    """A management-system certificate (ISO 9001, IATF 16949, AS9100D, ...) with its number and expiry."""

    name: str = Field(min_length=2, max_length=60)
    number: str = Field(min_length=1, max_length=80)
    expires_on: date

    def valid_on(self, day: date) -> bool:
        """True until (and on) its expiry day."""
        return day <= self.expires_on


class Contact(_Frozen):
    """Who the park's operator talks to."""

    name: str = Field(min_length=1, max_length=120)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)


class FactoryApplication(_Frozen):
    """A company's application to join, with the operator's decision."""

    id: str
    organisation_id: int
    user_id: int
    legal_name: str
    credit_code: str
    address: str
    city: str
    province: str
    lat: float
    lon: float
    contact: Contact
    certificates: tuple[Certificate, ...] = ()
    status: ApplicationStatus
    reason: str = ""
    site_id: str | None = None
    decided_by: int | None = None
    decided_at: datetime | None = None
    created_at: datetime


# ---------------------------------------------------------------------------- the storefront


class MaterialStock(_Frozen):
    """A material a factory holds, with the quantity and (optionally) the lot."""

    material: str
    stock_kg: float = Field(ge=0, le=1_000_000)
    lot: str | None = Field(default=None, max_length=80)


class CalendarEntryKind(StrEnum):
    """Days a factory (or one machine) does not work."""

    HOLIDAY = "holiday"
    MAINTENANCE = "maintenance"


class CalendarEntry(_Frozen):
    """A closed period, from `start` to `end` inclusive; `machine_id` narrows a maintenance window to one
    machine."""

    kind: CalendarEntryKind
    start: date
    end: date
    machine_id: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=200)

    @field_validator("end")
    @classmethod
    def _ordered(cls, v: date, info: object) -> date:
        start = getattr(info, "data", {}).get("start")
        if start is not None and v < start:
            raise ValueError(f"end {v} is before start {start}")
        return v

    def overlaps(self, other: CalendarEntry) -> bool:
        """True when both close the same thing (the site, or one machine) on a common day."""
        same = self.machine_id is None or other.machine_id is None or self.machine_id == other.machine_id
        return same and self.start <= other.end and other.start <= self.end

    def days(self) -> list[date]:
        """Every day of the entry."""
        return [date.fromordinal(d) for d in range(self.start.toordinal(), self.end.toordinal() + 1)]


class Storefront(_Frozen):
    """What a factory declares beyond its site record: stock with lots, markup, minimum order, finishing
    prices, calendar entries, capacity, certificates; with its standing and the versions of its changes."""

    site_id: str
    organisation_id: int | None = None
    status: FactoryStatus = FactoryStatus.VERIFIED
    version: int = 0
    rate_version: int = 0
    stock: tuple[MaterialStock, ...] = ()
    material_markup: float = 0.0
    minimum_order_cny: float = 0.0
    finishes_cny: dict[str, float] = Field(default_factory=dict)
    entries: tuple[CalendarEntry, ...] = ()
    at_capacity: bool = False
    max_queue_h: float | None = None
    certificates: tuple[Certificate, ...] = ()
    machine_names: dict[str, str] = Field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def verified(self) -> bool:
        """True once the factory left probation."""
        return self.status is FactoryStatus.VERIFIED


@dataclass(frozen=True)
class FactoryEvent:
    """One entry of the factories' audit log: an application, a decision (with its reason), a storefront
    change (with the version it made)."""

    kind: str
    at: datetime
    actor_user_id: int | None
    reason: str
    version: int | None
    application_id: str | None
    site_id: str | None
    doc: dict[str, Any] | None


class CustomMachine(_Frozen):
    """A machine model not in the catalog, declared by a factory: it is costed like the catalog model of its
    process named by `like` (or the one nearest in build volume), with its own build volume and power."""

    process: str
    build_volume_mm: tuple[float, float, float]
    power_w: float
    vendor: str = Field(default="", max_length=120)
    model: str = Field(default="", max_length=120)
    like: str | None = Field(default=None, max_length=64)
    materials: tuple[str, ...] | None = None


class MachineDeclaration(_Frozen):
    """One machine of a storefront's machine list: a catalog model id or a custom model."""

    id: str | None = Field(default=None, max_length=64)
    model: str | None = None
    custom: CustomMachine | None = None
    name: str | None = Field(default=None, max_length=120)


class DocumentKind(StrEnum):
    """What an application's document is."""

    BUSINESS_LICENCE = "business_licence"
    CERTIFICATE = "certificate"
    OTHER = "other"


class FactoryDocument(_Frozen):
    """An application's document (its bytes are stored encrypted; this is the metadata)."""

    id: str
    application_id: str
    kind: DocumentKind
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    created_at: datetime

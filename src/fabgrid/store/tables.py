"""ORM tables of the fabgrid database (SQLAlchemy 2 declarative).

The catalog and network tables mirror the shipped data (`fabgrid.data`), keeping the full
record as JSON beside the columns that are queried. Later features add tables by migration.
Depends on SQLAlchemy only; the domain never imports this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
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
    #: the role in a buyer organisation (domain.team.TeamRole: buyer | admin; migration 0020)
    team_role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: when an administrator removed the user from the organisation's team (migration 0024); None: a member
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


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


# ------------------------------------------------------------------ web platform (migration 0003)
# Ids of buyer-owned records are random strings ("prt_" + 16 hex), so they cannot be enumerated.


class PartRow(Base):
    """An uploaded design: the encrypted file on disk, its wrapped key, and the analysis report."""

    __tablename__ = "parts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    units: Mapped[str | None] = mapped_column(String(8), nullable=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(255))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | ready | failed
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRow(Base):
    """A background job; its state lives here so any API process can answer for any worker."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                        nullable=True, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime | None] = mapped_column(nullable=True)
    worker: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: the claim's lease, renewed while the job runs: a `running` job past it lost its worker
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    #: claims taken over from a worker that died (lease expired) while it ran this job
    lost_runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: what a running job reports of itself (0..1 and a few words), shown by the pages
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    progress_note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: the work it does (e.g. ``builds.plan:<site>``): a request for the same work joins it while it is active
    task_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)


class QuoteRow(Base):
    """A stored quote: the request, its input hash and the offers (the `Quote` record as JSON)."""

    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    part_id: Mapped[str] = mapped_column(ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    input_hash: Mapped[str] = mapped_column(String(64), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class OrderRow(Base):
    """An order of a buyer organisation: the header of its lines (destination, design-sharing consent) and the
    status of its least advanced line, kept here so that orders can be filtered by status."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    destination: Mapped[str | None] = mapped_column(String(80), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    consent_design_sharing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderLineRow(Base):
    """One line of an order: a quote's offer (site, tier) at the quoted price, allocated to one site.

    A quote is ordered once (unique), so concurrent orders of one quote cannot both be stored."""

    __tablename__ = "order_lines"
    __table_args__ = (UniqueConstraint("quote_id", name="uq_order_lines_quote"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"))
    part_id: Mapped[str] = mapped_column(ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"), nullable=True, index=True)
    offer_site_id: Mapped[str] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(32))
    material: Mapped[str] = mapped_column(String(64))
    finish: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    tier: Mapped[str] = mapped_column(String(32))
    unit_price_cny: Mapped[float] = mapped_column(Float)
    total_price_cny: Mapped[float] = mapped_column(Float)
    lead_time_days: Mapped[int] = mapped_column(Integer)
    delivery_date: Mapped[str] = mapped_column(String(10))  # ISO date
    machine_h: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), index=True)
    inspection: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the certificates the making site must hold (the quote's request; migration 0020)
    certifications: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    #: the buyer's inspection plan: features with nominal and limits (`FeatureSpec`; migration 0029)
    feature_plan: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class OrderEventRow(Base):
    """One step of an order's timeline (placed, allocated, ..., delivered; rerouted; inspection), of one line
    (`line_id`) or of the whole order (None)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    #: The note's key in services/timeline.yaml and its values (services.timeline); None: a free-text note.
    note_key: Mapped[str | None] = mapped_column(String(40), nullable=True)
    note_args: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetRow(Base):
    """A shipped data set the engines are handed (costing rates, finishes, logistics), seeded from
    `fabgrid.data` and read from here afterwards, as the network tables are."""

    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevisionRow(Base):
    """A counter bumped by every change of the network (sites, machines, rates): readers cache by it."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DesignAccessRow(Base):
    """Audit log: every access (and refused attempt) to a design, readable by the design's owner."""

    __tablename__ = "design_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    part_id: Mapped[str] = mapped_column(ForeignKey("parts.id", ondelete="CASCADE"), index=True)
    actor_user_id: Mapped[int] = mapped_column(Integer)
    actor_email: Mapped[str] = mapped_column(String(254))
    actor_organisation: Mapped[str] = mapped_column(String(200))
    actor_site_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))  # owner_download | owner_mesh | factory_download
    allowed: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(300))
    order_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RateBucketRow(Base):
    """A token bucket of one principal and one action (upload, quote), shared by every API process."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column()


class WebhookRow(Base):
    """A buyer's endpoint for order status changes; the secret is kept encrypted with the master key."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    events: Mapped[str] = mapped_column(String(200), default="order.status")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDeliveryRow(Base):
    """One delivery of one event to one webhook, with its attempts."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DisruptionRow(Base):
    """A disruption declared by the park operator, with the reroute report."""

    __tablename__ = "disruptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    declared_by: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKeyRow(Base):
    """An `Idempotency-Key` of an organisation and the order its first request made (with the body's hash)."""

    __tablename__ = "idempotency_keys"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottleRow(Base):
    """Failed log-ins of one account (``acct:<email>``) or one client address (``addr:<ip>``) in a window."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)


class AuthEventRow(Base):
    """Audit log of authentication: failed log-ins, lock-outs and refused attempts while locked."""

    __tablename__ = "auth_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    event: Mapped[str] = mapped_column(String(32))  # login_failed | locked | refused_locked
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(300))


# ------------------------------------------------------------------ factories (migration 0006)


class FactoryApplicationRow(Base):
    """A company's application to join the network as a factory; the operator approves (creating the site) or
    rejects it with a reason."""

    __tablename__ = "factory_applications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    legal_name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(80))
    province: Mapped[str] = mapped_column(String(80))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON)
    certificates: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"items": [...]}
    status: Mapped[str] = mapped_column(String(16), index=True)  # domain.factory.ApplicationStatus
    reason: Mapped[str] = mapped_column(String(500), default="")
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StorefrontRow(Base):
    """What a factory declares beyond the network's site record (stock lots, markup, minimum order, calendar
    entries, capacity, certificates), its standing (probation, verified) and the versions of its changes."""

    __tablename__ = "storefronts"

    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"),
                                                        nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # domain.factory.FactoryStatus
    version: Mapped[int] = mapped_column(Integer, default=0)
    rate_version: Mapped[int] = mapped_column(Integer, default=0)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FactoryDocumentRow(Base):
    """A document of an application (business licence, certificate scan): encrypted on disk like designs (a random
    per-file key wrapped by the master key), only its metadata here."""

    __tablename__ = "factory_documents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("factory_applications.id", ondelete="CASCADE"),
                                                index=True)
    kind: Mapped[str] = mapped_column(String(32))  # domain.factory.DocumentKind
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(255))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FactoryEventRow(Base):
    """Audit log of factories: applications, the operator's decisions with their reasons, and every storefront
    change with the version it made."""

    __tablename__ = "factory_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    doc: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ dispatch to printers (migration 0008)


class MachineConnectionRow(Base):
    """A machine's print host (OctoPrint, Moonraker, PrusaLink, Bambu LAN): the URL and credentials sealed
    under the master key (`secret_enc`), and the state of the last check."""

    __tablename__ = "machine_connections"

    machine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # dispatch registry name
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))  # domain.dispatch.ConnectionState
    message: Mapped[str] = mapped_column(String(500), default="")
    checked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BuildRow(Base):
    """A planned build (one machine run) of a site: its parts and placements (`doc`), status and host job."""

    __tablename__ = "builds"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    machine_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    process: Mapped[str] = mapped_column(String(32))
    material: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # domain.dispatch.BuildStatus
    estimated_time_s: Mapped[float] = mapped_column(Float, default=0.0)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    host_job: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class BuildLineRow(Base):
    """Copies of one order line in one build."""

    __tablename__ = "build_lines"

    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("order_lines.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    quantity: Mapped[int] = mapped_column(Integer)


# ------------------------------------------------------------------ factories answer their work (migration 0010)


class FactoryResponseRow(Base):
    """A site's answer to an order line allocated to it (`domain.acceptance.Answer`), with where a declined line
    went and what keeping the buyer's price cost the platform."""

    __tablename__ = "factory_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40), index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    answer: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    allocated_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    reallocated_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    platform_cost_cny: Mapped[float | None] = mapped_column(Float, nullable=True)


class DateProposalRow(Base):
    """A factory's proposed delivery date for a line, and the buyer's decision (`domain.acceptance.ProposalStatus`)."""

    __tablename__ = "date_proposals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[str] = mapped_column(String(64))
    proposed_date: Mapped[str] = mapped_column(String(10))  # ISO date
    previous_date: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


# ------------------------------------------------------------------ checkout (issue 17, migration 0013)


class OrderCheckoutRow(Base):
    """What the buyer gave at checkout for an order: shipping address and contact, PO number, the company's
    tax details for the fapiao (JSON of `domain.checkout`), and when the design-sharing consent was given."""

    __tablename__ = "order_checkout"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    shipping: Mapped[dict[str, Any]] = mapped_column(JSON)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON)
    po_number: Mapped[str] = mapped_column(String(60), default="")
    tax: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    consent_at: Mapped[datetime | None] = mapped_column(nullable=True)
    consent_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

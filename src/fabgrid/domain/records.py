"""Typed records of the platform's own bookkeeping: background jobs, stored designs (an uploaded part file
and its analysis), the design access log, webhooks and their deliveries.

Repositories return these instead of ORM rows; services return them; only `api.resources` turns them into
JSON. Pydantic v2, frozen; no I/O, no database, no web; no numpy (the app loads this module at start).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from fabgrid.domain.geometry import PartReport
from fabgrid.domain.part_facts import DfmFinding

#: Job statuses after which a job does not change any more.
JOB_TERMINAL = ("succeeded", "failed")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Job(_Frozen):
    """A background job: what it runs, where it stands, its result or problem (RFC 9457 fields)."""

    id: str
    kind: str
    status: str  # queued | running | succeeded | failed
    params: dict[str, Any]
    organisation_id: int | None = None
    user_id: int | None = None
    attempts: int = 0
    lost_runs: int = 0
    result: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: what the running job reports of itself: a fraction 0..1 and a few words
    progress: float | None = None
    progress_note: str = ""
    #: the work it does; a second request for the same work joins this job while it is queued or running
    task_key: str | None = None

    @property
    def done(self) -> bool:
        """Whether the job finished (succeeded or failed)."""
        return self.status in JOB_TERMINAL


class StoredPart(_Frozen):
    """An uploaded design: the encrypted file (path and wrapped key), its status and its analysis.

    `report` is the stored analysis re-validated (`PartReport.model_validate`), None before it is done.
    """

    id: str
    organisation_id: int
    user_id: int
    filename: str
    units: str | None
    size_bytes: int
    sha256: str
    storage_path: str
    wrapped_key: bytes
    key_id: str
    status: str  # queued | running | ready | failed
    report: PartReport | None = None
    problem: dict[str, Any] | None = None
    job_id: str | None = None
    created_at: datetime | None = None

    @property
    def analysing(self) -> bool:
        """Whether the analysis is still to come (queued or running)."""
        return self.status in ("queued", "running")

    @property
    def facts(self) -> PartReport | None:
        """The analysed facts (the report; None before the analysis), as pages read them."""
        return self.report

    @property
    def findings(self) -> list[DfmFinding]:
        """The DFM findings (none before the analysis)."""
        return list(self.report.findings) if self.report is not None else []


class DesignAccess(_Frozen):
    """One entry of a design's access log: who tried to read it, what, whether it was allowed and why."""

    at: datetime
    action: str  # owner_download | owner_mesh | factory_download | ...
    allowed: bool
    reason: str
    actor_user_id: int
    actor_email: str
    actor_organisation: str
    actor_site_id: str | None = None
    order_id: str | None = None
    part_id: str | None = None


class Webhook(_Frozen):
    """A buyer's endpoint for events (the secret stays in the store, encrypted)."""

    id: str
    organisation_id: int
    url: str
    events: tuple[str, ...]
    active: bool
    created_at: datetime | None = None


class WebhookDelivery(_Frozen):
    """One delivery of one event to one webhook, with its attempts."""

    id: str
    webhook_id: str
    event: str
    payload: dict[str, Any]
    status: str  # pending | delivered | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    delivered_at: datetime | None = None


class SiteClosure(_Frozen):
    """A site closed for some days by the operator (the older, whole-site disruption), with its reroute job and
    the report the job wrote (affected, moved, kept and unplaced orders)."""

    id: str
    site_id: str
    days: int
    declared_by: int
    created_at: datetime
    job_id: str | None = None
    report: dict[str, Any] | None = None

"""Repositories: the store's interface in domain terms (organisations, users, tokens, parts, jobs, quotes, ...).

The network lives in `store.network`, orders in `store.orders`.

Each repository works on a session handed in by the unit of work and never commits.
Depends on the ORM tables and the domain records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fabgrid.domain.geometry import PartReport
from fabgrid.domain.quote import Quote, StoredQuote
from fabgrid.domain.records import DesignAccess, Job, SiteClosure, StoredPart, Webhook, WebhookDelivery
from fabgrid.store.tables import (
    AccessTokenRow,
    AuthEventRow,
    DesignAccessRow,
    DisruptionRow,
    JobRow,
    LoginThrottleRow,
    OrganisationRow,
    PartRow,
    QuoteRow,
    UserRow,
    WebhookDeliveryRow,
    WebhookRow,
)


def _utc(dt: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive UTC)."""
    return None if dt is None else (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC))


def job_record(row: JobRow) -> Job:
    """The typed record of a job row."""
    return Job(id=row.id, kind=row.kind, status=row.status, params=dict(row.params or {}),
               organisation_id=row.organisation_id, user_id=row.user_id, attempts=row.attempts or 0,
               lost_runs=row.lost_runs or 0, result=row.result, problem=row.problem, created_at=_utc(row.created_at),
               started_at=_utc(row.started_at), finished_at=_utc(row.finished_at), progress=row.progress,
               progress_note=row.progress_note or "", task_key=row.task_key)


def part_record(row: PartRow) -> StoredPart:
    """The typed record of a part row; the stored report is re-validated (`PartReport.model_validate`). A report
    that no longer validates (written by an incompatible version) makes the part `failed` with that problem."""
    status, problem, report = row.status, row.problem, None
    if row.report:
        try:
            report = PartReport.model_validate(row.report)
        except ValidationError as exc:
            status, problem = "failed", {
                "type": "urn:fabgrid:problem:part.report_invalid", "title": "part.report_invalid", "status": 409,
                "detail": f"the part's stored analysis report is not readable ({exc.error_count()} errors)",
                "hint": "upload the part again to analyse it anew"}
    return StoredPart(id=row.id, organisation_id=row.organisation_id, user_id=row.user_id, filename=row.filename,
                      units=row.units, size_bytes=row.size_bytes, sha256=row.sha256, storage_path=row.storage_path,
                      wrapped_key=row.wrapped_key, key_id=row.key_id, status=status, report=report, problem=problem,
                      job_id=row.job_id, created_at=_utc(row.created_at))


def _quote(row: QuoteRow) -> StoredQuote:
    return StoredQuote(id=row.id, part_id=row.part_id, input_hash=row.input_hash, request=dict(row.request),
                       created_at=_utc(row.created_at) or row.created_at,
                       expires_at=_utc(row.expires_at) or row.expires_at, quote=Quote.model_validate(row.quote))


def _closure(row: DisruptionRow) -> SiteClosure:
    return SiteClosure(id=row.id, site_id=row.site_id, days=row.days, declared_by=row.declared_by,
                       created_at=_utc(row.created_at) or datetime.now(UTC), job_id=row.job_id, report=row.report)


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(id=row.id, organisation_id=row.organisation_id, url=row.url,
                   events=tuple(e for e in row.events.split(",") if e), active=row.active,
                   created_at=_utc(row.created_at))


def _delivery(row: WebhookDeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(id=row.id, webhook_id=row.webhook_id, event=row.event, payload=dict(row.payload),
                           status=row.status, attempts=row.attempts or 0, last_status_code=row.last_status_code,
                           last_error=row.last_error, created_at=_utc(row.created_at),
                           delivered_at=_utc(row.delivered_at))


class OrganisationRepository:
    """Organisations (buyers, factories, the park operator)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, kind: str, site_id: str | None = None) -> OrganisationRow:
        """Create an organisation."""
        row = OrganisationRow(name=name, kind=kind, site_id=site_id)
        self.session.add(row)
        self.session.flush()
        return row

    def by_name(self, name: str) -> OrganisationRow | None:
        """The organisation called `name`, or None."""
        return self.session.scalar(select(OrganisationRow).where(OrganisationRow.name == name))

    def get(self, org_id: int) -> OrganisationRow | None:
        """The organisation with id `org_id`, or None."""
        return self.session.get(OrganisationRow, org_id)


class UserRepository:
    """Users and their password hashes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, organisation_id: int, email: str, name: str, password_hash: str, role: str) -> UserRow:
        """Create a user."""
        row = UserRow(organisation_id=organisation_id, email=email.lower(), name=name,
                      password_hash=password_hash, role=role)
        self.session.add(row)
        self.session.flush()
        return row

    def by_email(self, email: str) -> UserRow | None:
        """The user with `email` (case-insensitive), or None."""
        return self.session.scalar(select(UserRow).where(UserRow.email == email.lower()))

    def get(self, user_id: int) -> UserRow | None:
        """The user with id `user_id`, or None."""
        return self.session.get(UserRow, user_id)

    # ---- log-in throttling (per account ``acct:<email>`` and per client address ``addr:<ip>``) and its audit log

    def locked_until(self, keys: list[str], now: datetime) -> datetime | None:
        """The latest lock-out still in force among `keys`, or None."""
        q = select(LoginThrottleRow.locked_until).where(LoginThrottleRow.key.in_(keys),
                                                        LoginThrottleRow.locked_until.is_not(None))
        found = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in self.session.scalars(q) if t is not None]
        live = [t for t in found if t > now]
        return max(live) if live else None

    def record_failure(self, key: str, now: datetime, window_start_after: datetime, max_failures: int,
                       locked_until: datetime) -> bool:
        """Count one failed log-in of `key` (a count older than `window_start_after` starts again); at
        `max_failures` lock it until `locked_until`. One atomic UPDATE (or the first INSERT), so concurrent failures
        all count. True when this failure locked the key."""
        stale = LoginThrottleRow.window_start < window_start_after
        res = self.session.execute(
            update(LoginThrottleRow).where(LoginThrottleRow.key == key)
            .values(failures=case((stale, 1), else_=LoginThrottleRow.failures + 1),
                    window_start=case((stale, now), else_=LoginThrottleRow.window_start))
            .execution_options(synchronize_session=False))
        if getattr(res, "rowcount", 0) == 0:
            try:
                with self.session.begin_nested():
                    self.session.add(LoginThrottleRow(key=key, failures=1, window_start=now, locked_until=None))
            except IntegrityError:  # a concurrent first failure inserted it: count on that row
                return self.record_failure(key, now, window_start_after, max_failures, locked_until)
        res = self.session.execute(
            update(LoginThrottleRow).where(LoginThrottleRow.key == key, LoginThrottleRow.failures >= max_failures,
                                           or_(LoginThrottleRow.locked_until.is_(None),
                                               LoginThrottleRow.locked_until < now))
            .values(locked_until=locked_until, failures=0, window_start=now)
            .execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)

    def clear_failures(self, key: str) -> None:
        """Forget the failed log-ins of `key` (after a successful one)."""
        self.session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key,
                                                            LoginThrottleRow.locked_until.is_(None)))

    def auth_event(self, event: str, email: str, address: str, detail: str, at: datetime) -> None:
        """Append to the authentication audit log."""
        self.session.add(AuthEventRow(event=event, email=email[:254], address=address[:64], detail=detail[:300],
                                      at=at))

    def auth_events(self, email: str | None = None, limit: int = 200) -> list[AuthEventRow]:
        """The authentication audit log (of one e-mail), newest first."""
        q = select(AuthEventRow).order_by(AuthEventRow.id.desc()).limit(limit)
        if email is not None:
            q = q.where(AuthEventRow.email == email.lower())
        return list(self.session.scalars(q))


class TokenRepository:
    """Access tokens (sessions and API keys), looked up by the SHA-256 of the secret."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user_id: int, kind: str, token_sha256: str, prefix: str, name: str,
            expires_at: datetime | None) -> AccessTokenRow:
        """Store a new token."""
        row = AccessTokenRow(user_id=user_id, kind=kind, token_sha256=token_sha256, prefix=prefix,
                             name=name, expires_at=expires_at)
        self.session.add(row)
        self.session.flush()
        return row

    def by_hash(self, token_sha256: str) -> AccessTokenRow | None:
        """The token with that hash, or None."""
        return self.session.scalar(select(AccessTokenRow).where(AccessTokenRow.token_sha256 == token_sha256))

    def for_user(self, user_id: int, kind: str) -> list[AccessTokenRow]:
        """A user's tokens of one kind, newest first."""
        q = (select(AccessTokenRow).where(AccessTokenRow.user_id == user_id, AccessTokenRow.kind == kind)
             .order_by(AccessTokenRow.id.desc()))
        return list(self.session.scalars(q))


class _Scoped:
    """Base of the repositories of buyer-owned records: every read names the caller's organisation."""

    def __init__(self, session: Session) -> None:
        self.session = session


class PartRepository(_Scoped):
    """Uploaded designs, as `StoredPart` records."""

    def add(self, part_id: str, *, organisation_id: int, user_id: int, filename: str, units: str | None,
            size_bytes: int, sha256: str, storage_path: str, wrapped_key: bytes, key_id: str,
            status: str) -> StoredPart:
        """Record an uploaded (encrypted) design."""
        row = PartRow(id=part_id, organisation_id=organisation_id, user_id=user_id, filename=filename, units=units,
                      size_bytes=size_bytes, sha256=sha256, storage_path=storage_path, wrapped_key=wrapped_key,
                      key_id=key_id, status=status)
        self.session.add(row)
        self.session.flush()
        return part_record(row)

    def get(self, part_id: str, organisation_id: int | None) -> StoredPart | None:
        """The part if it belongs to `organisation_id` (None: any organisation, for workers)."""
        row = self.session.get(PartRow, part_id)
        if row is None or (organisation_id is not None and row.organisation_id != organisation_id):
            return None
        return part_record(row)

    def find(self, organisation_id: int, limit: int = 100, offset: int = 0) -> list[StoredPart]:
        """An organisation's parts, newest first."""
        q = (select(PartRow).where(PartRow.organisation_id == organisation_id)
             .order_by(PartRow.created_at.desc(), PartRow.id).limit(limit).offset(offset))
        return [part_record(r) for r in self.session.scalars(q)]

    def running_inline(self, limit: int = 1000) -> list[StoredPart]:
        """Parts `running` without a job: an inline analysis that a stopped server left (for start-up)."""
        q = (select(PartRow).where(PartRow.status == "running", PartRow.job_id.is_(None))
             .order_by(PartRow.created_at).limit(limit))
        return [part_record(r) for r in self.session.scalars(q)]

    def set_status(self, part_id: str, status: str, *, job_id: str | None = None) -> None:
        """Move a part to `status` (queued | running), with the job that analyses it when one does."""
        values: dict[str, Any] = {"status": status}
        if job_id is not None:
            values["job_id"] = job_id
        self.session.execute(update(PartRow).where(PartRow.id == part_id).values(**values)
                             .execution_options(synchronize_session=False))

    def set_units(self, part_id: str, units: str | None) -> None:
        """Read the part's file in `units` from now on (None: the file's own unit or mm): its analysis is to
        be done again (`queued`, report and problem cleared)."""
        self.session.execute(update(PartRow).where(PartRow.id == part_id)
                             .values(units=units, status="queued", report=None, problem=None, job_id=None)
                             .execution_options(synchronize_session=False))

    def set_analysis(self, part_id: str, report: dict[str, Any] | None, problem: dict[str, Any] | None) -> None:
        """Keep the analysis (JSON of a `PartReport`) or its problem; the part is `ready` or `failed`."""
        self.session.execute(update(PartRow).where(PartRow.id == part_id)
                             .values(report=report, problem=problem, status="ready" if report is not None else "failed")
                             .execution_options(synchronize_session=False))


class JobRepository(_Scoped):
    """Background jobs."""

    def add(self, job_id: str, kind: str, params: dict[str, Any], *, organisation_id: int | None,
            user_id: int | None, task_key: str | None = None) -> Job:
        """A new queued job (in the caller's transaction)."""
        row = JobRow(id=job_id, kind=kind, params=params, organisation_id=organisation_id, user_id=user_id,
                     status="queued", attempts=0, task_key=task_key)
        self.session.add(row)
        self.session.flush()
        return job_record(row)

    def running(self, limit: int = 50) -> list[Job]:
        """The jobs running now, the longest running first."""
        q = (select(JobRow).where(JobRow.status == "running").order_by(JobRow.started_at, JobRow.id).limit(limit))
        return [job_record(r) for r in self.session.scalars(q)]

    def active(self, task_key: str) -> Job | None:
        """The queued or running job doing `task_key`, the oldest first, or None."""
        q = (select(JobRow).where(JobRow.task_key == task_key, JobRow.status.in_(("queued", "running")))
             .order_by(JobRow.created_at, JobRow.id).limit(1))
        row = self.session.scalars(q).first()
        return None if row is None else job_record(row)

    def set_progress(self, job_id: str, fraction: float, note: str) -> None:
        """Record what a running job reports of itself."""
        self.session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.status == "running")
                             .values(progress=fraction, progress_note=note[:200])
                             .execution_options(synchronize_session=False))

    def get(self, job_id: str, organisation_id: int | None) -> Job | None:
        """The job if it belongs to `organisation_id` (None: any, for workers)."""
        row = self.session.get(JobRow, job_id)
        if row is None or (organisation_id is not None and row.organisation_id != organisation_id):
            return None
        return job_record(row)

    def claim(self, job_id: str, worker: str, now: datetime, lease_until: datetime,
              stale_before: datetime | None = None) -> bool:
        """Atomically move a queued job to running under a lease until `lease_until`; False when another worker
        holds it (or it is finished).

        A job `running` whose lease expired (its worker died: nobody renewed it) may be claimed again; so may one
        without a lease (claimed before leases existed) running since before `stale_before`.
        """
        lost = and_(JobRow.status == "running", JobRow.lease_until.is_not(None), JobRow.lease_until < now)
        if stale_before is not None:
            lost = or_(lost, and_(JobRow.status == "running", JobRow.lease_until.is_(None),
                                  JobRow.started_at < stale_before))
        res = self.session.execute(
            update(JobRow).where(JobRow.id == job_id, or_(JobRow.status == "queued", lost))
            .values(status="running", started_at=now, worker=worker, attempts=JobRow.attempts + 1,
                    lease_until=lease_until,
                    lost_runs=JobRow.lost_runs + case((JobRow.status == "running", 1), else_=0)))
        return bool(getattr(res, "rowcount", 0) == 1)

    def renew(self, job_id: str, worker: str, lease_until: datetime) -> bool:
        """Extend the lease of a job `worker` still holds; False when it lost the claim."""
        res = self.session.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == "running")
            .values(lease_until=lease_until))
        return bool(getattr(res, "rowcount", 0) == 1)

    def finish(self, job_id: str, worker: str, values: dict[str, Any]) -> bool:
        """Write a run's outcome (`values`: status, result, problem, run_after/finished_at) if `worker` still holds
        the job; False when its lease expired and another worker took it over."""
        res = self.session.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.worker == worker, JobRow.status == "running")
            .values(lease_until=None, **values).execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)

    def queued(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Ids of jobs still queued since before `older_than` (for sweeping lost dispatches)."""
        q = (select(JobRow.id).where(JobRow.status == "queued", JobRow.created_at < older_than)
             .order_by(JobRow.created_at).limit(limit))
        return list(self.session.scalars(q))

    def lost(self, now: datetime, stale_before: datetime, limit: int = 100) -> list[str]:
        """Ids of `running` jobs whose worker is gone: the lease expired (or, without a lease, running since before
        `stale_before`)."""
        q = (select(JobRow.id).where(JobRow.status == "running", or_(
            and_(JobRow.lease_until.is_not(None), JobRow.lease_until < now),
            and_(JobRow.lease_until.is_(None), JobRow.started_at < stale_before)))
             .order_by(JobRow.started_at).limit(limit))
        return list(self.session.scalars(q))

    def fail_lost(self, job_id: str, now: datetime, problem: dict[str, Any]) -> bool:
        """Mark a lost `running` job (lease expired) failed with `problem`; False when someone holds it."""
        res = self.session.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.status == "running",
                                 or_(JobRow.lease_until.is_(None), JobRow.lease_until < now))
            .values(status="failed", problem=problem, finished_at=now, lease_until=None)
            .execution_options(synchronize_session=False))  # SQLite's naive times vs aware ones in Python
        return bool(getattr(res, "rowcount", 0) == 1)

    def failed(self, *, kind: str | None = None, limit: int = 50, offset: int = 0) -> list[Job]:
        """Failed jobs of every organisation, newest first (the dead letters an operator looks at)."""
        q = select(JobRow).where(JobRow.status == "failed")
        if kind is not None:
            q = q.where(JobRow.kind == kind)
        q = q.order_by(JobRow.finished_at.desc(), JobRow.id).limit(limit).offset(offset)
        return [job_record(r) for r in self.session.scalars(q)]

    def load(self, since: datetime) -> list[tuple[str, str, int, datetime | None]]:
        """(kind, status, count, oldest created_at) of the jobs queued or running now and of those finished
        since `since`."""
        q = (select(JobRow.kind, JobRow.status, func.count(), func.min(JobRow.created_at))
             .where(or_(JobRow.status.in_(("queued", "running")), JobRow.finished_at >= since))
             .group_by(JobRow.kind, JobRow.status))
        return [(str(k), str(st), int(n), _utc(t)) for k, st, n, t in self.session.execute(q)]

    def requeue(self, job_id: str) -> bool:
        """Put a failed job back in the queue (its worker deaths forgotten); False when it is not failed."""
        res = self.session.execute(
            update(JobRow).where(JobRow.id == job_id, JobRow.status == "failed")
            .values(status="queued", finished_at=None, lost_runs=0, worker=None, lease_until=None, progress=None,
                    progress_note=None)
            .execution_options(synchronize_session=False))
        return bool(getattr(res, "rowcount", 0) == 1)


class QuoteRepository(_Scoped):
    """Stored quotes, as `domain.quote.StoredQuote` (the stored JSON re-validated into the engine's `Quote`)."""

    def add(self, quote_id: str, *, organisation_id: int, user_id: int, part_id: str, input_hash: str,
            request: dict[str, Any], quote: Quote) -> StoredQuote:
        """Keep a computed quote."""
        row = QuoteRow(id=quote_id, organisation_id=organisation_id, user_id=user_id, part_id=part_id,
                       input_hash=input_hash, request=request, quote=quote.model_dump(mode="json"),
                       expires_at=quote.expires_at)
        self.session.add(row)
        self.session.flush()
        return StoredQuote(id=row.id, part_id=part_id, input_hash=input_hash, request=dict(request),
                           created_at=_utc(row.created_at) or datetime.now(UTC),
                           expires_at=_utc(quote.expires_at) or quote.expires_at, quote=quote)

    def get(self, quote_id: str, organisation_id: int) -> StoredQuote | None:
        """The quote if it belongs to `organisation_id`."""
        row = self.session.get(QuoteRow, quote_id)
        return _quote(row) if row is not None and row.organisation_id == organisation_id else None

    def by_id(self, quote_id: str) -> StoredQuote | None:
        """The quote of any organisation (for the factory holding its order, and for workers)."""
        row = self.session.get(QuoteRow, quote_id)
        return _quote(row) if row is not None else None

    def by_hash(self, organisation_id: int, input_hash: str, valid_at: datetime) -> StoredQuote | None:
        """The newest quote of the organisation with that input hash still valid at `valid_at`."""
        q = (select(QuoteRow).where(QuoteRow.organisation_id == organisation_id,
                                    QuoteRow.input_hash == input_hash, QuoteRow.expires_at > valid_at)
             .order_by(QuoteRow.created_at.desc()).limit(1))
        row = self.session.scalar(q)
        return _quote(row) if row is not None else None

    def find(self, organisation_id: int, limit: int = 100) -> list[StoredQuote]:
        """An organisation's quotes, newest first."""
        q = (select(QuoteRow).where(QuoteRow.organisation_id == organisation_id)
             .order_by(QuoteRow.created_at.desc()).limit(limit))
        return [_quote(r) for r in self.session.scalars(q)]


class AuditRepository(_Scoped):
    """The design access log."""

    def add(self, part_id: str, *, actor_user_id: int, actor_email: str, actor_organisation: str,
            actor_site_id: str | None, action: str, allowed: bool, reason: str, order_id: str | None = None) -> None:
        """Log one access (or refused attempt) to a design; the reason is cut to 300 characters."""
        self.session.add(DesignAccessRow(part_id=part_id, actor_user_id=actor_user_id, actor_email=actor_email,
                                         actor_organisation=actor_organisation, actor_site_id=actor_site_id,
                                         action=action, allowed=allowed, reason=reason[:300], order_id=order_id))

    def for_part(self, part_id: str) -> list[DesignAccess]:
        """Every access to a part's design, oldest first."""
        q = select(DesignAccessRow).where(DesignAccessRow.part_id == part_id).order_by(DesignAccessRow.id)
        return [_access(r) for r in self.session.scalars(q)]

    def for_organisation(self, organisation_id: int, part_id: str | None = None, refused_only: bool = False,
                         limit: int = 500) -> list[DesignAccess]:
        """The accesses to the designs of an organisation (one of its parts), newest first."""
        q = (select(DesignAccessRow).join(PartRow, PartRow.id == DesignAccessRow.part_id)
             .where(PartRow.organisation_id == organisation_id)
             .order_by(DesignAccessRow.id.desc()).limit(limit))
        if part_id is not None:
            q = q.where(DesignAccessRow.part_id == part_id)
        if refused_only:
            q = q.where(DesignAccessRow.allowed.is_(False))
        return [_access(r) for r in self.session.scalars(q)]


def _access(r: DesignAccessRow) -> DesignAccess:
    return DesignAccess(at=_utc(r.at) or r.at, action=r.action, allowed=r.allowed, reason=r.reason,
                        actor_user_id=r.actor_user_id, actor_email=r.actor_email,
                        actor_organisation=r.actor_organisation, actor_site_id=r.actor_site_id,
                        order_id=r.order_id, part_id=r.part_id)


class WebhookRepository(_Scoped):
    """Webhooks and their deliveries, as `Webhook` / `WebhookDelivery` records."""

    def add(self, webhook_id: str, organisation_id: int, url: str, events: tuple[str, ...],
            secret_enc: bytes) -> Webhook:
        """Register an active endpoint (the secret already sealed by the caller)."""
        row = WebhookRow(id=webhook_id, organisation_id=organisation_id, url=url, events=",".join(events),
                         active=True, secret_enc=secret_enc)
        self.session.add(row)
        self.session.flush()
        return _webhook(row)

    def get(self, webhook_id: str, organisation_id: int | None) -> Webhook | None:
        """The webhook if it belongs to `organisation_id` (None: any, for workers)."""
        row = self.session.get(WebhookRow, webhook_id)
        if row is None or (organisation_id is not None and row.organisation_id != organisation_id):
            return None
        return _webhook(row)

    def secret_enc(self, webhook_id: str) -> bytes:
        """The sealed secret of a webhook (for signing a delivery)."""
        row = self.session.get(WebhookRow, webhook_id)
        if row is None:
            raise KeyError(webhook_id)
        return bytes(row.secret_enc)

    def deactivate(self, webhook_id: str) -> None:
        """Stop delivering to a webhook (its deliveries stay readable)."""
        self.session.execute(update(WebhookRow).where(WebhookRow.id == webhook_id).values(active=False))

    def active(self, organisation_id: int) -> list[Webhook]:
        """An organisation's active webhooks."""
        q = (select(WebhookRow).where(WebhookRow.organisation_id == organisation_id, WebhookRow.active)
             .order_by(WebhookRow.created_at))
        return [_webhook(r) for r in self.session.scalars(q)]

    def find(self, organisation_id: int) -> list[Webhook]:
        """An organisation's webhooks."""
        q = select(WebhookRow).where(WebhookRow.organisation_id == organisation_id).order_by(WebhookRow.created_at)
        return [_webhook(r) for r in self.session.scalars(q)]

    def add_delivery(self, delivery_id: str, webhook_id: str, event: str, payload: dict[str, Any]) -> None:
        """A pending delivery of one event to one webhook."""
        self.session.add(WebhookDeliveryRow(id=delivery_id, webhook_id=webhook_id, event=event, payload=payload,
                                            status="pending", attempts=0))
        self.session.flush()

    def delivery(self, delivery_id: str) -> WebhookDelivery | None:
        """One delivery."""
        row = self.session.get(WebhookDeliveryRow, delivery_id)
        return _delivery(row) if row is not None else None

    def record_attempt(self, delivery_id: str, *, attempts: int, status: str, status_code: int | None,
                       error: str | None, delivered_at: datetime | None = None) -> None:
        """Write the outcome of a delivery attempt (`status`: pending to retry, delivered or failed)."""
        self.session.execute(update(WebhookDeliveryRow).where(WebhookDeliveryRow.id == delivery_id).values(
            attempts=attempts, status=status, last_status_code=status_code, last_error=error,
            delivered_at=delivered_at).execution_options(synchronize_session=False))

    def deliveries(self, webhook_id: str) -> list[WebhookDelivery]:
        """A webhook's deliveries, oldest first."""
        q = (select(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id)
             .order_by(WebhookDeliveryRow.created_at, WebhookDeliveryRow.id))
        return [_delivery(r) for r in self.session.scalars(q)]


class DisruptionRepository(_Scoped):
    """Disruptions declared by the operator."""

    def add(self, disruption_id: str, site_id: str, days: int, declared_by: int) -> SiteClosure:
        """Declare a site closed for `days` from now."""
        row = DisruptionRow(id=disruption_id, site_id=site_id, days=days, declared_by=declared_by)
        self.session.add(row)
        self.session.flush()
        return _closure(row)

    def set_job(self, disruption_id: str, job_id: str) -> None:
        """The job that reroutes the closed site's work."""
        self.session.execute(update(DisruptionRow).where(DisruptionRow.id == disruption_id).values(job_id=job_id))

    def set_report(self, disruption_id: str, report: dict[str, Any]) -> None:
        """What the reroute did (affected, moved, kept, unplaced)."""
        self.session.execute(update(DisruptionRow).where(DisruptionRow.id == disruption_id).values(report=report))

    def get(self, disruption_id: str) -> SiteClosure | None:
        """One disruption."""
        row = self.session.get(DisruptionRow, disruption_id)
        return _closure(row) if row is not None else None

    def find(self, limit: int = 100) -> list[SiteClosure]:
        """Disruptions, newest first."""
        q = select(DisruptionRow).order_by(DisruptionRow.created_at.desc()).limit(limit)
        return [_closure(r) for r in self.session.scalars(q)]

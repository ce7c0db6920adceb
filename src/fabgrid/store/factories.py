"""The factories repository: applications to join, storefronts (what an approved factory declares beyond its
site record, its standing and versions) and the factories' audit log.

Returns domain records (`FactoryApplication`, `Storefront`); never commits. Depends on the ORM tables and the
domain records only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fabgrid.domain.factory import (
    ApplicationStatus,
    DocumentKind,
    FactoryApplication,
    FactoryDocument,
    FactoryEvent,
    Storefront,
)
from fabgrid.store.tables import (
    FactoryApplicationRow,
    FactoryDocumentRow,
    FactoryEventRow,
    OrganisationRow,
    StorefrontRow,
    utcnow,
)


def _application(row: FactoryApplicationRow) -> FactoryApplication:
    return FactoryApplication(
        id=row.id, organisation_id=row.organisation_id, user_id=row.user_id, legal_name=row.legal_name,
        credit_code=row.credit_code, address=row.address, city=row.city, province=row.province, lat=row.lat,
        lon=row.lon, contact=row.contact, certificates=tuple(row.certificates.get("items", [])),
        status=ApplicationStatus(row.status), reason=row.reason or "", site_id=row.site_id,
        decided_by=row.decided_by, decided_at=row.decided_at, created_at=row.created_at)


def _document(r: FactoryDocumentRow) -> FactoryDocument:
    return FactoryDocument(id=r.id, application_id=r.application_id, kind=DocumentKind(r.kind), filename=r.filename,
                           media_type=r.media_type, size_bytes=r.size_bytes, sha256=r.sha256, created_at=r.created_at)


_STOREFRONT_COLUMNS = ("site_id", "organisation_id", "status", "version", "rate_version", "updated_at")


def _storefront(row: StorefrontRow) -> Storefront:
    return Storefront.model_validate({**row.doc, "site_id": row.site_id, "organisation_id": row.organisation_id,
                                      "status": row.status, "version": row.version,
                                      "rate_version": row.rate_version, "updated_at": row.updated_at})


class FactoryRepository:
    """Applications, storefronts and the audit log of factories."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ applications

    def add_application(self, app: FactoryApplication) -> FactoryApplication:
        """Store a new application."""
        doc = app.model_dump(mode="json")
        row = FactoryApplicationRow(
            id=app.id, organisation_id=app.organisation_id, user_id=app.user_id, legal_name=app.legal_name,
            credit_code=app.credit_code, address=app.address, city=app.city, province=app.province, lat=app.lat,
            lon=app.lon, contact=doc["contact"], certificates={"items": doc["certificates"]},
            status=app.status.value, reason=app.reason, created_at=app.created_at)
        self.session.add(row)
        self.session.flush()
        return _application(row)

    def application(self, app_id: str) -> FactoryApplication | None:
        """One application, or None."""
        row = self.session.get(FactoryApplicationRow, app_id)
        return _application(row) if row is not None else None

    def applications(self, status: ApplicationStatus | None = None, organisation_id: int | None = None,
                     credit_code: str | None = None) -> list[FactoryApplication]:
        """Applications, oldest first, optionally of one status, organisation or credit code."""
        q = select(FactoryApplicationRow).order_by(FactoryApplicationRow.created_at, FactoryApplicationRow.id)
        if status is not None:
            q = q.where(FactoryApplicationRow.status == status.value)
        if organisation_id is not None:
            q = q.where(FactoryApplicationRow.organisation_id == organisation_id)
        if credit_code is not None:
            q = q.where(FactoryApplicationRow.credit_code == credit_code)
        return [_application(r) for r in self.session.scalars(q)]

    def decide(self, app_id: str, status: ApplicationStatus, reason: str, decided_by: int,
               site_id: str | None = None) -> FactoryApplication:
        """Record the operator's decision on an application."""
        row = self.session.get_one(FactoryApplicationRow, app_id)
        row.status, row.reason, row.decided_by, row.decided_at = status.value, reason, decided_by, utcnow()
        row.site_id = site_id
        self.session.flush()
        return _application(row)

    def link_site(self, organisation_id: int, site_id: str) -> None:
        """Make `site_id` the site of a factory organisation (its users act for that site from now on)."""
        org = self.session.get_one(OrganisationRow, organisation_id)
        org.site_id = site_id
        self.session.flush()

    # ------------------------------------------------------------------ storefronts

    def storefront(self, site_id: str) -> Storefront | None:
        """The storefront of a site, or None (a seed factory that never changed its storefront)."""
        row = self.session.get(StorefrontRow, site_id)
        return _storefront(row) if row is not None else None

    def storefronts(self) -> dict[str, Storefront]:
        """Every stored storefront by site id."""
        return {r.site_id: _storefront(r) for r in self.session.scalars(select(StorefrontRow))}

    def put_storefront(self, front: Storefront) -> Storefront:
        """Store a storefront (insert or replace) as given, versions included."""
        doc: dict[str, Any] = front.model_dump(mode="json", exclude=set(_STOREFRONT_COLUMNS))
        row = self.session.get(StorefrontRow, front.site_id)
        now = utcnow()
        if row is None:
            row = StorefrontRow(site_id=front.site_id, created_at=now)
            self.session.add(row)
        row.organisation_id, row.status, row.doc = front.organisation_id, front.status.value, doc
        row.version, row.rate_version, row.updated_at = front.version, front.rate_version, now
        self.session.flush()
        return _storefront(row)

    # ------------------------------------------------------------------ documents

    def add_document(self, doc: FactoryDocument, storage_path: str, wrapped_key: bytes, key_id: str,
                     uploaded_by: int) -> None:
        """Store a document's metadata (its encrypted bytes are on disk at `storage_path`)."""
        self.session.add(FactoryDocumentRow(
            id=doc.id, application_id=doc.application_id, kind=doc.kind.value, filename=doc.filename,
            media_type=doc.media_type, size_bytes=doc.size_bytes, sha256=doc.sha256, storage_path=storage_path,
            wrapped_key=wrapped_key, key_id=key_id, uploaded_by=uploaded_by, created_at=doc.created_at))
        self.session.flush()

    def documents(self, application_id: str) -> list[FactoryDocument]:
        """An application's documents, oldest first."""
        q = select(FactoryDocumentRow).where(FactoryDocumentRow.application_id == application_id)
        return [_document(r) for r in self.session.scalars(q.order_by(FactoryDocumentRow.created_at))]

    def document_file(self, doc_id: str) -> tuple[FactoryDocument, str, bytes, str] | None:
        """A document with where its encrypted bytes are, its wrapped key and the master key's id; or None."""
        r = self.session.get(FactoryDocumentRow, doc_id)
        return (_document(r), r.storage_path, r.wrapped_key, r.key_id) if r is not None else None

    # ------------------------------------------------------------------ audit log

    def log(self, kind: str, *, actor_user_id: int | None, application_id: str | None = None,
            site_id: str | None = None, version: int | None = None, reason: str = "",
            doc: dict[str, Any] | None = None) -> None:
        """Append an event to the factories' audit log."""
        self.session.add(FactoryEventRow(application_id=application_id, site_id=site_id, kind=kind,
                                         version=version, actor_user_id=actor_user_id, reason=reason[:500],
                                         doc=doc, at=utcnow()))
        self.session.flush()

    def events(self, *, application_id: str | None = None, site_id: str | None = None) -> list[FactoryEvent]:
        """Audit events of one application or one site, oldest first."""
        q = select(FactoryEventRow).order_by(FactoryEventRow.id)
        if application_id is not None:
            q = q.where(FactoryEventRow.application_id == application_id)
        if site_id is not None:
            q = q.where(FactoryEventRow.site_id == site_id)
        return [FactoryEvent(r.kind, r.at, r.actor_user_id, r.reason, r.version, r.application_id, r.site_id,
                             r.doc) for r in self.session.scalars(q)]


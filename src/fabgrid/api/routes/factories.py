"""Factories joining the network: POST|GET /api/v1/factories/applications (a factory organisation applies), and the
operator's queue: GET /api/v1/operator/factories/applications, POST .../{id}/approve and .../{id}/reject, POST
/api/v1/operator/factories/{site_id}/verify (end of probation); an application's documents (stored encrypted):
POST|GET /api/v1/factories/applications/{id}/documents, GET .../documents/{doc_id}. Calls services only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal, require_role
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import application_doc, document_doc, factory_event_doc, site_profile_doc
from fabgrid.config import Settings
from fabgrid.domain.factory import ApplicationStatus, Certificate, Contact
from fabgrid.services import factories, factory_documents

router = APIRouter(prefix="/api/v1/factories", tags=["factories"])
operator_router = APIRouter(prefix="/api/v1/operator/factories", tags=["operator"],
                            dependencies=[require_role("operator")])  # type: ignore[list-item]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class CertificateBody(BaseModel):
    """A certificate with its number and expiry."""

    name: str = Field(min_length=2, max_length=60, examples=["ISO 9001"])
    number: str = Field(min_length=1, max_length=80, examples=["CN-QMS-2024-01234"])
    expires_on: date


class ContactBody(BaseModel):
    """Who the operator talks to."""

    name: str = Field(min_length=1, max_length=120)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)


class ApplicationBody(BaseModel):
    """An application to join the network."""

    legal_name: str = Field(min_length=1, max_length=200, examples=["长沙麓谷三维打印有限公司"])
    credit_code: str = Field(min_length=1, max_length=40, examples=["91430100MA4L0XXXXX"],
                             description="the 18-character unified social credit code (GB 32100-2015)")
    address: str = Field(min_length=1, max_length=300)
    city: str = Field(min_length=1, max_length=80, examples=["Changsha"])
    province: str = Field(min_length=1, max_length=80, examples=["Hunan"])
    contact: ContactBody
    certificates: list[CertificateBody] = Field(default_factory=list, max_length=20)
    lat: float | None = Field(default=None, ge=-90, le=90, description="omitted: the city centre")
    lon: float | None = Field(default=None, ge=-180, le=180)


class ReasonBody(BaseModel):
    """The operator's reason (required to reject)."""

    reason: str = Field(default="", max_length=500)


@router.post("/applications", status_code=201, summary="Apply to join the network (factory organisation)")
def apply(body: ApplicationBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    app = factories.apply(settings, principal, legal_name=body.legal_name, credit_code=body.credit_code,
                          address=body.address, city=body.city, province=body.province,
                          contact=Contact(**body.contact.model_dump()),
                          certificates=[Certificate(**c.model_dump()) for c in body.certificates],
                          lat=body.lat, lon=body.lon)
    doc = application_doc(app)
    return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})


@router.get("/applications", summary="Your organisation's applications")
def mine(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [application_doc(a) for a in factories.my_applications(settings, principal)]


@router.post("/applications/{app_id}/documents", status_code=201,
             summary="Attach a document (PDF, PNG or JPEG, at most 10 MiB) to your pending application")
async def add_document(app_id: str, principal: CurrentPrincipal, settings: SettingsDep,
                       file: Annotated[UploadFile, File()],
                       kind: Annotated[str, Form(description="business_licence, certificate or other")] = "other",
                       ) -> dict[str, Any]:
    data = await file.read(factory_documents.MAX_DOCUMENT_BYTES + 1)
    return document_doc(factory_documents.add_document(settings, principal, app_id, kind, file.filename or "", data))


@router.get("/applications/{app_id}/documents", summary="An application's documents (applicant or operator)")
def list_documents(app_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [document_doc(d) for d in factory_documents.documents(settings, principal, app_id)]


@router.get("/applications/{app_id}/documents/{doc_id}", response_class=Response,
            summary="Download a document (applicant or operator; every read is logged)")
def get_document(app_id: str, doc_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    f = factory_documents.read_document(settings, principal, app_id, doc_id)
    return Response(f.data, media_type=f.document.media_type, headers={
        "Content-Disposition": f'attachment; filename="{f.document.filename}"', "Cache-Control": "private, no-store"})


@operator_router.get("/applications", summary="The queue of applications (pending unless status is given)")
def queue(principal: CurrentPrincipal, settings: SettingsDep,
          status: Annotated[ApplicationStatus | None, Query()] = ApplicationStatus.PENDING,
          all: Annotated[bool, Query(description="every application, whatever its status")] = False,
          ) -> list[dict[str, Any]]:
    return [application_doc(a) for a in factories.applications(settings, principal, None if all else status)]


@operator_router.post("/applications/{app_id}/approve", summary="Approve: the factory's site joins, on probation")
def approve(app_id: str, principal: CurrentPrincipal, settings: SettingsDep,
            body: ReasonBody | None = None) -> dict[str, Any]:
    return application_doc(factories.approve(settings, principal, app_id, (body or ReasonBody()).reason))


@operator_router.post("/applications/{app_id}/reject", summary="Reject with a reason")
def reject(app_id: str, body: ReasonBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return application_doc(factories.reject(settings, principal, app_id, body.reason))


@operator_router.get("/applications/{app_id}/events", summary="The audit trail of an application")
def events(app_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [factory_event_doc(e) for e in factories.application_events(settings, principal, app_id)]


@operator_router.post("/{site_id}/verify", summary="End a factory's probation: it becomes verified")
def verify(site_id: str, principal: CurrentPrincipal, settings: SettingsDep,
           body: ReasonBody | None = None) -> dict[str, Any]:
    factories.verify(settings, principal, site_id, (body or ReasonBody()).reason)
    return site_profile_doc(factories.profile(settings, site_id))

"""The park's online exhibitions (issue 19): GET /api/v1/exhibitions[/{id}] (booths, meeting slots, counts), POST
/{id}/slots/{slot}/book; the operator's side: POST /api/v1/operator/exhibitions, PATCH /{id} (name, theme, dates),
POST /{id}/booths (a verified factory), PATCH|DELETE /{id}/booths/{booth} (featured parts, slots added; a booth
without booked meetings removed), DELETE /{id}/slots/{slot} (a free slot). Only translates: services do the work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import exhibitions
from fabgrid.services.accounts import Principal

SettingsDep = Annotated[Settings, Depends(get_settings)]
exhibitions_router = APIRouter(prefix="/api/v1/exhibitions", tags=["exhibitions"])
operator_router = APIRouter(prefix="/api/v1/operator/exhibitions", tags=["exhibitions"])
ROUTERS = (exhibitions_router, operator_router)


def _iso(v: dt.datetime | dt.date | None) -> str | None:
    return v.isoformat() if v is not None else None


def exhibition_doc(v: exhibitions.ExhibitionView, who: Principal) -> dict[str, Any]:
    """An exhibition with booths, slots (booked or free) and its counts."""
    e = v.exhibition
    return {"id": e.id, "name": e.name, "theme": e.theme, "starts_on": _iso(e.starts_on), "ends_on": _iso(e.ends_on),
            "counts": asdict(v.counts),
            "booths": [{"id": b.id, "site_id": b.site_id, "site_name": v.site_names.get(b.site_id, b.site_id),
                        "featured": list(b.featured), "links": {"showroom": f"/showroom/{b.site_id}"},
                        "slots": [{"id": s.id, "starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at),
                                   "booked": s.organisation_id is not None,
                                   "yours": s.organisation_id == who.organisation_id} for s in b.slots]}
                       for b in e.booths],
            "links": {"self": f"/api/v1/exhibitions/{e.id}"}}


@exhibitions_router.get("", summary="The park's online exhibitions with their counts")
def list_exhibitions(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [exhibition_doc(v, principal) for v in exhibitions.list_exhibitions(settings, principal)]


@exhibitions_router.get("/{exhibition_id}", summary="An exhibition: booths, meeting slots, counts")
def get_exhibition(exhibition_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return exhibition_doc(exhibitions.get_exhibition(settings, exhibition_id, principal), principal)


@exhibitions_router.post("/{exhibition_id}/slots/{slot_id}/book", summary="Book a meeting slot (409 when taken)")
def book(exhibition_id: str, slot_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    s = exhibitions.book(settings, principal, exhibition_id, slot_id)
    return {"id": s.id, "booth_id": s.booth_id, "starts_at": _iso(s.starts_at), "ends_at": _iso(s.ends_at),
            "booked": True}


class ExhibitionBody(BaseModel):
    """A new exhibition."""

    name: str = Field(max_length=200)
    theme: str = Field(default="", max_length=500)
    starts_on: dt.date
    ends_on: dt.date


class SlotBody(BaseModel):
    """A meeting slot of a booth."""

    starts_at: dt.datetime
    minutes: int = 30


class BoothBody(BaseModel):
    """A factory's booth."""

    site_id: str = Field(max_length=64)
    featured: list[str] = Field(default_factory=list, max_length=20)
    slots: list[SlotBody] = Field(default_factory=list, max_length=exhibitions.MAX_SLOTS)


@operator_router.post("", status_code=201, summary="Create an exhibition (operator)")
def create_exhibition(body: ExhibitionBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    e = exhibitions.create(settings, principal, body.name, body.theme, body.starts_on, body.ends_on)
    return exhibition_doc(exhibitions.get_exhibition(settings, e.id, principal), principal)


@operator_router.post("/{exhibition_id}/booths", status_code=201, summary="Add a booth (operator)")
def add_booth(exhibition_id: str, body: BoothBody, principal: CurrentPrincipal,
              settings: SettingsDep) -> dict[str, Any]:
    exhibitions.add_booth(settings, principal, exhibition_id, body.site_id, body.featured,
                          [(s.starts_at, s.minutes) for s in body.slots])
    return exhibition_doc(exhibitions.get_exhibition(settings, exhibition_id, principal), principal)


class ExhibitionChange(BaseModel):
    """A change of an exhibition: the fields given replace the current ones."""

    name: str | None = Field(default=None, max_length=200)
    theme: str | None = Field(default=None, max_length=500)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


@operator_router.patch("/{exhibition_id}", summary="Change an exhibition's name, theme or dates (operator)")
def update_exhibition(exhibition_id: str, body: ExhibitionChange, principal: CurrentPrincipal,
                      settings: SettingsDep) -> dict[str, Any]:
    e = exhibitions.get_exhibition(settings, exhibition_id, principal).exhibition
    exhibitions.update(settings, principal, exhibition_id, e.name if body.name is None else body.name,
                       e.theme if body.theme is None else body.theme, body.starts_on or e.starts_on,
                       body.ends_on or e.ends_on)
    return exhibition_doc(exhibitions.get_exhibition(settings, exhibition_id, principal), principal)


class BoothChange(BaseModel):
    """A change of a booth: its featured parts (given: replaced) and slots to add."""

    featured: list[str] | None = Field(default=None, max_length=20)
    add_slots: list[SlotBody] = Field(default_factory=list, max_length=exhibitions.MAX_SLOTS)


@operator_router.patch("/{exhibition_id}/booths/{booth_id}", summary="Change a booth: featured parts, new slots")
def edit_booth(exhibition_id: str, booth_id: str, body: BoothChange, principal: CurrentPrincipal,
               settings: SettingsDep) -> dict[str, Any]:
    e = exhibitions.get_exhibition(settings, exhibition_id, principal).exhibition
    current = next((b.featured for b in e.booths if b.id == booth_id), ())
    exhibitions.edit_booth(settings, principal, exhibition_id, booth_id,
                           current if body.featured is None else body.featured,
                           [(s.starts_at, s.minutes) for s in body.add_slots])
    return exhibition_doc(exhibitions.get_exhibition(settings, exhibition_id, principal), principal)


@operator_router.delete("/{exhibition_id}/booths/{booth_id}", status_code=204, response_class=Response,
                        summary="Remove a booth without booked meetings")
def remove_booth(exhibition_id: str, booth_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    exhibitions.remove_booth(settings, principal, exhibition_id, booth_id)
    return Response(status_code=204)


@operator_router.delete("/{exhibition_id}/slots/{slot_id}", status_code=204, response_class=Response,
                        summary="Remove a meeting slot nobody booked")
def remove_slot(exhibition_id: str, slot_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    exhibitions.remove_slot(settings, principal, exhibition_id, slot_id)
    return Response(status_code=204)

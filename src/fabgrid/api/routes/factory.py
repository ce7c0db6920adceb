"""Factories: GET /api/v1/factory/work, POST /api/v1/factory/orders/{id}/status and /inspection (features against
their tolerances), GET /api/v1/factory/quality/features and /quality/spc (SPC of a part's feature across the site's
inspections),
GET /api/v1/factory/designs/{part_id} (only with held work and the owner's consent; every attempt logged), the
storefront of the caller's own site: GET|PUT /api/v1/factory/machines, /materials, /rates, /calendar, /regions,
GET|PUT /capacity, the booth's photos GET|POST /api/v1/factory/showroom/photos and DELETE .../{name}
(each PUT replaces the list and answers the stored version), and the site's answer to its work: POST
/api/v1/factory/orders/{id}/accept, /decline ({reason, note?}), /propose-date ({date, note?}), each with an optional
line_id; the buyer's side is `orders_router`: GET /api/v1/orders/{id}/acceptance and
POST /api/v1/orders/{id}/date-proposals/{pid}/accept or /reject."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import (
    acceptance_doc,
    order_doc,
    proposal_doc,
    response_doc,
    storefront_calendar_doc,
    storefront_capacity_doc,
    storefront_machines_doc,
    storefront_materials_doc,
    storefront_rates_doc,
    storefront_regions_doc,
)
from fabgrid.config import Settings
from fabgrid.domain.acceptance import FACTORY_REASONS
from fabgrid.domain.catalog import Shift
from fabgrid.domain.factory import CalendarEntry, CustomMachine, MachineDeclaration, MaterialStock
from fabgrid.domain.order import MAX_FEATURE_VALUES, MAX_FEATURES, FeatureMeasurement
from fabgrid.services import acceptance, designs, orders, showroom_photos, storefront
from fabgrid.services import inspection as quality

router = APIRouter(prefix="/api/v1/factory", tags=["factory"])
orders_router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class StatusBody(BaseModel):
    """The next production status of an order."""

    status: str = Field(description="in_production, built, shipped or delivered (in that order)")
    note: str = Field(default="", max_length=500)
    line_id: str | None = Field(default=None, max_length=40,
                                description="one line of the order; omitted: all of the order's lines at your site")


class InspectionBody(BaseModel):
    """An inspection result of a built order."""

    passed: bool
    inspected_qty: int = Field(ge=1)
    defects: list[str] = Field(default_factory=list, max_length=100)
    measurements: dict[str, float] = Field(default_factory=dict, description="e.g. {'length_mm': 40.02}")
    note: str = Field(default="", max_length=500)
    line_id: str | None = Field(default=None, max_length=40,
                                description="the inspected line; needed when your site holds several built lines")
    features: list[FeatureMeasurement] = Field(
        default_factory=list, max_length=MAX_FEATURES,
        description="features measured against their tolerance: {name, nominal_mm, lsl_mm?, usl_mm?, values: "
                    f"[..] (1..{MAX_FEATURE_VALUES})}}; a value out of tolerance fails the line (passed: true is a "
                    "422); the site's inspections of a part make its SPC (GET /api/v1/factory/quality/spc)")


@router.get("/work", summary="Orders with lines allocated to the caller's site (those lines only)")
def work(principal: CurrentPrincipal, settings: SettingsDep,
         include_done: Annotated[bool, Query()] = False) -> list[dict[str, Any]]:
    # the list shows no line past its response time
    acceptance.expire_unanswered(settings, dt.datetime.now(dt.UTC), site_id=principal.site_id or "-")
    return [order_doc(o) for o in orders.factory_work(settings, principal, include_done)]


@router.post("/orders/{order_id}/status", summary="Advance an order of your site to its next status")
def set_status(order_id: str, body: StatusBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return order_doc(orders.factory_status(settings, principal, order_id, body.status, body.note, body.line_id))


@router.post("/orders/{order_id}/inspection", summary="Enter the inspection result of a built order")
def inspection(order_id: str, body: InspectionBody, principal: CurrentPrincipal,
               settings: SettingsDep) -> dict[str, Any]:
    return order_doc(orders.factory_inspection(settings, principal, order_id, body.passed, body.inspected_qty,
                                               body.defects, body.measurements, body.note, body.line_id,
                                               body.features))


@router.get("/quality/features", summary="The features your site has measured, per part (the SPC series)")
def quality_features(principal: CurrentPrincipal, settings: SettingsDep,
                     site: Annotated[str | None, Query(max_length=40, description="operators: the site")] = None,
                     ) -> list[dict[str, Any]]:
    return [asdict(f) for f in quality.site_feature_series(settings, principal, site)]


@router.get("/quality/spc", summary="SPC of one feature of a part across your site's inspections")
def quality_spc(principal: CurrentPrincipal, settings: SettingsDep,
                part_id: Annotated[str, Query(max_length=40)], feature: Annotated[str, Query(max_length=60)],
                site: Annotated[str | None, Query(max_length=40, description="operators: the site")] = None,
                ) -> dict[str, Any]:
    r = quality.site_feature_spc(settings, principal, part_id, feature, site)
    return {"site_id": r.site_id, "part_id": r.part_id, "report": r.report.model_dump(mode="json"),
            "points": [{**p, "at": p["at"].isoformat() if isinstance(p["at"], dt.datetime) else None}
                       for p in r.points]}


@router.get("/designs/{part_id}", response_class=Response,
            summary="Download a design your site holds work on (owner consent needed; logged)")
def design(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    f = designs.factory_download(settings, principal, part_id)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f.filename)[:200]
    return Response(f.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------------------- the storefront


class CustomModel(BaseModel):
    """A machine model not in the catalog."""

    custom: CustomMachine


class MachineItem(BaseModel):
    """One machine: a catalog machine model id, or {custom: {process, build_volume_mm, power_w, ...}}."""

    id: str | None = Field(default=None, max_length=64, description="omitted: one is given")
    model: str | CustomModel
    name: str | None = Field(default=None, max_length=120)


class MachinesBody(BaseModel):
    """The site's machines (replaces the list)."""

    machines: list[MachineItem] = Field(max_length=storefront.MAX_MACHINES)


class MaterialsBody(BaseModel):
    """The materials in stock (replaces the list); several lots of one material may be listed."""

    materials: list[MaterialStock] = Field(max_length=500)


class RatesBody(BaseModel):
    """The site's rates (replace the stored ones)."""

    machine_hour_cny: dict[str, float] = Field(default_factory=dict,
                                               description="CNY per machine hour, by machine model id")
    material_markup: float = Field(default=0.0, description="on the material cost: 0.25 = +25 %")
    minimum_order_cny: float = Field(default=0.0)
    finishes: dict[str, float] | None = Field(default=None, description="CNY per part, by finish id")


class CalendarBody(BaseModel):
    """The site's shifts, workdays (0 = Monday) and closed periods (replace the stored ones)."""

    shifts: list[Shift] = Field(max_length=6)
    workdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], max_length=7)
    entries: list[CalendarEntry] = Field(default_factory=list, max_length=storefront.MAX_CALENDAR_ENTRIES)


class CapacityBody(BaseModel):
    """Whether the site takes new work."""

    at_capacity: bool
    max_queue_h: float | None = Field(default=None, description="machine hours; null: no limit")


class RegionsBody(BaseModel):
    """The provinces the site ships to (replaces the list; empty: every destination)."""

    provinces: list[str] = Field(max_length=60, description="province ids (Hunan) or names (湖南)")


@router.get("/machines", summary="Your site's machines")
def get_machines(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_machines_doc(storefront.storefront(settings, principal))


@router.put("/machines", summary="Replace your site's machines (catalog models or custom ones)")
def put_machines(body: MachinesBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    decls = [MachineDeclaration(id=m.id, name=m.name, model=m.model if isinstance(m.model, str) else None,
                                custom=m.model.custom if isinstance(m.model, CustomModel) else None)
             for m in body.machines]
    return storefront_machines_doc(storefront.put_machines(settings, principal, decls))


@router.get("/materials", summary="Your site's materials in stock")
def get_materials(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_materials_doc(storefront.storefront(settings, principal))


@router.put("/materials", summary="Replace your site's materials in stock")
def put_materials(body: MaterialsBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_materials_doc(storefront.put_materials(settings, principal, body.materials))


@router.get("/rates", summary="Your site's rates")
def get_rates(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_rates_doc(storefront.storefront(settings, principal))


@router.put("/rates", summary="Replace your site's rates (the next quote prices with them)")
def put_rates(body: RatesBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_rates_doc(storefront.put_rates(settings, principal, body.machine_hour_cny, body.material_markup,
                                                     body.minimum_order_cny, body.finishes))


@router.get("/calendar", summary="Your site's calendar")
def get_calendar(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_calendar_doc(storefront.storefront(settings, principal))


@router.put("/calendar", summary="Replace your site's shifts, workdays, holidays and maintenance windows")
def put_calendar(body: CalendarBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_calendar_doc(storefront.put_calendar(settings, principal, body.shifts, body.workdays,
                                                           body.entries))


@router.get("/capacity", summary="Whether your site takes new work")
def get_capacity(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_capacity_doc(storefront.storefront(settings, principal))


@router.put("/capacity", summary="Say your site is at capacity (no offers) and its maximum queue")
def put_capacity(body: CapacityBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_capacity_doc(storefront.put_capacity(settings, principal, body.at_capacity, body.max_queue_h))


@router.get("/regions", summary="The provinces your site ships to")
def get_regions(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_regions_doc(storefront.storefront(settings, principal))


@router.put("/regions", summary="Replace the provinces your site ships to (buyers elsewhere get no offer from it)")
def put_regions(body: RegionsBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return storefront_regions_doc(storefront.put_regions(settings, principal, body.provinces))


@router.get("/showroom/photos", summary="The photos of your showroom booth")
def get_photos(principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    site = principal.site_id or "-"
    names = showroom_photos.photos(settings, site) if principal.role == "factory" else []
    return {"photos": [{"name": n, "url": f"/showroom/{site}/photos/{n}"} for n in names]}


@router.post("/showroom/photos", status_code=201,
             summary="Add a photo to your showroom booth (JPEG, PNG or WebP up to 10 MiB; stored encrypted)")
async def add_photo(principal: CurrentPrincipal, settings: SettingsDep,
                    photo: Annotated[UploadFile, File()]) -> dict[str, Any]:
    data = await photo.read(showroom_photos.MAX_PHOTO_BYTES + 1)
    name = showroom_photos.add_photo(settings, principal, data)
    return {"name": name, "url": f"/showroom/{principal.site_id}/photos/{name}"}


@router.delete("/showroom/photos/{name}", status_code=204, summary="Remove a photo of your showroom booth")
def remove_photo(name: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    showroom_photos.remove_photo(settings, principal, name)
    return Response(status_code=204)


# ---------------------------------------------------------------------------- accept, decline, propose a date


class AcceptBody(BaseModel):
    """Accept the work allocated to your site."""

    line_id: str | None = Field(default=None, max_length=40,
                                description="one line of the order; omitted: all its lines at your site waiting")


class DeclineBody(BaseModel):
    """Decline the work allocated to your site; it goes to the next best capable site."""

    reason: str = Field(max_length=40, description=", ".join(r.value for r in FACTORY_REASONS))
    note: str = Field(default="", max_length=500, description="needed for reason 'other'")
    line_id: str | None = Field(default=None, max_length=40,
                                description="one line of the order; omitted: all its allocated lines at your site")


class ProposeDateBody(BaseModel):
    """A new delivery date for your line of an order; the buyer accepts or rejects it."""

    date: dt.date = Field(description="YYYY-MM-DD, after today")
    note: str = Field(default="", max_length=500)
    line_id: str | None = Field(default=None, max_length=40, description="needed when your site holds several lines")


@router.post("/orders/{order_id}/accept", summary="Accept your site's allocated lines of an order")
def accept(order_id: str, principal: CurrentPrincipal, settings: SettingsDep,
           body: AcceptBody | None = None) -> dict[str, Any]:
    return order_doc(acceptance.accept(settings, principal, order_id, body.line_id if body else None))


@router.post("/orders/{order_id}/decline", summary="Decline your site's allocated lines of an order (with a reason)")
def decline(order_id: str, body: DeclineBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    done = acceptance.decline(settings, principal, order_id, body.reason, body.note, body.line_id)
    return {"order_id": order_id, "responses": [response_doc(r) for r in done]}


@router.post("/orders/{order_id}/propose-date", status_code=201,
             summary="Propose a new delivery date for your line of an order")
def propose_date(order_id: str, body: ProposeDateBody, principal: CurrentPrincipal,
                 settings: SettingsDep) -> dict[str, Any]:
    return proposal_doc(acceptance.propose_date(settings, principal, order_id, body.date, body.note, body.line_id))


@orders_router.get("/{order_id}/acceptance",
                   summary="The order's lines with their factory's answer (pending, accepted, awaiting_buyer)")
def order_acceptance(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return acceptance_doc(acceptance.acceptance_view(settings, principal, order_id))


@orders_router.post("/{order_id}/date-proposals/{proposal_id}/accept", summary="Accept a factory's proposed date")
def accept_proposal(order_id: str, proposal_id: str, principal: CurrentPrincipal,
                    settings: SettingsDep) -> dict[str, Any]:
    return proposal_doc(acceptance.decide_proposal(settings, principal, order_id, proposal_id, True))


@orders_router.post("/{order_id}/date-proposals/{proposal_id}/reject", summary="Reject a factory's proposed date")
def reject_proposal(order_id: str, proposal_id: str, principal: CurrentPrincipal,
                    settings: SettingsDep) -> dict[str, Any]:
    return proposal_doc(acceptance.decide_proposal(settings, principal, order_id, proposal_id, False))

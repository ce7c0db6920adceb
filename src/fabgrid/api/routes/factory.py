"""Factories: GET /api/v1/factory/work, POST /api/v1/factory/orders/{id}/status and /inspection,
GET /api/v1/factory/designs/{part_id} (only with held work and the owner's consent; every attempt logged)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import order_doc
from fabgrid.config import Settings
from fabgrid.services import designs, orders

router = APIRouter(prefix="/api/v1/factory", tags=["factory"])
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


@router.get("/work", summary="Orders with lines allocated to the caller's site (those lines only)")
def work(principal: CurrentPrincipal, settings: SettingsDep,
         include_done: Annotated[bool, Query()] = False) -> list[dict[str, Any]]:
    return [order_doc(o) for o in orders.factory_work(settings, principal, include_done)]


@router.post("/orders/{order_id}/status", summary="Advance an order of your site to its next status")
def set_status(order_id: str, body: StatusBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return order_doc(orders.factory_status(settings, principal, order_id, body.status, body.note, body.line_id))


@router.post("/orders/{order_id}/inspection", summary="Enter the inspection result of a built order")
def inspection(order_id: str, body: InspectionBody, principal: CurrentPrincipal,
               settings: SettingsDep) -> dict[str, Any]:
    return order_doc(orders.factory_inspection(settings, principal, order_id, body.passed, body.inspected_qty,
                                               body.defects, body.measurements, body.note, body.line_id))


@router.get("/designs/{part_id}", response_class=Response,
            summary="Download a design your site holds work on (owner consent needed; logged)")
def design(part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    f = designs.factory_download(settings, principal, part_id)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in f.filename)[:200]
    return Response(f.data, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "private, no-store"})

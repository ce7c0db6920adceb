"""Park operators: GET /api/v1/operator/orders, POST/GET /api/v1/operator/disruptions (reroute as a job)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal, require_role
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import disruption_doc, order_doc
from fabgrid.config import Settings
from fabgrid.services import orders

router = APIRouter(prefix="/api/v1/operator", tags=["operator"], dependencies=[require_role("operator")])  # type: ignore[list-item]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class DisruptionBody(BaseModel):
    """A site closed for some days."""

    site_id: str = Field(max_length=64)
    days: int = Field(ge=1, le=365)


@router.get("/orders", summary="Every order of the network")
def all_orders(principal: CurrentPrincipal, settings: SettingsDep, status: str | None = None) -> list[dict[str, Any]]:
    return [order_doc(o) for o in orders.list_orders(settings, principal, status, limit=1000)]


@router.post("/disruptions", status_code=202, summary="Declare a site closed N days; its open orders are rerouted")
def declare(body: DisruptionBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    doc = disruption_doc(orders.declare_disruption(settings, principal, body.site_id, body.days))
    return JSONResponse(doc, status_code=202, headers={"Location": doc["job"]["links"]["self"]})


@router.get("/disruptions", summary="Declared disruptions with their reroute reports")
def disruptions(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [disruption_doc(d) for d in orders.list_disruptions(settings, principal)]

"""Orders: POST /api/v1/orders, GET /api/v1/orders[/{id}], GET /api/v1/orders/{id}/invoice (printable HTML)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.config import Settings
from fabgrid.services import invoices, orders

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class OrderBody(BaseModel):
    """Order a quote's offer."""

    quote_id: str = Field(max_length=40)
    site: str | None = Field(default=None, max_length=64,
                             description="the offer's site; omitted: the allocation engine chooses")
    tier: str | None = Field(default=None, max_length=32, examples=["standard"], description="default standard")
    consent_design_sharing: bool = Field(
        default=False, description="allow the allocated factory to download the design while it holds the work")


@router.post("", status_code=201, summary="Order at the quoted price (409 when expired or ordered already)")
def place_order(body: OrderBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    doc = orders.place_order(settings, principal, body.quote_id, body.site, body.tier, body.consent_design_sharing)
    return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})


@router.get("", summary="Orders the caller may see (own organisation; a factory: its site; operators: all)")
def list_orders(principal: CurrentPrincipal, settings: SettingsDep,
                status: Annotated[str | None, Query(pattern="^[a-z_]{1,20}$")] = None) -> list[dict[str, Any]]:
    return orders.list_orders(settings, principal, status)


@router.get("/{order_id}", summary="An order with its status timeline (UTC)")
def get_order(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return orders.get_order(settings, principal, order_id)


@router.get("/{order_id}/invoice", response_class=HTMLResponse, summary="The invoice as printable HTML")
def invoice(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    return HTMLResponse(invoices.invoice_html(settings, principal, order_id),
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

"""Orders: POST /api/v1/orders (one or several lines; an Idempotency-Key header makes a retry safe),
GET /api/v1/orders[/{id}], GET /api/v1/orders/{id}/invoice
(printable HTML)."""

from __future__ import annotations

from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, model_validator

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import order_doc
from fabgrid.config import Settings
from fabgrid.services import invoices, orders

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class LineBody(BaseModel):
    """One line: a quote's offer."""

    quote_id: str = Field(max_length=40)
    site: str | None = Field(default=None, max_length=64,
                             description="the offer's site; omitted: the allocation engine chooses")
    tier: str | None = Field(default=None, max_length=32, examples=["standard"], description="default standard")


class OrderBody(BaseModel):
    """Order one or several quotes: `lines`, or (the single-part form) `quote_id` with `site` and `tier`."""

    lines: list[LineBody] | None = Field(default=None, min_length=1, max_length=orders.MAX_LINES)
    quote_id: str | None = Field(default=None, max_length=40, description="single-part form: the quote to order")
    site: str | None = Field(default=None, max_length=64, description="single-part form: the offer's site")
    tier: str | None = Field(default=None, max_length=32, description="single-part form: the tier")
    consent_design_sharing: bool = Field(
        default=False, description="allow the allocated factories to download the designs while they hold the work")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.lines is None) == (self.quote_id is None):
            raise ValueError("give either lines: [{quote_id, site?, tier?}] or quote_id (one part), not both or none")
        if self.lines is not None and (self.site is not None or self.tier is not None):
            raise ValueError("site and tier go into each line when lines are given")
        return self

    def line_requests(self) -> list[orders.LineRequest]:
        """The lines to order."""
        if self.lines is None:
            return [orders.LineRequest(str(self.quote_id), self.site, self.tier)]
        return [orders.LineRequest(ln.quote_id, ln.site, ln.tier) for ln in self.lines]


@router.post("", status_code=201, summary="Order at the quoted prices (409 when a quote expired or was ordered)",
             responses={200: {"description": "the order an earlier request with this Idempotency-Key placed"}})
def place_order(body: OrderBody, principal: CurrentPrincipal, settings: SettingsDep,
                idempotency_key: Annotated[str | None, Header(
                    max_length=255, description="repeat a request safely: the same key and body give the same order "
                    "(200, Idempotent-Replayed: true); the same key with another body is a 422")] = None,
                ) -> JSONResponse:
    lines = body.line_requests()
    if idempotency_key is None:
        doc = order_doc(orders.place_order(settings, principal, lines, body.consent_design_sharing))
        return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})
    placed = orders.place_order_once(settings, principal, idempotency_key, lines, body.consent_design_sharing)
    doc = order_doc(placed.order)
    headers = {"Location": doc["links"]["self"]} | ({"Idempotent-Replayed": "true"} if placed.replayed else {})
    return JSONResponse(doc, status_code=200 if placed.replayed else 201, headers=headers)


@router.get("", summary="Orders the caller may see (own organisation; a factory: its site's lines; operators: all)")
def list_orders(principal: CurrentPrincipal, settings: SettingsDep,
                status: Annotated[str | None, Query(pattern="^[a-z_]{1,20}$")] = None) -> list[dict[str, Any]]:
    return [order_doc(o) for o in orders.list_orders(settings, principal, status)]


@router.get("/{order_id}", summary="An order with its lines and status timeline (UTC)")
def get_order(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return order_doc(orders.get_order(settings, principal, order_id))


@router.get("/{order_id}/invoice", response_class=HTMLResponse, summary="The invoice as printable HTML")
def invoice(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> HTMLResponse:
    return HTMLResponse(invoices.invoice_html(settings, principal, order_id),
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

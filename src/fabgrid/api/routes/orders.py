"""Orders: POST /api/v1/orders (one or several lines; an Idempotency-Key header makes a retry safe; with
`shipping` the checkout: address, contact, PO number, tax details, consent), GET /api/v1/orders[/{id}],
GET /api/v1/orders/{id}/checkout, POST /api/v1/orders/{id}/consent | /cancel, POST
/api/v1/orders/{id}/lines/{line_id}/reorder (a fresh quote), PUT /api/v1/orders/{id}/lines/{line_id}/features
(the line's inspection plan), GET /api/v1/orders/{id}/invoice (printable HTML)."""

from __future__ import annotations

from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field, model_validator

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import order_doc, quote_doc
from fabgrid.config import Settings
from fabgrid.domain.order import MAX_FEATURES, FeatureSpec, Order
from fabgrid.services import checkout, claims, inspection_plan, invoices, messages, orders
from fabgrid.services.accounts import Principal

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class LineBody(BaseModel):
    """One line: a quote's offer."""

    quote_id: str = Field(max_length=40)
    site: str | None = Field(default=None, max_length=64,
                             description="the offer's site; omitted: the allocation engine chooses")
    tier: str | None = Field(default=None, max_length=32, examples=["standard"], description="default standard")


class ShippingBody(BaseModel):
    """Where the parts go."""

    recipient: str = Field(max_length=100)
    phone: str = Field(max_length=30)
    province: str = Field(default="", max_length=40)
    city: str = Field(max_length=80)
    district: str = Field(default="", max_length=80)
    street: str = Field(max_length=200)
    postal_code: str = Field(default="", max_length=10)


class ContactBody(BaseModel):
    """Who to call about the order (default: the recipient)."""

    name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=30)
    email: str = Field(default="", max_length=254)


class TaxBody(BaseModel):
    """The buyer company on the fapiao: name, unified social credit code (GB 32100), address, telephone, bank."""

    company_name: str = Field(max_length=200)
    credit_code: str = Field(max_length=30)
    address: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=30)
    bank_name: str = Field(default="", max_length=100)
    bank_account: str = Field(default="", max_length=40)
    invoice_kind: str = Field(default="vat_normal", description="vat_special (增值税专用发票) or vat_normal")


class OrderBody(BaseModel):
    """Order one or several quotes: `lines`, or (the single-part form) `quote_id` with `site` and `tier`."""

    lines: list[LineBody] | None = Field(default=None, min_length=1, max_length=orders.MAX_LINES)
    quote_id: str | None = Field(default=None, max_length=40, description="single-part form: the quote to order")
    site: str | None = Field(default=None, max_length=64, description="single-part form: the offer's site")
    tier: str | None = Field(default=None, max_length=32, description="single-part form: the tier")
    consent_design_sharing: bool = Field(
        default=False, description="allow the allocated factories to download the designs while they hold the work")
    shipping: ShippingBody | None = Field(default=None, description="checkout: where the parts go (with it the "
                                          "order keeps its address, contact, PO number and tax details)")
    contact: ContactBody | None = None
    po_number: str = Field(default="", max_length=60, description="the buyer's purchase-order number")
    tax: TaxBody | None = Field(default=None, description="the company's details for the fapiao")

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        if (self.lines is None) == (self.quote_id is None):
            raise ValueError("give either lines: [{quote_id, site?, tier?}] or quote_id (one part), not both or none")
        if self.lines is not None and (self.site is not None or self.tier is not None):
            raise ValueError("site and tier go into each line when lines are given")
        return self

    def checkout(self) -> checkout.CheckoutForm | None:
        """The checkout details, checked (None: an order without checkout, as before)."""
        if self.shipping is None:
            return None
        raw: dict[str, object] = {f"shipping_{k}": v for k, v in self.shipping.model_dump().items()}
        raw |= {f"contact_{k}": v for k, v in (self.contact.model_dump() if self.contact else {}).items()}
        if self.tax is not None:
            t = self.tax.model_dump()
            raw |= {"invoice_kind": t.pop("invoice_kind")} | {f"tax_{k}": v for k, v in t.items()}
        return checkout.parse(raw | {"po_number": self.po_number, "consent": self.consent_design_sharing})

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
    form = body.checkout()
    if form is not None:
        made = checkout.place(settings, principal, lines, form, idempotency_key)
        doc = _full_doc(settings, principal, made)
        return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})
    if idempotency_key is None:
        doc = _full_doc(settings, principal, orders.place_order(settings, principal, lines,
                                                                body.consent_design_sharing))
        return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})
    placed = orders.place_order_once(settings, principal, idempotency_key, lines, body.consent_design_sharing)
    doc = _full_doc(settings, principal, placed.order)
    headers = {"Location": doc["links"]["self"]} | ({"Idempotent-Replayed": "true"} if placed.replayed else {})
    return JSONResponse(doc, status_code=200 if placed.replayed else 201, headers=headers)


@router.get("", summary="Orders the caller may see (own organisation; a factory: its site's lines; operators: all)")
def list_orders(principal: CurrentPrincipal, settings: SettingsDep,
                status: Annotated[str | None, Query(pattern="^[a-z_]{1,20}$")] = None) -> list[dict[str, Any]]:
    return [order_doc(o) for o in orders.list_orders(settings, principal, status)]


@router.get("/{order_id}", summary="An order with its lines, status timeline (UTC), thread and claims (remakes, "
            "refunds)")
def get_order(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return _full_doc(settings, principal, orders.get_order(settings, principal, order_id))


def _full_doc(settings: Settings, principal: Principal, order: Order) -> dict[str, Any]:
    """The order resource as GET answers it, also for the answer to placing one: lines, timeline, thread (opened
    when the order is placed, or on first read for orders older than threads) and claims."""
    doc = order_doc(order)
    order_id = order.id
    thread = messages.order_thread(settings, principal, order_id)
    doc["thread_id"] = thread.id
    doc["links"]["thread"] = f"/api/v1/threads/{thread.id}/messages"
    found = claims.order_claims(settings, principal, order_id)
    doc["claims"] = [{"id": c.id, "line_id": c.line_id, "status": c.status, "outcome": c.outcome,
                      "refund_cny": c.refund_cny, "remake_line_id": c.remake_line_id,
                      "remake_quantity": c.remake_quantity, "factory_cost_cny": c.factory_cost_cny,
                      "links": {"self": f"/api/v1/claims/{c.id}"}} for c in found]
    doc["refunded_cny"] = round(sum(c.refund_cny or 0.0 for c in found), 2)
    remakes = {c.remake_line_id: c for c in found if c.remake_line_id}
    for ln in doc["lines"]:
        c = remakes.get(ln["id"])
        ln["remake_of"] = {"line_id": c.line_id, "claim_id": c.id} if c is not None else None
    return doc


def _invoice_lang(lang: str | None, accept_language: str | None) -> str:
    if lang:
        return lang
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh-CN" if first.startswith("zh") else "en"


LangQuery = Annotated[str | None, Query(pattern="^(zh-CN|zh|en)$", description="zh-CN or en (default: "
                                        "Accept-Language, else en)")]


@router.get("/{order_id}/invoice.pdf", summary="The invoice as a PDF in zh-CN or en (CJK font embedded)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def invoice_pdf(order_id: str, principal: CurrentPrincipal, settings: SettingsDep, lang: LangQuery = None,
                accept_language: Annotated[str | None, Header()] = None) -> Response:
    pdf = invoices.invoice_pdf(settings, principal, order_id, _invoice_lang(lang, accept_language))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="invoice-{order_id}.pdf"', "Cache-Control": "no-store"})


@router.get("/{order_id}/invoice", response_class=HTMLResponse, summary="The invoice as printable HTML")
def invoice(order_id: str, principal: CurrentPrincipal, settings: SettingsDep, lang: LangQuery = None,
            accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
    return HTMLResponse(invoices.invoice_html(settings, principal, order_id, _invoice_lang(lang, accept_language)),
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.get("/{order_id}/checkout", summary="The order's checkout: address, contact, PO number, tax details, consent")
def get_checkout(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    c = checkout.checkout_of(settings, principal, order_id)
    if c is None:
        from fabgrid.errors import NotFoundError

        raise NotFoundError(f"order {order_id} was placed without checkout details", code="order.no_checkout")
    return c.model_dump(mode="json")


@router.post("/{order_id}/consent", summary="Consent to design sharing after ordering (the factories may then "
             "download the designs)")
def give_consent(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return order_doc(checkout.give_consent(settings, principal, order_id))


class CancelBody(BaseModel):
    """Lines to cancel (none: the whole order) and why."""

    line_ids: list[str] = Field(default_factory=list, max_length=orders.MAX_LINES)
    reason: str = Field(default="", max_length=200)


@router.post("/{order_id}/cancel", summary="Cancel lines before production starts (409 after: the policy)")
def cancel(order_id: str, principal: CurrentPrincipal, settings: SettingsDep,
           body: CancelBody | None = None) -> dict[str, Any]:
    b = body or CancelBody()
    return order_doc(checkout.cancel(settings, principal, order_id, b.line_ids, b.reason))


@router.post("/{order_id}/lines/{line_id}/reorder", status_code=201,
             summary="A fresh quote for a delivered line (same part, material, finish, quantity, destination)")
def reorder(order_id: str, line_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    doc = quote_doc(checkout.reorder(settings, principal, order_id, line_id))
    return JSONResponse(doc, status_code=201, headers={"Location": doc["links"]["self"]})


class FeaturePlanBody(BaseModel):
    """The features a line's parts must be measured on, each with its nominal and limits (none: no plan)."""

    features: list[FeatureSpec] = Field(default_factory=list, max_length=MAX_FEATURES)


@router.put("/{order_id}/lines/{line_id}/features",
            summary="Set a line's inspection plan: the features the factory must measure, with their tolerances "
                    "(until the line is inspected)")
def put_feature_plan(order_id: str, line_id: str, body: FeaturePlanBody, principal: CurrentPrincipal,
                     settings: SettingsDep) -> dict[str, Any]:
    return order_doc(inspection_plan.set_plan(settings, principal, order_id, line_id, body.features))

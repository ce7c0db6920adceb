"""The buyer's cart: the quote offers chosen for one order (quote, site, tier), kept in the `fabgrid_cart`
cookie until the order is placed (the cookie holds ids only; placing the order checks every quote again), and
the checkout pages: address, contact, PO number and tax details, the design-sharing choice, the review, and
from the order page consent later, cancellation and reorder.

Calls services.checkout, services.orders (the line type) and services.network (site names) only.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fabgrid.errors import InputError
from fabgrid.services import checkout, invoices, network
from fabgrid.services.accounts import Principal
from fabgrid.services.orders import LineRequest
from fabgrid.web.session import (
    PageRoute,
    checked_form,
    field,
    form_problem,
    language,
    render,
    require,
    settings_of,
)

COOKIE = "fabgrid_cart"
#: Lines the cart holds (the cookie stays well under the browsers' 4 KB).
MAX_ITEMS = 20
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def read(request: Request) -> list[LineRequest]:
    """The cart's lines; a damaged cookie is an empty cart."""
    raw = request.cookies.get(COOKIE, "")
    try:
        items = json.loads(raw) if raw else []
    except ValueError:
        return []
    out: list[LineRequest] = []
    for it in items if isinstance(items, list) else []:
        if not isinstance(it, list) or len(it) != 3:
            continue
        q, site, tier = it
        if isinstance(q, str) and _ID.match(q) and all(v is None or (isinstance(v, str) and _ID.match(v))
                                                       for v in (site, tier)):
            out.append(LineRequest(q, site, tier))
    return out[:MAX_ITEMS]


def write(request: Request, response: Response, items: list[LineRequest]) -> None:
    """Store the cart's lines on `response` (an empty cart deletes the cookie)."""
    if not items:
        response.delete_cookie(COOKIE, path="/")
        return
    doc = json.dumps([[i.quote_id, i.site, i.tier] for i in items[-MAX_ITEMS:]], separators=(",", ":"))
    response.set_cookie(COOKIE, doc, path="/", httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=7 * 86400)


# ---------------------------------------------------------------- checkout pages (services.checkout)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer",)
#: The checkout form's fields (kept through the review page as hidden fields).
FIELDS = ("shipping_recipient", "shipping_phone", "shipping_province", "shipping_city", "shipping_district",
          "shipping_street", "shipping_postal_code", "contact_name", "contact_phone", "contact_email", "po_number",
          "tax_company_name", "tax_credit_code", "tax_address", "tax_phone", "tax_bank_name", "tax_bank_account",
          "invoice_kind", "consent", "quote_id", "site", "tier")
#: The fields of one offer ordered straight from its quote page (instead of the cart): quote, site and tier.
DIRECT = ("quote_id", "site", "tier")


def _values(form: FormData) -> dict[str, str]:
    return {k: field(form, k) for k in FIELDS}


def items_of(request: Request, values: dict[str, str]) -> list[LineRequest]:
    """What the checkout orders: the one offer of a quote page (`quote_id`, `site`, `tier` in the form), else the
    cart's lines."""
    if values.get("quote_id"):
        if not _ID.match(values["quote_id"]) or any(values.get(k) and not _ID.match(values[k]) for k in DIRECT):
            raise InputError("the quote, site or tier of the checkout is not an id", code="checkout.offer")
        return [LineRequest(values["quote_id"], values.get("site") or None, values.get("tier") or None)]
    return read(request)


def _form_page(request: Request, who: Principal, values: dict[str, str], error: InputError | None = None,
               ) -> HTMLResponse:
    message, hint = form_problem(request, error) if error else (None, None)
    return render(request, "checkout.html", {"values": values, "error": message, "hint": hint,
                                             "items": len(items_of(request, values))},
                  status_code=422 if error else 200, who=who)


@router.get("/checkout", response_class=HTMLResponse)
def checkout_page(request: Request) -> HTMLResponse:
    """Step 1: shipping address and contact, PO number, tax details, the design-sharing choice. With `quote_id`
    (`site`, `tier`) in the query: the one offer ordered from its quote page, the cart left as it is."""
    who = require(request, *BUYER)
    values = {"invoice_kind": "vat_normal", "shipping_city": ""}
    values |= {k: request.query_params.get(k, "").strip() for k in DIRECT if request.query_params.get(k)}
    if not items_of(request, values):
        raise InputError("the cart is empty", hint="add offers to the cart from a quote page", code="cart.empty")
    return _form_page(request, who, values)


@router.post("/checkout/review", response_class=HTMLResponse)
async def checkout_review(request: Request) -> HTMLResponse:
    """Step 2: the lines at their quoted prices, VAT shown separately, and the details to confirm."""
    who = require(request, *BUYER)
    values = _values(await checked_form(request))
    try:
        form = checkout.parse(values)
        rv = checkout.review(settings_of(request), who, items_of(request, values), form)
    except InputError as exc:
        if exc.code == "cart.empty":
            raise
        return _form_page(request, who, values, exc)
    return render(request, "checkout_review.html", {"values": values, "review": rv,
                                                    "sites": network.site_names(settings_of(request))}, who=who)


@router.post("/checkout/place")
async def checkout_place(request: Request) -> Response:
    """Step 3: place the order with its checkout details; the cart is emptied."""
    who = require(request, *BUYER)
    values = _values(await checked_form(request))
    items = items_of(request, values)
    try:
        form = checkout.parse(values)
    except InputError as exc:
        return _form_page(request, who, values, exc)
    o = checkout.place(settings_of(request), who, items, form)
    resp = RedirectResponse(f"/orders/{o.id}", status_code=303)
    if not values.get("quote_id"):  # ordered from the cart: the cart is emptied (a quote page's offer leaves it)
        write(request, resp, [])
    return resp


@router.post("/orders/{order_id}/consent")
async def order_consent(request: Request, order_id: str) -> Response:
    """Consent to design sharing from the order page."""
    who = require(request, *BUYER)
    await checked_form(request)
    checkout.give_consent(settings_of(request), who, order_id)
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


@router.post("/orders/{order_id}/cancel")
async def order_cancel(request: Request, order_id: str) -> Response:
    """Cancel the order (or one line, `line_id`) before production starts."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    line = field(form, "line_id")
    checkout.cancel(settings_of(request), who, order_id, [line] if line else [], field(form, "reason"))
    return RedirectResponse(f"/orders/{order_id}", status_code=303)


@router.post("/orders/{order_id}/lines/{line_id}/reorder")
async def order_reorder(request: Request, order_id: str, line_id: str) -> Response:
    """A fresh quote for a delivered line: shown as a quote page to order from."""
    who = require(request, *BUYER)
    await checked_form(request)
    q = checkout.reorder(settings_of(request), who, order_id, line_id)
    return RedirectResponse(f"/quotes/{q.id}", status_code=303)


@router.get("/orders/{order_id}/invoice.pdf")
def order_invoice_pdf(request: Request, order_id: str) -> Response:
    """The order's invoice as a PDF in the page's language (or `?lang=zh-CN|en`, as the order page links it)."""
    who = require(request, *BUYER)
    lang = request.query_params.get("lang") or ("zh-CN" if language(request) == "zh" else "en")
    pdf = invoices.invoice_pdf(settings_of(request), who, order_id, lang)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="invoice-{order_id}.pdf"', "Cache-Control": "no-store"})

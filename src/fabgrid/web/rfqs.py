"""Pages of requests for quotes (issue 19). The buyer's half: the RFQ form (a part, material, quantity tiers, a PDF
drawing, dates, NDA, factories to invite), the RFQ with its bids side by side and the award, the contract (accept,
PDF), the message threads, claims on delivered lines. The factory's half: its invitations (teasers), one RFQ with
the NDA to accept, the files once accepted, the bid form, its answer to a claim. The exhibitions' pages.

Calls services (rfq, awards, contracts, messages, claims, exhibitions, attachments, factories, orders) only;
never the store or the engines.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from fabgrid.errors import InputError
from fabgrid.services import (
    attachments,
    awards,
    claims,
    contracts,
    exhibitions,
    factories,
    messages,
    network,
    orders,
    rfq,
)
from fabgrid.web import exhibitions_admin
from fabgrid.web.session import PageRoute, checked_form, field, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer",)
FACTORY = ("factory",)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _quantities(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.replace("，", ",").replace(" ", ",").split(",") if x.strip())
    except ValueError:
        raise InputError(f"quantities {text!r} are not whole numbers", hint="e.g. 50, 500",
                         code="rfq.quantities") from None


def _date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date", hint="YYYY-MM-DD", code=f"rfq.{name}") from None


def _deadline(text: str) -> datetime:
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"bid deadline {text!r} is not a date and time", code="rfq.deadline") from None
    return (local if local.tzinfo else local.replace(tzinfo=SHANGHAI)).astimezone(UTC)


@router.get("/rfqs", response_class=HTMLResponse)
def rfqs_page(request: Request, part: str = "", exhibition: str = "") -> HTMLResponse:
    """The buyer's RFQs and the form of a new one."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    today = datetime.now(SHANGHAI).date()
    showroom = factories.search(settings, verified_only=True)
    return render(request, "rfqs.html", {
        "rfqs": rfq.list_rfqs(settings, who), "parts": rfq.my_parts(settings, who), "chosen": part,
        "exhibition": exhibition, "exhibitors": {b.site_id for b in exhibitions.get_exhibition(
            settings, exhibition, who).exhibition.booths} if exhibition else set(),
        "showroom": showroom, "materials": sorted(network.network_of(settings).catalog.materials.values(),
                                                  key=lambda m: m.id),
        "need_by": (today + timedelta(days=30)).isoformat(),
        "deadline": (datetime.now(SHANGHAI) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}, who=who)


@router.post("/rfqs")
async def create_rfq(request: Request) -> Response:
    """Create an RFQ from the form (the drawing uploaded first, encrypted)."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    form = await checked_form(request)
    drawing_id = None
    upload = form.get("drawing")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(attachments.MAX_FILE_BYTES + 1)
        drawing_id = attachments.upload(settings, who, upload.filename, data).id
    wish = rfq.PartWish(part_id=field(form, "part_id"), quantities=_quantities(field(form, "quantities")),
                        material=field(form, "material") or None, process=field(form, "process") or None,
                        drawing_file_id=drawing_id, tolerances=bool(field(form, "tolerances")),
                        threads=bool(field(form, "threads")))
    invite = [str(v) for v in form.getlist("invite") if isinstance(v, str)]
    v = rfq.create_rfq(settings, who, [wish], need_by=_date(field(form, "need_by"), "need_by"),
                       bid_deadline=_deadline(field(form, "bid_deadline")), nda_required=bool(field(form, "nda")),
                       invite=invite, destination=field(form, "destination") or None,
                       exhibition_id=field(form, "exhibition_id") or None)
    return RedirectResponse(f"/rfqs/{v.rfq.id}", status_code=303)


@router.get("/rfqs/{rfq_id}", response_class=HTMLResponse)
def rfq_page(request: Request, rfq_id: str) -> HTMLResponse:
    """An RFQ: invitations, the bids side by side, the award."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    v = rfq.get_rfq(settings, who, rfq_id)
    return render(request, "rfq.html", {"v": v, "r": v.rfq, "bids": rfq.bids(settings, who, rfq_id),
                                        "names": network.site_names(settings)}, who=who)


@router.post("/rfqs/{rfq_id}/award")
async def award(request: Request, rfq_id: str) -> Response:
    """Award a bid at the chosen quantity; on to the contract."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    v = rfq.get_rfq(settings_of(request), who, rfq_id)
    if field(form, "split"):  # the comparison per part: a bid chosen per part and tier
        picks = [awards.Pick(field(form, f"pick_{i}_{q}"), p.part_id, q) for i, p in enumerate(v.rfq.parts)
                 for q in p.quantities if field(form, f"pick_{i}_{q}")]
        if not picks:
            raise InputError("choose a bid for at least one part and quantity", code="rfq.award_split")
        made = awards.award_split(settings_of(request), who, rfq_id, picks)
        return RedirectResponse(f"/contracts/{made[0].contract.id}" if len(made) == 1 else f"/rfqs/{rfq_id}#awarded",
                                status_code=303)
    qty = field(form, "quantity")
    quantities = {v.rfq.parts[0].part_id: int(qty)} if qty.isdigit() else None
    a = awards.award(settings_of(request), who, rfq_id, field(form, "bid_id"), quantities=quantities)
    return RedirectResponse(f"/contracts/{a.contract.id}", status_code=303)


@router.post("/rfqs/{rfq_id}/invitations/{site_id}/revoke")
async def revoke(request: Request, rfq_id: str, site_id: str) -> Response:
    """End a site's access to the RFQ's files."""
    who = require(request, *BUYER)
    await checked_form(request)
    rfq.revoke(settings_of(request), who, rfq_id, site_id)
    return RedirectResponse(f"/rfqs/{rfq_id}", status_code=303)


@router.get("/contracts/{contract_id}", response_class=HTMLResponse)
def contract_page(request: Request, contract_id: str) -> HTMLResponse:
    """A contract version: parties, lines, payment, documents, acceptance; the PDF in both languages."""
    who = require(request, "buyer", "factory")
    settings = settings_of(request)
    c = contracts.get_contract(settings, who, contract_id)
    thread = messages.order_thread(settings, who, c.order_id)
    return render(request, "contract.html", {"c": c, "terms": c.terms, "thread_id": thread.id}, who=who)


@router.post("/contracts/{contract_id}/accept")
async def accept_contract(request: Request, contract_id: str) -> Response:
    """The caller's side accepts the contract."""
    who = require(request, "buyer", "factory")
    await checked_form(request)
    contracts.accept(settings_of(request), who, contract_id)
    return RedirectResponse(f"/contracts/{contract_id}", status_code=303)


@router.get("/threads/{thread_id}", response_class=HTMLResponse)
def thread_page(request: Request, thread_id: str) -> HTMLResponse:
    """A message thread (its parties only)."""
    who = require(request, "buyer", "factory", "operator")
    v = messages.read_thread(settings_of(request), who, thread_id)
    return render(request, "thread.html", {"v": v, "thread": v.thread}, who=who)


@router.post("/threads/{thread_id}")
async def post_message(request: Request, thread_id: str) -> Response:
    """Write to a thread."""
    who = require(request, "buyer", "factory", "operator")
    form = await checked_form(request)
    messages.post(settings_of(request), who, thread_id, field(form, "body"), internal=bool(field(form, "internal")))
    return RedirectResponse(f"/threads/{thread_id}#messages", status_code=303)


# ---------------------------------------------------------------------------- the factory's half


@router.get("/factory/rfqs", response_class=HTMLResponse)
def factory_rfqs_page(request: Request) -> HTMLResponse:
    """The site's RFQ invitations."""
    who = require(request, *FACTORY)
    return render(request, "factory_rfqs.html", {"views": rfq.factory_rfqs(settings_of(request), who)}, who=who)


@router.get("/factory/rfqs/{rfq_id}", response_class=HTMLResponse)
def factory_rfq_page(request: Request, rfq_id: str) -> HTMLResponse:
    """One invitation: the teaser and the NDA, or everything after it; the bid form."""
    who = require(request, *FACTORY)
    v = rfq.factory_rfq(settings_of(request), who, rfq_id)
    valid = (datetime.now(SHANGHAI).date() + timedelta(days=14)).isoformat()
    return render(request, "factory_rfq.html", {"v": v, "r": v.rfq, "nda": rfq.nda(), "valid_until": valid}, who=who)


@router.post("/factory/rfqs/{rfq_id}/nda")
async def accept_nda(request: Request, rfq_id: str) -> Response:
    """Accept the NDA whose hash the form carries."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    if not field(form, "agree"):
        raise InputError("tick that you read and accept the NDA", code="rfq.nda_not_ticked")
    rfq.accept_nda(settings_of(request), who, rfq_id, field(form, "nda_sha256"))
    return RedirectResponse(f"/factory/rfqs/{rfq_id}", status_code=303)


@router.post("/factory/rfqs/{rfq_id}/bids/{bid_id}/withdraw")
async def withdraw(request: Request, rfq_id: str, bid_id: str) -> Response:
    """Withdraw the site's active bid."""
    who = require(request, *FACTORY)
    await checked_form(request)
    rfq.withdraw_bid(settings_of(request), who, rfq_id, bid_id)
    return RedirectResponse(f"/factory/rfqs/{rfq_id}", status_code=303)


@router.post("/factory/rfqs/{rfq_id}/bids")
async def bid(request: Request, rfq_id: str) -> Response:
    """Bid: a unit price and lead time per part and quantity (empty prices are left out)."""
    who = require(request, *FACTORY)
    settings = settings_of(request)
    form = await checked_form(request)
    v = rfq.factory_rfq(settings, who, rfq_id)
    tiers = []
    for i, p in enumerate(v.rfq.parts):
        for q in p.quantities:
            price = field(form, f"price_{i}_{q}")
            if not price:
                continue
            try:
                tiers.append({"part_id": p.part_id, "quantity": q, "unit_price_cny": float(price),
                              "lead_time_days": int(field(form, f"lead_{i}_{q}", "0"))})
            except ValueError:
                raise InputError(f"the price or lead time at {q} is not a number", code="rfq.bid_tier") from None
    rfq.place_bid(settings, who, rfq_id, tiers, valid_until=_date(field(form, "valid_until"), "valid_until"),
                  notes=field(form, "notes"), deviations=field(form, "deviations"))
    return RedirectResponse(f"/factory/rfqs/{rfq_id}?bid=1", status_code=303)


# ---------------------------------------------------------------------------- the park's exhibitions


@router.get("/exhibitions", response_class=HTMLResponse)
def exhibitions_page(request: Request) -> HTMLResponse:
    """The park's online exhibitions with their counts."""
    who = require(request, "buyer", "factory", "operator")
    return render(request, "exhibitions.html", {"views": exhibitions.list_exhibitions(settings_of(request), who)},
                  who=who)


@router.get("/exhibitions/{exhibition_id}", response_class=HTMLResponse)
def exhibition_page(request: Request, exhibition_id: str) -> HTMLResponse:
    """An exhibition: booths with featured parts, meeting slots to book, the counts."""
    who = require(request, "buyer", "factory", "operator")
    v = exhibitions.get_exhibition(settings_of(request), exhibition_id, who)
    return render(request, "exhibition.html", {"v": v, "e": v.exhibition, "counts": v.counts}, who=who)


@router.post("/exhibitions/{exhibition_id}/slots/{slot_id}")
async def book_slot(request: Request, exhibition_id: str, slot_id: str) -> Response:
    """Book a meeting slot (an error page when it is taken)."""
    who = require(request, *BUYER)
    await checked_form(request)
    exhibitions.book(settings_of(request), who, exhibition_id, slot_id)
    return RedirectResponse(f"/exhibitions/{exhibition_id}#booked", status_code=303)


# ---------------------------------------------------------------------------- claims on delivered lines


@router.get("/orders/{order_id}/claims", response_class=HTMLResponse)
def claims_page(request: Request, order_id: str) -> HTMLResponse:
    """An order's claims: the buyer opens one on a delivered line, the factory answers, the operator decides."""
    who = require(request, "buyer", "factory", "operator")
    settings = settings_of(request)
    order = orders.get_order(settings, who, order_id)
    return render(request, "claims.html", {"order": order, "claims": claims.order_claims(settings, who, order_id),
                                           "window_days": settings.claim_window_days}, who=who)


@router.post("/orders/{order_id}/claims")
async def open_claim(request: Request, order_id: str) -> Response:
    """Open a claim with a description and photos (uploaded encrypted)."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    form = await checked_form(request)
    photos = []
    for upload in form.getlist("photos"):
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(attachments.MAX_FILE_BYTES + 1)
            photos.append(attachments.upload(settings, who, upload.filename, data).id)
    claims.open_claim(settings, who, order_id, field(form, "line_id"), field(form, "description"), photos)
    return RedirectResponse(f"/orders/{order_id}/claims", status_code=303)


@router.post("/claims/{claim_id}/answer")
async def answer_claim(request: Request, claim_id: str) -> Response:
    """The factory's answer."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    c = claims.answer(settings_of(request), who, claim_id, field(form, "text"))
    return RedirectResponse(f"/orders/{c.order_id}/claims", status_code=303)


@router.post("/claims/{claim_id}/decision")
async def decide_claim(request: Request, claim_id: str) -> Response:
    """The operator's decision (remake, partial refund with its amount, rejected)."""
    who = require(request, "operator")
    form = await checked_form(request)
    raw, many = field(form, "refund_cny"), field(form, "remake_quantity")
    try:
        refund = float(raw) if raw else None
    except ValueError:
        raise InputError(f"refund {raw!r} is not an amount", code="claim.refund") from None
    if many and not many.isdigit():
        raise InputError(f"remake quantity {many!r} is not a whole number", code="claim.remake_quantity")
    outcome = field(form, "outcome")
    c = claims.decide(settings_of(request), who, claim_id, outcome, refund if outcome == "partial_refund" else None,
                      field(form, "note"), int(many) if many and outcome == "remake" else None)
    return RedirectResponse(f"/orders/{c.order_id}/claims", status_code=303)


router.include_router(exhibitions_admin.router)  # the operator's exhibition pages

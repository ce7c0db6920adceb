"""Work that no instant quote covers (issue 19): POST /api/v1/files (a drawing or attachment, encrypted at rest);
RFQs (POST|GET /api/v1/rfqs, GET /{id}, /{id}/bids, POST /{id}/award, /{id}/invitations/{site}/revoke); the
factory's side (GET /api/v1/factory/rfqs, GET /{id} teaser or full, GET|POST /{id}/nda, POST /{id}/bids,
/{id}/bids/{bid}/withdraw, GET /{id}/files/{file}, /{id}/parts/{part}/design); contracts (GET /api/v1/contracts/{id},
POST /{id}/accept, GET /{id}/pdf, GET|POST /{id}/versions); threads (GET|POST /api/v1/threads/{id}/messages,
GET /{id}/files/{file}; GET /api/v1/orders/{id}/thread); claims (POST|GET /api/v1/orders/{id}/claims,
GET /api/v1/claims/{id}, POST /api/v1/factory/claims/{id}/answer, POST /api/v1/operator/claims/{id}/decision);
exhibitions (`api.routes.exhibitions`, its routers listed here). Only translates: services do the work. Never
imports web.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.routes import exhibitions as exhibition_routes
from fabgrid.config import Settings
from fabgrid.domain.rfq import Bid, Claim, Contract, Invitation, Message, StoredFile
from fabgrid.errors import InputError
from fabgrid.services import attachments, awards, claims, contracts, messages, ratelimit, rfq

SettingsDep = Annotated[Settings, Depends(get_settings)]
files_router = APIRouter(prefix="/api/v1/files", tags=["rfqs"])
router = APIRouter(prefix="/api/v1/rfqs", tags=["rfqs"])
factory_router = APIRouter(prefix="/api/v1/factory", tags=["rfqs"])
contracts_router = APIRouter(prefix="/api/v1/contracts", tags=["rfqs"])
threads_router = APIRouter(prefix="/api/v1/threads", tags=["rfqs"])
orders_router = APIRouter(prefix="/api/v1/orders", tags=["rfqs"])
claims_router = APIRouter(prefix="/api/v1/claims", tags=["rfqs"])
operator_router = APIRouter(prefix="/api/v1/operator", tags=["rfqs"])
ROUTERS = (files_router, router, factory_router, contracts_router, threads_router, orders_router, claims_router,
           operator_router, *exhibition_routes.ROUTERS)
CHUNK = 1 << 20


def _iso(v: dt.datetime | dt.date | None) -> str | None:
    return v.isoformat() if v is not None else None


def _download(data: bytes, filename: str, media: str = "application/octet-stream") -> Response:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:200] or "file"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{safe}"',
                                                     "Cache-Control": "private, no-store"})


# ---------------------------------------------------------------------------- files


def file_doc(f: StoredFile) -> dict[str, Any]:
    """An attachment's record."""
    return {**f.model_dump(mode="json", exclude={"organisation_id", "user_id"}),
            "links": {"self": f"/api/v1/files/{f.id}"}}


@files_router.post("", status_code=201, summary="Upload a drawing or attachment (PDF, PNG, JPEG, STEP, STL, 3MF)",
                   responses={413: {"description": "above attachments.MAX_FILE_BYTES"},
                              415: {"description": "not a recognised file, or not what its name says"}})
async def upload_file(request: Request, principal: CurrentPrincipal, settings: SettingsDep,
                      file: Annotated[UploadFile, File(description="the file")]) -> JSONResponse:
    await run_in_threadpool(ratelimit.take, settings, principal, "upload")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit():
        attachments.check_size(int(declared) - 64 * 1024)
    buf = bytearray()
    while chunk := await file.read(CHUNK):
        buf += chunk
        attachments.check_size(len(buf))
    f = await run_in_threadpool(attachments.upload, settings, principal, file.filename or "file", bytes(buf))
    return JSONResponse(file_doc(f), status_code=201, headers={"Location": f"/api/v1/files/{f.id}"})


@files_router.get("/{file_id}", response_class=Response, summary="Download a file of your organisation")
def download_file(file_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    d = attachments.download_own(settings, principal, file_id)
    return _download(d.data, d.file.filename, d.file.media_type)


# ---------------------------------------------------------------------------- RFQs (the buyer's side)


class PartBody(BaseModel):
    """One part of an RFQ."""

    part_id: str = Field(max_length=40)
    quantities: list[int] = Field(min_length=1, max_length=rfq.MAX_TIERS, description="quantity tiers")
    material: str | None = Field(default=None, max_length=64)
    process: str | None = Field(default=None, max_length=32)
    drawing_file_id: str | None = Field(default=None, max_length=40, description="a PDF from POST /api/v1/files")
    tolerances: bool = False
    threads: bool = False
    finish: str | None = Field(default=None, max_length=64)


class RfqBody(BaseModel):
    """A request for quotes."""

    parts: list[PartBody] = Field(min_length=1, max_length=rfq.MAX_PARTS)
    need_by: dt.date
    bid_deadline: dt.datetime
    nda_required: bool = True
    certificates: list[str] = Field(default_factory=list, max_length=10)
    target_price_cny: float | None = None
    destination: str | None = Field(default=None, max_length=80)
    province: str | None = Field(default=None, max_length=40, description="only factories of this province")
    invite: list[str] = Field(default_factory=list, max_length=20, description="verified sites of the showroom")
    exhibition_id: str | None = Field(default=None, max_length=40)


def invitation_doc(i: Invitation) -> dict[str, Any]:
    """One site's invitation with its NDA state."""
    return {"site_id": i.site_id, "source": i.source, "rank": i.rank, "nda_accepted_at": _iso(i.nda_at),
            "nda_sha256": i.nda_sha256, "nda_user_id": i.nda_user_id, "revoked_at": _iso(i.revoked_at),
            "thread_id": i.thread_id, "links": {"thread": f"/api/v1/threads/{i.thread_id}/messages"}}


def rfq_doc(v: rfq.RfqView) -> dict[str, Any]:
    """An RFQ as its buyer sees it."""
    r = v.rfq
    return {"id": r.id, "status": r.status.value, "created_at": _iso(r.created_at), "need_by": _iso(r.need_by),
            "bid_deadline": _iso(r.bid_deadline), "nda_required": r.nda_required, "certificates": list(r.certificates),
            "target_price_cny": r.target_price_cny, "destination": r.destination, "exhibition_id": r.exhibition_id,
            "parts": [p.model_dump(mode="json") for p in r.parts], "awarded": r.awarded,
            "awarded_tiers": [t.model_dump(mode="json") for t in r.awarded_tiers],
            "part_sites": {s: list(ps) for s, ps in r.part_sites.items()},
            "invited_sites": [i.site_id for i in v.invitations],
            "invitations": [invitation_doc(i) for i in v.invitations],
            "threads": {i.site_id: i.thread_id for i in v.invitations},
            "files": {k: file_doc(f) for k, f in v.files.items()},
            "links": {"self": f"/api/v1/rfqs/{r.id}", "bids": f"/api/v1/rfqs/{r.id}/bids",
                      "award": f"/api/v1/rfqs/{r.id}/award"}}


@router.post("", status_code=201, summary="Create an RFQ; it goes to the capable verified factories, ranked")
def create_rfq(body: RfqBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    wishes = [rfq.PartWish(part_id=p.part_id, quantities=tuple(p.quantities), material=p.material, process=p.process,
                           drawing_file_id=p.drawing_file_id, tolerances=p.tolerances, threads=p.threads,
                           finish=p.finish) for p in body.parts]
    v = rfq.create_rfq(settings, principal, wishes, need_by=body.need_by, bid_deadline=body.bid_deadline,
                       nda_required=body.nda_required, certificates=body.certificates,
                       target_price_cny=body.target_price_cny, destination=body.destination, province=body.province,
                       invite=body.invite, exhibition_id=body.exhibition_id)
    return JSONResponse(rfq_doc(v), status_code=201, headers={"Location": f"/api/v1/rfqs/{v.rfq.id}"})


@router.get("", summary="The organisation's RFQs, newest first")
def list_rfqs(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [rfq_doc(v) for v in rfq.list_rfqs(settings, principal)]


@router.get("/{rfq_id}", summary="An RFQ of your organisation")
def get_rfq(rfq_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return rfq_doc(rfq.get_rfq(settings, principal, rfq_id))


def bid_doc(b: Bid) -> dict[str, Any]:
    """A bid as its factory (and the buyer) sees it."""
    return {**b.model_dump(mode="json"), "currency": "CNY"}


@router.get("/{rfq_id}/bids", summary="The bids side by side: price per tier, delivery, scorecard")
def list_bids(rfq_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [{**bid_doc(x.bid), "site_name": x.site_name, "city": x.city, "standing": round(x.standing, 3),
             "scorecard": asdict(x.scorecard) if x.scorecard else None, "delivery_date": _iso(x.delivery_date),
             "meets_need_by": x.meets_need_by, "total_cny_by_quantity": x.total_cny_by_quantity,
             "co2_kg_by_quantity": x.co2_kg_by_quantity, "totals_by_part": x.totals_by_part}
            for x in rfq.bids(settings, principal, rfq_id)]


class PickBody(BaseModel):
    """One entry of a split award: a bid, and the part and quantity tier it gets (no part: every part the bid
    prices that is not awarded yet; no quantity: the smallest tier the bid prices)."""

    bid_id: str = Field(max_length=40)
    part_id: str | None = Field(default=None, max_length=40)
    quantity: int | None = Field(default=None, ge=1)


class AwardBody(BaseModel):
    """The bid to award (`bid_id`, optionally `part_ids` and the quantity tier per part in `quantities`), or a split
    over several bids (`awards`: each entry a bid with a part and a quantity tier); one order and contract per
    awarded factory."""

    bid_id: str | None = Field(default=None, max_length=40)
    part_ids: list[str] | None = Field(default=None, max_length=rfq.MAX_PARTS)
    quantities: dict[str, int] | None = None
    awards: list[PickBody] | None = Field(default=None, min_length=1, max_length=rfq.MAX_PARTS * rfq.MAX_TIERS)
    payment_terms: dict[str, float] | None = Field(default=None, description="{advance_pct, on_acceptance_pct}")


def _award_doc(a: awards.Award) -> dict[str, Any]:
    return {"bid_id": a.bid_id, "site_id": a.site_id, "order_id": a.order.id, "contract_id": a.contract.id,
            "thread_id": a.thread.id, "total_price_cny": a.order.total_price_cny,
            "links": {"order": f"/api/v1/orders/{a.order.id}", "contract": f"/api/v1/contracts/{a.contract.id}",
                      "thread": f"/api/v1/threads/{a.thread.id}/messages"}}


@router.post("/{rfq_id}/award", status_code=201, summary="Award a bid, or split parts and tiers over several bids: "
             "an order at the bid price and a contract per awarded factory")
def award(rfq_id: str, body: AwardBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    if (body.bid_id is None) == (body.awards is None) or (body.awards is not None and (body.part_ids or
                                                                                       body.quantities)):
        raise InputError("an award has either bid_id (with part_ids and quantities) or awards",
                         hint='{"bid_id": "bid_..."} or {"awards": [{"bid_id": "bid_...", "part_id": "...", '
                         '"quantity": 500}]}', code="rfq.award_split")
    if body.awards is not None:
        made = awards.award_split(settings, principal, rfq_id, [awards.Pick(p.bid_id, p.part_id, p.quantity)
                                                                for p in body.awards],
                                  payment_terms=body.payment_terms)
    else:
        made = [awards.award(settings, principal, rfq_id, str(body.bid_id), quantities=body.quantities,
                             part_ids=body.part_ids, payment_terms=body.payment_terms)]
    return {**_award_doc(made[0]), "awards": [_award_doc(a) for a in made]}


@router.post("/{rfq_id}/invitations/{site_id}/revoke", summary="End a site's access to the RFQ's files")
def revoke(rfq_id: str, site_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return invitation_doc(rfq.revoke(settings, principal, rfq_id, site_id))


# ---------------------------------------------------------------------------- the factory's side


def _nda_doc() -> dict[str, Any]:
    n = rfq.nda()
    return {"version": n.version, "sha256": n.sha256, "text": {"zh-CN": n.zh, "en": n.en}}


def factory_rfq_doc(v: rfq.FactoryView) -> dict[str, Any]:
    """An invitation as the factory sees it: a teaser (no file, no geometry) until the NDA."""
    r, base = v.rfq, f"/api/v1/factory/rfqs/{v.rfq.id}"
    parts = []
    for p in r.parts:
        doc: dict[str, Any] = {"part_id": p.part_id, "process": p.process, "material": p.material,
                               "quantities": list(p.quantities), "bbox_mm": p.bbox_mm, "tolerances": p.tolerances,
                               "threads": p.threads, "finish": p.finish, "drawing": p.drawing_file_id is not None}
        if v.full:
            doc["filename"] = p.filename
            doc["links"] = {"design": f"{base}/parts/{p.part_id}/design"}
            if p.drawing_file_id:
                f = v.files[p.drawing_file_id]
                doc["drawing_file"] = {"id": f.id, "filename": f.filename, "sha256": f.sha256,
                                       "media_type": f.media_type, "size_bytes": f.size_bytes,
                                       "links": {"download": f"{base}/files/{f.id}"}}
        parts.append(doc)
    return {"id": r.id, "access": "full" if v.full else "teaser", "status": r.status.value,
            "need_by": _iso(r.need_by), "bid_deadline": _iso(r.bid_deadline), "nda_required": r.nda_required,
            "nda_accepted_at": _iso(v.invitation.nda_at), "revoked": v.invitation.revoked_at is not None,
            "certificates": list(r.certificates), "parts": parts, "thread_id": v.invitation.thread_id,
            "bids": [bid_doc(b) for b in v.bids], "outcome": v.outcome,
            "links": {"self": base, "nda": f"{base}/nda", "bids": f"{base}/bids",
                      "thread": f"/api/v1/threads/{v.invitation.thread_id}/messages"}}


@factory_router.get("/rfqs", summary="Your site's RFQ invitations (teasers until the NDA)")
def factory_rfqs(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [factory_rfq_doc(v) for v in rfq.factory_rfqs(settings, principal)]


@factory_router.get("/rfqs/{rfq_id}", summary="An invitation: the teaser, or everything after the NDA")
def factory_rfq(rfq_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return factory_rfq_doc(rfq.factory_rfq(settings, principal, rfq_id))


@factory_router.get("/rfqs/{rfq_id}/nda", summary="The NDA to accept: its text and SHA-256")
def nda_text(rfq_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    rfq.factory_rfq(settings, principal, rfq_id)  # 404 unless invited
    return _nda_doc()


class NdaBody(BaseModel):
    """The acceptance of the NDA: the SHA-256 of the text read."""

    nda_sha256: str = Field(min_length=64, max_length=64)


@factory_router.post("/rfqs/{rfq_id}/nda", summary="Accept the NDA (click-through, hash of the text)")
def accept_nda(rfq_id: str, body: NdaBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return invitation_doc(rfq.accept_nda(settings, principal, rfq_id, body.nda_sha256))


class TierBody(BaseModel):
    """The price of one part at one quantity tier."""

    part_id: str = Field(max_length=40)
    quantity: int
    unit_price_cny: float
    lead_time_days: int


class BidBody(BaseModel):
    """A bid: a price per part and quantity tier, its validity, notes and deviations from the request."""

    tiers: list[TierBody] = Field(min_length=1, max_length=200)
    valid_until: dt.date
    notes: str = Field(default="", max_length=2000)
    deviations: str = Field(default="", max_length=2000)


@factory_router.post("/rfqs/{rfq_id}/bids", status_code=201, summary="Bid on an RFQ before its deadline")
def place_bid(rfq_id: str, body: BidBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return bid_doc(rfq.place_bid(settings, principal, rfq_id, [t.model_dump() for t in body.tiers],
                                 valid_until=body.valid_until, notes=body.notes, deviations=body.deviations))


@factory_router.post("/rfqs/{rfq_id}/bids/{bid_id}/withdraw", summary="Withdraw your active bid")
def withdraw(rfq_id: str, bid_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return bid_doc(rfq.withdraw_bid(settings, principal, rfq_id, bid_id))


@factory_router.get("/rfqs/{rfq_id}/files/{file_id}", response_class=Response,
                    summary="A drawing of the RFQ (after the NDA; logged)")
def factory_file(rfq_id: str, file_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    d = rfq.factory_drawing(settings, principal, rfq_id, file_id)
    return _download(d.data, d.file.filename, d.file.media_type)


@factory_router.get("/rfqs/{rfq_id}/parts/{part_id}/design", response_class=Response,
                    summary="A part's model file (after the NDA; logged)")
def factory_design(rfq_id: str, part_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    d = rfq.factory_design(settings, principal, rfq_id, part_id)
    return _download(d.data, d.filename)


# ---------------------------------------------------------------------------- contracts


def contract_doc(c: Contract) -> dict[str, Any]:
    """A contract version."""
    return {**c.model_dump(mode="json"), "currency": "CNY",
            "links": {"self": f"/api/v1/contracts/{c.id}", "accept": f"/api/v1/contracts/{c.id}/accept",
                      "pdf": f"/api/v1/contracts/{c.id}/pdf", "versions": f"/api/v1/contracts/{c.id}/versions",
                      "order": f"/api/v1/orders/{c.order_id}"}}


@contracts_router.get("/{contract_id}", summary="A contract version (its two sides and the operators)")
def get_contract(contract_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return contract_doc(contracts.get_contract(settings, principal, contract_id))


@contracts_router.post("/{contract_id}/accept", summary="Your side accepts the contract (once)")
def accept_contract(contract_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return contract_doc(contracts.accept(settings, principal, contract_id))


@contracts_router.get("/{contract_id}/pdf", response_class=Response, summary="The contract as a PDF",
                      responses={200: {"content": {"application/pdf": {}}}})
def contract_pdf(contract_id: str, principal: CurrentPrincipal, settings: SettingsDep,
                 lang: Annotated[str, Query(pattern="^(zh-CN|en)$")] = "zh-CN") -> Response:
    pdf = contracts.contract_pdf(settings, principal, contract_id, lang)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{contract_id}-{lang}.pdf"', "Cache-Control": "private, no-store"})


class VersionBody(BaseModel):
    """A change of the contract: a new version both sides accept."""

    payment_terms: dict[str, float] | None = None
    delivery_date: dt.date | None = None
    note: str = Field(default="", max_length=500)


@contracts_router.get("/{contract_id}/versions", summary="Every version of the contract")
def list_versions(contract_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [contract_doc(c) for c in contracts.versions(settings, principal, contract_id)]


@contracts_router.post("/{contract_id}/versions", status_code=201, summary="Propose a change (a new version)")
def new_version(contract_id: str, body: VersionBody, principal: CurrentPrincipal,
                settings: SettingsDep) -> dict[str, Any]:
    return contract_doc(contracts.propose_version(settings, principal, contract_id, payment_terms=body.payment_terms,
                                                  delivery_date=body.delivery_date, note=body.note))


# ---------------------------------------------------------------------------- threads


def message_doc(m: Message) -> dict[str, Any]:
    """One message."""
    doc = m.model_dump(mode="json")
    if m.file_id:
        doc["links"] = {"file": f"/api/v1/threads/{m.thread_id}/files/{m.file_id}"}
    return doc


class MessageBody(BaseModel):
    """A message (operators: `internal` for a note only operators read), optionally with an uploaded file."""

    body: str = Field(max_length=messages.MAX_BODY)
    internal: bool = False
    file_id: str | None = Field(default=None, max_length=40)


@threads_router.get("/{thread_id}/messages", summary="A thread's messages (its parties only); marks them read")
def read_thread(thread_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    v = messages.read_thread(settings, principal, thread_id)
    t = v.thread
    return {"id": t.id, "kind": t.kind, "ref_id": t.ref_id, "site_ids": list(t.site_ids), "unread": v.unread,
            "read": {str(k): m for k, m in v.read.items()}, "messages": [message_doc(m) for m in v.messages]}


@threads_router.post("/{thread_id}/messages", status_code=201, summary="Write to a thread (its parties only)")
def post_message(thread_id: str, body: MessageBody, principal: CurrentPrincipal,
                 settings: SettingsDep) -> dict[str, Any]:
    return message_doc(messages.post(settings, principal, thread_id, body.body, body.internal, body.file_id))


@threads_router.get("/{thread_id}/files/{file_id}", response_class=Response, summary="A file of a message")
def thread_file(thread_id: str, file_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    d = messages.attachment(settings, principal, thread_id, file_id)
    return _download(d.data, d.file.filename, d.file.media_type)


@orders_router.get("/{order_id}/thread", summary="The order's thread (buyer, factory, operators)")
def order_thread(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    t = messages.order_thread(settings, principal, order_id)
    return {"thread_id": t.id, "links": {"messages": f"/api/v1/threads/{t.id}/messages"}}


# ---------------------------------------------------------------------------- claims


def claim_doc(c: Claim) -> dict[str, Any]:
    """A claim with its status."""
    return {**c.model_dump(mode="json"), "status": c.status, "links": {"self": f"/api/v1/claims/{c.id}"}}


class ClaimBody(BaseModel):
    """A claim on a delivered line: what is wrong, with photos uploaded through POST /api/v1/files."""

    line_id: str = Field(max_length=40)
    description: str = Field(max_length=5000)
    photo_file_ids: list[str] = Field(default_factory=list, max_length=claims.MAX_PHOTOS)


@orders_router.post("/{order_id}/claims", status_code=201, summary="Open a claim on a delivered line")
def open_claim(order_id: str, body: ClaimBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return claim_doc(claims.open_claim(settings, principal, order_id, body.line_id, body.description,
                                       body.photo_file_ids))


@orders_router.get("/{order_id}/claims", summary="The claims of an order")
def order_claims(order_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [claim_doc(c) for c in claims.order_claims(settings, principal, order_id)]


@claims_router.get("/{claim_id}", summary="A claim (buyer, factory, operators)")
def get_claim(claim_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return claim_doc(claims.get_claim(settings, principal, claim_id))


class AnswerBody(BaseModel):
    """The factory's answer to a claim."""

    text: str = Field(max_length=5000)


@factory_router.post("/claims/{claim_id}/answer", summary="Answer a claim on your line")
def answer_claim(claim_id: str, body: AnswerBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return claim_doc(claims.answer(settings, principal, claim_id, body.text))


class DecisionBody(BaseModel):
    """The operator's decision on a claim."""

    outcome: str = Field(description="remake, partial_refund or rejected")
    refund_cny: float | None = None
    remake_quantity: int | None = Field(default=None, description="a remake: the parts made again (default: the "
                                        "line's quantity)")
    note: str = Field(default="", max_length=2000)


@operator_router.post("/claims/{claim_id}/decision", summary="Decide a claim (operator); enters the scorecard")
def decide_claim(claim_id: str, body: DecisionBody, principal: CurrentPrincipal,
                 settings: SettingsDep) -> dict[str, Any]:
    return claim_doc(claims.decide(settings, principal, claim_id, body.outcome, body.refund_cny, body.note,
                                   body.remake_quantity))

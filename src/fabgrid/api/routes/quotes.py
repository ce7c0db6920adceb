"""Quotes: POST /api/v1/quotes (rate limited), POST /api/v1/quotes/list (a part list: several parts, each with its
quantity), GET /api/v1/quotes[/{id}]."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from fabgrid.api.auth import CurrentPrincipal
from fabgrid.api.deps import get_settings
from fabgrid.api.resources import quote_doc
from fabgrid.config import Settings
from fabgrid.services import part_list, quotes_store

router = APIRouter(prefix="/api/v1/quotes", tags=["quotes"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


class QuoteBody(BaseModel):
    """A quote request for an analysed part."""

    part_id: str = Field(max_length=40)
    material: str = Field(min_length=1, max_length=64, examples=["pla"])
    quantity: int = Field(ge=1, le=100_000)
    process: str | None = Field(default=None, max_length=32, examples=["fdm"])
    finish: str | None = Field(default=None, max_length=64)
    need_by: date | None = None
    destination: str | None = Field(default=None, max_length=80, description="destination city",
                                    examples=["Changsha"])
    certifications: list[str] = Field(default_factory=list, max_length=10,
                                      description="certificates the making site must hold (e.g. ISO 9001); only "
                                                  "such sites offer, and the order line keeps them",
                                      examples=[["ISO 9001"]])


@router.post("", status_code=201, summary="Quote a part over the network (same input, same stored quote)",
             responses={200: {"description": "an equal request's quote, still valid"},
                        409: {"description": "the part is not analysed yet"}, 429: {"description": "rate limit"}})
def create_quote(body: QuoteBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    req = quotes_store.QuoteRequest(part_id=body.part_id, material=body.material.strip(), quantity=body.quantity,
                                    process=body.process, finish=body.finish, need_by=body.need_by,
                                    destination=body.destination,
                                    certifications=tuple(c.strip() for c in body.certifications if c.strip()))
    quote, created = quotes_store.create_quote(settings, principal, req)
    doc = quote_doc(quote)
    return JSONResponse(doc, status_code=201 if created else 200, headers={"Location": doc["links"]["self"]})


class ListItemBody(BaseModel):
    """A part of the list and its quantity."""

    part_id: str = Field(max_length=40)
    quantity: int = Field(ge=1, le=100_000)


class QuoteListBody(BaseModel):
    """A part list: the parts with their quantities, quoted in one material, process, finish and destination."""

    items: list[ListItemBody] = Field(min_length=1, max_length=part_list.MAX_LIST_PARTS)
    material: str = Field(min_length=1, max_length=64, examples=["pla"])
    process: str | None = Field(default=None, max_length=32, examples=["fdm"])
    finish: str | None = Field(default=None, max_length=64)
    need_by: date | None = None
    destination: str | None = Field(default=None, max_length=80, examples=["Changsha"])


@router.post("/list", status_code=201, summary="Quote a part list: one quote per part, each with its quantity",
             responses={422: {"description": "the list is empty, too long or names a part twice"},
                        429: {"description": "rate limit (one quote per part)"}})
def quote_list(body: QuoteListBody, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    """Each part gets its own stored quote (order them together: POST /api/v1/orders with one line per quote); a
    part that cannot be quoted (not analysed, unknown) is in `problems` with its problem, the others are quoted."""
    results = part_list.quote_list(settings, principal, [part_list.ListItem(i.part_id, i.quantity) for i in body.items],
                                   material=body.material.strip(), process=body.process, finish=body.finish,
                                   need_by=body.need_by, destination=body.destination)
    return {"quotes": [quote_doc(r.quote) for r in results if r.quote is not None],
            "problems": [{"part_id": r.part_id, "status": r.problem.status, "title": r.problem.code,
                          "detail": r.problem.message, "hint": r.problem.hint} for r in results if r.problem]}


@router.get("", summary="The organisation's quotes, newest first")
def list_quotes(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [quote_doc(q) for q in quotes_store.list_quotes(settings, principal)]


@router.get("/{quote_id}", summary="A stored quote with its offers and expiry")
def get_quote(quote_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return quote_doc(quotes_store.get_quote(settings, principal, quote_id))

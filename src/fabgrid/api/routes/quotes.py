"""Quotes: POST /api/v1/quotes (rate limited), GET /api/v1/quotes[/{id}]."""

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
from fabgrid.services import quotes_store

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


@router.post("", status_code=201, summary="Quote a part over the network (same input, same stored quote)",
             responses={200: {"description": "an equal request's quote, still valid"},
                        409: {"description": "the part is not analysed yet"}, 429: {"description": "rate limit"}})
def create_quote(body: QuoteBody, principal: CurrentPrincipal, settings: SettingsDep) -> JSONResponse:
    req = quotes_store.QuoteRequest(part_id=body.part_id, material=body.material.strip(), quantity=body.quantity,
                                    process=body.process, finish=body.finish, need_by=body.need_by,
                                    destination=body.destination)
    quote, created = quotes_store.create_quote(settings, principal, req)
    doc = quote_doc(quote)
    return JSONResponse(doc, status_code=201 if created else 200, headers={"Location": doc["links"]["self"]})


@router.get("", summary="The organisation's quotes, newest first")
def list_quotes(principal: CurrentPrincipal, settings: SettingsDep) -> list[dict[str, Any]]:
    return [quote_doc(q) for q in quotes_store.list_quotes(settings, principal)]


@router.get("/{quote_id}", summary="A stored quote with its offers and expiry")
def get_quote(quote_id: str, principal: CurrentPrincipal, settings: SettingsDep) -> dict[str, Any]:
    return quote_doc(quotes_store.get_quote(settings, principal, quote_id))

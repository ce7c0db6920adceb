"""The operator's exhibition pages (issue 19): the list with the form of a new exhibition, and one exhibition to edit:
name, theme and dates, booths of verified factories from the showroom with their featured parts, meeting slots added
(Asia/Shanghai times) and free slots or booths without booked meetings removed.

Calls services (exhibitions, factories) only; never the store or the engines. Included by `web.rfqs`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.errors import InputError
from fabgrid.services import exhibitions, factories
from fabgrid.web.session import PageRoute, checked_form, field, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
OPERATOR = ("operator",)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a date", hint="YYYY-MM-DD", code="exhibition.dates") from None


def _slot(start: str, minutes: str) -> list[tuple[datetime, int]]:
    """The slot of a form (start in Asia/Shanghai, minutes), or none when the start is empty."""
    if not start:
        return []
    try:
        local = datetime.fromisoformat(start)
    except ValueError:
        raise InputError(f"slot start {start!r} is not a date and time", hint="YYYY-MM-DDTHH:MM (Asia/Shanghai)",
                         code="exhibition.slots") from None
    if not minutes.isdigit():
        raise InputError(f"slot minutes {minutes!r} is not a whole number", code="exhibition.slots")
    return [((local if local.tzinfo else local.replace(tzinfo=SHANGHAI)).astimezone(UTC), int(minutes))]


def _featured(text: str) -> list[str]:
    return [x.strip() for x in text.replace("，", ",").split(",") if x.strip()]


@router.get("/operator/exhibitions", response_class=HTMLResponse)
def list_page(request: Request) -> HTMLResponse:
    """The exhibitions with their counts and the form of a new one."""
    who = require(request, *OPERATOR)
    today = datetime.now(SHANGHAI).date()
    return render(request, "operator_exhibitions.html", {
        "views": exhibitions.list_exhibitions(settings_of(request), who), "today": today.isoformat()}, who=who)


@router.post("/operator/exhibitions")
async def create(request: Request) -> Response:
    """Create an exhibition; on to its page."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    e = exhibitions.create(settings_of(request), who, field(form, "name"), field(form, "theme"),
                           _day(field(form, "starts_on"), "starts_on"), _day(field(form, "ends_on"), "ends_on"))
    return RedirectResponse(f"/operator/exhibitions/{e.id}", status_code=303)


@router.get("/operator/exhibitions/{exhibition_id}", response_class=HTMLResponse)
def edit_page(request: Request, exhibition_id: str) -> HTMLResponse:
    """One exhibition to edit: its fields, booths, slots; the verified factories that have no booth yet."""
    who = require(request, *OPERATOR)
    settings = settings_of(request)
    v = exhibitions.get_exhibition(settings, exhibition_id, who)
    taken = {b.site_id for b in v.exhibition.booths}
    showroom = [p for p in factories.search(settings, verified_only=True) if p.site.id not in taken]
    return render(request, "operator_exhibition.html", {"v": v, "e": v.exhibition, "showroom": showroom,
                                                         "slot_start": f"{v.exhibition.starts_on}T10:00"}, who=who)


@router.post("/operator/exhibitions/{exhibition_id}")
async def update(request: Request, exhibition_id: str) -> Response:
    """Save the name, theme and dates."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    exhibitions.update(settings_of(request), who, exhibition_id, field(form, "name"), field(form, "theme"),
                       _day(field(form, "starts_on"), "starts_on"), _day(field(form, "ends_on"), "ends_on"))
    return RedirectResponse(f"/operator/exhibitions/{exhibition_id}#saved", status_code=303)


@router.post("/operator/exhibitions/{exhibition_id}/booths")
async def add_booth(request: Request, exhibition_id: str) -> Response:
    """A booth of a verified factory with its featured parts and, optionally, a first slot."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    exhibitions.add_booth(settings_of(request), who, exhibition_id, field(form, "site_id"),
                          _featured(field(form, "featured")), _slot(field(form, "start"), field(form, "minutes", "30")))
    return RedirectResponse(f"/operator/exhibitions/{exhibition_id}#booths", status_code=303)


@router.post("/operator/exhibitions/{exhibition_id}/booths/{booth_id}")
async def edit_booth(request: Request, exhibition_id: str, booth_id: str) -> Response:
    """Save a booth's featured parts and add a slot."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    exhibitions.edit_booth(settings_of(request), who, exhibition_id, booth_id, _featured(field(form, "featured")),
                           _slot(field(form, "start"), field(form, "minutes", "30")))
    return RedirectResponse(f"/operator/exhibitions/{exhibition_id}#booth-{booth_id}", status_code=303)


@router.post("/operator/exhibitions/{exhibition_id}/booths/{booth_id}/remove")
async def remove_booth(request: Request, exhibition_id: str, booth_id: str) -> Response:
    """Remove a booth without booked meetings."""
    who = require(request, *OPERATOR)
    await checked_form(request)
    exhibitions.remove_booth(settings_of(request), who, exhibition_id, booth_id)
    return RedirectResponse(f"/operator/exhibitions/{exhibition_id}#booths", status_code=303)


@router.post("/operator/exhibitions/{exhibition_id}/slots/{slot_id}/remove")
async def remove_slot(request: Request, exhibition_id: str, slot_id: str) -> Response:
    """Remove a free slot."""
    who = require(request, *OPERATOR)
    await checked_form(request)
    exhibitions.remove_slot(settings_of(request), who, exhibition_id, slot_id)
    return RedirectResponse(f"/operator/exhibitions/{exhibition_id}#booths", status_code=303)

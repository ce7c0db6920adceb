"""The part list page (issue 17, item 5): the parts ticked on the parts page, each with its quantity, quoted at
once in one material, process and finish (services.part_list), shown side by side with each part's cheapest
offer, and put in the cart together (each part its own line).

Calls services.part_list, services.parts and services.network only; never the store directly.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.errors import InputError
from fabgrid.services import network, part_list, part_split, parts
from fabgrid.services.orders import LineRequest
from fabgrid.web import cart
from fabgrid.web.session import PageRoute, checked_form, field, form_problem, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer",)


def _qty(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(f"quantity must be a whole number, not {value!r}", code="form.number") from None


@router.post("/parts/quote-list", response_class=HTMLResponse)
async def quote_list(request: Request) -> HTMLResponse:
    """Quote every ticked part with its quantity; the results with each part's cheapest offer."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    picked = [str(v) for v in form.getlist("pick") if isinstance(v, str) and v]
    if not picked:
        raise InputError("tick at least one part of the list", hint="each ticked part is quoted with its quantity",
                         code="partlist.empty")
    items = [part_list.ListItem(pid, _qty(field(form, f"qty_{pid}", "1"))) for pid in picked]
    need_by = field(form, "need_by")
    settings = settings_of(request)
    results = part_list.quote_list(settings, who, items, material=field(form, "material"),
                                   process=field(form, "process") or None, finish=field(form, "finish") or None,
                                   need_by=date.fromisoformat(need_by) if need_by else None,
                                   destination=field(form, "destination") or None)
    names = {p.id: p.filename for p in parts.list_parts(settings, who, 500)}
    problems = {r.part_id: form_problem(request, r.problem) for r in results if r.problem is not None}
    return render(request, "partlist.html", {"results": results, "names": names, "problems": problems,
                                             "sites": network.site_names(settings)}, who=who)


@router.post("/parts/quote-list/cart")
async def list_to_cart(request: Request) -> Response:
    """Put each quoted part of the list in the cart with its cheapest offer (a quote already there is replaced)."""
    require(request, *BUYER)
    form = await checked_form(request)
    chosen = [str(v).split(":", 1) for v in form.getlist("line") if isinstance(v, str) and ":" in v]
    if not chosen:
        raise InputError("nothing of the list was quoted", code="partlist.empty")
    new = [LineRequest(q, s or None, None) for q, s in chosen]
    keep = [c for c in cart.read(request) if c.quote_id not in {n.quote_id for n in new}]
    resp = RedirectResponse("/cart", status_code=303)
    cart.write(request, resp, keep + new)
    return resp


@router.post("/parts/{part_id}/split")
async def split(request: Request, part_id: str) -> Response:
    """Split a multi-body 3MF into one part per body; back to the part list."""
    who = require(request, *BUYER)
    await checked_form(request)
    part_split.split_part(settings_of(request), who, part_id)
    return RedirectResponse("/parts", status_code=303)

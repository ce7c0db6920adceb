"""The buyer's inspection plan of an order line (issue 20, item 4): the features the factory must measure, one per
line as ``name nominal ± tolerance`` (or ``+upper -lower``, ``<= upper``, ``>= lower``), shown and edited on a page
of its own until the line is inspected. The factory's inspection form starts from the plan (web.factory).

Calls services.inspection_plan and services.orders.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from fabgrid.domain.order import FeatureSpec, Order, OrderLine
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import inspection_plan, orders
from fabgrid.services.accounts import Principal
from fabgrid.web.session import PageRoute, checked_form, field, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
BUYER = ("buyer", "admin")
_NUM = r"[-+]?\d+(?:\.\d+)?"
_SPEC = re.compile(rf"^\s*([\w.\-]+)\s+({_NUM})\s*(?:(?:±|\+/-)\s*({_NUM})|\+\s*({_NUM})\s*-\s*({_NUM})"
                   rf"|(<=|>=)\s*({_NUM}))\s*$")


def parse_plan(text: str) -> list[FeatureSpec]:
    """The plan typed one feature per line: ``bore_d 5.00 ± 0.05``, ``slot_w 8 +0.1 -0"``, ``wall <= 2.5``..."""
    out: list[FeatureSpec] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        m = _SPEC.match(line)
        if m is None:
            raise InputError(f"plan line {n} {line.strip()!r} is not 'name nominal ± tolerance'",
                             hint="e.g. bore_d 5.00 ± 0.05, or slot_w 8.0 +0.1 -0.0", code="order.plan_line")
        name, nominal = m.group(1), float(m.group(2))
        lsl: float | None
        usl: float | None
        if m.group(3) is not None:
            lsl, usl = nominal - float(m.group(3)), nominal + float(m.group(3))
        elif m.group(4) is not None:
            lsl, usl = nominal - float(m.group(5)), nominal + float(m.group(4))
        else:
            lsl, usl = (None, float(m.group(7))) if m.group(6) == "<=" else (float(m.group(7)), None)
        try:
            out.append(FeatureSpec(name=name, nominal_mm=nominal, lsl_mm=lsl, usl_mm=usl))
        except ValidationError as exc:
            raise InputError(f"plan line {n} {line.strip()!r}: {exc.errors()[0]['msg']}",
                             hint="e.g. bore_d 5.00 ± 0.05", code="order.plan_line") from None
    return out


def _line(request: Request, order_id: str, line_id: str) -> tuple[Principal, Order, OrderLine]:
    who = require(request, *BUYER)
    o = orders.get_order(settings_of(request), who, order_id)
    ln = next((x for x in o.lines if x.id == line_id), None)
    if ln is None:
        raise NotFoundError(f"order {order_id} has no line {line_id!r}", code="order.line_not_found")
    return who, o, ln


@router.get("/orders/{order_id}/lines/{line_id}/plan", response_class=HTMLResponse)
def plan_page(request: Request, order_id: str, line_id: str) -> HTMLResponse:
    """A line's inspection plan: the features and, until the line is inspected, the form that changes them."""
    who, o, ln = _line(request, order_id, line_id)
    text = "\n".join(inspection_plan.plan_line(f) for f in ln.feature_plan)
    return render(request, "plan.html", {"order": o, "ln": ln, "text": text,
                                         "locked": ln.status in inspection_plan.LOCKED}, who=who)


@router.post("/orders/{order_id}/lines/{line_id}/plan")
async def save_plan(request: Request, order_id: str, line_id: str) -> Response:
    """Set the line's inspection plan from the form."""
    who = require(request, *BUYER)
    form = await checked_form(request)
    features = parse_plan(field(form, "plan")[:10_000])
    inspection_plan.set_plan(settings_of(request), who, order_id, line_id, features)
    return RedirectResponse(f"/orders/{order_id}/lines/{line_id}/plan?done=1", status_code=303)

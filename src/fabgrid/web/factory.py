"""Factory pages: the site's incoming work with its answer to allocated lines (accept, decline with a reason,
propose a date), production status and inspection entry, the builds and
the planned schedule (Gantt PNG), and the machines' status. A factory sees only its own site's orders.

Calls services.orders and services.web_factory; never the store directly.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from fabgrid.domain import order as domain_order
from fabgrid.domain.acceptance import FACTORY_REASONS
from fabgrid.domain.catalog import local_name
from fabgrid.domain.order import FeatureMeasurement
from fabgrid.errors import InputError
from fabgrid.services import acceptance, inspection_plan, machine_pages, network, orders, web_factory, web_photos
from fabgrid.web import factories, i18n, production, quality, rfqs
from fabgrid.web.session import PageRoute, checked_form, field, language, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
FACTORY = ("factory",)
FACTORY_STATUSES = {s.value for s in domain_order.FACTORY_STATUSES}
#: Lines counted as the site's open work on the page (ready to ship and beyond are done for the factory).
OPEN_HERE = ("allocated", "in_production", "built")
_MEASURE = re.compile(r"^\s*([A-Za-z0-9_.\-]{1,40})\s*[=:]\s*(-?\d+(?:\.\d+)?)\s*$")


def next_status(status: str) -> str | None:
    """The production status a factory may set after `status` (None when it is not the factory's move)."""
    if status not in orders.STATUSES or status == orders.STATUSES[-1]:
        return None
    nxt = orders.STATUSES[orders.STATUSES.index(status) + 1]
    return nxt if nxt in FACTORY_STATUSES else None


@dataclass(frozen=True)
class WorkRow:
    """One line of the site's work list."""

    order: domain_order.Order
    line: domain_order.OrderLine
    lines_here: int
    next_status: str | None


@router.get("/factory", response_class=HTMLResponse)
def factory_page(request: Request) -> Response:
    """The site's work, machines and the link to its schedule (a factory without a site yet: joining)."""
    who = require(request, *FACTORY)
    if not who.site_id:
        return RedirectResponse("/join", status_code=303)
    settings = settings_of(request)
    work = [WorkRow(o, ln, len(o.lines), next_status(ln.status))
            for o in orders.factory_work(settings, who, include_done=True) for ln in o.lines]
    # the site's answer to its allocated lines: pending (accept, decline, propose a date) or accepted
    answers = {la.line_id: la for oid in dict.fromkeys(r.order.id for r in work if r.line.status == "allocated")
               for la in acceptance.acceptance_view(settings, who, oid).lines}
    return render(request, "factory.html", {
        "answers": answers, "reasons": [r.value for r in FACTORY_REASONS],
        "work": work, "open": [r for r in work if r.line.status in OPEN_HERE],
        "plans": {r.line.id: "\n".join(inspection_plan.plan_line(f, with_values=True) for f in r.line.feature_plan)
                  for r in work if r.line.feature_plan},
        "machines": machine_pages.site_machines(settings, who), "site_id": who.site_id,
        "finish_names": {f.id: local_name(f, language(request)) for f in
                         network.network_of(settings).catalog.finishes.values()},
        "flash": i18n.translate(language(request), "flash.saved") if request.query_params.get("done") else None},
        who=who)


@router.get("/factory/schedule", response_class=HTMLResponse)
def schedule_page(request: Request) -> HTMLResponse:
    """The planned schedule of the site's open orders: builds, operations and the Gantt picture."""
    who = require(request, *FACTORY)
    sched = web_factory.site_schedule(settings_of(request), who)
    return render(request, "schedule.html", {"schedule": sched}, who=who)


@router.get("/factory/schedule.png")
def schedule_png(request: Request) -> Response:
    """The Gantt chart of the site's planned schedule (PNG)."""
    who = require(request, *FACTORY)
    sched = web_factory.site_schedule(settings_of(request), who)
    if sched is None:
        raise InputError("your site has no open work to schedule", code="factory.no_work", status=404)
    return Response(sched.png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.post("/factory/orders/{order_id}/status")
async def advance(request: Request, order_id: str) -> Response:
    """Move an order of the site to its next production status."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    orders.factory_status(settings_of(request), who, order_id, field(form, "status"), field(form, "note")[:500],
                          line_id=field(form, "line_id") or None)
    return RedirectResponse("/factory?done=1", status_code=303)


_NUM = r"-?\d+(?:\.\d+)?"
#: `name = v1 v2 ... | nominal ± tol` or `| nominal +upper -lower` (a feature against its tolerance)
_FEATURE = re.compile(rf"^\s*([A-Za-z0-9_.\-]{{1,40}})\s*[=:]\s*((?:{_NUM}[\s,]*)+)\|\s*({_NUM})\s*"
                      rf"(?:(?:±|\+/-|\+-)\s*({_NUM})|\+\s*({_NUM})\s*/?\s*-\s*({_NUM}))\s*$")


def parse_measurements(text: str) -> tuple[dict[str, float], list[FeatureMeasurement]]:
    """Measurements typed one per line: `name = value` (e.g. `length_mm = 40.02`), or a feature against its
    tolerance, `name = value value ... | nominal ± tol` or `| nominal +upper -lower` (e.g.
    `bore_d = 5.01 4.99 5.02 | 5.00 ± 0.05`)."""
    out: dict[str, float] = {}
    features: list[FeatureMeasurement] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        f = _FEATURE.match(line)
        if f is not None:
            name, vals, nominal = f.group(1), [float(v) for v in re.split(r"[\s,]+", f.group(2).strip())], \
                float(f.group(3))
            plus, minus = (f.group(4), f.group(4)) if f.group(4) is not None else (f.group(5), f.group(6))
            try:
                features.append(FeatureMeasurement(name=name, nominal_mm=nominal, lsl_mm=nominal - float(minus),
                                                   usl_mm=nominal + float(plus), values=tuple(vals)))
            except ValidationError as exc:
                raise InputError(f"measurement line {n} {line.strip()!r}: {exc.errors()[0]['msg']}",
                                 hint="e.g. bore_d = 5.01 4.99 5.02 | 5.00 ± 0.05 (at most 25 values)",
                                 code="inspection.measurement") from None
            continue
        m = _MEASURE.match(line)
        if m is None:
            raise InputError(f"measurement line {n} {line.strip()!r} is not 'name = number' nor "
                             "'name = values | nominal ± tolerance'",
                             hint="e.g. length_mm = 40.02, or bore_d = 5.01 4.99 5.02 | 5.00 ± 0.05",
                             code="inspection.measurement")
        out[m.group(1)] = float(m.group(2))
    return out, features


@router.post("/factory/orders/{order_id}/inspection")
async def inspect(request: Request, order_id: str) -> Response:
    """Record the inspection result of a built order (passed -> inspected; failed -> rework)."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    try:
        qty = int(field(form, "inspected_qty", "0"))
    except ValueError:
        raise InputError("inspected quantity must be a whole number", code="inspection.qty") from None
    defects = [d.strip() for d in field(form, "defects").splitlines() if d.strip()]
    measured, features = parse_measurements(field(form, "measurements"))
    orders.factory_inspection(settings_of(request), who, order_id, passed=field(form, "passed") == "yes",
                              inspected_qty=qty, defects=defects,
                              measurements=measured, features=features,
                              note=field(form, "note")[:500], line_id=field(form, "line_id") or None)
    return RedirectResponse("/factory?done=1", status_code=303)


@router.post("/factory/orders/{order_id}/photos")
async def add_photo(request: Request, order_id: str) -> Response:
    """Add a production photo to an order of the site (re-encoded as JPEG; the buyer sees it)."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        raise InputError("choose a photo to upload", code="photo.missing")
    data = await upload.read(web_photos.MAX_PHOTO_BYTES + 1)
    web_photos.add_photo(settings_of(request), who, order_id, data)
    return RedirectResponse("/factory?done=1", status_code=303)


router.include_router(factories.router)
router.include_router(rfqs.router)  # the RFQ pages of both halves (issue 19)
router.include_router(production.router)  # builds, the live Gantt and the machine pages (issue 20)
router.include_router(quality.router)  # the site's measured features and their SPC (issue 20)


@router.post("/factory/orders/{order_id}/accept")
async def accept(request: Request, order_id: str) -> Response:
    """Accept an allocated line of the site."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    acceptance.accept(settings_of(request), who, order_id, field(form, "line_id") or None)
    return RedirectResponse("/factory?done=1", status_code=303)


@router.post("/factory/orders/{order_id}/decline")
async def decline(request: Request, order_id: str) -> Response:
    """Decline an allocated line with a reason: it goes to the next best capable site (or back to the buyer)."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    acceptance.decline(settings_of(request), who, order_id, field(form, "reason"), field(form, "note")[:500],
                       field(form, "line_id") or None)
    return RedirectResponse("/factory?done=1", status_code=303)


@router.post("/factory/orders/{order_id}/propose-date")
async def propose_date(request: Request, order_id: str) -> Response:
    """Propose a new delivery date for a line of the site; the buyer accepts or rejects it."""
    who = require(request, *FACTORY)
    form = await checked_form(request)
    try:
        when = dt.date.fromisoformat(field(form, "date"))
    except ValueError:
        raise InputError(f"date {field(form, 'date')!r} is not a date (YYYY-MM-DD)", code="acceptance.bad_date",
                         status=422) from None
    acceptance.propose_date(settings_of(request), who, order_id, when, field(form, "note")[:500],
                            field(form, "line_id") or None)
    return RedirectResponse("/factory?done=1", status_code=303)

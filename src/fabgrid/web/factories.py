"""Factory onboarding and storefront pages: joining (factory sign-up and the application form), the operator's
approval queue, the storefront where a factory declares machines, materials, rates, calendar and capacity, and
the public showroom of verified factories.

Calls services.factories, services.storefront, services.accounts and services.catalog_read; never the store or the
engines. Included by web.factory's router.
"""

from __future__ import annotations

from datetime import date, datetime, time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from fabgrid.domain.catalog import ProcessFamily, Shift
from fabgrid.domain.factory import (
    CalendarEntry,
    CalendarEntryKind,
    Certificate,
    Contact,
    MachineDeclaration,
    MaterialStock,
)
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import access, accounts, catalog_read, factories, showroom_photos, storefront
from fabgrid.services.accounts import Principal
from fabgrid.web import i18n, mapsvg
from fabgrid.web.session import (
    PageRoute,
    checked_form,
    field,
    form_problem,
    principal,
    render,
    require,
    settings_of,
)

router = APIRouter(include_in_schema=False, route_class=PageRoute)
CERT_ROWS = 3
#: Empty rows the storefront form offers for new machines and new stock lots.
NEW_ROWS = 2


def _number(form: FormData, name: str, what: str, default: float | None = None) -> float | None:
    raw = field(form, name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"{what}: {raw!r} is not a number", code="form.number") from None


# ---------------------------------------------------------------------------- joining


def _join_page(request: Request, who: Principal | None, form: dict[str, str] | None = None,
               error: InputError | None = None) -> HTMLResponse:
    settings = settings_of(request)
    mine = factories.my_applications(settings, who) if who is not None and who.role == "factory" else []
    message, hint = form_problem(request, error) if error else (None, None)
    ctx = {"form": form or {}, "applications": mine, "places": factories.places(settings),
           "cert_rows": range(CERT_ROWS), "site_id": who.site_id if who else None,
           "pending": any(a.status.value == "pending" for a in mine), "error": message, "hint": hint}
    return render(request, "join.html", ctx, status_code=error.status if error else 200, who=who)


@router.get("/join", response_class=HTMLResponse)
def join_page(request: Request) -> HTMLResponse:
    """Sign up as a factory organisation, then apply to join; the applications' status."""
    return _join_page(request, principal(request))


@router.post("/join/signup", response_class=HTMLResponse)
async def join_signup(request: Request) -> Response:
    """Create a factory organisation (no site yet) and sign in."""
    form = await checked_form(request)
    values = {k: field(form, k) for k in ("name", "organisation", "email")}
    url = settings_of(request).database_url
    try:
        accounts.signup(url, email=values["email"], password=str(form.get("password") or ""), name=values["name"],
                        organisation=values["organisation"], role="factory")
        issued = accounts.login(url, values["email"], str(form.get("password") or ""))
    except InputError as exc:
        return _join_page(request, None, values, exc)
    from fabgrid.web import pages  # the one place that sets the session cookie (pages includes this router)

    return pages._signed_in(request, issued.token, "/join")


@router.post("/join", response_class=HTMLResponse)
async def apply(request: Request) -> Response:
    """Send the application."""
    who = require(request, "factory")
    form = await checked_form(request)
    keys = ("legal_name", "credit_code", "address", "city", "province", "contact_name", "contact_phone",
            "contact_email", *(f"cert_{k}_{i}" for i in range(CERT_ROWS) for k in ("name", "number", "expires")))
    values = {k: field(form, k) for k in keys}
    try:
        certs = []
        for i in range(CERT_ROWS):
            name, number, expires = (values[f"cert_{k}_{i}"] for k in ("name", "number", "expires"))
            if not (name or number or expires):
                continue
            if not (name and number and expires):
                raise InputError(f"certificate {i + 1}: give its name, number and expiry date",
                                 code="factory.certificate")
            try:
                certs.append(Certificate(name=name, number=number, expires_on=date.fromisoformat(expires)))
            except ValueError:
                raise InputError(f"certificate {i + 1}: {expires!r} is not a date (YYYY-MM-DD)",
                                 code="factory.certificate") from None
        if not values["contact_name"]:
            raise InputError("give a contact person", code="factory.contact")
        factories.apply(settings_of(request), who, legal_name=values["legal_name"], credit_code=values["credit_code"],
                        address=values["address"], city=values["city"], province=values["province"],
                        contact=Contact(name=values["contact_name"], phone=values["contact_phone"][:40],
                                        email=values["contact_email"][:254]), certificates=certs)
    except InputError as exc:
        return _join_page(request, who, values, exc)
    return RedirectResponse("/join?sent=1", status_code=303)


# ---------------------------------------------------------------------------- the operator's queue


@router.get("/operator/factories", response_class=HTMLResponse)
def queue_page(request: Request) -> HTMLResponse:
    """Applications waiting for a decision, the decided ones, and the factories on probation."""
    who = require(request, "operator")
    settings = settings_of(request)
    every = factories.applications(settings, who, None)
    return render(request, "operator_factories.html", {
        "pending": [a for a in every if a.status.value == "pending"],
        "decided": [a for a in reversed(every) if a.status.value != "pending"][:50],
        "probation": factories.probation(settings, who)}, who=who)


@router.post("/operator/factories/{app_id}/approve")
async def approve(request: Request, app_id: str) -> Response:
    """Approve an application: the factory's site joins the network on probation."""
    who = require(request, "operator")
    form = await checked_form(request)
    factories.approve(settings_of(request), who, app_id, field(form, "reason")[:500])
    return RedirectResponse("/operator/factories?done=1", status_code=303)


@router.post("/operator/factories/{app_id}/reject")
async def reject(request: Request, app_id: str) -> Response:
    """Reject an application with a reason."""
    who = require(request, "operator")
    form = await checked_form(request)
    factories.reject(settings_of(request), who, app_id, field(form, "reason")[:500])
    return RedirectResponse("/operator/factories?done=1", status_code=303)


@router.post("/operator/factories/site/{site_id}/verify")
async def verify(request: Request, site_id: str) -> Response:
    """End a factory's probation."""
    who = require(request, "operator")
    form = await checked_form(request)
    factories.verify(settings_of(request), who, site_id, field(form, "reason")[:500])
    return RedirectResponse("/operator/factories?done=1", status_code=303)


# ---------------------------------------------------------------------------- the storefront


def _storefront_page(request: Request, who: Principal, error: InputError | None = None) -> HTMLResponse:
    settings = settings_of(request)
    view = storefront.storefront(settings, who)
    models = catalog_read.machine_models(settings)
    procs = {m.process for m in view.machine_models.values()}
    message, hint = form_problem(request, error) if error else (None, None)
    return render(request, "storefront.html", {
        "view": view, "site": view.site, "front": view.storefront, "catalog_models": models,
        "materials": [m for m in catalog_read.materials(settings) if m.process in procs],
        "new_rows": range(NEW_ROWS), "weekdays": range(7),
        "shifts_text": "\n".join(f"{s.name} {s.start:%H:%M}-{s.end:%H:%M}" for s in view.site.calendar.shifts),
        "entries_text": "\n".join(" ".join(x for x in (e.kind.value, e.start.isoformat(), e.end.isoformat(),
                                                       e.machine_id or "", e.note) if x)
                                  for e in view.storefront.entries),
        "error": message, "hint": hint, "saved": bool(request.query_params.get("saved")),
        "photos": showroom_photos.photos(settings, view.site.id)}, status_code=error.status if error else 200, who=who)


@router.get("/factory/storefront", response_class=HTMLResponse)
def storefront_page(request: Request) -> Response:
    """The factory's storefront: what it has, stocks, charges, when it works and whether it takes work."""
    who = require(request, "factory")
    if not who.site_id:
        return RedirectResponse("/join", status_code=303)
    return _storefront_page(request, who)


def _machines(form: FormData) -> list[MachineDeclaration]:
    out = []
    for i in range(int(_number(form, "machine_rows", "rows", 0) or 0)):
        if field(form, f"machine_remove_{i}") or not field(form, f"machine_model_{i}"):
            continue
        out.append(MachineDeclaration(id=field(form, f"machine_id_{i}") or None,
                                      model=field(form, f"machine_model_{i}"),
                                      name=field(form, f"machine_name_{i}")[:120] or None))
    return out


def _stock(form: FormData) -> list[MaterialStock]:
    out = []
    for i in range(int(_number(form, "stock_rows", "rows", 0) or 0)):
        mat = field(form, f"stock_material_{i}")
        if not mat or field(form, f"stock_remove_{i}"):
            continue
        kg = _number(form, f"stock_kg_{i}", f"stock of {mat} (kg)", 0.0) or 0.0
        if not 0 <= kg <= 1_000_000:
            raise InputError(f"stock of {mat}: {kg} kg is outside 0 .. 1000000", code="storefront.stock")
        out.append(MaterialStock(material=mat, stock_kg=kg, lot=field(form, f"stock_lot_{i}")[:80] or None))
    return out


def _clock(text: str, line: int) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InputError(f"shift line {line}: {text!r} is not a time (HH:MM)", code="storefront.calendar") from None


def _shifts(text: str) -> list[Shift]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or "-" not in parts[1]:
            raise InputError(f"shift line {n} {line.strip()!r} is not 'name HH:MM-HH:MM'",
                             hint="e.g. day 08:30-17:30", code="storefront.calendar")
        start, end = parts[1].split("-", 1)
        out.append(Shift(name=parts[0], start=_clock(start, n), end=_clock(end, n)))
    return out


def _entries(text: str) -> list[CalendarEntry]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=4)
        try:
            kind = CalendarEntryKind(parts[0])
            start, end = date.fromisoformat(parts[1]), date.fromisoformat(parts[2])
        except (ValueError, IndexError):
            raise InputError(f"calendar line {n} {line.strip()!r} is not 'holiday|maintenance YYYY-MM-DD YYYY-MM-DD "
                             "[machine id] [note]'", hint="e.g. maintenance 2027-01-06 2027-01-07 m01 belts",
                             code="storefront.calendar") from None
        if end < start:
            raise InputError(f"calendar line {n}: the end {end} is before the start {start}",
                             code="storefront.calendar")
        machine = parts[3] if len(parts) > 3 and not parts[3].startswith("#") else None
        note = parts[4] if len(parts) > 4 else ""
        out.append(CalendarEntry(kind=kind, start=start, end=end, machine_id=machine, note=note[:200]))
    return out


@router.post("/factory/storefront/{part}", response_class=HTMLResponse)
async def save_storefront(request: Request, part: str) -> Response:
    """Save one part of the storefront (machines, materials, rates, calendar, regions, capacity)."""
    who = require(request, "factory")
    form = await checked_form(request)
    settings = settings_of(request)
    try:
        if part == "machines":
            storefront.put_machines(settings, who, _machines(form))
        elif part == "materials":
            storefront.put_materials(settings, who, _stock(form))
        elif part == "rates":
            view = storefront.storefront(settings, who)
            rates = {}
            for model in view.machine_models:
                r = _number(form, f"rate_{model}", f"machine-hour rate of {model}")
                if r is not None:
                    rates[model] = r
            markup_pct = _number(form, "markup_pct", "material markup (%)", 0.0) or 0.0
            storefront.put_rates(settings, who, rates, markup_pct / 100.0,
                                 _number(form, "minimum_order_cny", "minimum order (CNY)", 0.0) or 0.0,
                                 dict(view.storefront.finishes_cny))
        elif part == "calendar":
            days = [d for d in range(7) if field(form, f"workday_{d}")]
            storefront.put_calendar(settings, who, _shifts(field(form, "shifts")), days,
                                    _entries(field(form, "entries")))
        elif part == "regions":
            storefront.put_regions(settings, who, [x for x in field(form, "provinces").replace("，", ",").replace(
                "\n", ",").split(",") if x.strip()])
        elif part == "capacity":
            storefront.put_capacity(settings, who, bool(field(form, "at_capacity")),
                                    _number(form, "max_queue_h", "maximum queue (h)"))
        else:
            raise NotFoundError(f"the storefront has no part {part!r}")
    except InputError as exc:
        if isinstance(exc, NotFoundError):
            raise
        return _storefront_page(request, who, exc)
    return RedirectResponse(f"/factory/storefront?saved=1#{part}", status_code=303)


# ---------------------------------------------------------------------------- the showroom


@router.get("/showroom", response_class=HTMLResponse)
def showroom(request: Request) -> HTMLResponse:
    """The verified factories of the network, searchable by process, material, certificate and city."""
    settings = settings_of(request)
    q = {k: request.query_params.get(k, "").strip()[:80]
         for k in ("process", "material", "certificate", "city", "ships_to")}
    try:
        proc = ProcessFamily(q["process"]) if q["process"] else None
    except ValueError:
        raise InputError(f"unknown process {q['process']!r}", code="showroom.process") from None
    found = factories.search(settings, process=proc, material=q["material"] or None,
                             certificate=q["certificate"] or None, city=q["city"] or None,
                             ships_to=q["ships_to"] or None, verified_only=True)
    view = catalog_read.network_view(settings)
    return render(request, "showroom.html", {
        "q": q, "found": found, "processes": view.processes, "materials": view.materials,
        "cities": sorted({s.city for s in view.sites}),
        "provinces": sorted(storefront.destination_provinces(settings))}, who=principal(request))


@router.get("/showroom/{site_id}", response_class=HTMLResponse)
def booth(request: Request, site_id: str) -> HTMLResponse:
    """One factory's booth: capabilities, machines, materials, certificates, location and scorecard. A factory
    on probation is shown only to itself and to the operator."""
    who = principal(request)
    settings = settings_of(request)
    p = factories.profile(settings, site_id)
    if not p.verified and not (who is not None and (who.site_id == site_id or access.allows(who, ("operator",)))):
        raise NotFoundError(f"factory {site_id!r} has no public booth yet", hint="/showroom lists the verified ones")
    models = {m.id: m for m in catalog_read.machine_models(settings)}
    proj = mapsvg.projection()
    x, y = proj.xy(p.site.lon, p.site.lat)
    today = datetime.now(i18n.SHANGHAI).date()
    return render(request, "booth.html", {
        "photos": showroom_photos.photos(settings, site_id),
        "p": p, "site": p.site, "models": models, "outline": mapsvg.outline_paths(), "map_w": mapsvg.WIDTH,
        "map_h": proj.height, "x": x, "y": y, "today": today,
        "names": p.storefront.machine_names,
        "materials": {m.id: m for m in catalog_read.materials(settings)}}, who=who)


@router.get("/showroom/{site_id}/photos/{name}")
def booth_photo(request: Request, site_id: str, name: str) -> Response:
    """One photo of a booth (JPEG), to whoever may see the booth."""
    who = principal(request)
    settings = settings_of(request)
    p = factories.profile(settings, site_id)
    if not p.verified and not (who is not None and (who.site_id == site_id or access.allows(who, ("operator",)))):
        raise NotFoundError(f"factory {site_id!r} has no public booth yet", hint="/showroom lists the verified ones")
    return Response(showroom_photos.photo_bytes(settings, site_id, name), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=300"})


@router.post("/factory/showroom/photos", response_class=HTMLResponse)
async def add_booth_photo(request: Request) -> Response:
    """Add a photo to the factory's booth from its storefront page."""
    who = require(request, "factory")
    form = await checked_form(request)
    upload = form.get("photo")
    if not isinstance(upload, UploadFile):
        raise InputError("choose a photo to upload", code="photo.missing")
    try:
        showroom_photos.add_photo(settings_of(request), who, await upload.read(showroom_photos.MAX_PHOTO_BYTES + 1))
    except InputError as exc:
        return _storefront_page(request, who, exc)
    return RedirectResponse("/factory/storefront?saved=1#photos", status_code=303)


@router.post("/factory/showroom/photos/{name}/delete", response_class=HTMLResponse)
async def remove_booth_photo(request: Request, name: str) -> Response:
    """Remove a photo of the factory's booth from its storefront page (404 page for a photo it does not have)."""
    who = require(request, "factory")
    await checked_form(request)
    showroom_photos.remove_photo(settings_of(request), who, name)
    return RedirectResponse("/factory/storefront?saved=1#photos", status_code=303)

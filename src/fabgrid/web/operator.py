"""Park operator pages: the network map with each site's load and the disruptions in force, disruptions (kind,
target, start and end; a preview of the moves per affected line before committing; cancel), the network summary
and the KPI report of a chosen window. And the buyer's side of a disruption: the notice of an order whose lines it
moved, where the buyer accepts a later date or cancels the line.

Calls services.disruptions, services.orders and services.web_operator; the map comes from web.mapsvg.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from fabgrid.domain.catalog import Site, local_name
from fabgrid.errors import InputError
from fabgrid.services import acceptance, catalog_read, disruptions, orders, web_operator
from fabgrid.services._util import now
from fabgrid.services.accounts import Principal
from fabgrid.web import i18n, jobs_admin, mapsvg, value_report_pages
from fabgrid.web.session import PageRoute, checked_form, field, language, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
router.include_router(value_report_pages.router)
router.include_router(jobs_admin.router)
OPERATOR = ("operator",)
#: Load (queued workdays) drawn as fully loaded on the map.
FULL_LOAD_DAYS = 10.0
#: Times typed in the form are Shanghai time.
LOCAL = ZoneInfo("Asia/Shanghai")


def _presets(sites: Sequence[Site]) -> dict[str, str]:
    """Zoom links: the whole of China, the province and the park of the most sites (Hunan, Changsha here)."""
    def centre(group: list[Site]) -> str:
        return f"{sum(s.lon for s in group) / len(group):.4f},{sum(s.lat for s in group) / len(group):.4f}"

    out = {"china": "/operator?z=0#load-map"}
    provinces = Counter(s.province for s in sites)
    if provinces:
        prov = provinces.most_common(1)[0][0]
        out["province"] = f"/operator?z=1&c={centre([s for s in sites if s.province == prov])}#load-map"
        cities = Counter(s.city for s in sites if s.province == prov)
        city = cities.most_common(1)[0][0]
        out["park"] = f"/operator?z=2&c={centre([s for s in sites if s.city == city])}#load-map"
    return out


def _view(request: Request, sites: Sequence[Site]) -> mapsvg.View:
    """The map's view from ?z=0|1|2&c=lon,lat (a bad value shows the whole map)."""
    try:
        level = int(request.query_params.get("z", "0"))
        lon_s, lat_s = (request.query_params.get("c") or "").split(",")
        lon, lat = float(lon_s), float(lat_s)
    except ValueError:
        return mapsvg.CHINA
    if level not in mapsvg.LEVELS or not (mapsvg.LON_MIN <= lon <= mapsvg.LON_MAX
                                          and mapsvg.LAT_MIN <= lat <= mapsvg.LAT_MAX):
        return mapsvg.CHINA
    return mapsvg.view(level, (lon, lat))


def _context(request: Request, who: Principal, preview: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = settings_of(request)
    at = now()
    lang = language(request)
    loads = web_operator.site_loads(settings, who, at)
    sites = catalog_read.network_view(settings).sites
    v = _view(request, sites)
    proj = mapsvg.projection(v)
    by_id = {s.id: s for s in sites}
    raw = [(s.id, *proj.xy(s.lon, s.lat), s.lon, s.lat) for s in sites]
    marks = []
    for c in mapsvg.clusters(raw, v.level):
        members = [by_id[i] for i in c.site_ids]
        ls = [loads[i] for i in c.site_ids]
        level = max(min(4, int(min(1.0, ln.load_days / FULL_LOAD_DAYS) * 5)) for ln in ls)
        cities = {m.city for m in members}
        one = members[0] if len(members) == 1 else None
        marks.append({
            "cluster": c, "site": one, "load": ls[0] if one else None, "n": len(members), "level": level,
            "closed": any(ln.closed for ln in ls), "disrupted": any(ln.disruptions for ln in ls),
            "r": (3 + len(one.machines) ** 0.5) if one else 6 + 2.5 * len(members) ** 0.5,
            "label": (local_name(one, lang) if one and v.level >= mapsvg.LABEL_LEVEL else
                      (next(iter(cities)) if len(cities) == 1 and v.level >= 1 else "")),
            "href": (f"#load-{one.id}" if one else
                     f"/operator?z={min(2, v.level + 1)}&c={c.lon:.4f},{c.lat:.4f}#load-map"),
            "open_lines": sum(ln.open_lines for ln in ls)})
    spots = mapsvg.place_labels([(m["cluster"].x, m["cluster"].y, m["r"], m["label"]) for m in marks])
    for m, spot in zip(marks, spots, strict=True):
        m["spot"] = spot if m["label"] else None
    routes = []
    for cr in web_operator.cut_routes(settings, who, at):
        (x1, y1), (x2, y2) = proj.xy(cr.from_lon, cr.from_lat), proj.xy(cr.to_lon, cr.to_lat)
        routes.append({"route": cr, "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    presets = _presets(sites)
    lon, lat = v.center
    nav = {"level": v.level, "presets": presets,
           "pan": {d: f"/operator?z={v.level}&c={(pv := mapsvg.panned(v, dx, dy)).center[0]:.4f},"
                      f"{pv.center[1]:.4f}#load-map"
                   for d, dx, dy in (("w", -1, 0), ("e", 1, 0), ("n", 0, 1), ("s", 0, -1))} if v.level else {},
           "out": f"/operator?z={v.level - 1}&c={lon:.4f},{lat:.4f}#load-map" if v.level else None}
    points = marks
    names = {s.id: s.name for s in sites}
    by_load = sorted(sites, key=lambda s: (-loads[s.id].load_days, -loads[s.id].open_lines, s.id))
    declared = request.query_params.get("declared")
    window = request.query_params.get("window")
    kpi_site = request.query_params.get("site") or None
    report = None
    if window:
        report = web_operator.kpi_report(settings, who, "site" if kpi_site else "network", kpi_site, window)
    targets = sorted({s.id for s in sites} | {m.id for s in sites for m in s.machines}
                     | {s.province for s in sites})
    return {
        "points": points, "outline": mapsvg.outline_paths(v), "outline_source": mapsvg.outline_source(),
        "routes": routes, "nav": nav,
        "map_w": mapsvg.WIDTH, "map_h": proj.height, "sites": by_load, "names": names, "loads": loads,
        "full_load_days": FULL_LOAD_DAYS,
        "network_disruptions": [(d, d.state(at).value) for d in disruptions.list_disruptions(settings, who)],
        "kinds": disruptions.KINDS, "targets": targets, "preview": preview,
        "kpis": web_operator.network_kpis(settings, who), "statuses": orders.STATUSES,
        "report": report, "windows": tuple(web_operator.WINDOWS), "window": window, "kpi_site": kpi_site,
        "flash": i18n.translate(lang, "operator.declared", id=declared) if declared else None}


@router.get("/operator", response_class=HTMLResponse)
def operator_page(request: Request) -> HTMLResponse:
    """The map with the load of each site, the disruption form and list, the KPIs (and a window's report)."""
    who = require(request, *OPERATOR)
    return render(request, "operator.html", _context(request, who), who=who)


def _when(form: FormData, name: str, required: bool) -> datetime | None:
    value = field(form, name)
    if not value:
        if required:
            raise InputError(f"{name} is missing", hint="give the date and time (Shanghai time)",
                             code=f"disruption.{name}")
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date and time", hint="e.g. 2026-12-04T08:00",
                         code=f"disruption.{name}") from None
    return t.replace(tzinfo=LOCAL) if t.tzinfo is None else t


def _disruption_form(form: FormData) -> dict[str, Any]:
    return {"kind": field(form, "kind"), "target": field(form, "target"), "start": _when(form, "start", True),
            "end": _when(form, "end", False), "note": field(form, "note")}


@router.post("/operator/disruptions/preview", response_class=HTMLResponse)
async def preview(request: Request) -> HTMLResponse:
    """What-if: the page with the moves the disruption would make; nothing changes until it is committed."""
    who = require(request, *OPERATOR)
    f = _disruption_form(await checked_form(request))
    plan = disruptions.preview(settings_of(request), who, f["kind"], f["target"], f["start"], f["end"])
    shown = {"kind": plan.kind.value, "target": plan.target, "moves": plan.moves, "note": f["note"],
             "start": plan.start.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M"),
             "end": plan.end.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M") if plan.end else ""}
    return render(request, "operator.html", _context(request, who, shown), who=who)


@router.post("/operator/disruptions")
async def declare(request: Request) -> Response:
    """Declare a disruption over a window and apply its moves (those its preview showed)."""
    who = require(request, *OPERATOR)
    f = _disruption_form(await checked_form(request))
    done = disruptions.declare(settings_of(request), who, f["kind"], f["target"], f["start"], f["end"], f["note"])
    assert done.disruption is not None
    return RedirectResponse(f"/operator?declared={done.disruption.id}", status_code=303)


@router.post("/operator/disruptions/{disruption_id}/cancel")
async def cancel(request: Request, disruption_id: str) -> Response:
    """Cancel a disruption that has not ended (before its start its lines go back as they were)."""
    who = require(request, *OPERATOR)
    await checked_form(request)
    disruptions.cancel(settings_of(request), who, disruption_id)
    return RedirectResponse("/operator", status_code=303)


BUYER = ("buyer", "admin")


@router.get("/orders/{order_id}/disruption", response_class=HTMLResponse)
def disruption_notice(request: Request, order_id: str) -> HTMLResponse:
    """The buyer's notice of what disruptions did to an order: the timeline's disruption events and the later dates
    waiting for the buyer's answer (accept the new date, or cancel the line)."""
    who = require(request, *BUYER)
    settings = settings_of(request)
    o = orders.get_order(settings, who, order_id)
    view = acceptance.acceptance_view(settings, who, order_id)
    # the later dates a disruption gave, and those a factory proposed (after a decline no site could take at the
    # ordered date, or of its own): the buyer accepts the new date or cancels the line (issue 18)
    pending = [p for p in view.proposals if p.status.value == "pending"]
    events = [e for e in o.events if e.note.startswith("disruption ") or " proposes delivery on " in e.note
              or "the buyer is asked to accept a new date" in e.note]
    lines = {ln.id: ln for ln in o.lines}
    return render(request, "disruption_notice.html", {"order": o, "pending": pending, "events": events,
                                                      "lines": lines}, who=who)


@router.post("/orders/{order_id}/disruption/{proposal_id}/accept")
async def accept_new_date(request: Request, order_id: str, proposal_id: str) -> Response:
    """The buyer accepts the later date a disruption gave a line."""
    who = require(request, *BUYER)
    await checked_form(request)
    acceptance.decide_proposal(settings_of(request), who, order_id, proposal_id, True)
    return RedirectResponse(f"/orders/{order_id}/disruption", status_code=303)


@router.post("/orders/{order_id}/disruption/{proposal_id}/keep")
async def keep_date(request: Request, order_id: str, proposal_id: str) -> Response:
    """The buyer keeps the date they have, rejecting the one the line's factory proposed."""
    who = require(request, *BUYER)
    await checked_form(request)
    acceptance.decide_proposal(settings_of(request), who, order_id, proposal_id, False)
    return RedirectResponse(f"/orders/{order_id}/disruption", status_code=303)


@router.post("/orders/{order_id}/disruption/lines/{line_id}/cancel")
async def cancel_moved_line(request: Request, order_id: str, line_id: str) -> Response:
    """The buyer cancels a line rather than accept the later date a disruption gave it."""
    who = require(request, *BUYER)
    await checked_form(request)
    disruptions.cancel_line(settings_of(request), who, order_id, line_id)
    return RedirectResponse(f"/orders/{order_id}/disruption", status_code=303)


@router.post("/operator/disruptions/{disruption_id}/edit")
async def edit(request: Request, disruption_id: str) -> Response:
    """Change a disruption's end (empty: open-ended), and its start while it has not started."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    start, end = _when(form, "start", False), _when(form, "end", False)
    disruptions.edit(settings_of(request), who, disruption_id, start=start, end=end, open_ended=end is None)
    return RedirectResponse("/operator", status_code=303)

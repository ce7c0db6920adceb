"""Park operator pages: the network map with each site's load, disruptions (declare one, see the reroutes)
and the network KPIs.

Calls services.orders and services.web_operator; the map comes from web.mapsvg.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fabgrid.config import Settings
from fabgrid.errors import InputError, NotFoundError
from fabgrid.services import catalog_read, jobs, orders, web_operator
from fabgrid.services.accounts import Principal
from fabgrid.web import i18n, mapsvg
from fabgrid.web.session import PageRoute, checked_form, field, language, render, require, settings_of

router = APIRouter(include_in_schema=False, route_class=PageRoute)
OPERATOR = ("operator",)
#: Load (queued workdays) drawn as fully loaded on the map.
FULL_LOAD_DAYS = 10.0


@router.get("/operator", response_class=HTMLResponse)
def operator_page(request: Request) -> HTMLResponse:
    """The map with the load of each site, the disruption form and list, and the KPIs."""
    who = require(request, *OPERATOR)
    settings = settings_of(request)
    loads = web_operator.site_loads(settings, who)
    sites = catalog_read.network_view(settings).sites
    proj = mapsvg.projection()
    points = []
    for s in sites:
        x, y = proj.xy(s.lon, s.lat)
        load = loads[s.id]
        share = min(1.0, load["load_days"] / FULL_LOAD_DAYS)
        points.append({"site": s, "x": x, "y": y, "r": 3 + len(s.machines) ** 0.5, "load": load,
                       "level": min(4, int(share * 5)), "closed": load["closed_until"] is not None})
    disruptions = []
    for info in orders.list_disruptions(settings, who):
        d = dataclasses.asdict(info)
        d["job_status"], d["job_problem"] = _job_state(settings, who, d)
        disruptions.append(d)
    names = {s.id: s.name for s in sites}
    by_load = sorted(sites, key=lambda s: (-loads[s.id]["load_days"], -loads[s.id]["open_orders"], s.id))
    lang = language(request)
    declared = request.query_params.get("declared")
    return render(request, "operator.html", {
        "points": points, "outline": mapsvg.outline_paths(), "outline_source": mapsvg.outline_source(),
        "map_w": mapsvg.WIDTH, "map_h": proj.height, "sites": by_load, "names": names, "loads": loads,
        "full_load_days": FULL_LOAD_DAYS, "disruptions": disruptions,
        "kpis": web_operator.network_kpis(settings, who), "statuses": orders.STATUSES,
        "flash": i18n.translate(lang, "operator.declared", id=declared) if declared else None,
        "refresh": any(d["job_status"] in ("queued", "running") for d in disruptions)}, who=who)


def _job_state(settings: Settings, who: Principal, d: dict[str, Any]) -> tuple[str, str | None]:
    """The reroute job's status and problem text ('done' once the report is there)."""
    if d["report"] is not None:
        return "done", None
    if not d.get("job_id"):
        return "queued", None
    try:
        job = jobs.get_job(settings, who, d["job_id"])
    except NotFoundError:  # declared by another operator organisation: its job is not ours to read
        return "running", None
    problem = job.get("problem") or {}
    return str(job["status"]), (problem.get("detail") or problem.get("title")) if problem else None


@router.post("/operator/disruptions")
async def declare(request: Request) -> Response:
    """Declare a site closed for some days; its open orders are rerouted in the background."""
    who = require(request, *OPERATOR)
    form = await checked_form(request)
    try:
        days = int(field(form, "days", "0"))
    except ValueError:
        raise InputError("days must be a whole number", code="disruption.days") from None
    info = orders.declare_disruption(settings_of(request), who, field(form, "site_id"), days)
    return RedirectResponse(f"/operator?declared={info.id}", status_code=303)

"""Server-rendered pages (Jinja2). The home page shows the network on a map and the catalog."""

from __future__ import annotations

from collections import Counter
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from fabgrid.api.deps import get_uow
from fabgrid.store.uow import UnitOfWork
from fabgrid.web import mapsvg

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(resources.files("fabgrid.web") / "templates"))


@router.get("/", response_class=HTMLResponse)
def home(request: Request, uow: Annotated[UnitOfWork, Depends(get_uow)]) -> HTMLResponse:
    models = {m.id: m for m in uow.catalog.machine_models()}
    sites = uow.catalog.sites()
    proj = mapsvg.projection()
    points = []
    for s in sites:
        x, y = proj.xy(s.lon, s.lat)
        processes = sorted({models[m.model].process.value for m in s.machines})
        points.append({"site": s, "x": x, "y": y, "processes": processes, "machines": len(s.machines),
                       "hunan": s.province == "Hunan"})
    machine_counts = Counter(m.model for s in sites for m in s.machines)
    context = {
        "sites": sites,
        "points": points,
        "outline": mapsvg.outline_paths(),
        "outline_source": mapsvg.outline_source(),
        "map_w": mapsvg.WIDTH,
        "map_h": proj.height,
        "processes": uow.catalog.processes(),
        "materials": uow.catalog.materials(),
        "machine_models": list(models.values()),
        "machine_counts": machine_counts,
        "provinces": sorted({s.province for s in sites}),
        "n_machines": sum(len(s.machines) for s in sites),
    }
    return templates.TemplateResponse(request, "home.html", context)

"""Read-only catalog and network resources: /api/v1/sites, machine-models, materials, processes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from fabgrid.api.deps import get_uow
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.errors import NotFoundError
from fabgrid.store.uow import UnitOfWork

router = APIRouter(prefix="/api/v1", tags=["catalog"])
Uow = Annotated[UnitOfWork, Depends(get_uow)]


@router.get("/sites", summary="Factories of the network")
def list_sites(uow: Uow, province: Annotated[str | None, Query(description="e.g. Hunan")] = None,
               process: Annotated[ProcessFamily | None, Query()] = None) -> dict[str, Any]:
    models = {m.id: m for m in uow.catalog.machine_models()}
    sites = uow.catalog.sites(province)
    out = []
    for s in sites:
        d = s.model_dump(mode="json")
        d["machines"] = [{"id": m.id, "model": m.model, "process": models[m.model].process.value}
                         for m in s.machines]
        if process and not any(m["process"] == process.value for m in d["machines"]):
            continue
        out.append(d)
    return {"sites": out, "count": len(out)}


@router.get("/sites/{site_id}", summary="One factory")
def get_site(site_id: str, uow: Uow) -> dict[str, Any]:
    site = uow.catalog.site(site_id)
    if site is None:
        raise NotFoundError(f"site {site_id!r} does not exist", hint="GET /api/v1/sites lists the sites")
    return site.model_dump(mode="json")


@router.get("/machine-models", summary="Machine models with their specifications")
def list_machine_models(uow: Uow, process: ProcessFamily | None = None) -> dict[str, Any]:
    rows = uow.catalog.machine_models(process.value if process else None)
    return {"machine_models": [m.model_dump(mode="json") for m in rows], "count": len(rows)}


@router.get("/materials", summary="Materials with price, density and properties")
def list_materials(uow: Uow, process: ProcessFamily | None = None) -> dict[str, Any]:
    rows = uow.catalog.materials(process.value if process else None)
    return {"materials": [m.model_dump(mode="json") for m in rows], "count": len(rows)}


@router.get("/processes", summary="Processes with their design rules")
def list_processes(uow: Uow) -> dict[str, Any]:
    rows = uow.catalog.processes()
    return {"processes": [p.model_dump(mode="json") for p in rows], "count": len(rows)}

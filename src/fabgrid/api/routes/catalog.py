"""Read-only catalog and network resources: /api/v1/sites, machine-models, materials, processes.

Calls services.catalog_read and turns its records into JSON; never the store or the engines.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from fabgrid.api.deps import get_settings
from fabgrid.api.resources import site_profile_doc
from fabgrid.config import Settings
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.services import catalog_read, factories

router = APIRouter(prefix="/api/v1", tags=["catalog"])
SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.get("/sites", summary="Factories of the network, filtered by place, process, material, certificate")
def list_sites(settings: SettingsDep, province: Annotated[str | None, Query(description="e.g. Hunan")] = None,
               process: Annotated[ProcessFamily | None, Query()] = None,
               material: Annotated[str | None, Query(description="a material id, e.g. fdm_pla")] = None,
               certificate: Annotated[str | None, Query(description="e.g. ISO 9001 (unexpired)")] = None,
               city: Annotated[str | None, Query(description="e.g. Changsha")] = None,
               verified: Annotated[bool | None, Query(description="only verified factories")] = None,
               ships_to: Annotated[str | None, Query(max_length=40, description="a province the factory ships "
                                                     "to, e.g. Hubei (factories that ship everywhere too)")] = None,
               ) -> dict[str, Any]:
    found = factories.search(settings, process=process, material=material, certificate=certificate, city=city,
                             province=province, ships_to=ships_to, verified_only=bool(verified))
    procs = catalog_read.machine_processes(settings)
    out = [site_profile_doc(p, procs) for p in found]
    return {"sites": out, "count": len(out)}


@router.get("/sites/{site_id}", summary="One factory, with its standing and scorecard")
def get_site(site_id: str, settings: SettingsDep) -> dict[str, Any]:
    return site_profile_doc(factories.profile(settings, site_id))


@router.get("/machine-models", summary="Machine models with their specifications")
def list_machine_models(settings: SettingsDep, process: ProcessFamily | None = None) -> dict[str, Any]:
    rows = catalog_read.machine_models(settings, process)
    return {"machine_models": [m.model_dump(mode="json") for m in rows], "count": len(rows)}


@router.get("/materials", summary="Materials with price, density and properties")
def list_materials(settings: SettingsDep, process: ProcessFamily | None = None) -> dict[str, Any]:
    rows = catalog_read.materials(settings, process)
    return {"materials": [m.model_dump(mode="json") for m in rows], "count": len(rows)}


@router.get("/processes", summary="Processes with their design rules")
def list_processes(settings: SettingsDep) -> dict[str, Any]:
    rows = catalog_read.processes(settings)
    return {"processes": [p.model_dump(mode="json") for p in rows], "count": len(rows)}

"""Reads of the network and catalog held in the database, for the API's catalog resources and the pages' maps:
sites (with the process of each machine), one site, machine models, materials, processes.

One unit of work per read, typed records out (the API turns them into JSON). Depends on the store's catalog
repository (`uow.catalog`) and the domain; never on api, web, cli or the engines.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabgrid.config import Settings
from fabgrid.domain.catalog import MachineModel, Material, Process, ProcessFamily, Site
from fabgrid.errors import NotFoundError
from fabgrid.store.uow import UnitOfWork


@dataclass(frozen=True)
class NetworkView:
    """The sites with the catalog they need to be shown: machine models by id, processes, materials."""

    sites: list[Site]
    machine_models: dict[str, MachineModel]
    processes: list[Process]
    materials: list[Material]

    def machine_process(self, model_id: str) -> ProcessFamily:
        """The process family of a machine model of the network."""
        return self.machine_models[model_id].process

    def site_processes(self, site: Site) -> set[ProcessFamily]:
        """The process families a site runs."""
        return {self.machine_process(m.model) for m in site.machines}


def network_view(settings: Settings, province: str | None = None, process: ProcessFamily | None = None) -> NetworkView:
    """The sites (of `province`; running `process`), ordered by id, with the whole catalog."""
    with UnitOfWork(settings.database_url) as uow:
        models = {m.id: m for m in uow.catalog.machine_models()}
        sites = uow.catalog.sites(province)
        view = NetworkView(sites=sites, machine_models=models, processes=uow.catalog.processes(),
                           materials=uow.catalog.materials())
    if process is not None:
        view = NetworkView(sites=[s for s in sites if process in view.site_processes(s)], machine_models=models,
                           processes=view.processes, materials=view.materials)
    return view


def site(settings: Settings, site_id: str) -> Site:
    """One site; 404 naming where the list is."""
    with UnitOfWork(settings.database_url) as uow:
        found = uow.catalog.site(site_id)
    if found is None:
        raise NotFoundError(f"site {site_id!r} does not exist", hint="GET /api/v1/sites lists the sites")
    return found


def machine_models(settings: Settings, process: ProcessFamily | None = None) -> list[MachineModel]:
    """Machine models (of one process family), ordered by id."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.catalog.machine_models(process.value if process else None)


def materials(settings: Settings, process: ProcessFamily | None = None) -> list[Material]:
    """Materials (of one process family), ordered by id."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.catalog.materials(process.value if process else None)


def processes(settings: Settings) -> list[Process]:
    """The processes with their design rules."""
    with UnitOfWork(settings.database_url) as uow:
        return uow.catalog.processes()


def machine_processes(settings: Settings) -> dict[str, str]:
    """Machine model id -> its process id."""
    with UnitOfWork(settings.database_url) as uow:
        return {m.id: m.process.value for m in uow.catalog.machine_models()}


def place_names_zh(settings: Settings) -> dict[str, str]:
    """The Chinese names of the network's places, by their English names: the destination cities, the provinces
    with tariffs (provinces.yaml) and the other provinces cities lie in (logistics.yaml). A place without one is
    left out (the pages show its English name)."""
    from fabgrid.services import factories, network

    with UnitOfWork(settings.database_url) as uow:
        logistics = network.current(uow).logistics
        out = {p.id: p.name_zh for p in factories.provinces(uow).values() if p.name_zh}
    out.update({k: v for k, v in logistics.province_names_zh.items() if v})
    out.update({c.name: c.name_zh for c in logistics.cities.values() if c.name_zh})
    return out

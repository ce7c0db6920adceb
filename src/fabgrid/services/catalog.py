"""Reads of the shipped catalog and network for the entry points: sites (by province), catalog entries
of one kind. Reads `fabgrid.data`; never imports api, web or cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fabgrid.errors import InputError

if TYPE_CHECKING:
    from fabgrid.domain.catalog import Catalog, MachineModel, Material, Network, Process, Site

#: What `catalog_entries` lists.
KINDS = ("processes", "materials", "machines")


def shipped_network() -> Network:
    """The packaged network of sites with the packaged catalog (validated, cached)."""
    from fabgrid.data import load_network

    return load_network()


def shipped_catalog() -> Catalog:
    """The packaged catalog: processes, materials, finishes and machine models (validated, cached)."""
    from fabgrid.data import load_catalog

    return load_catalog()


def sites_in(network: Network, province: str | None) -> list[Site]:
    """The network's sites, or those of `province` (its id or Chinese name, any case)."""
    from fabgrid.data import load_provinces

    sites = list(network.sites.values())
    if province is None:
        return sites
    wanted = province.strip().casefold()
    names_zh = {p.id: p.name_zh for p in load_provinces().values()}
    chosen = [s for s in sites if wanted in (s.province.casefold(), names_zh.get(s.province, "").casefold())]
    if not chosen:
        known = sorted({s.province for s in sites})
        raise InputError(f"--province {province!r}: no site in that province",
                         hint=f"known provinces: {', '.join(known)}", code="network.unknown_province")
    return chosen


def catalog_entries(kind: str, process: str | None = None) -> list[Process | Material | MachineModel]:
    """The shipped catalog's processes, materials or machine models (`kind`), optionally of one process family."""
    from fabgrid.domain.catalog import ProcessFamily

    if kind not in KINDS:
        raise InputError(f"catalog kind {kind!r} is not known", hint=f"use one of: {', '.join(KINDS)}",
                         code="catalog.unknown_kind")
    families = [f.value for f in ProcessFamily]
    if process is not None and process not in families:
        raise InputError(f"--process {process!r} is not a process family",
                         hint=f"use one of: {', '.join(families)}", code="catalog.unknown_process")
    catalog = shipped_catalog()
    if kind == "processes":
        return [p for p in catalog.processes.values() if process in (None, p.id.value)]
    if kind == "materials":
        return [m for m in catalog.materials.values() if process in (None, m.process.value)]
    return [m for m in catalog.machine_models.values() if process in (None, m.process.value)]


"""`fabgrid network` and `fabgrid catalog`: list the shipped factories, processes, materials, machines.

Reads them through services.catalog (imported inside the commands); must not import engines, store or data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from fabgrid.cli._common import emit_json, table

if TYPE_CHECKING:
    from fabgrid.domain.catalog import Network, Site

def _site_doc(site: Site, network: Network) -> dict[str, Any]:
    """The JSON record of one site (contract keys: id, name, city, province, lat, lon, machines, ...)."""
    return {
        "id": site.id,
        "name": site.name,
        "city": site.city,
        "province": site.province,
        "lat": site.lat,
        "lon": site.lon,
        "park": site.park,
        "machines": [
            {"id": m.id, "model": m.model, "process": network.machine_model(m).process.value}
            for m in site.machines
        ],
        "stations": [{"id": s.id, "kind": s.kind, "count": s.count} for s in site.stations],
        "materials": list(site.materials),
        "certifications": list(site.certifications),
        "labour_cny_per_h": site.labour_cny_per_h,
        "electricity_cny_per_kwh": site.electricity_cny_per_kwh,
        "grid_co2_kg_per_kwh": site.grid_co2_kg_per_kwh,
        "hours_per_workday": site.calendar.hours_per_workday(),
        "workdays": list(site.calendar.workdays),
        "quality": site.quality.model_dump(mode="json"),
    }


def network_cmd(
    province: str | None = typer.Option(None, "--province", "-p", help="only the sites of this province"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """List the factories of the network with their machines, certifications and local rates."""
    from fabgrid.services.catalog import shipped_network, sites_in

    network = shipped_network()
    sites = sites_in(network, province)
    if as_json:
        emit_json({"sites": [_site_doc(s, network) for s in sites]})
        return
    rows = []
    for s in sites:
        procs = sorted({network.machine_model(m).process.value for m in s.machines})
        rows.append((s.id, f"{s.city}, {s.province}", len(s.machines), " ".join(procs),
                     ", ".join(s.certifications), f"{s.labour_cny_per_h:.0f}",
                     f"{s.electricity_cny_per_kwh:.2f}", f"{s.grid_co2_kg_per_kwh:.3f}"))
    n_machines = sum(len(s.machines) for s in sites)
    title = (f"{len(sites)} sites, {n_machines} machines, {len({s.city for s in sites})} cities, "
             f"{len({s.province for s in sites})} provinces")
    table(title, ["site", "city", "machines", "processes", "certifications", "labour CNY/h", "CNY/kWh",
                  "kg CO2/kWh"], rows)


def _catalog_table(kind: str, docs: list[dict[str, Any]]) -> None:
    if kind == "processes":
        table(f"{len(docs)} processes", ["id", "name", "min wall mm", "min hole mm", "tolerance mm",
                                          "overhang deg", "post-processing"],
              [(d["id"], d["name"], d["min_wall_mm"], d["min_hole_mm"], d["tolerance_mm"],
                d["overhang_angle_deg"], ", ".join(d["post_processing"])) for d in docs])
    elif kind == "materials":
        table(f"{len(docs)} materials", ["id", "name", "process", "g/cm3", "CNY/kg", "kg CO2/kg", "refresh"],
              [(d["id"], d["name"], d["process"], d["density_g_cm3"], d["price_cny_per_kg"],
                d["embodied_co2_kg_per_kg"], d["refresh_ratio"]) for d in docs])
    else:
        table(f"{len(docs)} machine models", ["id", "vendor", "model", "process", "build volume mm",
                                               "producing W", "price CNY"],
              [(d["id"], d["vendor"], d["model"], d["process"],
                "x".join(f"{v:g}" for v in d["build_volume_mm"]), f"{d['power']['producing_w']:g}",
                f"{d['price_cny']:,.0f}") for d in docs])


def catalog_cmd(
    kind: str = typer.Argument(..., help="processes | materials | machines"),
    process: str | None = typer.Option(None, "--process", help="only this process family (fdm, sla, ...)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """List the catalog: processes with design rules, materials, or machine models."""
    from fabgrid.services.catalog import catalog_entries

    doc = {kind: [i.model_dump(mode="json") for i in catalog_entries(kind, process)]}
    if as_json:
        emit_json(doc)
    else:
        _catalog_table(kind, doc[kind])


def register(app: typer.Typer) -> None:
    """Add `network` and `catalog` to the fabgrid app."""
    app.command("network")(network_cmd)
    app.command("catalog")(catalog_cmd)

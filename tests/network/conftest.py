"""Fixtures of the network tests: a small network built from the domain models (not the shipped data)."""

from __future__ import annotations

from datetime import time

import pytest

from fabgrid.data import load_catalog
from fabgrid.domain.catalog import (
    Calendar,
    Catalog,
    Machine,
    MachineModel,
    Material,
    Network,
    PowerDraw,
    Process,
    ProcessFamily,
    QualityRecord,
    Shift,
    Site,
)

CITIES = [("Changsha", "Hunan", 28.20, 112.97), ("Zhuzhou", "Hunan", 27.83, 113.15),
          ("Wuhan", "Hubei", 30.58, 114.27), ("Shenzhen", "Guangdong", 22.54, 114.06),
          ("Chengdu", "Sichuan", 30.67, 104.07), ("Hengyang", "Hunan", 26.89, 112.57)]


def _process(p: ProcessFamily) -> Process:
    return Process(id=p, name=p.value, description="test", min_wall_mm=1, min_hole_mm=1, min_gap_mm=0.5,
                   min_feature_mm=0.5, tolerance_mm=0.2, source="test", overhang_angle_deg=45.0,
                   capability=load_catalog().processes[p].capability)


def small_network(n_sites: int = 8) -> Network:
    """Sites alternating FDM and SLS machines over six cities; every other one ISO 13485."""
    fdm = MachineModel(id="fdm-m", vendor="v", model="F", process=ProcessFamily.FDM,
                       build_volume_mm=(250, 250, 250), power=PowerDraw(producing_w=200, idle_w=20, setup_w=300,
                                                                        standby_w=5),
                       price_cny=9000, lifetime_h=10000, maintenance_cny_per_year=500, materials=("pla",),
                       source="test")
    sls = MachineModel(id="sls-m", vendor="v", model="S", process=ProcessFamily.SLS,
                       build_volume_mm=(300, 300, 300), power=PowerDraw(producing_w=3000, idle_w=300, setup_w=3000,
                                                                        standby_w=50),
                       price_cny=900000, lifetime_h=30000, maintenance_cny_per_year=30000, materials=("pa12",),
                       source="test")
    mats = {
        "pla": Material(id="pla", name="PLA", process=ProcessFamily.FDM, density_g_cm3=1.24, price_cny_per_kg=80,
                        embodied_co2_kg_per_kg=2.0, source="test"),
        "pa12": Material(id="pa12", name="PA12", process=ProcessFamily.SLS, density_g_cm3=1.01,
                         price_cny_per_kg=400, embodied_co2_kg_per_kg=7.0, source="test"),
    }
    cat = Catalog(processes={p: _process(p) for p in (ProcessFamily.FDM, ProcessFamily.SLS)}, materials=mats,
                  finishes={}, machine_models={"fdm-m": fdm, "sls-m": sls})
    cal = Calendar(shifts=(Shift(name="day", start=time(8), end=time(20)),))
    sites = {}
    for i in range(n_sites):
        city, prov, lat, lon = CITIES[i % len(CITIES)]
        machines = tuple(Machine(id=f"s{i}-f{k}", model="fdm-m") for k in range(2 + i % 3))
        if i % 2 == 0:
            machines += (Machine(id=f"s{i}-s0", model="sls-m"),)
        sites[f"s{i}"] = Site(
            id=f"s{i}", name=f"Site {i}", city=city, province=prov, lat=lat, lon=lon, machines=machines,
            materials=("pla", "pa12") if i % 2 == 0 else ("pla",), labour_cny_per_h=40 + i,
            electricity_cny_per_kwh=0.7, grid_co2_kg_per_kwh=0.55,
            certifications=("ISO 9001", "ISO 13485") if i % 2 else ("ISO 9001",),
            calendar=cal, quality=QualityRecord(on_time_rate=0.95, first_pass_yield=0.97, rating=4.5,
                                                orders_completed=100))
    return Network(catalog=cat, sites=sites)


@pytest.fixture(scope="session")
def network() -> Network:
    """A small test network (8 sites, FDM and SLS)."""
    return small_network()

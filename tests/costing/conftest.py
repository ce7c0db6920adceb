"""A small synthetic catalog and network built from the domain models (no shipped data needed)."""

from __future__ import annotations

from datetime import time

import pytest
import trimesh

from fabgrid.costing.part import Part, from_mesh
from fabgrid.costing.rates import Rates, load_rates
from fabgrid.data import load_catalog
from fabgrid.domain.catalog import (
    Calendar,
    Catalog,
    Finish,
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

FDM_PARAMS = {"nozzle_mm": 0.4, "max_print_speed_mm_s": 200, "outer_wall_speed_mm_s": 100,
              "inner_wall_speed_mm_s": 150, "infill_speed_mm_s": 180, "travel_speed_mm_s": 300,
              "accel_mm_s2": 4000, "max_volumetric_flow_mm3_s": 15, "heatup_s": 180}


def _process(pid: ProcessFamily, post: tuple[str, ...] = ()) -> Process:
    return Process(id=pid, name=pid.value, description="test", min_wall_mm=0.8, min_hole_mm=1, min_gap_mm=0.5,
                   min_feature_mm=0.5, tolerance_mm=0.2, post_processing=post, source="test",
                   overhang_angle_deg=45.0, capability=load_catalog().processes[pid].capability)


def _model(mid: str, proc: ProcessFamily, bv: tuple[float, float, float], params: dict[str, float],
           materials: tuple[str, ...], layer: float = 0.2) -> MachineModel:
    return MachineModel(id=mid, vendor="v", model=mid, process=proc, build_volume_mm=bv,
                        layer_height_mm=(layer, layer), default_layer_height_mm=layer,
                        power=PowerDraw(producing_w=1000, idle_w=100, setup_w=2000, standby_w=10),
                        price_cny=100_000, lifetime_h=20_000, maintenance_cny_per_year=5_000, params=params,
                        materials=materials, source="test")


def _site(sid: str, machines: list[tuple[str, str]], materials: tuple[str, ...], city: str = "Changsha",
          lat: float = 28.2, lon: float = 112.97, certs: tuple[str, ...] = ()) -> Site:
    return Site(id=sid, name=sid.upper(), city=city, province="Hunan", lat=lat, lon=lon,
                machines=tuple(Machine(id=i, model=m) for i, m in machines), materials=materials,
                labour_cny_per_h=60, electricity_cny_per_kwh=0.7, grid_co2_kg_per_kwh=0.5,
                certifications=certs,
                calendar=Calendar(shifts=(Shift(name="day", start=time(8), end=time(16)),)),
                quality=QualityRecord(on_time_rate=0.95, first_pass_yield=0.97, rating=4.5, orders_completed=10))


@pytest.fixture(scope="session")
def rates() -> Rates:
    return load_rates()


@pytest.fixture(scope="session")
def network() -> Network:
    fam = ProcessFamily
    catalog = Catalog(
        processes={fam.FDM: _process(fam.FDM, ("support_removal",)), fam.SLS: _process(fam.SLS, ("depowdering",)),
                   fam.CNC: _process(fam.CNC)},
        materials={
            "pla": Material(id="pla", name="PLA", process=fam.FDM, density_g_cm3=1.24, price_cny_per_kg=70,
                            embodied_co2_kg_per_kg=2.0, source="test"),
            "pa12": Material(id="pa12", name="PA12", process=fam.SLS, density_g_cm3=1.0, price_cny_per_kg=400,
                             embodied_co2_kg_per_kg=7.0, refresh_ratio=0.3, source="test"),
            "al": Material(id="al", name="Al 6061", process=fam.CNC, density_g_cm3=2.7, price_cny_per_kg=30,
                           embodied_co2_kg_per_kg=12.0, properties={"specific_cutting_energy_j_mm3": 0.7},
                           source="test"),
        },
        finishes={
            "support_removal": Finish(id="support_removal", name="support removal", processes=(fam.FDM,),
                                      time_s_per_part=120, time_s_per_cm2=0.6),
            "depowdering": Finish(id="depowdering", name="depowdering", processes=(fam.SLS,), time_s_per_part=90),
            "dyeing": Finish(id="dyeing", name="dyeing", processes=(fam.SLS,), time_s_per_part=60,
                             cost_cny_per_part=2.0, lead_days=1),
        },
        machine_models={
            "printer": _model("printer", fam.FDM, (250, 210, 220), FDM_PARAMS, ("pla",)),
            "small_printer": _model("small_printer", fam.FDM, (30, 30, 30), FDM_PARAMS, ("pla",)),
            "sls": _model("sls", fam.SLS, (300, 300, 300),
                          {"laser_count": 1, "scan_speed_mm_s": 5000, "hatch_mm": 0.25, "recoat_s_per_layer": 10,
                           "warmup_s": 3600, "cooldown_s_per_mm": 60}, ("pa12",), layer=0.1),
            "mill": _model("mill", fam.CNC, (500, 400, 300), {"spindle_kw": 10, "tool_change_s": 5}, ("al",)),
        },
    )
    sites = {
        "a": _site("a", [("a1", "printer"), ("a2", "printer"), ("a3", "sls")], ("pla", "pa12")),
        "b": _site("b", [("b1", "mill")], ("al",), city="Wuhan", lat=30.58, lon=114.27),
        "c": _site("c", [("c1", "printer")], ("pa12",)),
        "d": _site("d", [("d1", "small_printer")], ("pla",)),
        "e": _site("e", [("e1", "printer")], ("pla",), city="Guangzhou", lat=23.13, lon=113.26,
                   certs=("ISO13485",)),
    }
    return Network(catalog=catalog, sites=sites)


@pytest.fixture(scope="session")
def box_part() -> Part:
    return from_mesh(trimesh.creation.box((40.0, 30.0, 20.0)), name="box")

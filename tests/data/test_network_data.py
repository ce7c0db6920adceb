"""The shipped data: counts, coverage, coordinates, tariffs, calendars and physical consistency."""

from __future__ import annotations

from collections import Counter
from datetime import date

import numpy as np
import pytest

from fabgrid.data import load_catalog, load_network, load_provinces
from fabgrid.domain.catalog import ProcessFamily

# City centres (lat, lon), from GeoNames / Wikipedia, independent of sites.yaml.
CITY_CENTRES: dict[str, tuple[float, float]] = {
    "Changsha": (28.228, 112.939), "Zhuzhou": (27.827, 113.134), "Xiangtan": (27.829, 112.944),
    "Hengyang": (26.894, 112.572), "Yueyang": (29.357, 113.129), "Changde": (29.031, 111.699),
    "Yiyang": (28.554, 112.356), "Chenzhou": (25.770, 113.015), "Yongzhou": (26.420, 111.613),
    "Huaihua": (27.550, 109.998), "Loudi": (27.700, 111.994), "Shaoyang": (27.239, 111.467),
    "Zhangjiajie": (29.117, 110.479), "Jishou": (28.312, 109.738),
    "Wuhan": (30.593, 114.305), "Shenzhen": (22.543, 114.058), "Dongguan": (23.021, 113.752),
    "Guangzhou": (23.129, 113.264), "Foshan": (23.022, 113.122), "Shanghai": (31.230, 121.474),
    "Suzhou": (31.299, 120.585), "Hangzhou": (30.274, 120.155), "Ningbo": (29.868, 121.544),
    "Hefei": (31.821, 117.227), "Chongqing": (29.563, 106.551), "Chengdu": (30.573, 104.066),
    "Xi'an": (34.341, 108.940), "Beijing": (39.904, 116.407), "Nanchang": (28.682, 115.858),
    "Tianjin": (39.125, 117.190), "Qingdao": (36.067, 120.383), "Zhengzhou": (34.747, 113.625),
    "Xiamen": (24.480, 118.089),
}

REQUIRED_PARAMS: dict[ProcessFamily, set[str]] = {
    ProcessFamily.FDM: {"nozzle_mm", "max_print_speed_mm_s", "outer_wall_speed_mm_s", "inner_wall_speed_mm_s",
                        "infill_speed_mm_s", "travel_speed_mm_s", "accel_mm_s2", "max_volumetric_flow_mm3_s",
                        "heatup_s"},
    ProcessFamily.SLA: {"exposure_s_per_layer", "exposure_s_per_cm2", "peel_recoat_s_per_layer",
                        "xy_resolution_um"},
    ProcessFamily.SLS: {"laser_count", "laser_w", "scan_speed_mm_s", "hatch_mm", "recoat_s_per_layer",
                        "warmup_s", "cooldown_s_per_mm"},
    ProcessFamily.MJF: {"fusing_s_per_layer", "build_rate_cm3_h", "warmup_s", "cooldown_s_per_mm"},
    ProcessFamily.METAL_PBF: {"laser_count", "laser_w", "scan_speed_mm_s", "hatch_mm", "layer_um", "recoat_s",
                              "inert_gas_s"},
    ProcessFamily.CNC: {"spindle_kw", "max_rpm", "rapid_mm_min", "travel_x_mm", "travel_y_mm", "travel_z_mm",
                        "tool_change_s"},
}


def _km(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat, dlon = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def test_site_counts() -> None:
    sites = list(load_network().sites.values())
    hunan = [s for s in sites if s.province == "Hunan"]
    assert len(sites) >= 60
    assert len(hunan) >= 40
    assert len({s.city for s in hunan}) >= 10
    assert len(sites) - len(hunan) >= 20
    assert len({s.province for s in sites}) >= 10
    etdz = [s for s in hunan if s.park and "长沙经济技术开发区" in s.park]
    assert len(etdz) >= 3


def test_every_process_has_machines_materials_and_sites() -> None:
    net = load_network()
    cat = net.catalog
    assert set(cat.processes) == set(ProcessFamily)
    on_sites = Counter(net.machine_model(m).process for s in net.sites.values() for m in s.machines)
    for fam in ProcessFamily:
        assert any(m.process is fam for m in cat.machine_models.values()), fam
        assert any(m.process is fam for m in cat.materials.values()), fam
        assert on_sites[fam] >= 3, fam


def test_every_site_machine_model_and_material_exists() -> None:
    net = load_network()
    ids = [m.id for s in net.sites.values() for m in s.machines]
    assert len(ids) == len(set(ids))
    for s in net.sites.values():
        runnable = {mat for m in s.machines for mat in net.machine_model(m).materials}
        assert set(s.materials) <= runnable
        for m in s.machines:
            assert m.model in net.catalog.machine_models


def test_required_catalog_entries() -> None:
    cat = load_catalog()
    for mid in ("fdm_pla", "fdm_petg", "fdm_abs", "fdm_asa", "fdm_pa12_cf", "sla_standard", "sla_tough",
                "sla_high_temp", "sls_pa12", "sls_pa11", "sls_tpu", "mjf_pa12", "mjf_pa11", "metal_316l",
                "metal_ti6al4v", "metal_alsi10mg", "cnc_al6061", "cnc_steel_45"):
        assert mid in cat.materials, mid
    vendors = {m.vendor.split(" (")[0] for m in cat.machine_models.values()}
    for v in ("Bambu Lab", "Prusa Research", "Formlabs", "UnionTech", "Farsoon Technologies", "EOS", "HP",
              "Bright Laser Technologies", "DMG MORI"):
        assert v in vendors, v
    assert cat.materials["sls_pa12"].refresh_ratio == pytest.approx(0.5)
    assert cat.materials["mjf_pa12"].refresh_ratio == pytest.approx(0.2)
    for m in cat.materials.values():
        powder = m.process in (ProcessFamily.SLS, ProcessFamily.MJF, ProcessFamily.METAL_PBF)
        assert powder == (m.refresh_ratio is not None), m.id
        assert m.source.strip()


def test_machine_models_carry_params_and_consistent_figures() -> None:
    for mm in load_catalog().machine_models.values():
        missing = REQUIRED_PARAMS[mm.process] - set(mm.params)
        assert not missing, (mm.id, missing)
        assert mm.source.strip()
        p = mm.power
        assert p.producing_w >= p.idle_w >= p.standby_w > 0, mm.id
        if mm.process.is_additive:
            lo, hi = mm.layer_height_mm
            assert 0 < lo <= mm.default_layer_height_mm <= hi, mm.id
        if "max_scan_speed_mm_s" in mm.params:
            assert mm.params["scan_speed_mm_s"] <= mm.params["max_scan_speed_mm_s"], mm.id
        if mm.process is ProcessFamily.MJF:
            # the layer time must agree with the published build rate over the full bed
            x, y, _ = mm.build_volume_mm
            layer_cm3 = x * y * mm.default_layer_height_mm / 1000.0
            rate = layer_cm3 * 3600.0 / mm.params["fusing_s_per_layer"]
            assert rate == pytest.approx(mm.params["build_rate_cm3_h"], rel=0.05), mm.id
        if mm.process is ProcessFamily.METAL_PBF:
            assert mm.params["layer_um"] == pytest.approx(mm.default_layer_height_mm * 1000), mm.id


def test_coordinates_in_china_and_near_their_city() -> None:
    sites = list(load_network().sites.values())
    lat = np.array([s.lat for s in sites])
    lon = np.array([s.lon for s in sites])
    assert np.all((lat > 18.0) & (lat < 53.6) & (lon > 73.5) & (lon < 135.1))
    unknown = {s.city for s in sites} - set(CITY_CENTRES)
    assert not unknown, f"add the centre of {unknown} to CITY_CENTRES"
    clat = np.array([CITY_CENTRES[s.city][0] for s in sites])
    clon = np.array([CITY_CENTRES[s.city][1] for s in sites])
    d = _km(lat, lon, clat, clon)
    far = [(s.id, round(float(k), 1)) for s, k in zip(sites, d, strict=True) if k > 50.0]
    assert not far
    hunan = np.array([s.province == "Hunan" for s in sites])
    # Hunan spans roughly 24.6-30.1 N, 108.8-114.3 E
    assert np.all((lat[hunan] > 24.6) & (lat[hunan] < 30.2) & (lon[hunan] > 108.7) & (lon[hunan] < 114.3))


def test_tariffs_and_grid_factors() -> None:
    provinces = load_provinces()
    assert provinces["Hunan"].grid_co2_kg_per_kwh == pytest.approx(0.49, abs=0.01)
    for s in load_network().sites.values():
        assert s.province in provinces
        assert 0.5 <= s.electricity_cny_per_kwh <= 1.0, s.id
        assert 0.05 <= s.grid_co2_kg_per_kwh <= 0.9, s.id


def test_calendars_follow_the_2026_holidays() -> None:
    sites = list(load_network().sites.values())
    five_day = next(s for s in sites if s.calendar.workdays == (0, 1, 2, 3, 4))
    cal = five_day.calendar
    assert not cal.is_workday(date(2026, 2, 17))   # Spring Festival
    assert not cal.is_workday(date(2026, 10, 1))   # National Day
    assert cal.is_workday(date(2026, 2, 14))       # make-up Saturday
    assert cal.is_workday(date(2026, 3, 2))        # ordinary Monday
    assert not cal.is_workday(date(2026, 3, 7))    # ordinary Saturday
    hours = {s.calendar.hours_per_workday() for s in sites}
    assert {9.0, 16.0, 24.0} <= hours
    assert all(4.0 <= h <= 24.0 for h in hours)


def test_certifications_and_labour() -> None:
    sites = list(load_network().sites.values())
    certs = Counter(c for s in sites for c in s.certifications)
    assert certs["ISO 9001"] >= 0.7 * len(sites)
    assert certs["ISO 13485"] >= 3 and certs["AS9100D"] >= 3
    iatf_cities = {s.city for s in sites if "IATF 16949" in s.certifications}
    assert {"Changsha", "Zhuzhou"} <= iatf_cities
    by_city = {s.city: s.labour_cny_per_h for s in sites}
    assert by_city["Shanghai"] > by_city["Changsha"] > by_city["Jishou"]

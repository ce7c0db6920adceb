"""FDM model: mass from the extruded volume, monotonic time, the slicer profile, param validation."""

from __future__ import annotations

import pytest
import trimesh

from fabgrid.costing.fdm import fdm_profile, simulate, slicer_ini
from fabgrid.costing.part import from_mesh
from fabgrid.costing.rates import Rates
from fabgrid.domain.catalog import Network
from fabgrid.errors import InputError


def test_solid_cube_mass_matches_hand_figure(network: Network, rates: Rates) -> None:
    """A cube printed 100 % solid extrudes its own volume (walls + solid infill), within flow rounding."""
    import dataclasses

    prof = dataclasses.replace(fdm_profile(network.catalog.machine_models["printer"],
                                           network.catalog.materials["pla"], rates), infill_density=1.0)
    part = from_mesh(trimesh.creation.box((20.0, 20.0, 10.0)))
    res = simulate(part, prof)
    assert res.volume_mm3 == pytest.approx(4000.0, rel=0.05)
    assert res.mass_g(1.24) == pytest.approx(res.volume_mm3 * 1.24 / 1000)


def test_sparse_cube_hand_figure(network: Network, rates: Rates) -> None:
    """Walls + top/bottom skins + sparse infill of a plain box, computed from the profile by hand."""
    prof = fdm_profile(network.catalog.machine_models["printer"], network.catalog.materials["pla"], rates)
    a, h, s = 30.0, prof.layer_height_mm, prof.spacing_mm
    part = from_mesh(trimesh.creation.box((a, a, 10.0)))
    res = simulate(part, prof)
    n = round(10.0 / h)
    offsets = [prof.width_mm / 2 + s * k for k in range(prof.perimeters)]
    loop_len = sum(4 * a - 8 * d for d in offsets)  # a square's offset loop shrinks by 8 d
    shell = loop_len * s
    inner = a * a - shell
    skins = prof.top_layers + prof.bottom_layers
    walls = n * loop_len * s * h
    assert res.volume_by_feature_mm3["outer_wall"] + res.volume_by_feature_mm3["inner_wall"] == \
        pytest.approx(walls, rel=1e-6)
    solid = res.volume_by_feature_mm3["solid_infill"] + res.volume_by_feature_mm3["bridge"]
    assert solid == pytest.approx(skins * inner * h, rel=0.1)
    assert res.volume_by_feature_mm3["sparse_infill"] >= (n - skins) * inner * h * prof.infill_density


def test_time_and_mass_grow_with_size(network: Network, rates: Rates) -> None:
    prof = fdm_profile(network.catalog.machine_models["printer"], network.catalog.materials["pla"], rates)
    last_t = last_v = 0.0
    for scale in (10.0, 20.0, 40.0, 60.0):
        res = simulate(from_mesh(trimesh.creation.box((scale, scale, scale / 2))), prof)
        assert res.print_time_s > last_t and res.volume_mm3 > last_v
        last_t, last_v = res.print_time_s, res.volume_mm3


def test_slicer_ini_carries_the_profile(network: Network, rates: Rates) -> None:
    prof = fdm_profile(network.catalog.machine_models["printer"], network.catalog.materials["pla"], rates)
    ini = dict(line.split(" = ", 1) for line in slicer_ini(prof).splitlines() if " = " in line and
               not line.startswith("#"))
    assert float(ini["layer_height"]) == prof.layer_height_mm
    assert int(ini["perimeters"]) == prof.perimeters
    assert ini["fill_density"] == f"{prof.infill_density * 100:g}%"
    assert float(ini["infill_speed"]) == prof.infill_speed_mm_s
    assert ini["machine_max_acceleration_extruding"].split(",")[0] == f"{prof.accel_mm_s2:g}"
    assert float(ini["filament_density"]) == 1.24
    assert ini["bed_shape"] == "0x0,250x0,250x210,0x210"


def test_missing_machine_param_is_a_clear_error(network: Network, rates: Rates) -> None:
    model = network.catalog.machine_models["printer"]
    params = {k: v for k, v in model.params.items() if k != "outer_wall_speed_mm_s"}
    broken = model.model_copy(update={"params": params})
    with pytest.raises(InputError) as exc:
        fdm_profile(broken, None, rates)
    assert exc.value.code == "costing.machine_param"
    assert "outer_wall_speed_mm_s" in exc.value.message and "printer" in exc.value.message

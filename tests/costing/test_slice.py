"""Layer sections: exact figures on shapes whose sections are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from fabgrid.geometry.slice import SliceSettings, slice_layers


def test_box_sections_are_exact() -> None:
    st = slice_layers(trimesh.creation.box((20.0, 10.0, 5.0)), SliceSettings(0.2, top_layers=3, bottom_layers=2))
    assert st.n_layers == 25
    np.testing.assert_allclose(st.area_mm2, 200.0, rtol=1e-9)
    np.testing.assert_allclose(st.perimeter_mm, 60.0, rtol=1e-9)
    assert (st.loops == 1).all() and (st.euler == 1).all() and (st.corners == 4).all()
    assert (st.corner_balance == 4).all()
    # top skin: the 3 highest layers carry the top face; bottom skin: the 2 lowest
    np.testing.assert_allclose(st.top_skin_mm2, [0.0] * 22 + [200.0] * 3, atol=1e-6)
    np.testing.assert_allclose(st.bottom_skin_mm2, [200.0] * 2 + [0.0] * 23, atol=1e-6)
    assert st.support_volume_mm3 == 0.0


def test_tube_has_a_hole() -> None:
    mesh = trimesh.creation.annulus(r_min=5.0, r_max=10.0, height=4.0, sections=256)
    st = slice_layers(mesh, SliceSettings(0.25))
    expected = math.pi * (10.0**2 - 5.0**2)
    np.testing.assert_allclose(st.area_mm2, expected, rtol=2e-3)
    np.testing.assert_allclose(st.perimeter_mm, 2 * math.pi * 15.0, rtol=2e-3)
    assert (st.loops == 2).all() and (st.euler == 0).all()
    assert st.volume_mm3 == pytest.approx(mesh.volume, rel=1e-6)


def test_overhang_gets_support_down_to_the_bed() -> None:
    # a 10 mm plate held 10 mm above the bed by a 2 mm post: the plate's underside needs support
    post = trimesh.creation.box((2.0, 2.0, 10.0))
    post.apply_translation((0, 0, 5.0))
    plate = trimesh.creation.box((10.0, 10.0, 2.0))
    plate.apply_translation((0, 0, 11.0))
    mesh = trimesh.boolean.union([post, plate], engine="manifold")
    st = slice_layers(mesh, SliceSettings(0.2, overhang_angle_deg=45.0, support_gap_mm=0.2))
    # the underside minus the post (96 mm2), from the bed up to 0.2 mm under the plate
    assert st.support_volume_mm3 == pytest.approx(96.0 * 9.8, rel=0.05)
    assert st.overhang_mm2.sum() == pytest.approx(96.0, rel=1e-6)


def test_rejects_bad_layer_height() -> None:
    with pytest.raises(ValueError):
        slice_layers(trimesh.creation.box((1, 1, 1)), SliceSettings(0.0))


def test_grid_supports_snap_to_cells_and_do_not_double_count() -> None:
    # two plates stacked over the same 3 mm cells: the lower plate's shadow and the upper plate's
    # column overlap in x/y but the upper column lands on the lower plate, so nothing is counted twice
    post = trimesh.creation.box((1.0, 1.0, 20.0))
    post.apply_translation((10.5, 10.5, 10.0))
    low = trimesh.creation.box((6.0, 6.0, 1.0))
    low.apply_translation((10.5, 10.5, 5.5))
    high = trimesh.creation.box((6.0, 6.0, 1.0))
    high.apply_translation((10.5, 10.5, 15.5))
    mesh = trimesh.boolean.union([post, low, high], engine="manifold")
    fine = slice_layers(mesh, SliceSettings(0.2, overhang_angle_deg=45.0))
    grid = slice_layers(mesh, SliceSettings(0.2, overhang_angle_deg=45.0, support_cell_mm=3.0))
    # a 6 x 6 mm plate centred at 10.5 touches cells 2..4 in x and y: 9 cells of 9 mm2
    below_low = grid.support_mm2[(grid.z_mm > 1.0) & (grid.z_mm < 4.5)]
    np.testing.assert_allclose(below_low, 81.0)
    between = grid.support_mm2[(grid.z_mm > 7.0) & (grid.z_mm < 14.5)]
    np.testing.assert_allclose(between, 81.0)
    assert (grid.support_mm2 >= fine.support_mm2 - 1e-9).all()

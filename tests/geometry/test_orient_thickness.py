"""Orientation (overhang area, support volume, height per direction, choice per process) and wall
thickness / clearance by ray casting, against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from fabgrid.data import load_catalog
from fabgrid.domain.catalog import ProcessFamily
from fabgrid.geometry import orient
from fabgrid.geometry.analyze import mesh_facts
from fabgrid.geometry.thickness import measure, thin_regions

from ._helpers import hollow_box


def _facts(m: trimesh.Trimesh):  # type: ignore[no-untyped-def]
    return mesh_facts(np.asarray(m.vertices), np.asarray(m.faces, dtype=np.int64))


def test_sphere_overhang_area_is_the_spherical_cap() -> None:
    f = _facts(trimesh.creation.icosphere(5, radius=10.0))
    for angle in (30.0, 45.0, 60.0):
        opts = orient.evaluate(f, [angle])[0]
        assert len(opts) == 26
        # faces flatter than `angle` from horizontal: normals within `angle` of straight down
        cap = 2 * math.pi * 100 * (1 - math.cos(math.radians(angle)))
        for o in opts:
            assert o.overhang_area_mm2 == pytest.approx(cap, rel=0.03)
            assert o.height_mm == pytest.approx(20.0, rel=0.01)


def test_t_shape_least_support_and_least_height() -> None:
    # a T: a 40x40x5 plate on a 10x10x40 post; upright it needs support under the plate,
    # upside down (plate on the bed) it needs none
    post = trimesh.creation.box([10, 10, 40]).apply_translation([0, 0, 20])
    plate = trimesh.creation.box([40, 40, 5]).apply_translation([0, 0, 42.5])
    f = _facts(post.union(plate, engine="manifold"))
    opts = orient.evaluate(f, [45.0])[0]
    up = {o.up: o for o in opts}
    upright, flipped = up[(0.0, 0.0, 1.0)], up[(0.0, 0.0, -1.0)]
    assert upright.overhang_area_mm2 == pytest.approx(40 * 40 - 10 * 10)
    assert upright.support_volume_mm3 == pytest.approx((40 * 40 - 10 * 10) * 40)
    assert flipped.support_volume_mm3 == pytest.approx(0.0, abs=1e-6)
    assert flipped.base_area_mm2 == pytest.approx(1600)
    best = opts[orient.CHOOSERS[load_catalog().processes[ProcessFamily.FDM].capability.orientation](opts)]
    assert best.support_volume_mm3 == pytest.approx(0.0, abs=1e-6)
    low = opts[orient.CHOOSERS[load_catalog().processes[ProcessFamily.SLS].capability.orientation](opts)]
    assert low.height_mm == pytest.approx(40.0)  # lying on its side: 40 mm of the plate width


def test_plate_and_hollow_box_thickness() -> None:
    plate = _facts(trimesh.creation.box([50, 30, 1.5]))
    th = measure(plate, 2000)
    assert th.engine in ("embree", "trimesh-rtree")
    assert th.min_wall_mm == pytest.approx(1.5, rel=1e-3)
    box = _facts(hollow_box(20, 2))
    th = measure(box, 3000)
    assert th.min_wall_mm == pytest.approx(2.0, rel=1e-3)
    gaps = th.gap_mm[np.isfinite(th.gap_mm)]
    assert gaps.min() == pytest.approx(16.0, rel=1e-3)  # across the inner cavity
    where = th.thinnest()
    assert where is not None and max(abs(c) for c in where[1]) == pytest.approx(10.0, abs=2.0)


def test_thin_regions_cluster_the_thin_fin() -> None:
    body = trimesh.creation.box([20, 20, 20])
    fin = trimesh.creation.box([0.4, 10, 10]).apply_translation([10.2, 0, 0])
    f = _facts(trimesh.util.concatenate([body, fin]))
    th = measure(f, 4000)
    regions = thin_regions(th, 1.0, 2.0)
    assert len(regions) == 1
    pts = th.points_mm[regions[0]]
    assert np.all(pts[:, 0] > 9.9) and th.wall_mm[regions[0]].min() == pytest.approx(0.4, rel=1e-2)

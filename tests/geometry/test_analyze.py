"""Geometry facts: property tests on transformed primitives with analytic volume and area, topology
(holes, non-manifold edges, winding, bodies, duplicates), self-intersections."""

from __future__ import annotations

import math

import numpy as np
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from fabgrid.geometry.analyze import mesh_facts, orientation_directions
from fabgrid.geometry.intersect import self_intersections

sizes = st.floats(min_value=0.05, max_value=500.0)
angles = st.floats(min_value=-math.pi, max_value=math.pi)
offsets = st.floats(min_value=-1000.0, max_value=1000.0)


def _transform(rx: float, ry: float, rz: float, t: tuple[float, float, float]) -> np.ndarray:
    m = trimesh.transformations.euler_matrix(rx, ry, rz)
    m[:3, 3] = t
    return m


@settings(max_examples=40, deadline=None)
@given(sizes, sizes, sizes, angles, angles, angles, st.tuples(offsets, offsets, offsets))
def test_box_volume_area_com(a: float, b: float, c: float, rx: float, ry: float, rz: float,
                             t: tuple[float, float, float]) -> None:
    box = trimesh.creation.box([a, b, c], transform=_transform(rx, ry, rz, t))
    f = mesh_facts(np.asarray(box.vertices), np.asarray(box.faces, dtype=np.int64))
    assert math.isclose(f.volume_mm3, a * b * c, rel_tol=1e-9)
    assert math.isclose(f.area_mm2, 2 * (a * b + b * c + a * c), rel_tol=1e-9)
    np.testing.assert_allclose(f.center_mass_mm, t, atol=1e-9 * max(a, b, c, *map(abs, t)))
    assert f.watertight and f.winding_consistent and f.bodies == 1 and f.genus == 0
    assert math.isclose(f.hull_volume_mm3, a * b * c, rel_tol=1e-7)


@settings(max_examples=30, deadline=None)
@given(sizes, sizes, st.integers(min_value=3, max_value=128), angles, angles,
       st.tuples(offsets, offsets, offsets))
def test_cylinder_prism_volume_and_area(r: float, h: float, n: int, rx: float, ry: float,
                                        t: tuple[float, float, float]) -> None:
    cyl = trimesh.creation.cylinder(radius=r, height=h, sections=n, transform=_transform(rx, ry, 0, t))
    f = mesh_facts(np.asarray(cyl.vertices), np.asarray(cyl.faces, dtype=np.int64))
    base = 0.5 * n * r * r * math.sin(2 * math.pi / n)  # regular n-gon inscribed in radius r
    side = n * 2 * r * math.sin(math.pi / n) * h
    assert math.isclose(f.volume_mm3, base * h, rel_tol=1e-9)
    assert math.isclose(f.area_mm2, 2 * base + side, rel_tol=1e-9)
    assert f.watertight and f.winding_consistent


@settings(max_examples=15, deadline=None)
@given(st.floats(0.5, 100), st.integers(1, 4), st.tuples(offsets, offsets, offsets))
def test_icosphere_matches_trimesh_mass_properties(r: float, sub: int, t: tuple[float, float, float]) -> None:
    s = trimesh.creation.icosphere(subdivisions=sub, radius=r).apply_translation(t)
    f = mesh_facts(np.asarray(s.vertices), np.asarray(s.faces, dtype=np.int64))
    assert math.isclose(f.volume_mm3, s.volume, rel_tol=1e-9)
    assert math.isclose(f.area_mm2, s.area, rel_tol=1e-9)
    np.testing.assert_allclose(f.center_mass_mm, s.center_mass, atol=1e-9 * (r + max(map(abs, t))))


def test_topology_defects_are_counted() -> None:
    box = trimesh.creation.box([1, 1, 1])
    faces = np.asarray(box.faces, dtype=np.int64)
    open_ = mesh_facts(box.vertices, faces[1:])
    assert not open_.watertight and open_.boundary_loops == 1 and open_.boundary_edges == 3
    assert len(open_.boundary_faces) > 0
    flipped = faces.copy()
    flipped[0] = flipped[0, ::-1]
    wind = mesh_facts(box.vertices, flipped)
    assert wind.watertight and not wind.winding_consistent and 0 in wind.inconsistent_faces
    dup = mesh_facts(box.vertices, np.vstack([faces, faces[:1]]))
    assert list(dup.duplicate_faces) == [12] and dup.nonmanifold_edges == 3
    two = trimesh.util.concatenate([box, trimesh.creation.box([1, 1, 1]).apply_translation([5, 0, 0])])
    f2 = mesh_facts(two.vertices, np.asarray(two.faces, dtype=np.int64))
    assert f2.bodies == 2 and math.isclose(f2.volume_mm3, 2.0)
    torus = trimesh.creation.torus(10, 2)
    assert mesh_facts(torus.vertices, np.asarray(torus.faces, dtype=np.int64)).genus == 1


def test_degenerate_faces_found() -> None:
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0]], dtype=float)
    f = mesh_facts(v, np.array([[0, 1, 2], [0, 1, 3], [0, 0, 2]], dtype=np.int64))
    assert sorted(f.degenerate_faces.tolist()) == [1, 2]


def test_26_directions() -> None:
    d = orientation_directions()
    assert d.shape == (26, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    assert len({tuple(np.round(x, 6)) for x in d}) == 26


def test_self_intersections_found_between_overlapping_bodies_only() -> None:
    a = trimesh.creation.box([10, 10, 10])
    b = trimesh.creation.box([10, 10, 10]).apply_transform(
        trimesh.transformations.rotation_matrix(0.3, [1, 2, 3])).apply_translation([5, 5, 5])
    crossing = trimesh.util.concatenate([a, b])
    r = self_intersections(crossing.vertices, np.asarray(crossing.faces, dtype=np.int64))
    assert r.complete and len(r.faces) > 0 and (r.faces < 12).any() and (r.faces >= 12).any()
    apart = trimesh.util.concatenate([a, b.copy().apply_translation([30, 0, 0])])
    r2 = self_intersections(apart.vertices, np.asarray(apart.faces, dtype=np.int64))
    assert r2.complete and len(r2.faces) == 0
    s = trimesh.creation.icosphere(3)
    assert len(self_intersections(s.vertices, np.asarray(s.faces, dtype=np.int64)).faces) == 0

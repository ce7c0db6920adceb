"""The fast paths of the geometry engine give the same answers as the plain ones: Embree through ctypes
against embreex's scene, the sort-based weld against numpy's unique, edge-major topology on known defects."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from fabgrid.geometry import thickness
from fabgrid.geometry.analyze import mesh_facts
from fabgrid.geometry.load import weld


def test_ctypes_embree_matches_embreex() -> None:
    embreex = pytest.importorskip("embreex.rtcore_scene")
    from embreex import mesh_construction

    if thickness._embree_lib() is None:
        pytest.skip("no Embree 4 library next to embreex")
    m = trimesh.creation.torus(20.0, 6.0, major_sections=64, minor_sections=32)
    f = mesh_facts(np.asarray(m.vertices), np.asarray(m.faces, dtype=np.int64))
    pts, face = thickness.sample_surface(f, 1000, seed=3)
    n = f.normals[face]
    origins, dirs = np.r_[pts - 1e-4 * n, pts + 1e-4 * n], np.r_[-n, n]
    caster = thickness._Caster(f.vertices, f.faces)
    assert caster.lib is not None and caster.engine == "embree"
    dist, hit = caster.first_hit(origins, dirs)
    scene = embreex.EmbreeScene()
    mesh_construction.TriangleMesh(scene, f.vertices.astype(np.float32), f.faces.astype(np.int32))
    ref = scene.run(origins.astype(np.float32), dirs.astype(np.float32), output=1)
    ref_face = np.asarray(ref["primID"], dtype=np.int64)
    assert np.mean(ref_face == hit) > 0.999  # a ray exactly through a shared edge may report either face
    both = (ref_face >= 0) & (hit >= 0)
    assert both.sum() > 900  # inward rays of a closed torus all hit
    np.testing.assert_allclose(dist[both], np.asarray(ref["tfar"])[both], atol=1e-4)
    assert np.all(np.isinf(dist[hit < 0]))
    caster.close()
    with pytest.raises(RuntimeError):
        caster.first_hit(origins, dirs)


def test_weld_equals_numpy_unique() -> None:
    rng = np.random.default_rng(7)
    pts = rng.integers(0, 30, (50_000, 3)).astype(np.float64) * 0.1  # many repeats
    pts[::7] *= -0.0  # -0.0 and 0.0 are one point
    v, inv = weld(pts)
    ref = np.unique(pts + 0.0, axis=0)
    assert len(v) == len(ref)
    np.testing.assert_array_equal(v[inv], pts + 0.0)
    assert len(np.unique(v, axis=0)) == len(v)


def test_topology_defects_name_their_faces() -> None:
    box = trimesh.creation.box([10, 10, 10])
    v, faces = np.asarray(box.vertices), np.asarray(box.faces, dtype=np.int64)
    flipped = faces.copy()
    flipped[5] = flipped[5, ::-1]
    f = mesh_facts(v, flipped)
    assert not f.winding_consistent and 5 in f.inconsistent_faces.tolist()
    assert len(f.inconsistent_faces) == 4  # the flipped face and its three neighbours
    opened = mesh_facts(v, faces[1:])
    assert opened.boundary_edges == 3 and opened.boundary_loops == 1
    shared = {int(k) for k in np.flatnonzero(np.isin(faces[1:], faces[0]).sum(axis=1) == 2)}
    assert set(opened.boundary_faces.tolist()) == shared
    assert opened.volume_mm3 < 1000.0

"""The slicer's mesh arrays without trimesh: the same bits as trimesh's Trimesh, the same first hits and layers."""

from __future__ import annotations

import sys
from dataclasses import fields

import numpy as np
import pytest
import trimesh

from fabgrid.geometry.mesh_arrays import MeshArrays
from fabgrid.geometry.slice import SliceSettings, slice_layers

ARRAYS = ("triangles", "triangles_cross", "face_normals", "area_faces", "triangles_center", "edges_unique",
          "faces_unique_edges")


def _overhangs() -> trimesh.Trimesh:
    post = trimesh.creation.box((2.0, 2.0, 10.0))
    post.apply_translation((0, 0, 5.0))
    plate = trimesh.creation.box((10.0, 10.0, 2.0))
    plate.apply_translation((0, 0, 11.0))
    return trimesh.boolean.union([post, plate], engine="manifold")


def _with_degenerate_face() -> trimesh.Trimesh:
    box = trimesh.creation.box((3.0, 2.0, 1.0))
    faces = np.vstack([box.faces, [[0, 0, 1]]])  # a face without area: its normal is zero
    return trimesh.Trimesh(box.vertices, faces, process=False)


MESHES = {
    "box": lambda: trimesh.creation.box((20.0, 10.0, 5.0)),
    "annulus": lambda: trimesh.creation.annulus(r_min=5.0, r_max=10.0, height=4.0, sections=64),
    "sphere": lambda: trimesh.creation.icosphere(subdivisions=4, radius=12.0),
    "torus": lambda: trimesh.creation.torus(major_radius=30.0, minor_radius=10.0, major_sections=60,
                                            minor_sections=20),
    "overhangs": _overhangs,
    "degenerate": _with_degenerate_face,
}


@pytest.mark.parametrize("name", sorted(MESHES))
def test_arrays_are_trimesh_bit_for_bit(name: str) -> None:
    mesh = MESHES[name]()
    ours = MeshArrays(mesh.vertices, mesh.faces)
    theirs = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    for key in ARRAYS:
        a, b = np.asarray(getattr(theirs, key)), getattr(ours, key)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), key
    assert ours.scale == theirs.scale


@pytest.mark.parametrize("name", sorted(MESHES))
def test_first_hits_are_trimesh_embree(name: str) -> None:
    mesh = MESHES[name]()
    ours = MeshArrays(mesh.vertices, mesh.faces)
    theirs = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    down = np.flatnonzero(theirs.face_normals[:, 2] < -0.3)
    origins = theirs.triangles_center[down] - [0.0, 0.0, 1e-4]
    directions = np.tile([0.0, 0.0, -1.0], (len(down), 1))
    got = ours.ray.intersects_location(origins, directions, multiple_hits=False)
    want = theirs.ray.intersects_location(origins, directions, multiple_hits=False)
    for a, b in zip(want, got, strict=True):
        assert np.asarray(a).shape == b.shape and np.array_equal(np.asarray(a), b)


def test_without_embreex_trimesh_casts_the_rays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "embreex", None)  # `import embreex` raises ImportError
    mesh = _overhangs()
    ray = MeshArrays(mesh.vertices, mesh.faces).ray
    locations, rays, _ = ray.intersects_location([[0.0, 0.0, 9.9]], [[0.0, 0.0, -1.0]], multiple_hits=False)
    assert list(rays) == [0] and locations[0, 2] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("settings", [
    SliceSettings(0.2, overhang_angle_deg=45.0, support_gap_mm=0.2, top_layers=4, bottom_layers=3,
                  shell_width_mm=0.8),
    SliceSettings(0.2, overhang_angle_deg=45.0, support_cell_mm=3.0),
    SliceSettings(0.05, contours=False, supports=False),
])
@pytest.mark.parametrize("name", ["overhangs", "sphere", "torus"])
def test_layers_are_the_same_from_either(name: str, settings: SliceSettings) -> None:
    mesh = MESHES[name]()
    ours = slice_layers(MeshArrays(mesh.vertices, mesh.faces), settings)
    theirs = slice_layers(trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False), settings)
    for f in fields(ours):
        a, b = getattr(theirs, f.name), getattr(ours, f.name)
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f.name

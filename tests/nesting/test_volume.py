"""3D packing of meshes into a powder-bed build volume, checked with independent geometry code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from fabgrid.domain.build import Build
from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.errors import InputError
from fabgrid.nesting.export import write_3mf, write_png
from fabgrid.nesting.parts import NestPart, part_from_mesh
from fabgrid.nesting.volume import pack_parts, voxelize

from ._checks import assert_inside, assert_no_overlap, assert_rotation_matches, machine, placed_meshes


def test_voxelize_covers_the_mesh() -> None:
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=10)
    pitch = 1.5
    vox = voxelize(mesh, pitch)
    pts = mesh.sample(4000, seed=2)
    idx = np.floor((pts - mesh.bounds[0]) / pitch).astype(int)
    inside = (idx >= 0).all(axis=1) & (idx < vox.shape).all(axis=1)
    # every surface point lies in a marked voxel or within 0.3 pitch of one
    near = np.zeros(len(pts), dtype=bool)
    near[inside] = vox[tuple(idx[inside].T)]
    assert near.mean() > 0.97
    assert abs(vox.sum() * pitch**3 - mesh.volume) / mesh.volume < 0.6  # solid, filled inside


SPACING = 2.0
SlsBuild = tuple[MachineModel, list[NestPart], list[Build]]


@pytest.fixture(scope="module")
def sls_build() -> SlsBuild:
    """One SLS packing shared by the tests of this module (voxelising is the slow part)."""
    sls = machine(ProcessFamily.SLS, (120.0, 100.0, 150.0))
    parts = [
        part_from_mesh(trimesh.creation.box((30, 20, 10)), "box", copies=4),
        part_from_mesh(trimesh.creation.cylinder(radius=8, height=35), "cyl", copies=3),
        part_from_mesh(trimesh.creation.annulus(r_min=9, r_max=16, height=8), "ring", copies=3),
    ]
    return sls, parts, pack_parts(parts, sls, spacing_mm=SPACING, time_limit_s=0.5, pitch_mm=1.2)


def test_sls_build_no_overlap_inside_spacing(sls_build: SlsBuild) -> None:
    sls, mixed_parts, builds = sls_build
    spacing = SPACING
    assert sum(len(b.placements) for b in builds) == sum(p.copies for p in mixed_parts)
    for b in builds:
        assert_rotation_matches(b)
        meshes = placed_meshes(b, mixed_parts)
        assert_no_overlap(meshes, spacing)
        assert_inside(meshes, sls.build_volume_mm, spacing)
        for pl, m in zip(b.placements, meshes, strict=True):
            assert np.allclose(m.bounds[0], (pl.x, pl.y, pl.z), atol=1e-6)
        top = max(m.bounds[1][2] for m in meshes)
        assert b.height_mm == pytest.approx(top)
        vol = sum(m.volume for m in meshes)
        assert b.density == pytest.approx(vol / (120 * 100 * b.height_mm), rel=1e-6)


def test_full_volume_opens_a_second_build() -> None:
    small = machine(ProcessFamily.MJF, (60.0, 60.0, 40.0))
    cube = part_from_mesh(trimesh.creation.box((25, 25, 25)), "cube", copies=6)
    builds = pack_parts([cube], small, spacing_mm=2.0, time_limit_s=0.2, pitch_mm=1.0)
    assert len(builds) >= 2
    assert sum(len(b.placements) for b in builds) == 6
    for b in builds:
        assert_no_overlap(placed_meshes(b, [cube]), 2.0)
        assert b.height_mm <= 40.0


def test_keep_up_only_turns_about_z(sls: MachineModel) -> None:
    part = part_from_mesh(trimesh.creation.box((40, 10, 5)), "bar", copies=3)
    b = pack_parts([part], sls, spacing_mm=1.0, keep_up=True, time_limit_s=0.2, pitch_mm=1.5)[0]
    for pl in b.placements:
        assert np.allclose(np.asarray(pl.rotation)[2], [0, 0, 1])


def test_too_large_part_is_an_input_error(sls: MachineModel) -> None:
    big = part_from_mesh(trimesh.creation.box((300, 300, 300)), "huge")
    with pytest.raises(InputError) as exc:
        pack_parts([big], sls, spacing_mm=2.0)
    assert exc.value.code == "nest.too_large" and "huge" in exc.value.message


def test_3mf_reloads_with_parts_at_reported_positions(tmp_path: Path, sls_build: SlsBuild) -> None:
    _, mixed_parts, builds = sls_build
    b = builds[0]
    out = write_3mf(b, mixed_parts, tmp_path / "build.3mf")
    scene = trimesh.load(out)
    assert isinstance(scene, trimesh.Scene)
    nodes = scene.graph.nodes_geometry
    assert len(nodes) == len(b.placements)
    mins = []
    for node in nodes:
        transform, geom = scene.graph[node]
        m = scene.geometry[geom].copy()
        m.apply_transform(transform)
        mins.append(m.bounds[0])
    want = sorted((pl.x, pl.y, pl.z) for pl in b.placements)
    got = sorted(tuple(v) for v in np.asarray(mins))
    assert np.allclose(np.asarray(got), np.asarray(want), atol=1e-3)


def test_png_is_written(tmp_path: Path, sls_build: SlsBuild) -> None:
    _, mixed_parts, builds = sls_build
    path = write_png(builds[0], mixed_parts, tmp_path / "build.png")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 400
        pixels = np.asarray(img.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 5  # something was drawn

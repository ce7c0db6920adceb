"""2D arrangement on a printer bed: footprints never overlap, stay on the bed with the spacing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
import trimesh

from fabgrid.domain.catalog import MachineModel, ProcessFamily
from fabgrid.errors import InputError
from fabgrid.nesting import nest
from fabgrid.nesting.parts import part_from_mesh
from fabgrid.nesting.plate import arrange, first_bed, footprint
from fabgrid.nesting.strip2d import Piece, Placement, StripLayout

from ._checks import assert_rotation_matches, machine, placed_meshes, process_of


def _outline(mesh: trimesh.Trimesh) -> shapely.Polygon:
    """Independent footprint: convex hull of the XY of the vertices (exact for convex parts)."""
    hull = shapely.MultiPoint(mesh.vertices[:, :2]).convex_hull
    assert isinstance(hull, shapely.Polygon)
    return hull


def test_bed_layout_no_overlap_with_spacing(fdm: MachineModel) -> None:
    parts = [part_from_mesh(trimesh.creation.box((40, 25, 10)), "plate", copies=5),
             part_from_mesh(trimesh.creation.cylinder(radius=12, height=30), "post", copies=4)]
    spacing = 4.0
    builds = arrange(parts, fdm, spacing_mm=spacing, time_limit_s=0.5, workers=1)
    assert sum(len(b.placements) for b in builds) == 9
    bed = shapely.box(0, 0, fdm.build_volume_mm[0], fdm.build_volume_mm[1])
    for b in builds:
        assert_rotation_matches(b)
        meshes = placed_meshes(b, parts)
        outlines = [_outline(m) for m in meshes]
        for m in meshes:
            assert m.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # on the bed
        for o in outlines:
            assert bed.buffer(-spacing + 1e-6).contains(o)  # the spacing to the walls too
        for a, c in itertools.combinations(outlines, 2):
            assert a.intersection(c).area == 0.0
            assert a.distance(c) >= spacing - 1e-6


def _moved(x: float, y: float, z: float) -> np.ndarray:
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def test_non_convex_footprint_and_interlocking() -> None:
    # an L-shaped part: its footprint is not its hull
    l_shape = trimesh.boolean.union([trimesh.creation.box((40, 10, 5), transform=_moved(20, 5, 2.5)),
                                     trimesh.creation.box((10, 40, 5), transform=_moved(5, 20, 2.5))],
                                    engine="manifold")
    part = part_from_mesh(l_shape, "ell", copies=4)
    fp = footprint(part)
    assert fp.area == pytest.approx(40 * 10 + 30 * 10, rel=1e-6)
    small = machine(ProcessFamily.SLA, (75.0, 75.0, 50.0))
    builds = arrange([part], small, spacing_mm=1.0, time_limit_s=1.0, workers=1)
    assert len(builds) == 1, "4 Ls interlock on a 75 mm bed; their hulls would not"
    polys = [shapely.affinity.affine_transform(fp, _affine(pl.transform)) for pl in builds[0].placements]
    for a, c in itertools.combinations(polys, 2):
        assert a.distance(c) >= 1.0 - 1e-6


def _affine(m4: tuple[tuple[float, ...], ...]) -> list[float]:
    m = np.asarray(m4)
    return [m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 3], m[1, 3]]


def test_full_bed_opens_a_second_build() -> None:
    small = machine(ProcessFamily.FDM, (100.0, 100.0, 100.0))
    part = part_from_mesh(trimesh.creation.box((40, 40, 10)), "tile", copies=6)
    builds = arrange([part], small, spacing_mm=5.0, time_limit_s=0.5, workers=1)
    assert [len(b.placements) for b in builds] == [4, 2]


def test_many_beds_every_copy_once_within_its_bed() -> None:
    """A strip longer than three beds is cut into builds: every copy on exactly one, none over an edge."""
    bed = machine(ProcessFamily.SLA, (120.0, 80.0, 100.0))
    spacing = 2.0
    parts = [part_from_mesh(trimesh.creation.box((30, 18, 5)), "tab", copies=14),
             part_from_mesh(trimesh.creation.cylinder(radius=9, height=10), "puck", copies=9)]
    builds = arrange(parts, bed, spacing_mm=spacing, time_limit_s=0.5, workers=1)
    assert len(builds) >= 2
    counts = {"tab": 0, "puck": 0}
    area = shapely.box(0, 0, 120, 80).buffer(-spacing + 1e-6)
    for b in builds:
        meshes = placed_meshes(b, parts)
        outlines = [_outline(m) for m in meshes]
        for pl, o in zip(b.placements, outlines, strict=True):
            counts[pl.part] += 1
            assert area.contains(o)
        for a, c in itertools.combinations(outlines, 2):
            assert a.distance(c) >= spacing - 1e-6
        assert b.density == pytest.approx(sum(o.area for o in outlines) / (120 * 80), rel=0.01)
    assert counts == {"tab": 14, "puck": 9}
    assert sorted((pl.part, pl.instance) for b in builds for pl in b.placements) == sorted(
        [("tab", i) for i in range(1, 15)] + [("puck", i) for i in range(1, 10)])


def test_first_bed_cuts_the_strip_and_keeps_the_leftmost_copy() -> None:
    sq = Piece(shapely.box(0, 0, 10, 10), (0.0,), 3)
    layout = StripLayout(placements=(Placement(0, 0.0, 1.001, 1.0), Placement(0, 0.0, 12.0, 1.0),
                                     Placement(0, 0.0, 23.0, 1.0)), height=12.0, length=34.0, spacing=1.0, area=300)
    # moved back by the 0.001 of slack: x = 1, 12, 23; a 24-wide bed (spacing 1 at its end) takes two
    assert [pl.x for pl in first_bed([sq], layout, 24.0)] == pytest.approx([1.0, 11.999])
    # a bed just wide enough for one copy (its right edge at 11.999 after the move)
    assert [pl.x for pl in first_bed([sq], layout, 13.0)] == pytest.approx([1.0])


def test_metal_goes_on_the_plate_and_cnc_has_no_build() -> None:
    part = part_from_mesh(trimesh.creation.box((20, 20, 20)), "cube", copies=2)
    metal = nest([part], machine(ProcessFamily.METAL_PBF, (250.0, 250.0, 300.0)),
                 process_of(ProcessFamily.METAL_PBF), spacing_mm=3, time_limit_s=0.2)
    lift = metal[0].support_lift_mm
    assert lift > 0  # on supports: lifted off the plate, a 20 x 20 band under each cube
    assert all(pl.z == pytest.approx(lift) for pl in metal[0].placements)
    assert all(pl.support_volume_mm3 == pytest.approx(400 * lift) for pl in metal[0].placements)
    with pytest.raises(InputError) as exc:
        nest([part], machine(ProcessFamily.CNC, (500.0, 400.0, 300.0)), process_of(ProcessFamily.CNC))
    assert exc.value.code == "nest.process"


def test_too_tall_or_too_wide_is_an_input_error(fdm: MachineModel) -> None:
    tall = part_from_mesh(trimesh.creation.box((10, 10, 500)), "mast")
    with pytest.raises(InputError, match="mast"):
        arrange([tall], fdm)
    wide = part_from_mesh(trimesh.creation.box((400, 10, 10)), "beam")
    with pytest.raises(InputError, match="beam"):
        arrange([wide], fdm)

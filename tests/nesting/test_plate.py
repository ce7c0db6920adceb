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
from fabgrid.nesting.plate import arrange, footprint
from fabgrid.nesting.raster2d import Item, compact, pack_strip, placed_polygons, rasterize

from ._checks import assert_rotation_matches, machine, placed_meshes


def _outline(mesh: trimesh.Trimesh) -> shapely.Polygon:
    """Independent footprint: convex hull of the XY of the vertices (exact for convex parts)."""
    hull = shapely.MultiPoint(mesh.vertices[:, :2]).convex_hull
    assert isinstance(hull, shapely.Polygon)
    return hull


def test_bed_layout_no_overlap_with_spacing(fdm: MachineModel) -> None:
    parts = [part_from_mesh(trimesh.creation.box((40, 25, 10)), "plate", copies=5),
             part_from_mesh(trimesh.creation.cylinder(radius=12, height=30), "post", copies=4)]
    spacing = 4.0
    builds = arrange(parts, fdm, spacing_mm=spacing, time_limit_s=0.3, cell_mm=1.0)
    assert sum(len(b.placements) for b in builds) == 9
    bed = shapely.box(0, 0, fdm.build_volume_mm[0], fdm.build_volume_mm[1])
    for b in builds:
        assert_rotation_matches(b)
        meshes = placed_meshes(b, parts)
        outlines = [_outline(m) for m in meshes]
        for m in meshes:
            assert m.bounds[0][2] == pytest.approx(0.0, abs=1e-9)  # on the bed
        for o in outlines:
            assert bed.buffer(-spacing / 2 + 1e-6).contains(o)
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
    builds = arrange([part], small, spacing_mm=1.0, time_limit_s=0.5, cell_mm=0.5)
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
    builds = arrange([part], small, spacing_mm=5.0, time_limit_s=0.2, cell_mm=1.0)
    assert [len(b.placements) for b in builds] == [4, 2]


def test_metal_goes_on_the_plate_and_cnc_has_no_build() -> None:
    part = part_from_mesh(trimesh.creation.box((20, 20, 20)), "cube", copies=2)
    metal = nest([part], machine(ProcessFamily.METAL_PBF, (250.0, 250.0, 300.0)), spacing_mm=3, time_limit_s=0.2)
    assert all(pl.z == pytest.approx(0.0) for pl in metal[0].placements)
    with pytest.raises(InputError) as exc:
        nest([part], machine(ProcessFamily.CNC, (500.0, 400.0, 300.0)))
    assert exc.value.code == "nest.process"


def test_too_tall_or_too_wide_is_an_input_error(fdm: MachineModel) -> None:
    tall = part_from_mesh(trimesh.creation.box((10, 10, 500)), "mast")
    with pytest.raises(InputError, match="mast"):
        arrange([tall], fdm)
    wide = part_from_mesh(trimesh.creation.box((400, 10, 10)), "beam")
    with pytest.raises(InputError, match="beam"):
        arrange([wide], fdm)


def test_rasterize_is_conservative() -> None:
    tri = shapely.Polygon([(0, 0), (10, 0), (0, 7)])
    cell = 0.5
    r = rasterize(tri, cell)
    cells = shapely.box(*np.array([[i * cell, j * cell, (i + 1) * cell, (j + 1) * cell]
                                   for i, j in np.argwhere(r)]).T)
    assert shapely.union_all(cells).contains(tri)


def test_strip_of_squares_is_optimal() -> None:
    items = [Item(shapely.box(0, 0, 1, 1), [0.0], demand=8)]
    layout, _ = pack_strip(items, 2.0, cell=0.25, time_limit_s=0.1)
    polys = placed_polygons(items, layout, 0.25)
    assert len(polys) == 8
    assert max(p.bounds[2] for p in polys) == pytest.approx(4.0)
    assert shapely.union_all(polys).area == pytest.approx(8.0)


def test_compaction_closes_raster_gaps() -> None:
    # 1.1 squares on a 0.25 raster take 5 cells (1.25): the exact-geometry pass slides them into contact
    items = [Item(shapely.box(0, 0, 1.1, 1.1), [0.0], demand=3)]
    raw, _ = pack_strip(items, 1.25, cell=0.25, time_limit_s=0.1, compaction=False)
    assert max(p.bounds[2] for p in placed_polygons(items, raw, 0.25)) == pytest.approx(3.6)
    tight = compact(items, raw, 0.25, 1.25)
    polys = placed_polygons(items, tight, 0.25)
    assert max(p.bounds[2] for p in polys) == pytest.approx(3.3, abs=1e-3)
    assert shapely.union_all(polys).area == pytest.approx(3 * 1.21)  # still no overlap
    assert min(p.bounds[1] for p in polys) >= 0.0 and max(p.bounds[3] for p in polys) <= 1.25

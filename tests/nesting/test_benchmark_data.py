"""The packers on real third-party instances (skipped when ../shared/benchmarks is absent)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
import trimesh
from shapely.geometry import Polygon

from fabgrid.nesting import strip2d
from fabgrid.nesting.heightmap import Piece, pack, rotate_voxels


def test_chess_pieces_pack_without_overlap(shared_benchmarks: Path) -> None:
    folder = shared_benchmarks / "packing3d" / "data" / "Chess"
    pieces = []
    for f in sorted(folder.glob("*.binvox"))[:3]:
        vox = trimesh.load(f)
        assert isinstance(vox, trimesh.voxel.VoxelGrid)
        m = np.asarray(vox.matrix, dtype=np.bool_)
        idx = np.argwhere(m)
        lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
        pieces += [Piece(m[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]])] * 2
    res = pack(pieces, (50, 50), time_limit_s=0.1)
    grid = np.zeros((50, 50, res.height), dtype=np.int32)
    for pl in res.placements:
        o = pieces[pl.piece].orientations[pl.orientation]
        cells = np.argwhere(rotate_voxels(pieces[pl.piece].voxels, o.rot)) - o.crop + pl.offset
        np.add.at(grid, tuple(cells.T), 1)
    assert grid.max() == 1 and len(res.placements) == 6
    assert grid.sum() == sum(p.volume for p in pieces)


def test_esicup_shapes0_strip(shared_benchmarks: Path) -> None:
    data = json.loads((shared_benchmarks / "nesting2d" / "data" / "input" / "shapes0.json").read_text())
    pieces = [strip2d.Piece(Polygon(i["shape"]["data"]), tuple(i["allowed_orientations"]), i["demand"])
              for i in data["items"]]
    height = float(data["strip_height"])
    layout = strip2d.pack_strip(pieces, height, time_limit_s=1.0, workers=1)
    polys = strip2d.placed_polygons(pieces, layout)
    assert len(polys) == sum(i["demand"] for i in data["items"])
    area = sum(p.area for p in polys)
    assert area - shapely.union_all(polys).area < 1e-6 * area  # no overlap
    assert min(p.bounds[1] for p in polys) >= -1e-6 and max(p.bounds[3] for p in polys) <= height + 1e-6
    # the best recorded layout reaches 0.70 of the strip; a short search gets within a fifth of it
    assert area / (height * max(p.bounds[2] for p in polys)) > 0.56

"""The voxel height-map packer: rotations, exactness, and a case with a known optimum."""

from __future__ import annotations

import numpy as np
import trimesh

from fabgrid.nesting.heightmap import PackResult, Piece, pack, rotate_voxels, rotations24, rotations_about_z


def _placed(pieces: list[Piece], res: PackResult) -> list[np.ndarray]:
    """The container voxels (n, 3) of every placement, in placement order."""
    out = []
    for pl in res.placements:
        o = pieces[pl.piece].orientations[pl.orientation]
        out.append(np.argwhere(rotate_voxels(pieces[pl.piece].voxels, o.rot)) - np.asarray(o.crop)
                   + np.asarray(pl.offset))
    return out


def _paint(pieces: list[Piece], res: PackResult, footprint: tuple[int, int]) -> np.ndarray:
    """Independent occupancy check: write every placed voxel into one grid, counting overlaps."""
    grid = np.zeros((*footprint, res.height + 1), dtype=np.int32)
    for idx in _placed(pieces, res):
        assert (idx >= 0).all() and (idx[:, :2] < footprint).all()
        np.add.at(grid, tuple(idx.T), 1)
    return grid


def _assert_apart(pieces: list[Piece], res: PackResult, grid: np.ndarray) -> None:
    """The halo: no two pieces touch, not even diagonally."""
    from scipy.ndimage import grey_dilation

    labels = np.zeros_like(grid)
    for k, idx in enumerate(_placed(pieces, res), start=1):
        labels[tuple(idx.T)] = k
    for k in range(1, len(res.placements) + 1):
        grown = grey_dilation((labels == k).astype(np.int32), size=(3, 3, 3)) > 0
        assert not np.any(grown & (labels > 0) & (labels != k))


def test_rotations() -> None:
    rots = rotations24()
    assert len(rots) == 24 and len({r.tobytes() for r in rots}) == 24
    assert all(round(np.linalg.det(r)) == 1 for r in rots)
    assert len(rotations_about_z()) == 4


def test_rotate_voxels_matches_the_point_transform() -> None:
    rng = np.random.default_rng(3)
    vox = rng.random((3, 5, 4)) > 0.5
    for rot in rotations24():
        out = rotate_voxels(vox, rot)
        assert out.sum() == vox.sum()
        assert tuple(out.shape) == tuple(np.abs(rot) @ np.array(vox.shape))


def test_cubes_fill_a_box_exactly() -> None:
    cube = Piece(np.ones((2, 2, 2), dtype=bool))
    res = pack([cube] * 8, (4, 4), time_limit_s=0.2)
    assert res.height == 4 and not res.unplaced
    assert _paint([cube] * 8, res, (4, 4)).max() == 1


def test_no_voxel_shared_and_halo_kept() -> None:
    rng = np.random.default_rng(0)
    pieces = []
    for _ in range(12):
        v = rng.random((4, 5, 3)) > 0.35
        v[0, 0, 0] = True
        pieces.append(Piece(v, halo=1))
    res = pack(pieces, (16, 14), time_limit_s=0.3, floor=1)
    grid = _paint(pieces, res, (16, 14))
    assert grid.max() == 1
    _assert_apart(pieces, res, grid)


def test_height_cap_leaves_pieces_unplaced() -> None:
    cube = Piece(np.ones((2, 2, 2), dtype=bool))
    res = pack([cube] * 10, (4, 4), max_height=4, time_limit_s=0.1)
    assert len(res.placements) == 8 and len(res.unplaced) == 2


def test_voxelised_mesh_piece_packs() -> None:
    from fabgrid.nesting.volume import voxelize

    vox = voxelize(trimesh.creation.annulus(r_min=3, r_max=6, height=2), 1.0)
    ring = Piece(vox)
    res = pack([ring] * 4, (14, 14), time_limit_s=0.2)
    assert len(res.placements) == 4 and _paint([ring] * 4, res, (14, 14)).max() == 1


def test_piece_goes_under_an_overhang() -> None:
    """A table (full top, four corner legs) keeps its up direction; a 2x2x2 cube fits only under it.
    A height-map drop would stack the cube on the table (height 5); the cavity search puts it
    under (height 3)."""
    table = np.zeros((4, 4, 3), dtype=bool)
    table[:, :, 2] = True
    for x, y in ((0, 0), (0, 3), (3, 0), (3, 3)):
        table[x, y, :] = True
    pieces = [Piece(table, rotations=[np.eye(3, dtype=np.int64)]), Piece(np.ones((2, 2, 2), dtype=bool))]
    res = pack(pieces, (4, 4), time_limit_s=0.2)
    assert not res.unplaced and res.height == 3
    assert _paint(pieces, res, (4, 4)).max() == 1
    cube = next(pl for pl in res.placements if pl.piece == 1)
    assert cube.offset[2] == 0


def test_cavities_with_halo_keep_the_gap() -> None:
    """Hollow boxes open at one side and small cubes, with a halo of 1: no shared or touching voxels."""
    box = np.ones((7, 7, 5), dtype=bool)
    box[1:6, 1:7, 1:4] = False  # open towards +y
    pieces = [Piece(box, halo=1) for _ in range(3)] + [Piece(np.ones((2, 2, 1), dtype=bool), halo=1)
                                                       for _ in range(6)]
    res = pack(pieces, (20, 11), time_limit_s=0.5, floor=1)
    assert not res.unplaced
    grid = _paint(pieces, res, (20, 11))
    assert grid.max() == 1
    assert all((idx[:, 2] >= 1).all() for idx in _placed(pieces, res))
    _assert_apart(pieces, res, grid)

"""Voxel packing into a box of fixed footprint by a height-map (drop) heuristic, pure numpy.

Pieces are boolean voxel arrays; placements are exact in voxel units (no two pieces share a voxel,
with an optional `halo` of free voxels around each). Knows nothing of meshes, machines or files.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int32]
_BIG = np.int32(1 << 28)


def rotations24() -> list[NDArray[np.int64]]:
    """The 24 proper rotations that map the axes onto the axes, as (3, 3) integer matrices."""
    out: list[NDArray[np.int64]] = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            m = np.zeros((3, 3), dtype=np.int64)
            for row, (col, s) in enumerate(zip(perm, signs, strict=True)):
                m[row, col] = s
            if round(np.linalg.det(m)) == 1:
                out.append(m)
    return out


def rotations_about_z() -> list[NDArray[np.int64]]:
    """The 4 rotations by multiples of 90 degrees about +Z (the part keeps its up direction)."""
    return [m for m in rotations24() if m[2, 2] == 1]


def rotate_voxels(voxels: BoolArray, rot: NDArray[np.int64]) -> BoolArray:
    """Rotate a voxel array by an axis-aligned rotation; the result is cropped to its filled cells.

    Voxel ``i`` covers ``[i, i + 1)``; a point ``q`` of the input grid maps to ``rot @ q + shift``
    with `rotation_shift`. `voxels` is (nx, ny, nz) bool; returns (nx', ny', nz') bool.
    """
    idx = np.argwhere(voxels).astype(np.int64)
    centres = (idx * 2 + 1) @ rot.T  # doubled, so centres stay integers
    shift = rotation_shift(rot, np.array(voxels.shape))
    new = (centres + 2 * shift - 1) // 2
    out = np.zeros(tuple(int(v) for v in (rot_abs_shape(rot, voxels.shape))), dtype=bool)
    out[new[:, 0], new[:, 1], new[:, 2]] = True
    return out


def rot_abs_shape(rot: NDArray[np.int64], shape: Sequence[int]) -> NDArray[np.int64]:
    """Shape of the grid `shape` after the axis-aligned rotation `rot`."""
    return np.abs(rot) @ np.asarray(shape, dtype=np.int64)


def rotation_shift(rot: NDArray[np.int64], shape: NDArray[np.int64]) -> NDArray[np.int64]:
    """Translation that brings the rotated box ``rot @ [0, shape]`` back to start at the origin."""
    return np.clip(-rot, 0, None) @ shape


@dataclass(frozen=True)
class Orientation:
    """One rotation of a piece with the profiles the packer needs (all in voxels)."""

    rot: NDArray[np.int64]
    shape: tuple[int, int, int]
    crop: tuple[int, int, int]  # where the cropped rotated array starts inside the rotated grid
    bottom: IntArray  # (nx, ny) lowest filled z per column, _BIG where the column is empty
    top_halo: IntArray  # (nx + 2h, ny + 2h) highest z + 1 (+ halo) of the dilated piece, 0 = empty
    centroid_z: float
    count: int


def _orientation(voxels: BoolArray, rot: NDArray[np.int64], halo: int) -> tuple[Orientation, BoolArray]:
    full = rotate_voxels(voxels, rot)
    filled = np.argwhere(full)
    lo, hi = filled.min(axis=0), filled.max(axis=0) + 1
    v = full[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    nz = v.shape[2]
    any_col = v.any(axis=2)
    bottom = np.where(any_col, np.argmax(v, axis=2), _BIG).astype(np.int32)
    top = np.where(any_col, nz - np.argmax(v[:, :, ::-1], axis=2), 0).astype(np.int32)
    if halo > 0:
        from scipy.ndimage import grey_dilation

        padded = np.zeros((v.shape[0] + 2 * halo, v.shape[1] + 2 * halo), dtype=np.int32)
        padded[halo:-halo, halo:-halo] = np.where(any_col, top + halo, 0)
        size = 2 * halo + 1
        top = grey_dilation(padded, size=(size, size)).astype(np.int32)
    zs = np.nonzero(v)[2]
    return Orientation(rot=rot, shape=(int(v.shape[0]), int(v.shape[1]), int(nz)),
                       crop=(int(lo[0]), int(lo[1]), int(lo[2])), bottom=bottom, top_halo=top,
                       centroid_z=float(zs.mean() + 0.5), count=int(zs.size)), v


@dataclass
class Piece:
    """A piece to pack: its voxels and the rotations it may take."""

    voxels: BoolArray
    rotations: Sequence[NDArray[np.int64]] = field(default_factory=rotations24)
    halo: int = 0
    orientations: list[Orientation] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.voxels.ndim != 3 or not self.voxels.any():
            raise ValueError("a piece needs a non-empty (nx, ny, nz) voxel array")
        seen: set[tuple[tuple[int, ...], bytes]] = set()
        for rot in self.rotations:
            o, cropped = _orientation(self.voxels, rot, self.halo)
            key = (o.shape, np.packbits(cropped).tobytes())
            if key not in seen:  # symmetric pieces: identical orientations are tried once
                seen.add(key)
                self.orientations.append(o)

    @property
    def volume(self) -> int:
        """Filled voxels."""
        return self.orientations[0].count


@dataclass(frozen=True)
class Placement:
    """Piece `piece` in orientation `orientation` with its cropped box's low corner at `offset`."""

    piece: int
    orientation: int
    offset: tuple[int, int, int]


@dataclass
class PackResult:
    """Placements, the height used (voxels) and the pieces that did not fit under the height cap."""

    placements: list[Placement]
    height: int
    unplaced: list[int]
    iterations: int = 1


def _drop_heights(win: NDArray[np.int32], xs: NDArray[np.int64], ys: NDArray[np.int64],
                  bottom: IntArray) -> IntArray:
    """z at which the piece rests at windows (xs x ys): max over its columns of map - bottom, >= 0."""
    out = np.empty((len(xs), len(ys)), dtype=np.int32)
    cells = int(np.prod(win.shape[2:])) or 1
    rows = max(1, (1 << 22) // (cells * max(1, len(ys))))  # bound the temporary to ~16 MB
    contiguous = len(ys) == win.shape[1] or (len(ys) > 1 and bool(np.all(np.diff(ys) == 1)))
    for r0 in range(0, len(xs), rows):
        xr = xs[r0:r0 + rows]
        block = win[xr, ys[0]:ys[-1] + 1] if contiguous else win[xr][:, ys]
        np.max(block - bottom, axis=(2, 3), out=out[r0:r0 + rows])
    np.maximum(out, 0, out=out)
    return out


def _window_sums(inner: IntArray, mask: BoolArray) -> NDArray[np.float64]:
    """Sum of `inner` over `mask` placed at every valid offset, (nxp, nyp), by FFT correlation."""
    from scipy import fft as sfft

    shape = (inner.shape[0] + mask.shape[0] - 1, inner.shape[1] + mask.shape[1] - 1)
    fshape = [sfft.next_fast_len(n, real=True) for n in shape]
    spec = sfft.rfftn(inner.astype(np.float64), fshape) * sfft.rfftn(mask[::-1, ::-1].astype(np.float64), fshape)
    full = sfft.irfftn(spec, fshape)
    return np.asarray(full[mask.shape[0] - 1:inner.shape[0], mask.shape[1] - 1:inner.shape[1]])


# Placement rules tried in turn (weights of: piece centroid height, build top, trapped gap per column);
# the best one for the instance is kept for the local search.
RULES: tuple[tuple[float, float, float], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.2, 1.0, 0.5),
                                                 (1.0, 0.0, 1.0))


def _best_position(hmap: IntArray, o: Orientation, stride: int, halo: int,
                   cap: int, height: int, rule: tuple[float, float, float]) -> tuple[float, int, int, int] | None:
    """Best (score, x, y, z) for orientation `o` over the height map, or None if it cannot fit."""
    w, d = hmap.shape
    nx, ny, nz = o.shape
    lo = halo
    if nx + 2 * halo > w or ny + 2 * halo > d:
        return None
    inner = hmap[lo:w - lo, lo:d - lo]
    win = sliding_window_view(inner, (nx, ny))
    nxp, nyp = win.shape[:2]
    xs = np.arange(0, nxp, stride)
    ys = np.arange(0, nyp, stride)
    if stride > 1 and xs[-1] != nxp - 1:  # keep the far walls among the candidates
        xs = np.r_[xs, nxp - 1]
    if stride > 1 and ys[-1] != nyp - 1:
        ys = np.r_[ys, nyp - 1]
    mask = o.bottom < _BIG
    ncell = int(mask.sum())
    w_c, w_t, w_w = rule
    sums = _window_sums(inner, mask) if w_w else None

    def _score(z: IntArray, xs: NDArray[np.int64], ys: NDArray[np.int64]) -> NDArray[np.float64]:
        sc = w_c * (z + o.centroid_z) + w_t * np.maximum(z + nz, height)
        if sums is not None:
            waste = ncell * z + (o.bottom[mask].sum()) - sums[np.ix_(xs, ys)]
            sc = sc + w_w * waste / ncell
        sc = sc + 1e-3 * (xs[:, None] + ys[None, :]) / (w + d)
        return np.asarray(np.where(z + nz + halo <= cap, sc, np.inf), dtype=np.float64)

    z = _drop_heights(win, xs, ys, o.bottom)
    if stride > 1:  # refine around the best coarse cell exactly
        score = _score(z, xs, ys)
        i, j = np.unravel_index(int(np.argmin(score)), score.shape)
        x0, y0 = int(xs[i]), int(ys[j])
        xs = np.arange(max(0, x0 - stride + 1), min(nxp, x0 + stride))
        ys = np.arange(max(0, y0 - stride + 1), min(nyp, y0 + stride))
        z = _drop_heights(win, xs, ys, o.bottom)
    score = _score(z, xs, ys)
    k = int(np.argmin(score))
    i, j = np.unravel_index(k, score.shape)
    if not np.isfinite(score[i, j]):
        return None
    return float(score[i, j]), int(xs[i]) + lo, int(ys[j]) + lo, int(z[i, j])


def _construct(pieces: Sequence[Piece], order: Sequence[int], footprint: tuple[int, int],
               cap: int, floor: int, rule: tuple[float, float, float]) -> PackResult:
    hmap = np.full(footprint, floor, dtype=np.int32)
    placements: list[Placement] = []
    unplaced: list[int] = []
    height = 0
    for p in order:
        piece = pieces[p]
        best: tuple[float, int, int, int, int] | None = None
        for oi in range(len(piece.orientations)):
            o = piece.orientations[oi]
            stride = max(1, min(o.shape[0], o.shape[1]) // 6)
            got = _best_position(hmap, o, stride, piece.halo, cap, height, rule)
            if got is not None and (best is None or got[0] < best[0]):
                best = (got[0], oi, got[1], got[2], got[3])
        if best is None:
            unplaced.append(p)
            continue
        _, oi, x, y, z = best
        o = piece.orientations[oi]
        h = piece.halo
        region = hmap[x - h:x + o.shape[0] + h, y - h:y + o.shape[1] + h]
        np.maximum(region, np.where(o.top_halo > 0, o.top_halo + z, 0), out=region)
        placements.append(Placement(piece=p, orientation=oi, offset=(x, y, z)))
        height = max(height, z + o.shape[2])
    return PackResult(placements=placements, height=height, unplaced=unplaced)


def _neighbour(order: Sequence[int], rng: np.random.Generator) -> list[int]:
    """A swap of two nearby pieces in the order, or one piece moved elsewhere (half the time each)."""
    cand = list(order)
    n = len(cand)
    i = int(rng.integers(n))
    if rng.random() < 0.5:
        j = min(n - 1, max(0, i + int(rng.integers(-3, 4))))
        cand[i], cand[j] = cand[j], cand[i]
    else:
        cand.insert(int(rng.integers(n)), cand.pop(i))
    return cand


def pack(pieces: Sequence[Piece], footprint: tuple[int, int], *, max_height: int | None = None,
         time_limit_s: float = 10.0, seed: int = 0, floor: int = 0) -> PackResult:
    """Pack `pieces` into a box of `footprint` (voxels), minimising the height.

    Greedy construction in decreasing volume order (each piece at the lowest centre of mass over
    all its orientations and positions of the height map), then a local search that swaps pieces
    in the order and keeps a change when the height does not grow, until `time_limit_s` (a
    construction is not started when the last one's duration would take it past the limit).
    Pieces that do not fit under `max_height` come back in ``unplaced``; `floor` keeps that many
    free voxels above the bottom.
    """
    t0 = time.perf_counter()
    cap = int(max_height) if max_height is not None else int(_BIG)
    rng = np.random.default_rng(seed)
    order = sorted(range(len(pieces)), key=lambda i: -pieces[i].volume)
    best: PackResult | None = None
    rule = RULES[0]
    iterations = 0
    last = 0.0  # duration of the last construction: none is started that would end past the limit
    for r in RULES:
        if best is not None and time.perf_counter() - t0 + last >= time_limit_s:
            break
        t1 = time.perf_counter()
        res = _construct(pieces, order, footprint, cap, floor, r)
        last = time.perf_counter() - t1
        iterations += 1
        if best is None or (len(res.unplaced), res.height) < (len(best.unplaced), best.height):
            best, rule = res, r
    assert best is not None
    best_key = (len(best.unplaced), best.height)
    n = len(order)
    while n > 1 and time.perf_counter() - t0 + last < time_limit_s:
        t1 = time.perf_counter()
        cand = _neighbour(order, rng)
        res = _construct(pieces, cand, footprint, cap, floor, rule)
        last = time.perf_counter() - t1
        iterations += 1
        key = (len(res.unplaced), res.height)
        if key <= best_key:
            best, best_key, order = res, key, cand
    best.iterations = iterations
    return best

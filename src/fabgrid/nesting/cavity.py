"""Positions in the cavities of a voxel build: under overhangs, where a height-map drop cannot reach.

`Occupancy` keeps the placed voxels (already grown by the spacing halo) in a dense (nx, ny, nz) grid
and, at levels ``L_k = floor + step // 2 + k * step``, the free interval ``[lo, hi)`` of every column
that contains ``L_k``. A piece, seen as one interval ``[bottom, top)`` per column (its column hull,
so the test is conservative), fits at ``(x, y, z)`` when every one of its columns lies inside the
free interval of level ``L_k`` under it: ``z >= max(lo - bottom)`` and ``z <= min(hi - top)``. Only
the offsets whose box holds a covered column (free at ``L_k`` with something above) are searched, all
levels at once, so the search finds only places the drop cannot (in a cavity or partly under an
overhang). Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int32]
BIG = 1 << 28
_CHUNK = 1 << 21  # elements of one temporary window array


@dataclass(frozen=True)
class Levels:
    """The free intervals at the levels below the build's top, inside the walls, stacked: (k, a, b)
    `lo` and `hi` (``lo = BIG``, ``hi = -BIG`` where the column is occupied at the level), and
    `covered`, (k, a + 1, b + 1), the running 2D sum of the columns that are free at the level with
    something above. Column ``(i, j)`` of these arrays is build column ``(i + offset, j + offset)``."""

    lo: IntArray
    hi: IntArray
    covered: IntArray
    offset: int


class Occupancy:
    """Dense occupancy of a build of footprint (nx, ny) in voxels, with per-level free intervals."""

    def __init__(self, footprint: tuple[int, int], floor: int, step: int, halo: int, depth: int) -> None:
        self.footprint = footprint
        self.floor = floor
        self.step = max(1, step)
        self.halo = halo
        self.grid = np.zeros((*footprint, max(depth, floor + self.step + 1)), dtype=bool)
        self._levels = self._level_z(self.grid.shape[2])
        self.lo = np.full((*footprint, len(self._levels)), floor, dtype=np.int32)
        self.hi = np.full((*footprint, len(self._levels)), BIG, dtype=np.int32)
        self._view: Levels | None = None

    def copy(self) -> Occupancy:
        """An independent copy."""
        new = Occupancy.__new__(Occupancy)
        new.footprint, new.floor, new.step, new.halo = self.footprint, self.floor, self.step, self.halo
        new.grid, new.lo, new.hi = self.grid.copy(), self.lo.copy(), self.hi.copy()
        new._levels, new._view = self._levels, self._view
        return new

    def _level_z(self, depth: int) -> NDArray[np.int64]:
        return np.arange(self.floor + self.step // 2, depth, self.step, dtype=np.int64)

    def add(self, voxels: BoolArray, corner: tuple[int, int, int]) -> None:
        """Mark `voxels` ((a, b, c) bool, the piece grown by the halo) with its low corner at `corner`."""
        lo = np.maximum(np.asarray(corner), 0)
        hi = np.minimum(np.asarray(corner) + voxels.shape, (*self.footprint, BIG))
        if hi[2] > self.grid.shape[2]:
            self._grow(int(hi[2]))
        src = voxels[lo[0] - corner[0]:hi[0] - corner[0], lo[1] - corner[1]:hi[1] - corner[1],
                     lo[2] - corner[2]:hi[2] - corner[2]]
        block = self.grid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        block |= src
        self._refresh(slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1])))

    def _grow(self, need: int) -> None:
        depth = max(need, 2 * self.grid.shape[2])
        grid = np.zeros((*self.footprint, depth), dtype=bool)
        grid[:, :, :self.grid.shape[2]] = self.grid
        self.grid = grid
        self._levels = self._level_z(depth)
        self.lo = np.empty((*self.footprint, len(self._levels)), dtype=np.int32)
        self.hi = np.empty_like(self.lo)
        self._refresh(slice(0, self.footprint[0]), slice(0, self.footprint[1]))

    def _refresh(self, xs: slice, ys: slice) -> None:
        """Recompute the free intervals of the columns (xs, ys) at every level."""
        g = self.grid[xs, ys]
        z = np.arange(g.shape[2], dtype=np.int32)
        below = np.maximum.accumulate(np.where(g, z, np.int32(self.floor - 1)), axis=2)
        above = np.minimum.accumulate(np.where(g, z, np.int32(BIG))[:, :, ::-1], axis=2)[:, :, ::-1]
        lv = self._levels
        self.lo[xs, ys] = np.maximum(below[:, :, np.maximum(lv - 1, 0)] + 1, self.floor)
        self.hi[xs, ys] = above[:, :, lv]
        self._view = None

    def levels(self, height: int) -> Levels:
        """The free intervals of the levels below `height` that have a covered column."""
        if self._view is not None:
            return self._view
        h = self.halo
        nx, ny = self.footprint
        keep = [k for k, level in enumerate(self._levels) if level < height]
        lo = np.moveaxis(self.lo[h:nx - h, h:ny - h, keep], 2, 0)
        hi = np.moveaxis(self.hi[h:nx - h, h:ny - h, keep], 2, 0)
        free = hi > self._levels[keep][:, None, None]
        covered = free & (hi < BIG)
        used = covered.any(axis=(1, 2))
        free, covered = free[used], covered[used]
        csum = np.zeros((len(free), free.shape[1] + 1, free.shape[2] + 1), dtype=np.int32)
        csum[:, 1:, 1:] = np.cumsum(np.cumsum(covered, axis=1), axis=2)
        self._view = Levels(lo=np.where(free, lo[used], BIG).astype(np.int32),
                            hi=np.where(free, hi[used], -BIG).astype(np.int32), covered=csum, offset=h)
        return self._view


@dataclass(frozen=True)
class Columns:
    """A piece's filled columns as intervals: (n, 2) positions, bottoms and tops (n,), and the
    screening stages (index arrays into them: a few extreme columns, then a spread sample)."""

    cols: NDArray[np.int64]
    bottom: IntArray
    top: IntArray
    stages: tuple[NDArray[np.int64], ...]

    @classmethod
    def of(cls, bottom: IntArray, top: IntArray) -> Columns:
        """From per-column `bottom` (BIG where empty) and `top` arrays, (nx, ny) each."""
        mask = bottom < BIG
        cols = np.argwhere(mask).astype(np.int64)
        b = bottom[mask].astype(np.int32)
        t = top[mask].astype(np.int32)
        n = len(b)
        ext = np.unique(np.r_[np.argmin(cols[:, 0]), np.argmax(cols[:, 0]), np.argmin(cols[:, 1]),
                              np.argmax(cols[:, 1]), np.argmin(b), np.argmax(t), n // 2])
        wide = np.unique(np.r_[np.argsort(b)[:12], np.argsort(-t)[:12], np.linspace(0, n - 1, 24).astype(np.int64)])
        return cls(cols=cols, bottom=b, top=t, stages=(ext, wide) if n > 48 else (ext,))


def fit_in_levels(levels: Levels, shape: tuple[int, int], cols: Columns,
                  max_positions: int = 8192) -> tuple[IntArray, IntArray, IntArray] | None:
    """Feasible placements of a piece (footprint `shape`, its `cols`) at the `levels`.

    Only offsets whose box holds a covered column are tried (the others are the drop's). Returns
    (x, y, z) arrays of feasible low corners, in build voxels, or None; offsets are sampled evenly
    when there are more than `max_positions`. Samples of the piece's columns screen the offsets first
    (necessary conditions); the survivors are checked on every column, lowest first, until a batch
    holds a feasible one.
    """
    nx, ny = shape
    _, ax, ay = levels.lo.shape
    if nx > ax or ny > ay or len(levels.lo) == 0:
        return None
    c = levels.covered
    near = (c[:, nx:, ny:] - c[:, :-nx, ny:] - c[:, nx:, :-ny] + c[:, :-nx, :-ny]) > 0
    gk, gx, gy = (v.astype(np.int64) for v in np.nonzero(near))
    if len(gk) > max_positions:
        pick = np.linspace(0, len(gk) - 1, max_positions).astype(np.int64)
        gk, gx, gy = gk[pick], gx[pick], gy[pick]
    zlo = np.empty(0, dtype=np.int32)
    for stage in cols.stages:
        zlo, zhi = _interval(levels, cols.cols[stage], cols.bottom[stage], cols.top[stage], gk, gx, gy)
        keep = zlo <= zhi
        if not keep.any():
            return None
        gk, gx, gy, zlo = gk[keep], gx[keep], gy[keep], zlo[keep]
    order = np.argsort(zlo, kind="stable")
    gk, gx, gy = gk[order], gx[order], gy[order]
    batch = max(1, _CHUNK // len(cols.bottom))
    for k0 in range(0, len(gx), batch):
        bk, bx, by = gk[k0:k0 + batch], gx[k0:k0 + batch], gy[k0:k0 + batch]
        zlo, zhi = _interval(levels, cols.cols, cols.bottom, cols.top, bk, bx, by)
        ok = zlo <= zhi
        if ok.any():
            h = levels.offset
            return ((bx[ok] + h).astype(np.int32), (by[ok] + h).astype(np.int32), zlo[ok].astype(np.int32))
    return None


def _interval(levels: Levels, cols: NDArray[np.int64], b: IntArray, t: IntArray,
              gk: NDArray[np.int64], gx: NDArray[np.int64], gy: NDArray[np.int64]) -> tuple[IntArray, IntArray]:
    """For piece offsets (gx, gy) at levels gk: lowest z over `cols` (max of lo - bottom) and highest
    (min of hi - top); (n,) each. Flat gathers, chunked to bound the temporaries."""
    _, ax, ay = levels.lo.shape
    base = (gk * ax + gx) * ay + gy
    shift = cols[:, 0] * ay + cols[:, 1]
    lo, hi = levels.lo.ravel(), levels.hi.ravel()
    n = len(gx)
    zlo = np.empty(n, dtype=np.int32)
    zhi = np.empty(n, dtype=np.int32)
    per = max(1, _CHUNK // max(1, len(b)))
    for r0 in range(0, n, per):
        idx = base[r0:r0 + per, None] + shift[None, :]
        zlo[r0:r0 + per] = np.max(np.take(lo, idx) - b, axis=1)
        zhi[r0:r0 + per] = np.min(np.take(hi, idx) - t, axis=1)
    return zlo, zhi

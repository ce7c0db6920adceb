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

from fabgrid.nesting.cavity import BIG, Columns, Levels, Occupancy, fit_in_levels

BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int32]
_BIG = np.int32(BIG)
_Z_TIE = 1e-4  # weight of the piece's centroid height in every score: lower wins a tie
LEVELS = 24  # cavity levels over the expected build height, at most (fewer for small pieces)
SNAPSHOTS = 8  # states kept along a construction, so that the search re-places only the changed tail


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
    top: IntArray  # (nx, ny) highest filled z + 1 per column, 0 where the column is empty
    columns: Columns  # the filled columns as intervals, for the cavity search
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
    top_plain = top
    if halo > 0:
        from scipy.ndimage import grey_dilation

        padded = np.zeros((v.shape[0] + 2 * halo, v.shape[1] + 2 * halo), dtype=np.int32)
        padded[halo:-halo, halo:-halo] = np.where(any_col, top + halo, 0)
        size = 2 * halo + 1
        top = grey_dilation(padded, size=(size, size)).astype(np.int32)
    zs = np.nonzero(v)[2]
    return Orientation(rot=rot, shape=(int(v.shape[0]), int(v.shape[1]), int(nz)),
                       crop=(int(lo[0]), int(lo[1]), int(lo[2])), bottom=bottom, top=top_plain,
                       columns=Columns.of(bottom, top_plain), top_halo=top,
                       centroid_z=float(zs.mean() + 0.5), count=int(zs.size)), v


@dataclass
class Piece:
    """A piece to pack: its voxels and the rotations it may take."""

    voxels: BoolArray
    rotations: Sequence[NDArray[np.int64]] = field(default_factory=rotations24)
    halo: int = 0
    orientations: list[Orientation] = field(init=False, default_factory=list)
    _grown: dict[int, BoolArray] = field(init=False, default_factory=dict, repr=False)

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

    def grown(self, oi: int) -> BoolArray:
        """Voxels of orientation `oi` grown by `halo` on every side (cube dilation); (nx + 2h, ...) bool."""
        got = self._grown.get(oi)
        if got is None:
            o = self.orientations[oi]
            c = o.crop
            v = rotate_voxels(self.voxels, o.rot)[c[0]:c[0] + o.shape[0], c[1]:c[1] + o.shape[1],
                                                  c[2]:c[2] + o.shape[2]]
            h = self.halo
            if h > 0:
                from scipy.ndimage import binary_dilation

                v = binary_dilation(np.pad(v, h), structure=np.ones((3, 3, 3), dtype=bool), iterations=h)
            got = self._grown[oi] = np.ascontiguousarray(v)
        return got


@dataclass(frozen=True)
class Placement:
    """Piece `piece` in orientation `orientation` with its cropped box's low corner at `offset`."""

    piece: int
    orientation: int
    offset: tuple[int, int, int]


@dataclass
class PackResult:
    """Placements, the height used (voxels) and the pieces that did not fit under the height cap.

    `mass_z` is the height of the placed pieces' centre of mass (voxels): of two packings of the same
    height, the lower one leaves more room at the top; the search uses it to break ties.
    """

    placements: list[Placement]
    height: int
    unplaced: list[int]
    iterations: int = 1
    mass_z: float = 0.0

    def key(self) -> tuple[int, int, float]:
        """What the search minimises: pieces left out, then height, then the centre of mass."""
        return len(self.unplaced), self.height, self.mass_z


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


Rule = tuple[float, float, float]
# Placement rules tried in turn (weights of: piece centroid height, build top, trapped gap per column);
# the best one for the instance is kept for the local search.
RULES: tuple[Rule, ...] = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.2, 1.0, 0.5), (1.0, 0.0, 1.0))


def _best_position(hmap: IntArray, o: Orientation, stride: int, halo: int,
                   cap: int, height: int, rule: Rule) -> tuple[float, int, int, int] | None:
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
        sc = sc + 1e-3 * (xs[:, None] + ys[None, :]) / (w + d) + _Z_TIE * (z + o.centroid_z)
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


def _best_cavity(levels: Levels | None, o: Orientation, halo: int, cap: int, height: int,
                 footprint: tuple[int, int], rule: Rule) -> tuple[float, int, int, int] | None:
    """Best (score, x, y, z) for orientation `o` in the cavities of `levels`, or None."""
    got = None if levels is None else fit_in_levels(levels, (o.shape[0], o.shape[1]), o.columns)
    if got is None:
        return None
    xs, ys, z = got
    w_c, w_t, _ = rule
    sc = (w_c * (z + o.centroid_z) + w_t * np.maximum(z + o.shape[2], height)
          + 1e-3 * (xs + ys) / (footprint[0] + footprint[1]) + _Z_TIE * (z + o.centroid_z))
    sc = np.where(z + o.shape[2] + halo <= cap, sc, np.inf)
    k = int(np.argmin(sc))
    return (float(sc[k]), int(xs[k]), int(ys[k]), int(z[k])) if np.isfinite(sc[k]) else None


def _occupancy(pieces: Sequence[Piece], footprint: tuple[int, int], floor: int) -> Occupancy:
    """An empty occupancy grid with levels spaced for these pieces."""
    dims = [min(o.shape) for pc in pieces for o in pc.orientations]
    est = 2 * sum(pc.volume for pc in pieces) // max(1, footprint[0] * footprint[1]) + max(
        max(o.shape) for pc in pieces for o in pc.orientations)
    step = max(2, min(dims) // 2, est // LEVELS)
    halo = max(pc.halo for pc in pieces)
    return Occupancy(footprint, floor, step, halo, floor + est)


@dataclass
class _State:
    """A construction after its first `done` pieces of the order: what the next piece sees."""

    hmap: IntArray
    occ: Occupancy
    placements: list[Placement]
    unplaced: list[int]
    done: int = 0
    height: int = 0
    moment: float = 0.0
    mass: int = 0

    def copy(self) -> _State:
        return _State(self.hmap.copy(), self.occ.copy(), list(self.placements), list(self.unplaced),
                      self.done, self.height, self.moment, self.mass)


def _construct(pieces: Sequence[Piece], order: Sequence[int], footprint: tuple[int, int], cap: int,
               floor: int, rule: Rule, start: _State | None = None,
               snapshots: list[_State] | None = None) -> PackResult:
    """Place the pieces of `order` one by one, from the state `start` (a copy is changed) or from an
    empty build; the state before every ``len(order) // SNAPSHOTS``-th piece goes into `snapshots`."""
    st = start.copy() if start is not None else _State(np.full(footprint, floor, dtype=np.int32),
                                                       _occupancy(pieces, footprint, floor), [], [])
    every = max(1, len(order) // SNAPSHOTS)
    first = st.done
    for p in order[st.done:]:
        if snapshots is not None and st.done % every == 0 and st.done > first:
            snapshots.append(st.copy())
        st.done += 1
        piece = pieces[p]
        best: tuple[float, int, int, int, int] | None = None
        levels = st.occ.levels(st.height)
        for oi in range(len(piece.orientations)):
            o = piece.orientations[oi]
            stride = max(1, min(o.shape[0], o.shape[1]) // 6)
            for got in (_best_position(st.hmap, o, stride, piece.halo, cap, st.height, rule),
                        _best_cavity(levels, o, piece.halo, cap, st.height, footprint, rule)):
                if got is not None and (best is None or got[0] < best[0]):
                    best = (got[0], oi, got[1], got[2], got[3])
        if best is None:
            st.unplaced.append(p)
            continue
        _, oi, x, y, z = best
        o = piece.orientations[oi]
        h = piece.halo
        region = st.hmap[x - h:x + o.shape[0] + h, y - h:y + o.shape[1] + h]
        np.maximum(region, np.where(o.top_halo > 0, o.top_halo + z, 0), out=region)
        st.occ.add(piece.grown(oi), (x - h, y - h, z - h))
        st.placements.append(Placement(piece=p, orientation=oi, offset=(x, y, z)))
        st.height = max(st.height, z + o.shape[2])
        st.moment += o.count * (z + o.centroid_z)
        st.mass += o.count
    return PackResult(placements=st.placements, height=st.height, unplaced=st.unplaced,
                      mass_z=st.moment / max(1, st.mass))


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


def _initial_orders(pieces: Sequence[Piece]) -> list[list[int]]:
    """Decreasing bounding-box volume (sparse, bulky pieces first: the others fill their cavities),
    then decreasing filled volume."""
    n = range(len(pieces))
    box = [int(np.prod(pc.orientations[0].shape)) for pc in pieces]
    return [sorted(n, key=lambda i: (-box[i], -pieces[i].volume)), sorted(n, key=lambda i: -pieces[i].volume)]


def pack(pieces: Sequence[Piece], footprint: tuple[int, int], *, max_height: int | None = None,
         time_limit_s: float = 10.0, seed: int = 0, floor: int = 0) -> PackResult:
    """Pack `pieces` into a box of `footprint` (voxels), minimising the height.

    Greedy constructions place each piece in turn at its best position over all its orientations,
    on the height map or in a cavity under an overhang (`nesting.cavity`): the first two rules of
    `RULES` in decreasing bounding-box and in decreasing volume order, then the other rules in
    bounding-box order. Then a local search swaps pieces in the best order and keeps a change when
    the height does not grow (the lowest centre of mass wins among packings of the best height),
    until `time_limit_s` (a construction is not started when the last one's duration would take it
    past the limit). Pieces that do not fit under `max_height` come back in ``unplaced``; `floor`
    keeps that many free voxels above the bottom.
    """
    t0 = time.perf_counter()
    cap = int(max_height) if max_height is not None else int(_BIG)
    rng = np.random.default_rng(seed)
    by_box, by_volume = _initial_orders(pieces)
    best: PackResult | None = None
    order, rule = by_box, RULES[0]
    iterations = 0
    last = 0.0  # duration of the last construction: none is started that would end past the limit
    starts = [(o, r) for r in RULES[:2] for o in (by_box, by_volume)] + [(by_box, r) for r in RULES[2:]]
    snaps: list[_State] = []
    for o, r in starts:
        if best is not None and time.perf_counter() - t0 + last >= time_limit_s:
            break
        t1 = time.perf_counter()
        got: list[_State] = []
        res = _construct(pieces, o, footprint, cap, floor, r, snapshots=got)
        last = time.perf_counter() - t1
        iterations += 1
        if best is None or res.key() < best.key():
            best, order, rule, snaps = res, o, r, got
    assert best is not None
    n = len(order)
    current = best.key()[:2]
    while n > 1 and time.perf_counter() - t0 + last < time_limit_s:
        cand = _neighbour(order, rng)
        # the first place where the piece differs (copies of one piece are the same piece)
        first = next((k for k in range(n) if pieces[cand[k]] is not pieces[order[k]]), n)
        if first == n:
            continue
        t1 = time.perf_counter()
        base = [sn for sn in snaps if sn.done <= first]
        got = []
        res = _construct(pieces, cand, footprint, cap, floor, rule, start=base[-1] if base else None, snapshots=got)
        last = time.perf_counter() - t1
        iterations += 1
        if res.key()[:2] <= current:  # walks on plateaus of equal height
            order, current, snaps = cand, res.key()[:2], base + got
            if res.key() < best.key():
                best = res
    best.iterations = iterations
    return best

"""2D irregular packing on a raster with discrete no-fit maps (bottom-left), numpy + shapely.

Each polygon is rasterised conservatively (every cell its interior touches), so two pieces on
disjoint cells never overlap. No-fit rasters of piece pairs come from FFT correlation and are
cached. Knows nothing of meshes, machines or files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy import fft as sfft
from shapely import affinity
from shapely.geometry import Polygon

BoolArray = NDArray[np.bool_]


def rasterize(poly: Polygon, cell: float) -> BoolArray:
    """Cells of a grid of size `cell` (origin at the polygon's bbox min) that its interior meets.

    Returns (nx, ny) bool, x first.
    """
    minx, miny, maxx, maxy = poly.bounds
    nx = max(1, int(np.ceil((maxx - minx) / cell - 1e-9)))
    ny = max(1, int(np.ceil((maxy - miny) / cell - 1e-9)))
    xs = minx + np.arange(nx) * cell
    ys = miny + np.arange(ny) * cell
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell, gy.ravel() + cell)
    shapely.prepare(poly)
    hit = shapely.intersects(poly, boxes) & ~shapely.touches(poly, boxes)
    return np.asarray(hit.reshape(nx, ny), dtype=bool)


@dataclass
class Shape:
    """One orientation of a piece: the polygon moved to its bbox min at the origin and its raster."""

    angle_deg: float
    polygon: Polygon
    raster: BoolArray


@dataclass
class Item:
    """A piece type: outline (already buffered for spacing), allowed angles, how many to place."""

    polygon: Polygon
    angles_deg: Sequence[float]
    demand: int = 1
    shapes: list[Shape] = field(default_factory=list)

    def build(self, cell: float) -> None:
        """Rasterise every allowed orientation at `cell`."""
        self.shapes = []
        for a in self.angles_deg:
            p = affinity.rotate(self.polygon, a, origin=(0, 0))
            minx, miny = p.bounds[0], p.bounds[1]
            p = affinity.translate(p, -minx, -miny)
            self.shapes.append(Shape(angle_deg=float(a), polygon=p, raster=rasterize(p, cell)))


@dataclass(frozen=True)
class Placed:
    """Item `item` in orientation `shape`, raster box low corner at cell (`cx`, `cy`)."""

    item: int
    shape: int
    cx: int
    cy: int


@dataclass
class Layout:
    """A packing: placements, length used along x (cells), the instances left out."""

    placed: list[Placed]
    length_cells: int
    unplaced: list[int]
    iterations: int = 1


def _correlate(ra: NDArray[np.float32], rb: NDArray[np.float32]) -> BoolArray:
    """No-fit raster: index ``d + (shape_b - 1)`` is True when B at offset d from A overlaps A."""
    shape = (ra.shape[0] + rb.shape[0] - 1, ra.shape[1] + rb.shape[1] - 1)
    fshape = [sfft.next_fast_len(n, real=True) for n in shape]
    spec = sfft.rfftn(ra, fshape) * sfft.rfftn(rb[::-1, ::-1], fshape)
    full = sfft.irfftn(spec, fshape)[: shape[0], : shape[1]]
    return np.asarray(full > 0.5)


class Packer:
    """Bottom-left packing of items into a strip of `height_cells` and at most `length_cells`."""

    def __init__(self, items: Sequence[Item], height_cells: int, length_cells: int) -> None:
        self.items = items
        self.h = height_cells
        self.len = length_cells
        self._nfp: dict[tuple[int, int, int, int], BoolArray] = {}
        self.keys = [(i, s) for i, it in enumerate(items) for s in range(len(it.shapes))]

    def _nofit(self, a: tuple[int, int], b: tuple[int, int]) -> BoolArray:
        key = (*a, *b)
        got = self._nfp.get(key)
        if got is None:
            ra = self.items[a[0]].shapes[a[1]].raster.astype(np.float32)
            rb = self.items[b[0]].shapes[b[1]].raster.astype(np.float32)
            got = _correlate(ra, rb)
            self._nfp[key] = got
        return got

    def construct(self, order: Sequence[int]) -> Layout:
        """Place the item instances in `order` (item indices), each at its bottom-left position."""
        maps: dict[tuple[int, int], BoolArray] = {}
        for k in set((i, s) for i in order for s in range(len(self.items[i].shapes))):
            r = self.items[k[0]].shapes[k[1]].raster
            mx, my = self.len - r.shape[0] + 1, self.h - r.shape[1] + 1
            if mx > 0 and my > 0:
                maps[k] = np.zeros((mx, my), dtype=bool)
        remaining: dict[int, int] = {}
        for i in order:
            remaining[i] = remaining.get(i, 0) + 1
        placed: list[Placed] = []
        unplaced: list[int] = []
        length = 0
        for i in order:
            best: tuple[int, int, int, int] | None = None
            for s, shape in enumerate(self.items[i].shapes):
                fmap = maps.get((i, s))
                if fmap is None:
                    continue
                # the region right of everything placed is free: no need to look past `length`
                free_cols = ~fmap[:length + 1].all(axis=1)
                if not free_cols.any():
                    continue
                x = int(np.argmax(free_cols))
                y = int(np.argmin(fmap[x]))
                right = x + shape.raster.shape[0]
                if best is None or (right, y) < (best[0], best[3]):
                    best = (right, s, x, y)
            remaining[i] -= 1
            if best is None:
                unplaced.append(i)
                continue
            _, s, x, y = best
            placed.append(Placed(item=i, shape=s, cx=x, cy=y))
            length = max(length, best[0])
            for k, fmap in maps.items():
                if remaining.get(k[0], 0) <= 0:
                    continue
                self._stamp(fmap, self._nofit((i, s), k), x, y, self.items[k[0]].shapes[k[1]].raster.shape)
        return Layout(placed=placed, length_cells=length, unplaced=unplaced)

    @staticmethod
    def _stamp(fmap: BoolArray, nfp: BoolArray, x: int, y: int, bshape: tuple[int, ...]) -> None:
        ox, oy = x - (bshape[0] - 1), y - (bshape[1] - 1)  # map index of nfp[0, 0]
        x0, y0 = max(ox, 0), max(oy, 0)
        x1, y1 = min(ox + nfp.shape[0], fmap.shape[0]), min(oy + nfp.shape[1], fmap.shape[1])
        if x1 > x0 and y1 > y0:
            fmap[x0:x1, y0:y1] |= nfp[x0 - ox:x1 - ox, y0 - oy:y1 - oy]


_LATE = 20


def _by_area(it: Item) -> float:
    return float(it.polygon.area)


def _by_longest_side(it: Item) -> float:
    return float(max(it.shapes[0].raster.shape))


def _by_hull_area(it: Item) -> float:
    return float(it.polygon.convex_hull.area)


_INITIAL_ORDERS: tuple[Callable[[Item], float], ...] = (_by_area, _by_longest_side, _by_hull_area)


def pack_strip(items: Sequence[Item], height: float, *, cell: float, max_length: float | None = None,
               time_limit_s: float = 10.0, seed: int = 0) -> tuple[Layout, Packer]:
    """Pack every instance of `items` into a strip of `height`, minimising the length used.

    Greedy bottom-left from a few classic orders (decreasing area, longest side, hull area), then
    a late-acceptance local search that swaps or moves instances in the order, until `time_limit_s`
    (a construction is not started when the last one's duration would take it past the limit).
    """
    t0 = time.perf_counter()
    for it in items:
        it.build(cell)
    h_cells = int(np.floor(height / cell + 1e-9))
    if max_length is None:
        max_len = sum(max(s.raster.shape) for it in items for s in it.shapes[:1] for _ in range(it.demand))
    else:
        max_len = int(np.floor(max_length / cell + 1e-9))
    packer = Packer(items, h_cells, max(1, max_len))
    rng = np.random.default_rng(seed)
    best: Layout | None = None
    order: list[int] = []
    last, iterations = 0.0, 0
    for rank in _INITIAL_ORDERS:  # a few classic orders; the best one seeds the search
        if best is not None and time.perf_counter() - t0 + last >= time_limit_s:
            break
        cand = [i for i in sorted(range(len(items)), key=lambda i: -rank(items[i])) for _ in range(items[i].demand)]
        t1 = time.perf_counter()
        res = packer.construct(cand)
        last, iterations = time.perf_counter() - t1, iterations + 1
        if best is None or (len(res.unplaced), res.length_cells) < (len(best.unplaced), best.length_cells):
            best, order = res, cand
    assert best is not None
    best_key = cur_key = (len(best.unplaced), best.length_cells)
    history = [cur_key] * _LATE  # late acceptance: compare with the state _LATE steps back
    n = len(order)
    while n > 1 and time.perf_counter() - t0 + last < time_limit_s:
        t1 = time.perf_counter()
        cand = list(order)
        a = int(rng.integers(n))
        if rng.random() < 0.5:
            b = min(n - 1, max(0, a + int(rng.integers(-4, 5))))
            if cand[a] == cand[b]:
                b = int(rng.integers(n))
            cand[a], cand[b] = cand[b], cand[a]
        else:
            cand.insert(int(rng.integers(n)), cand.pop(a))
        res = packer.construct(cand)
        last = time.perf_counter() - t1
        key = (len(res.unplaced), res.length_cells)
        slot = iterations % _LATE
        iterations += 1
        if key <= cur_key or key <= history[slot]:
            order, cur_key = cand, key
            if key <= best_key:
                best, best_key = res, key
        history[slot] = cur_key
    best.iterations = iterations
    return best, packer


def placed_polygons(items: Sequence[Item], layout: Layout, cell: float) -> list[Polygon]:
    """The placed outlines in strip coordinates, in placement order."""
    out = []
    for p in layout.placed:
        poly = items[p.item].shapes[p.shape].polygon
        out.append(affinity.translate(poly, p.cx * cell, p.cy * cell))
    return out

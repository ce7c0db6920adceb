"""2D irregular packing on a raster with discrete no-fit maps (bottom-left), numpy + shapely.

Each polygon is rasterised conservatively (every cell its interior touches), so two pieces on
disjoint cells never overlap. No-fit rasters of piece pairs come from FFT correlation and are
cached; a last pass slides the outlines into contact in exact geometry. Knows nothing of meshes,
machines or files.
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
    """Item `item` in orientation `shape`, raster box low corner at cell (`cx`, `cy`), then moved by
    (`dx`, `dy`) model units by the exact-geometry compaction (both <= 0)."""

    item: int
    shape: int
    cx: int
    cy: int
    dx: float = 0.0
    dy: float = 0.0


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
_SHRINK = 0.01  # fraction of the best length cut off when every instance fits


def _by_area(it: Item) -> float:
    return float(it.polygon.area)


def _by_longest_side(it: Item) -> float:
    return float(max(it.shapes[0].raster.shape))


def _by_hull_area(it: Item) -> float:
    return float(it.polygon.convex_hull.area)


_INITIAL_ORDERS: tuple[Callable[[Item], float], ...] = (_by_area, _by_longest_side, _by_hull_area)


def pack_strip(items: Sequence[Item], height: float, *, cell: float, max_length: float | None = None,
               time_limit_s: float = 10.0, seed: int = 0, compaction: bool = True) -> tuple[Layout, Packer]:
    """Pack every instance of `items` into a strip of `height`, minimising the length used.

    Greedy bottom-left from a few classic orders (decreasing area, longest side, hull area), then
    a late-acceptance local search that swaps or moves instances in the order, until `time_limit_s`
    (a construction is not started when the last one's duration would take it past the limit).
    With `compaction`, the last tenth of the time slides the best layout's outlines together in
    exact geometry (`compact`).
    """
    t0 = time.perf_counter()
    total_s = time_limit_s
    if compaction:
        time_limit_s *= 0.9
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
    area = [float(it.polygon.area) for it in items]

    def score(lay: Layout) -> tuple[float, int]:  # area left out first, then the length used
        return round(sum(area[i] for i in lay.unplaced), 9), lay.length_cells

    best_key = cur_key = score(best)
    history = [cur_key] * _LATE  # late acceptance: compare with the state _LATE steps back
    n = len(order)
    while n > 1 and time.perf_counter() - t0 + last < time_limit_s:
        t1 = time.perf_counter()
        if _SHRINK > 0 and cur_key[0] == 0.0 and cur_key[1] > 1:
            # shrink and repair: every instance fits, so cut the strip below the best length and let the
            # search re-insert what no longer fits (area left out is a smoother objective than length)
            packer.len = max(1, best_key[1] - max(1, round(_SHRINK * best_key[1])))
            cur_key = score(packer.construct(order))
            history = [cur_key] * _LATE
            iterations += 1
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
        key = score(res)
        slot = iterations % _LATE
        iterations += 1
        if key <= cur_key or key <= history[slot]:
            order, cur_key = cand, key
            if key < best_key:
                best, best_key = res, key
        history[slot] = cur_key
    best.iterations = iterations
    if compaction:
        best = compact(items, best, cell, h_cells * cell, time_limit_s=max(0.05, total_s - (time.perf_counter() - t0)))
    return best, packer


def placed_polygons(items: Sequence[Item], layout: Layout, cell: float) -> list[Polygon]:
    """The placed outlines in strip coordinates, in placement order."""
    out = []
    for p in layout.placed:
        poly = items[p.item].shapes[p.shape].polygon
        out.append(affinity.translate(poly, p.cx * cell + p.dx, p.cy * cell + p.dy))
    return out


def _slide(cur: list[Polygon], bounds: NDArray[np.float64], i: int, base: Polygon, axis: int, step: float,
           tol_area: float) -> float:
    """How far `base` (outline `i`, maybe moved) goes towards 0 along `axis` (0 = x, 1 = y) before it
    overlaps another outline (interiors; touching is allowed) or leaves the strip; -1 when it overlaps
    one where it is. Exponential steps, then bisection."""
    bb = base.bounds
    limit = float(bb[axis])
    o = 1 - axis  # the other axis: neighbours must overlap the piece's range on it
    sel = (bounds[:, o] < bb[o + 2]) & (bounds[:, o + 2] > bb[o]) & (bounds[:, axis] < bb[axis + 2])
    sel[i] = False
    nb = np.asarray([cur[j] for j in np.flatnonzero(sel)], dtype=object)

    def fits(d: float) -> bool:
        g = affinity.translate(base, -d if axis == 0 else 0.0, -d if axis == 1 else 0.0)
        hit = shapely.intersects(nb, g)
        if not hit.any():
            return True
        return bool((shapely.area(shapely.intersection(nb[hit], g)) <= tol_area).all())

    if len(nb) and not fits(0.0):
        return -1.0
    if limit <= 0.0 or len(nb) == 0:
        return max(limit, 0.0)
    lo, s = 0.0, step
    while lo < limit:
        hi = min(lo + s, limit)
        if not fits(hi):
            break
        lo, s = hi, s * 2.0
    else:
        return lo
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


_SIDESTEPS = (0.0, 1.0, -1.0, 2.0, -2.0, 4.0, -4.0)  # vertical offsets (cells) tried before a slide left


def compact(items: Sequence[Item], layout: Layout, cell: float, height: float, *, passes: int = 6,
            time_limit_s: float = 5.0) -> Layout:
    """Slide every placed outline left (after the best of a few small vertical offsets), then down, in
    exact geometry (shapely) until it meets a neighbour or the strip edge, in order of position, for a
    few passes; gives back the slack of the conservative raster. Never moves past x = 0, y = 0 or
    y = `height`, nor right."""
    t0 = time.perf_counter()
    cur = placed_polygons(items, layout, cell)
    if not cur:
        return layout
    shapely.prepare(cur)
    bounds = shapely.bounds(np.asarray(cur, dtype=object))
    shift = np.zeros((len(cur), 2))
    tol_area = 1e-10 * float(min(p.area for p in cur))
    step = cell / 4.0
    for _ in range(passes):
        moved = 0.0
        for axis in (0, 1):
            for i in np.argsort(bounds[:, axis], kind="stable"):
                if time.perf_counter() - t0 > time_limit_s:
                    break
                best_d, best_xy = 0.0, (0.0, 0.0)
                for k in _SIDESTEPS if axis == 0 else (0.0,):
                    dy = k * cell
                    if not (bounds[i, 1] + dy >= 0.0 and bounds[i, 3] + dy <= height):
                        continue
                    base = affinity.translate(cur[i], 0.0, dy) if dy else cur[i]
                    d = _slide(cur, bounds, int(i), base, axis, step, tol_area)
                    if d > best_d + (abs(dy) + 1e-9 * cell if axis == 0 else 1e-9 * cell):
                        best_d, best_xy = d, ((-d, dy) if axis == 0 else (0.0, -d))
                if best_d <= 0.0:
                    continue
                cur[i] = affinity.translate(cur[i], *best_xy)
                shapely.prepare(cur[i])
                bounds[i] = cur[i].bounds
                shift[i] += best_xy
                moved += best_d
        if moved <= 1e-6 * cell:
            break
    placed = [Placed(p.item, p.shape, p.cx, p.cy, p.dx + float(shift[k, 0]), p.dy + float(shift[k, 1]))
              for k, p in enumerate(layout.placed)]
    return Layout(placed=placed, length_cells=layout.length_cells, unplaced=layout.unplaced,
                  iterations=layout.iterations)

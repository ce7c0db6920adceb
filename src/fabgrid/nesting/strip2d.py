"""2D irregular strip packing by sparrow (JeroenGar/sparrow, through its Python bindings `spyrrow`).

A strip of fixed height (y) and free length (x): every copy of every piece goes in, rotated by one of
its allowed angles about the origin, then translated; the length used is minimised. Pieces keep
`spacing` from each other and from the strip's edges: each outline is grown by half the spacing
(mitred, so never less) and packed in a strip narrower by the spacing. sparrow's own minimum item
separation is not used: spyrrow 0.9 panics ("Offset resulted in an empty polygon") when the pieces'
area over the strip height is below it. Every layout is checked independently in exact geometry
(shapely) before it is returned. Knows nothing of meshes, machines or files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import shapely
import spyrrow
from shapely import affinity
from shapely.geometry import Polygon

# sparrow works in single precision: gaps and edges may be off by ~1e-7 of the coordinates
_REL_TOL = 1e-5
_EXPLORATION_SHARE = 0.8  # of the time limit; the rest goes to compression (sparrow's own split)
# sparrow finds no layout where a piece fits the strip height exactly (it panics): keep this share of
# the height free (the ESICUP instances leave 1e-4)
FIT_SLACK = 5e-5
_MITRE_LIMIT = 2.0  # acute corners of a grown outline are clipped at this many half-spacings


class LayoutError(RuntimeError):
    """The solver's layout failed the independent check (overlap, outside the strip, gap too small)."""


@dataclass(frozen=True)
class Piece:
    """A piece type: outer boundary (holes are ignored), allowed rotations in degrees, copies to place."""

    polygon: Polygon
    angles_deg: tuple[float, ...] = (0.0,)
    demand: int = 1


@dataclass(frozen=True)
class Placement:
    """One copy of piece `piece`: rotated by `angle_deg` about the origin, then moved by (`x`, `y`)."""

    piece: int
    angle_deg: float
    x: float
    y: float


@dataclass(frozen=True)
class StripLayout:
    """A packing: the placements, the strip height, the length used (x extent of the pieces plus the
    spacing to the end of the strip), the spacing kept and the pieces' total area."""

    placements: tuple[Placement, ...]
    height: float
    length: float
    spacing: float
    area: float

    @property
    def density(self) -> float:
        """Area of the pieces over length x height."""
        return 0.0 if self.length <= 0 else self.area / (self.length * self.height)


def placed_polygon(piece: Piece, pl: Placement) -> Polygon:
    """The outline of one placement in strip coordinates."""
    return affinity.translate(affinity.rotate(piece.polygon, pl.angle_deg, origin=(0.0, 0.0)), pl.x, pl.y)


def placed_polygons(pieces: Sequence[Piece], layout: StripLayout) -> list[Polygon]:
    """The placed outlines in strip coordinates, in placement order."""
    return [placed_polygon(pieces[p.piece], p) for p in layout.placements]


def rotated_size(polygon: Polygon, angle_deg: float) -> tuple[float, float]:
    """Bounding-box (width, height) of `polygon` rotated by `angle_deg`."""
    minx, miny, maxx, maxy = affinity.rotate(polygon, angle_deg, origin=(0.0, 0.0)).bounds
    return maxx - minx, maxy - miny


def grown(polygon: Polygon, spacing: float, height: float) -> Polygon:
    """`polygon` grown by half of `spacing` and a hair (`_REL_TOL` of `height`) against the solver's
    single precision; itself when `spacing` is 0."""
    if spacing <= 0:
        return polygon
    return Polygon(polygon.buffer(_half_gap(spacing, height), join_style="mitre", mitre_limit=_MITRE_LIMIT).exterior)


def _half_gap(spacing: float, height: float) -> float:
    return 0.0 if spacing <= 0 else 0.5 * spacing + _REL_TOL * height


def fits_strip(polygon: Polygon, angle_deg: float, height: float, spacing: float, *,
               length: float = math.inf) -> bool:
    """Whether `polygon` rotated by `angle_deg` fits a strip of `height` (with `FIT_SLACK`) and
    `length`, `spacing` from every edge."""
    w, h = rotated_size(grown(polygon, spacing, height), angle_deg)
    pad = 2 * _half_gap(spacing, height)
    return h <= (height - pad) * (1.0 - FIT_SLACK) and w <= length - pad


def _outline(polygon: Polygon) -> list[tuple[float, float]]:
    """Counter-clockwise exterior without the closing point and without collinear vertices."""
    ring = shapely.orient_polygons(Polygon(polygon.exterior).simplify(0.0), exterior_cw=False).exterior
    return [(float(x), float(y)) for x, y in ring.coords[:-1]]


def _config(time_limit_s: float, seed: int, workers: int | None) -> spyrrow.StripPackingConfig:
    cfg = spyrrow.StripPackingConfig(early_termination=True, total_computation_time=1, seed=seed,
                                     num_workers=workers)
    # the constructor takes whole seconds; the attributes take any duration
    cfg.exploration_time = timedelta(seconds=_EXPLORATION_SHARE * time_limit_s)
    cfg.compression_time = timedelta(seconds=(1.0 - _EXPLORATION_SHARE) * time_limit_s)
    return cfg


def pack_strip(pieces: Sequence[Piece], height: float, *, spacing: float = 0.0, time_limit_s: float = 3.0,
               seed: int = 0, workers: int | None = None) -> StripLayout:
    """Pack every copy of `pieces` in a strip of `height`, minimising the length; `spacing` is kept
    between pieces and to the strip's edges (so the layout's x starts near `spacing`).

    sparrow explores for 80 % of `time_limit_s` and compresses for the rest (it may stop earlier);
    `workers` threads (None: one per logical core). A piece must fit the height in one of its angles
    with some slack (an exact fit is not found). Raises ValueError for such input and LayoutError
    when the solver's layout fails `verify`.
    """
    if height <= 0 or spacing < 0 or time_limit_s <= 0:
        raise ValueError(f"height {height}, spacing {spacing} and time limit {time_limit_s} s must be positive")
    for k, pc in enumerate(pieces):
        if pc.demand < 0 or not pc.angles_deg or pc.polygon.is_empty or pc.polygon.area <= 0:
            raise ValueError(f"piece {k}: empty outline, no angle or negative demand")
        if not any(fits_strip(pc.polygon, a, height, spacing) for a in pc.angles_deg):
            raise ValueError(f"piece {k} does not fit a strip of height {height} with spacing {spacing}")
    active = [k for k, pc in enumerate(pieces) if pc.demand > 0]
    if not active:
        return StripLayout(placements=(), height=height, length=0.0, spacing=spacing, area=0.0)
    half = _half_gap(spacing, height)
    items = [spyrrow.Item(str(k), _outline(grown(pieces[k].polygon, spacing, height)), pieces[k].demand,
                          list(pieces[k].angles_deg)) for k in active]
    instance = spyrrow.StripPackingInstance("fabgrid", height - 2 * half, items)
    try:
        solution = instance.solve(_config(time_limit_s, seed, workers))
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException (a BaseException)
        if isinstance(exc, Exception | KeyboardInterrupt | SystemExit):
            raise
        raise LayoutError(f"sparrow failed: {exc}") from exc
    placements = tuple(Placement(piece=int(p.id), angle_deg=float(p.rotation), x=float(p.translation[0]) + half,
                                 y=float(p.translation[1]) + half) for p in solution.placed_items)
    polys = [placed_polygon(pieces[p.piece], p) for p in placements]
    layout = StripLayout(placements=placements, height=height, spacing=spacing,
                         length=max(float(p.bounds[2]) for p in polys) + spacing,
                         area=float(sum(p.area for p in polys)))
    verify(pieces, layout)
    return layout


def verify(pieces: Sequence[Piece], layout: StripLayout, *, rel_tol: float = _REL_TOL) -> None:
    """Independent check of a layout in exact geometry: every copy placed once with an allowed angle,
    inside the strip by `spacing`, no two pieces closer than `spacing` (overlapping when it is 0).

    `rel_tol` (of the strip height) absorbs the solver's single precision. Raises LayoutError.
    """
    counts = [0] * len(pieces)
    for p in layout.placements:
        counts[p.piece] += 1
        if not any(_same_angle(p.angle_deg, a) for a in pieces[p.piece].angles_deg):
            raise LayoutError(f"piece {p.piece} at angle {p.angle_deg} (allowed {pieces[p.piece].angles_deg})")
    if counts != [pc.demand for pc in pieces]:
        raise LayoutError(f"placed copies {counts}, asked {[pc.demand for pc in pieces]}")
    tol = rel_tol * layout.height
    gap = layout.spacing
    polys = placed_polygons(pieces, layout)
    if not polys:
        return
    bounds = shapely.bounds(polys)
    if (bounds[:, :2].min() < gap - tol or bounds[:, 3].max() > layout.height - gap + tol
            or bounds[:, 2].max() > layout.length - gap + tol):
        raise LayoutError("a piece is outside the strip or closer than the spacing to its edge")
    tree = shapely.STRtree(polys)
    if gap > 0:
        pairs = tree.query(polys, predicate="dwithin", distance=gap - tol)
    else:
        pairs = tree.query(polys, predicate="intersects")
    for a, b in pairs.T:
        if a >= b:
            continue
        if gap > 0:
            raise LayoutError(f"pieces {a} and {b} are {shapely.distance(polys[a], polys[b])} apart (< {gap})")
        if shapely.intersection(polys[a], polys[b]).area > tol * tol:
            raise LayoutError(f"pieces {a} and {b} overlap")


def _same_angle(a: float, b: float) -> bool:
    d = (a - b) % 360.0
    return min(d, 360.0 - d) < 1e-6

"""The part: one welded mesh in mm with derived facts computed once (`Part`); the typed records of its
geometry facts, orientations and DFM findings are in `domain.part_facts` (re-exported here).

Produced by `fabgrid.geometry`, read by DFM, costing, nesting, the API and the viewer.
numpy (scipy and trimesh lazily, for the hull and `Part.trimesh`); no I/O, no database, no web.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.part_facts import DfmFinding, Orientation, PartGeometry, Severity, Vec3

__all__ = ["DfmFinding", "Hull", "Orientation", "Part", "PartGeometry", "Severity", "Surface", "Vec3"]

# ---------------------------------------------------------------- the part itself

#: Exact convex hull up to this many vertices; above it the hull of a bounded sample (flagged inexact).
HULL_EXACT_MAX_VERTICES = 10_000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
T = TypeVar("T")


@dataclass(frozen=True)
class Surface:
    """Per-face figures of a part, computed in one vectorised pass (arrays are views of one another).

    Attributes
    ----------
    faces_t : (3, m) int64, coordinate-major faces (one contiguous row per corner)
    areas_mm2 : (m,) float64
    normals : (m, 3) float64 unit face normals, zero for degenerate faces
    centroids : (m, 3) float64, mm
    tet6 : (m,) float64, 6 x signed volume of (bbox centre, a, b, c)
    used : (n,) bool, vertices some face uses
    """

    faces_t: IntArray
    areas_mm2: FloatArray
    normals: FloatArray
    centroids: FloatArray
    tet6: FloatArray
    used: NDArray[np.bool_]
    bbox_min_mm: FloatArray
    bbox_max_mm: FloatArray
    volume_mm3: float
    center_mass_mm: FloatArray


@dataclass(frozen=True)
class Hull:
    """Convex hull of a part: its volume, whether it is exact, and the hull's points ((k, 3) mm)."""

    volume_mm3: float
    exact: bool
    points: FloatArray


@dataclass(eq=False)
class Part:
    """The one part object: a welded triangle mesh in mm with its source, and derived facts computed once.

    Produced by `fabgrid.geometry.load` (or `Part.from_trimesh`), read by DFM, costing, nesting and the
    viewer. The arrays must not be modified once a derived fact has been read (they are cached).

    Attributes
    ----------
    vertices : (n, 3) float64, mm
    faces : (m, 3) int64 indices into `vertices`
    group : (m,) int64 index into `group_names` (the object / solid / build item each face came from)
    cache : results engines derive from the part (slices, estimates), keyed by the engine; see `memo`
    """

    name: str
    vertices: FloatArray
    faces: IntArray
    fmt: str = "mesh"
    group: IntArray | None = None
    group_names: list[str] = field(default_factory=list)
    units: str = "mm"
    units_source: str = "assumed"
    notes: list[str] = field(default_factory=list)
    cache: dict[Hashable, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.group is None:
            self.group = np.zeros(len(self.faces), dtype=np.int64)
        if not self.group_names:
            self.group_names = [self.name]

    @classmethod
    def from_trimesh(cls, mesh: Any, name: str = "part", fmt: str = "mesh") -> Part:
        """A part of a `trimesh.Trimesh` (kept as the part's `trimesh`, so nothing is rebuilt)."""
        part = cls(name=name, vertices=np.array(mesh.vertices, dtype=np.float64),
                   faces=np.array(mesh.faces, dtype=np.int64), fmt=fmt)
        part.__dict__["trimesh"] = mesh
        return part

    @property
    def triangles(self) -> int:
        """Number of triangles."""
        return len(self.faces)

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value an engine derived from this part under `key`, made by `make()` on first use."""
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]  # type: ignore[return-value]

    @functools.cached_property
    def surface(self) -> Surface:
        """Areas, normals, centroids, volume and centre of mass in one pass (see `Surface`)."""
        return _surface(self.vertices, self.faces)

    @property
    def volume_mm3(self) -> float:
        """Signed enclosed volume (positive for an outward-wound closed mesh)."""
        return self.surface.volume_mm3

    @property
    def solid_volume_mm3(self) -> float:
        """Enclosed volume whatever the winding (what material and machine time are computed from)."""
        return abs(self.surface.volume_mm3)

    @property
    def area_mm2(self) -> float:
        """Surface area."""
        return float(self.surface.areas_mm2.sum())

    @property
    def center_mass_mm(self) -> FloatArray:
        """(3,) centre of mass of the enclosed volume (the centroid mean for open or flat shells)."""
        return self.surface.center_mass_mm

    @property
    def bbox_min_mm(self) -> FloatArray:
        """(3,) lowest corner of the axis-aligned bounding box."""
        return self.surface.bbox_min_mm

    @property
    def extents_mm(self) -> FloatArray:
        """(3,) size of the axis-aligned bounding box."""
        return self.surface.bbox_max_mm - self.surface.bbox_min_mm

    @property
    def bbox_mm(self) -> tuple[float, float, float]:
        """Size of the bounding box as a tuple (x, y, z)."""
        e = self.extents_mm
        return (float(e[0]), float(e[1]), float(e[2]))

    @functools.cached_property
    def hull(self) -> Hull:
        """Convex hull; above `HULL_EXACT_MAX_VERTICES` the hull of a bounded sample (the axis-extreme
        points plus a strided subset), flagged inexact (a lower bound, typically within 0.1 %)."""
        s = self.surface
        return _convex_hull(self.vertices if bool(s.used.all()) else self.vertices[s.used])

    @property
    def hull_volume_mm3(self) -> float:
        """Volume of the convex hull (see `hull`)."""
        return self.hull.volume_mm3

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the vertices and faces: equal meshes, equal digests."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.vertices, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.faces, dtype=np.int64).tobytes())
        return h.hexdigest()

    @functools.cached_property
    def trimesh(self) -> Any:
        """The part as a `trimesh.Trimesh` (not processed: same vertices and faces), built on first use."""
        import trimesh

        return trimesh.Trimesh(vertices=self.vertices, faces=self.faces, process=False)

    def fits(self, build_volume_mm: tuple[float, float, float]) -> bool:
        """True when the bounding box fits `build_volume_mm`, allowing a 90 degree turn about Z."""
        x, y, z = self.bbox_mm
        bx, by, bz = build_volume_mm
        if z > bz:
            return False
        return (x <= bx and y <= by) or (y <= bx and x <= by)


def _surface(vertices: FloatArray, faces: IntArray) -> Surface:
    used = np.zeros(len(vertices), dtype=bool)
    used[faces.reshape(-1)] = True
    live = vertices if bool(used.all()) else vertices[used]  # a welded mesh uses every vertex: no copy then
    vmin = live.min(axis=0)
    vmax = live.max(axis=0)
    center = (vmin + vmax) / 2.0
    # coordinate-major (3, m) arrays: every product below runs on contiguous rows
    vt = np.ascontiguousarray((vertices - center).T)  # shifting to the box centre keeps the sums well conditioned
    ft = np.ascontiguousarray(faces.T, dtype=np.int64)
    a, b, c = (np.take(vt, ft[k], axis=1) for k in range(3))  # take: several times faster than vt[:, idx]
    sum_abc = a + b
    sum_abc += c
    b -= a
    c -= a
    cross = np.empty_like(a)
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        np.multiply(b[j], c[k], out=cross[i])
        cross[i] -= b[k] * c[j]
    dbl = np.sqrt(cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2])
    areas = dbl / 2.0
    tet6 = a[0] * cross[0] + a[1] * cross[1] + a[2] * cross[2]
    volume = float(tet6.sum() / 6.0)
    del b, c
    scale = float(np.max(vmax - vmin)) if len(live) else 0.0
    scale = scale or 1.0
    # the volume-weighted centre is noise when the volume is round-off (open or flat shells): centroid mean
    com = center + (sum_abc @ tet6) / (4.0 * tet6.sum()) if abs(volume) > 1e-12 * scale ** 3 else \
        sum_abc.mean(axis=1) / 3.0 + center
    sum_abc /= 3.0
    sum_abc += center[:, None]
    np.divide(cross, dbl, out=cross, where=dbl > 0)
    cross[:, dbl <= 0] = 0.0
    return Surface(faces_t=ft, areas_mm2=areas, normals=cross.T, centroids=sum_abc.T, tet6=tet6, used=used,
                   bbox_min_mm=vmin, bbox_max_mm=vmax, volume_mm3=volume,
                   center_mass_mm=np.asarray(com, dtype=np.float64))


def _convex_hull(points: FloatArray) -> Hull:
    from scipy.spatial import ConvexHull, QhullError

    exact = len(points) <= HULL_EXACT_MAX_VERTICES
    pts = points
    if not exact:
        # the axis extremes keep the hull's bounding box exact; the strided subset covers the rest
        extreme = np.unique(np.r_[np.argmin(points, axis=0), np.argmax(points, axis=0)])
        step = max(1, len(points) // HULL_EXACT_MAX_VERTICES)
        pts = points[np.union1d(extreme, np.arange(0, len(points), step))]
    try:
        hull = ConvexHull(pts)
    except (QhullError, ValueError):
        return Hull(0.0, exact, np.zeros((0, 3)))  # flat or degenerate point set: no volume
    return Hull(float(hull.volume), exact, pts[hull.vertices])

"""Wall thickness and clearance by ray casting from a bounded, area-weighted sample of surface points:
inward along -normal to the opposite wall (thickness), outward along +normal to the next surface
(gaps and holes). Uses Embree (embreex) when installed, else trimesh's rtree ray tracer.

Depends on numpy, embreex or trimesh; never on store, services or web.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fabgrid.geometry import limits
from fabgrid.geometry.analyze import MeshFacts

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class Thickness:
    """Per sample (k,): surface point (k, 3) mm, its face, wall thickness and outward clearance in mm.

    `wall_mm` / `gap_mm` are inf where the ray left the part (open mesh, or nothing in front).
    """

    points_mm: FloatArray
    faces: IntArray
    wall_mm: FloatArray
    gap_mm: FloatArray
    engine: str

    @property
    def min_wall_mm(self) -> float | None:
        """Smallest measured wall, None when no ray hit an opposite wall."""
        finite = self.wall_mm[np.isfinite(self.wall_mm)]
        return float(finite.min()) if len(finite) else None

    def thinnest(self) -> tuple[float, tuple[float, float, float]] | None:
        """The smallest wall and where it was measured."""
        if not np.isfinite(self.wall_mm).any():
            return None
        k = int(np.nanargmin(np.where(np.isfinite(self.wall_mm), self.wall_mm, np.nan)))
        p = self.points_mm[k]
        return float(self.wall_mm[k]), (float(p[0]), float(p[1]), float(p[2]))


class _Caster:
    """First-hit ray casting against one mesh: (origins, directions) -> (distance, face) with -1 for a miss."""

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        self.engine = "embree" if importlib.util.find_spec("embreex") is not None else "trimesh-rtree"
        if self.engine == "embree":
            from embreex import mesh_construction, rtcore_scene

            self.scene = rtcore_scene.EmbreeScene()
            mesh_construction.TriangleMesh(self.scene, np.ascontiguousarray(vertices, dtype=np.float32),
                                           np.ascontiguousarray(faces, dtype=np.int32))
        else:
            import trimesh
            from trimesh.ray.ray_triangle import RayMeshIntersector

            self.tracer = RayMeshIntersector(trimesh.Trimesh(vertices, faces, process=False))  # type: ignore[no-untyped-call]

    def first_hit(self, origins: FloatArray, dirs: FloatArray) -> tuple[FloatArray, IntArray]:
        if len(origins) == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        if self.engine == "embree":
            res = self.scene.run(np.ascontiguousarray(origins, dtype=np.float32),
                                 np.ascontiguousarray(dirs, dtype=np.float32), output=1)
            face = np.asarray(res["primID"], dtype=np.int64)
            dist = np.where(face >= 0, np.asarray(res["tfar"], dtype=np.float64), np.inf)
            return dist, face
        tri, ray, loc = self.tracer.intersects_id(  # type: ignore[no-untyped-call]
            origins, dirs, multiple_hits=False, return_locations=True)
        dist = np.full(len(origins), np.inf)
        face = np.full(len(origins), -1, dtype=np.int64)
        dist[ray] = np.einsum("ij,ij->i", loc - origins[ray], dirs[ray])
        face[ray] = tri
        return dist, face


def sample_surface(facts: MeshFacts, count: int, seed: int = 0) -> tuple[FloatArray, IntArray]:
    """`count` area-weighted random points on non-degenerate faces: (points (k, 3), faces (k,))."""
    rng = np.random.default_rng(seed)
    weights = np.where(np.linalg.norm(facts.normals, axis=1) > 0, facts.areas_mm2, 0.0)
    total = weights.sum()
    if total <= 0:
        return np.zeros((0, 3)), np.zeros(0, dtype=np.int64)
    cdf = np.cumsum(weights)
    face = np.minimum(np.searchsorted(cdf, rng.random(count) * cdf[-1], side="right"), len(cdf) - 1)
    # always include the faces' own extremes of size: the smallest faces are where fine detail lives
    r = rng.random((count, 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    tri = facts.vertices[facts.faces[face]]
    pts = tri[:, 0] + r[:, :1] * (tri[:, 1] - tri[:, 0]) + r[:, 1:] * (tri[:, 2] - tri[:, 0])
    return pts, face.astype(np.int64)


def measure(facts: MeshFacts, samples: int = limits.THICKNESS_SAMPLES, seed: int = 0) -> Thickness:
    """Wall thickness (inward rays) and clearance (outward rays) at `samples` surface points."""
    pts, face = sample_surface(facts, samples, seed)
    caster = _Caster(facts.vertices, facts.faces)
    n = facts.normals[face]
    eps = 1e-5 * max(float(np.max(facts.extents_mm)), 1e-9)
    wall, wface = caster.first_hit(pts - n * eps, -n)
    gap, gface = caster.first_hit(pts + n * eps, n)
    # a wall ends where the ray leaves the material (exit face points along the ray); anything else
    # (hitting an inward-facing face) is inconsistent winding or an inner shell, not a wall
    # only roughly facing surfaces (within 60 deg) bound a wall or a gap: rays that graze a
    # neighbouring face at a corner measure the corner, not a wall
    ok_wall = (wface >= 0) & (np.einsum("ij,ij->i", facts.normals[np.maximum(wface, 0)], -n) > 0.5)
    ok_gap = (gface >= 0) & (np.einsum("ij,ij->i", facts.normals[np.maximum(gface, 0)], n) < -0.5)
    wall = np.where(ok_wall, wall + eps, np.inf)
    gap = np.where(ok_gap, gap + eps, np.inf)
    return Thickness(points_mm=pts, faces=face, wall_mm=wall, gap_mm=gap, engine=caster.engine)


def thin_regions(th: Thickness, threshold_mm: float, link_mm: float) -> list[IntArray]:
    """Clusters (sample indices, thinnest first) of samples with wall < threshold_mm, linking samples
    closer than link_mm."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    thin = np.flatnonzero(th.wall_mm < threshold_mm)
    if len(thin) == 0:
        return []
    pairs = cKDTree(th.points_mm[thin]).query_pairs(link_mm, output_type="ndarray")
    g = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(thin), len(thin)))
    _, label = connected_components(g, directed=False)
    groups = [thin[label == k] for k in range(int(label.max()) + 1)]
    return sorted(groups, key=lambda idx: float(th.wall_mm[idx].min()))

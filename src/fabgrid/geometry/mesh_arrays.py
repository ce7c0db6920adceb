"""The per-face and per-edge arrays of a triangle mesh that the slicer reads, and its first-hit ray query, computed
with the same numpy operations as trimesh 4-5 (the same bits), without importing trimesh (about 0.4 s of a
`fabgrid quote` process). trimesh is imported only where embreex is absent, for its own ray tracer.
Depends on numpy and embreex; must not depend on costing, store, services or any web layer.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# trimesh's zero (util.TOL_ZERO, tol.zero) and the smallest |direction . normal| of its plane-line intersection
_TOL_ZERO = float(np.finfo(np.float64).resolution * 100)
_PARALLEL = 1e-5


def _unitize(vectors: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """(m, 3) unit rows and which rows were longer than zero (trimesh's `util.unitize`; rows of zero length keep
    their value)."""
    norm = np.sqrt(np.dot(vectors * vectors, [1.0] * vectors.shape[1]))
    valid = norm > _TOL_ZERO
    norm[valid] **= -1
    return vectors * norm.reshape((-1, 1)), valid


def _diagonal_dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """(m,) row-wise dot products (trimesh's `util.diagonal_dot`)."""
    return np.asarray(np.dot(a * b, [1.0] * a.shape[1]), dtype=np.float64)


class MeshArrays:
    """A triangle mesh as arrays, with the derived arrays under trimesh's `Trimesh` names.

    Attributes
    ----------
    vertices : (n, 3) float64, mm
    faces : (m, 3) int64 indices into `vertices`
    triangles : (m, 3, 3) float64, the corners of each face
    triangles_cross : (m, 3) float64, cross product of the edges b - a and c - b
    face_normals : (m, 3) float64 unit normals, zero for degenerate faces
    area_faces : (m,) float64, mm2
    triangles_center : (m, 3) float64, mm
    edges_unique : (k, 2) int64 vertex indices, each edge once (lower index first)
    faces_unique_edges : (m, 3) int64 indices into `edges_unique` of the edges a-b, b-c, c-a
    """

    def __init__(self, vertices: FloatArray, faces: IntArray) -> None:
        self.vertices: FloatArray = np.ascontiguousarray(vertices, dtype=np.float64)
        self.faces: IntArray = np.ascontiguousarray(faces, dtype=np.int64)

    @functools.cached_property
    def triangles(self) -> FloatArray:
        """(m, 3, 3) corners of each face."""
        return np.asarray(self.vertices[self.faces], dtype=np.float64)

    @functools.cached_property
    def triangles_cross(self) -> FloatArray:
        """(m, 3) cross product of the edge vectors b - a and c - b."""
        tri = self.triangles
        vectors = tri[:, 1:, :] - tri[:, :2, :]
        return np.asarray(np.cross(vectors[:, 0], vectors[:, 1]), dtype=np.float64)

    @functools.cached_property
    def face_normals(self) -> FloatArray:
        """(m, 3) unit normals; zero where the face has no area."""
        if len(self.faces) == 0:
            return np.zeros((0, 3), dtype=np.float64)
        unit, valid = _unitize(self.triangles_cross)
        if valid.all():
            return unit
        padded = np.zeros((len(self.faces), 3), dtype=np.float64)
        padded[valid] = unit[valid]
        return padded

    @functools.cached_property
    def area_faces(self) -> FloatArray:
        """(m,) area of each face, mm2."""
        return np.asarray(np.sqrt((self.triangles_cross**2).sum(axis=1)) / 2.0, dtype=np.float64)

    @functools.cached_property
    def triangles_center(self) -> FloatArray:
        """(m, 3) centroid of each face."""
        return np.asarray(self.triangles.mean(axis=1), dtype=np.float64)

    @functools.cached_property
    def _unique_edges(self) -> tuple[IntArray, IntArray]:
        edges = np.sort(self.faces[:, [0, 1, 1, 2, 2, 0]].reshape((-1, 2)), axis=1)
        if len(edges) == 0:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
        # rows packed into one integer each as trimesh's grouping.hashable_rows does, so that the edges come in
        # its order (32 bits per column while the indices fit, else the rows' bytes)
        threshold = 2**31 - 1
        rows: NDArray[Any]
        if int(edges.max()) < threshold and int(edges.min()) > -threshold:
            rows = np.zeros(len(edges), dtype=np.uint64)
            for offset, column in enumerate((edges.T + (threshold + 1)).astype(np.uint64)):
                np.bitwise_xor(rows, column << (offset * 32), out=rows)
        else:
            rows = np.ascontiguousarray(edges).view(np.dtype((np.void, edges.dtype.itemsize * 2))).reshape(-1)
        _, index, inverse = np.unique(rows, return_index=True, return_inverse=True)
        return edges[index], np.asarray(inverse, dtype=np.int64).reshape(-1)

    @property
    def edges_unique(self) -> IntArray:
        """(k, 2) each edge once, lower vertex index first."""
        return self._unique_edges[0]

    @property
    def faces_unique_edges(self) -> IntArray:
        """(m, 3) for each face, the indices into `edges_unique` of its edges a-b, b-c, c-a."""
        return self._unique_edges[1].reshape((-1, 3))

    @functools.cached_property
    def scale(self) -> float:
        """Diagonal of the bounding box of the vertices the faces use (1.0 for an empty or point-like mesh)."""
        used = np.zeros(len(self.vertices), dtype=bool)
        used[self.faces] = True
        points = self.vertices[used]
        if len(points) == 0:
            return 1.0
        extents = np.ptp(np.array([points.min(axis=0), points.max(axis=0)]), axis=0)
        scale = float((extents**2).sum() ** 0.5)
        return 1.0 if scale < _TOL_ZERO else scale

    @functools.cached_property
    def ray(self) -> FirstHits | Any:
        """First-hit ray queries, `intersects_location(origins, directions, multiple_hits=False)`: Embree through
        embreex as trimesh's embree tracer casts them, or trimesh's own tracer where embreex is not installed."""
        try:
            from embreex import mesh_construction, rtcore_scene
        except ImportError:
            import trimesh

            return trimesh.Trimesh(vertices=self.vertices, faces=self.faces, process=False).ray
        return FirstHits(self, rtcore_scene, mesh_construction)


class FirstHits:
    """Embree's first hit per ray through embreex, as trimesh's `ray_pyembree.RayMeshIntersector` finds it: the mesh
    moved to the origin and scaled to a diagonal of 100 in float32, the hit point on the face's plane in float64."""

    def __init__(self, mesh: MeshArrays, rtcore_scene: Any, mesh_construction: Any) -> None:
        self.mesh = mesh
        self.origin = mesh.vertices.min(axis=0)
        self.scale = float(100.0 / mesh.scale)
        self.scene = rtcore_scene.EmbreeScene()
        mesh_construction.TriangleMesh(scene=self.scene,
                                       vertices=((mesh.vertices - self.origin) * self.scale).astype(np.float32),
                                       indices=mesh.faces.astype(np.int32))

    def intersects_location(self, ray_origins: FloatArray, ray_directions: FloatArray,
                            multiple_hits: bool = False) -> tuple[FloatArray, IntArray, IntArray]:
        """((h, 3) hit points, (h,) ray index, (h,) face index) of the rays that hit (first hit only)."""
        if multiple_hits:
            raise NotImplementedError("only the first hit of each ray")
        origins = np.array(ray_origins, dtype=np.float64)
        directions, _ = _unitize(np.array(ray_directions, dtype=np.float64))
        if origins.shape != directions.shape:
            raise ValueError("ray origins and directions differ in shape")
        scaled = (origins - self.origin) * self.scale
        query = self.scene.run(scaled.astype(np.float32), directions.astype(np.float32))
        hit = query != -1
        rays = np.flatnonzero(hit).astype(np.int64)
        faces = np.asarray(query[hit], dtype=np.int64)
        if len(rays) == 0:
            return np.zeros((0, 3), dtype=np.float64), rays, faces
        # where each ray meets its face's plane (trimesh's intersections.planes_lines); near-parallel rays drop out
        plane_origins = self.mesh.triangles[:, 0, :][faces]
        plane_normals = self.mesh.face_normals[faces]
        line_origins, line_dirs = origins[rays], directions[rays]
        along = _diagonal_dot(plane_origins - line_origins, plane_normals)
        across = _diagonal_dot(line_dirs, plane_normals)
        valid = np.abs(across) > _PARALLEL
        distance = np.divide(along[valid], across[valid])
        on_plane = line_dirs[valid] * distance.reshape((-1, 1))
        on_plane += line_origins[valid]
        return on_plane, rays[valid], faces[valid]

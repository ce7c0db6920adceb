"""Geometry facts of a part: its mass properties and hull (computed once by `domain.Part`), topology
(bodies, watertightness, winding, boundary loops, non-manifold edges, genus), degenerate and duplicate faces.

Whole-array numpy (one sort of the edge keys does watertightness, winding and boundaries together).
Depends on numpy, scipy and `fabgrid.domain`; never on store, services or web.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabgrid.domain.part import Part

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class MeshFacts:
    """Facts of one mesh in mm (arrays are per face, shape (m,) or (m, 3)).

    `normals` are unit face normals (zero for degenerate faces); `areas_mm2` per face;
    `body` the connected component of each face; `*_faces` are face indices for the viewer.
    """

    vertices: FloatArray
    faces: IntArray
    normals: FloatArray
    areas_mm2: FloatArray
    centroids: FloatArray
    body: IntArray
    bodies: int
    bbox_min_mm: FloatArray
    bbox_max_mm: FloatArray
    volume_mm3: float
    area_mm2: float
    center_mass_mm: FloatArray
    watertight: bool
    winding_consistent: bool
    edges: int
    boundary_edges: int
    boundary_loops: int
    nonmanifold_edges: int
    degenerate_faces: IntArray
    duplicate_faces: IntArray
    euler_characteristic: int
    body_volumes_mm3: FloatArray
    boundary_faces: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    nonmanifold_faces: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    inconsistent_faces: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    boundary_loop_edges: IntArray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    hull_volume_mm3: float = 0.0
    hull_exact: bool = True
    hull_points: FloatArray = field(default_factory=lambda: np.zeros((0, 3)))

    @property
    def extents_mm(self) -> FloatArray:
        """(3,) size of the axis-aligned bounding box."""
        return self.bbox_max_mm - self.bbox_min_mm

    @functools.cached_property
    def body_sizes_mm(self) -> FloatArray:
        """(bodies,) largest extent of each body's face centroids (a lower bound of its size)."""
        if self.bodies == 0:
            return np.zeros(0)
        if self.bodies == 1:
            return np.array([float(np.ptp(self.centroids, axis=0).max())])
        order = np.argsort(self.body, kind="stable")
        start = np.flatnonzero(np.r_[True, np.diff(self.body[order]) != 0])
        c = self.centroids[order]
        size: FloatArray = (np.maximum.reduceat(c, start) - np.minimum.reduceat(c, start)).max(axis=1)
        return size

    @property
    def genus(self) -> int | None:
        """Through-holes of a closed, single-body, manifold mesh (None otherwise)."""
        if not self.watertight or self.bodies != 1:
            return None
        return max(0, (2 - self.euler_characteristic) // 2)


def unique_ints(a: NDArray[np.integer[Any]]) -> IntArray:
    """Sorted unique values of an integer array (sort based: numpy's hash-based unique is slower here)."""
    s = np.sort(np.asarray(a, dtype=np.int64).reshape(-1))
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _edge_topology(ft: IntArray, n_vertices: int) -> dict[str, Any]:
    """Undirected edges keyed lo*n+hi with a direction bit; one sort gives every edge count.

    `ft` is the coordinate-major face array (3, m); edge k of face f is entry k*m + f of `key2`.
    """
    src, dst = ft, ft[[1, 2, 0]]
    key2 = np.minimum(src, dst).reshape(-1)
    key2 *= n_vertices
    key2 += np.maximum(src, dst).reshape(-1)
    key2 *= 2
    key2 += (src > dst).reshape(-1)
    s = np.sort(key2)
    und = s >> 1
    start = np.flatnonzero(np.r_[True, und[1:] != und[:-1]])
    counts = np.diff(np.r_[start, len(und)])
    pair = start[counts == 2]
    # a shared edge is consistently wound when its two faces traverse it in opposite directions
    inconsistent = int(np.count_nonzero((s[pair] & 1) == (s[pair + 1] & 1)))
    return {"key2": key2, "unique": und[start], "counts": counts, "inconsistent": inconsistent}


def _faces_of_edges(key2: IntArray, keys: IntArray) -> IntArray:
    """Faces that own one of the undirected edge keys (`key2` edge-major, as `_edge_topology` builds it)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    return unique_ints(np.flatnonzero(np.isin(key2 >> 1, keys)) % (len(key2) // 3))


def _components(n: int, a: IntArray, b: IntArray) -> tuple[int, IntArray]:
    """Connected components of the graph with edges a-b over n vertices: (count, label per vertex)."""
    g = sparse.csr_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    count, labels = connected_components(g, directed=True, connection="weak")  # weak: edges count both ways
    return int(count), labels.astype(np.int64)


def orientation_directions() -> FloatArray:
    """The 26 unit directions of a cube's 6 faces, 12 edges and 8 corners, (26, 3)."""
    g = np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij")).reshape(3, -1).T
    g = g[np.any(g != 0, axis=1)].astype(np.float64)
    order = np.argsort(np.abs(g).sum(axis=1), kind="stable")  # faces, then edges, then corners
    g = g[order]
    out: FloatArray = g / np.linalg.norm(g, axis=1, keepdims=True)
    return out


def mesh_facts(vertices: FloatArray, faces: IntArray, hull: bool = True) -> MeshFacts:
    """All geometry facts of a welded mesh: vertices (n, 3) float mm, faces (m, 3) int."""
    return part_facts(Part(name="mesh", vertices=vertices, faces=np.asarray(faces, dtype=np.int64)), hull=hull)


def part_facts(part: Part, hull: bool = True) -> MeshFacts:
    """All geometry facts of a part: its mass properties (`Part.surface`, shared with costing and
    nesting) plus topology, degenerate and duplicate faces, bodies and (with `hull`) the convex hull."""
    vertices, faces = part.vertices, part.faces
    s = part.surface
    vmin, vmax, ft, areas, tet6, used = s.bbox_min_mm, s.bbox_max_mm, s.faces_t, s.areas_mm2, s.tet6, s.used
    scale = float(np.max(vmax - vmin)) or 1.0
    repeated = (ft[0] == ft[1]) | (ft[1] == ft[2]) | (ft[0] == ft[2])
    degenerate = np.flatnonzero(repeated | (areas <= 1e-12 * scale * scale))

    nv = len(vertices)
    topo = _edge_topology(ft, nv)
    counts: IntArray = topo["counts"]
    boundary_keys = topo["unique"][counts == 1]
    nonmanifold_keys = topo["unique"][counts > 2]
    watertight = bool(len(boundary_keys) == 0 and len(nonmanifold_keys) == 0)

    duplicates = _duplicate_faces(faces, nv)

    # bodies from the unique edges the topology sort already found (half the entries of a per-face graph)
    lo_hi = topo["unique"]
    n_bodies, vlabel = _components(nv, lo_hi // nv, lo_hi % nv)
    face_label = np.take(vlabel, ft[0])
    present = np.flatnonzero(np.bincount(face_label, minlength=n_bodies))
    remap = np.full(n_bodies, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    body = np.take(remap, face_label)
    body_volumes = np.bincount(body, weights=tet6, minlength=len(present)) / 6.0

    bl_edges = np.stack([boundary_keys // nv, boundary_keys % nv], axis=1) if len(boundary_keys) else \
        np.zeros((0, 2), dtype=np.int64)
    loops = 0
    if len(bl_edges):
        _loops_all, lab = _components(nv, bl_edges[:, 0], bl_edges[:, 1])
        loops = len(unique_ints(lab[bl_edges[:, 0]]))

    facts = MeshFacts(
        vertices=vertices, faces=faces, normals=s.normals, areas_mm2=areas, centroids=s.centroids, body=body,
        bodies=len(present), bbox_min_mm=vmin, bbox_max_mm=vmax, volume_mm3=s.volume_mm3,
        area_mm2=part.area_mm2, center_mass_mm=s.center_mass_mm,
        watertight=watertight, winding_consistent=topo["inconsistent"] == 0, edges=len(counts),
        boundary_edges=len(boundary_keys), boundary_loops=loops, nonmanifold_edges=len(nonmanifold_keys),
        degenerate_faces=degenerate, duplicate_faces=duplicates,
        euler_characteristic=int(used.sum()) - len(counts) + len(faces), body_volumes_mm3=body_volumes,
        boundary_loop_edges=bl_edges,
    )
    if len(boundary_keys) or len(nonmanifold_keys) or topo["inconsistent"]:
        facts.boundary_faces = _faces_of_edges(topo["key2"], boundary_keys)
        facts.nonmanifold_faces = _faces_of_edges(topo["key2"], nonmanifold_keys)
        if topo["inconsistent"]:
            facts.inconsistent_faces = _inconsistent_faces(topo["key2"])
    if hull:
        h = part.hull
        facts.hull_volume_mm3, facts.hull_exact, facts.hull_points = h.volume_mm3, h.exact, h.points
    return facts


def _duplicate_faces(faces: IntArray, nv: int) -> IntArray:
    """Faces using the same three vertices as an earlier face (any order); one sort when there are none."""
    fs = np.sort(faces, axis=1)
    if nv < 2_000_000:
        key = (fs[:, 0] * nv + fs[:, 1]) * nv + fs[:, 2]
    else:
        key = np.unique(fs, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
    s = np.sort(key)
    if not np.any(s[1:] == s[:-1]):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    sk = key[order]
    return np.sort(order[1:][sk[1:] == sk[:-1]])


def _inconsistent_faces(key2: IntArray) -> IntArray:
    """Faces on an edge that two faces traverse in the same direction."""
    order = np.argsort(key2, kind="stable")
    s = key2[order]
    same = np.flatnonzero(s[1:] == s[:-1])
    return unique_ints(np.r_[order[same], order[same + 1]] % (len(key2) // 3))

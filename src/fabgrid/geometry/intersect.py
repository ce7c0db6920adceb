"""Self-intersection detection: candidate triangle pairs from an R-tree over the triangles'
bounding boxes, then an exact, vectorised segment-triangle test (edges of each triangle against the
other). Pairs that share a vertex are neighbours and are not tested.

Depends on numpy and rtree; never on store, services or web.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fabgrid.geometry import limits
from fabgrid.geometry.analyze import unique_ints

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_BATCH = 400_000


@dataclass
class SelfIntersections:
    """Faces that cross another face; `complete` is False when the pair budget cut the search short."""

    faces: IntArray
    pairs_tested: int
    complete: bool


def _candidate_pairs(lo: FloatArray, hi: FloatArray, max_pairs: int) -> tuple[IntArray, bool]:
    """Unique pairs (p, 2), i < j, of triangles whose bounding boxes overlap: an R-tree bulk-loaded from
    the box arrays and queried with all boxes at once (libspatialindex through rtree, in chunks so the
    pair budget bounds memory). False when the budget was spent."""
    from rtree import index

    props = index.Property()
    props.dimension = 3
    ids = np.arange(len(lo), dtype=np.int64)
    tree = index.Index((ids, np.ascontiguousarray(lo), np.ascontiguousarray(hi)), properties=props)
    out: list[IntArray] = []
    total = 0
    for s in range(0, len(lo), 50_000):
        hit, counts = tree.intersection_v(lo[s:s + 50_000], hi[s:s + 50_000])  # type: ignore[no-untyped-call]
        i = np.repeat(ids[s:s + 50_000], counts.astype(np.int64))
        hit = hit.astype(np.int64)
        keep = i < hit
        total += int(keep.sum())
        if total > max_pairs:
            return np.zeros((0, 2), dtype=np.int64), False
        out.append(np.stack([i[keep], hit[keep]], axis=1))
    return (np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)), True


def _segment_hits(p0: FloatArray, p1: FloatArray, tri: FloatArray, eps: float) -> NDArray[np.bool_]:
    """Möller-Trumbore for segments p0->p1 (n, 3) against triangles (n, 3, 3); strict interior hits."""
    v0 = tri[:, 0]
    e1 = tri[:, 1] - v0
    e2 = tri[:, 2] - v0
    d = p1 - p0
    h = np.cross(d, e2)
    a = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(a) > eps
    f = np.divide(1.0, a, out=np.zeros_like(a), where=ok)
    s = p0 - v0
    u = f * np.einsum("ij,ij->i", s, h)
    q = np.cross(s, e1)
    v = f * np.einsum("ij,ij->i", d, q)
    t = f * np.einsum("ij,ij->i", e2, q)
    tol = 1e-9
    hit: NDArray[np.bool_] = ok & (u > tol) & (v > tol) & (u + v < 1 - tol) & (t > tol) & (t < 1 - tol)
    return hit


def self_intersections(vertices: FloatArray, faces: IntArray,
                       max_pairs: int = limits.SELF_INTERSECTION_MAX_PAIRS) -> SelfIntersections:
    """Faces that intersect a non-adjacent face of the same mesh."""
    tri = vertices[faces]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    pairs, complete = _candidate_pairs(lo, hi, max_pairs)
    if len(pairs) == 0:
        return SelfIntersections(np.zeros(0, dtype=np.int64), 0, complete)
    fa, fb = faces[pairs[:, 0]], faces[pairs[:, 1]]
    shared = (fa[:, :, None] == fb[:, None, :]).any(axis=(1, 2))
    pairs = pairs[~shared]
    scale = float(np.ptp(vertices, axis=0).max()) or 1.0
    eps = 1e-12 * scale ** 2
    hit_faces: list[IntArray] = []
    for s in range(0, len(pairs), _BATCH):
        p = pairs[s:s + _BATCH]
        ta, tb = tri[p[:, 0]], tri[p[:, 1]]
        hit = np.zeros(len(p), dtype=bool)
        for x, y in ((ta, tb), (tb, ta)):
            for i in range(3):
                hit |= _segment_hits(x[:, i], x[:, (i + 1) % 3], y, eps)
        hit_faces.append(p[hit].reshape(-1))
    faces_hit = unique_ints(np.concatenate(hit_faces)) if hit_faces else np.zeros(0, dtype=np.int64)
    return SelfIntersections(faces_hit.astype(np.int64), len(pairs), complete)

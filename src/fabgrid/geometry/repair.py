"""Automatic repair of simple mesh defects, reporting what changed: merge near-coincident vertices,
drop degenerate and duplicate faces, make the winding consistent, point normals outward (keeping
inner cavities as cavities), fill small holes.

Vectorised numpy/scipy (no per-face Python loop). Depends on numpy and scipy; never on store,
services or web.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabgrid.domain.geometry import RepairOutcome
from fabgrid.domain.part import Part
from fabgrid.geometry import limits
from fabgrid.geometry.analyze import unique_ints
from fabgrid.geometry.load import weld

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class RepairResult:
    """The repaired mesh and what was changed (counts and readable lines)."""

    vertices: FloatArray
    faces: IntArray
    changes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def winding_number(points: FloatArray, vertices: FloatArray, faces: IntArray) -> FloatArray:
    """Generalised winding number (k,) of points (k, 3) w.r.t. a triangle mesh (about 1 inside, 0 outside).

    Van Oosterom-Strackee solid angles summed over all faces, chunked over faces.
    """
    out = np.zeros(len(points))
    for s in range(0, len(faces), 200_000):
        tri = vertices[faces[s:s + 200_000]]
        for k, p in enumerate(points):
            a, b, c = tri[:, 0] - p, tri[:, 1] - p, tri[:, 2] - p
            la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
            num = np.einsum("ij,ij->i", a, np.cross(b, c))
            den = (la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la
                   + np.einsum("ij,ij->i", c, a) * lb)
            out[k] += 2.0 * np.arctan2(num, den).sum()
    return out / (4.0 * np.pi)


def _merge(vertices: FloatArray, faces: IntArray, tol: float) -> tuple[FloatArray, IntArray, int]:
    snapped = np.round(vertices / tol) * tol
    merged, inverse = weld(snapped)
    # keep the original coordinates of the first vertex of each merged group
    first = np.full(len(merged), -1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return vertices[first], inverse[faces], len(vertices) - len(merged)


def _clean(faces: IntArray, vertices: FloatArray) -> tuple[IntArray, int, int]:
    tri = vertices[faces]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    scale = float(np.ptp(vertices, axis=0).max()) or 1.0
    rep = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    bad = rep | (area2 <= 1e-12 * scale * scale)
    faces = faces[~bad]
    _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
    kept = faces[np.sort(first)]
    return kept, int(bad.sum()), len(faces) - len(kept)


def _fill_holes(vertices: FloatArray, faces: IntArray, max_edges: int) -> tuple[FloatArray, IntArray, int]:
    """Fan-fill boundary loops of at most `max_edges` edges around a new centre vertex."""
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    key = np.minimum(e[:, 0], e[:, 1]) * len(vertices) + np.maximum(e[:, 0], e[:, 1])
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    border = e[cnt[inv.reshape(-1)] == 1]
    if len(border) == 0:
        return vertices, faces, 0
    n = len(vertices)
    g = sparse.coo_matrix((np.ones(len(border)), (border[:, 0], border[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    loop = lab[border[:, 0]]
    ids, loop_idx, size = np.unique(loop, return_inverse=True, return_counts=True)
    # a loop is a simple cycle when its edges use each of its vertices exactly twice
    vcount = np.bincount(border.reshape(-1), minlength=n)
    simple = np.ones(len(ids), dtype=bool)
    np.logical_and.at(simple, loop_idx, (vcount[border[:, 0]] == 2) & (vcount[border[:, 1]] == 2))
    small = simple & (size <= max_edges) & (size >= 3)
    if not small.any():
        return vertices, faces, 0
    sel = small[loop_idx]
    centre_sum = np.zeros((len(ids), 3))
    # each vertex of a simple loop ends two of its edges: the mean over both ends is the loop's centre
    # whichever way the edges run (a face wound the wrong way beside the hole reverses one of them)
    np.add.at(centre_sum, loop_idx[sel], vertices[border[sel, 0]] + vertices[border[sel, 1]])
    new_index = np.full(len(ids), -1, dtype=np.int64)
    new_index[small] = n + np.arange(int(small.sum()))
    centres = centre_sum[small] / (2.0 * size[small, None])
    fill = np.stack([border[sel, 1], border[sel, 0], new_index[loop_idx[sel]]], axis=1)
    return np.vstack([vertices, centres]), np.vstack([faces, fill]), int(small.sum())


def _consistent_winding(faces: IntArray, n_vertices: int) -> NDArray[np.bool_]:
    """Faces to reverse so that every manifold edge is traversed in opposite directions by its two faces.

    A breadth-first spanning forest of the face graph (scipy) gives each face a parent; the parity
    "flip relative to the parent" is propagated to the roots by pointer doubling (log2(depth) whole-array
    steps), so there is no per-face Python loop.
    """
    from scipy.sparse.csgraph import breadth_first_order

    m = len(faces)
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    key = (np.minimum(e[:, 0], e[:, 1]) * n_vertices + np.maximum(e[:, 0], e[:, 1])) * 2 + (e[:, 0] > e[:, 1])
    order = np.argsort(key, kind="stable")
    und = key[order] >> 1
    start = np.flatnonzero(np.r_[True, und[1:] != und[:-1]])
    count = np.diff(np.r_[start, len(und)])
    two = start[count == 2]
    fa, fb = order[two] // 3, order[two + 1] // 3
    parity = ((key[order[two]] & 1) == (key[order[two + 1]] & 1)).astype(np.int8) + 1  # 2: same direction
    keep = fa != fb
    g = sparse.coo_matrix((np.r_[parity[keep], parity[keep]], (np.r_[fa[keep], fb[keep]], np.r_[fb[keep], fa[keep]])),
                          shape=(m, m)).tocsr()
    g.sum_duplicates()
    _, label = connected_components(g, directed=False)
    size = np.bincount(label)
    parent = np.arange(m)
    roots = np.unique(label, return_index=True)[1]
    for root in roots[size[label[roots]] > 1]:
        nodes, pred = breadth_first_order(g, int(root), directed=False, return_predecessors=True)
        parent[nodes[1:]] = pred[nodes[1:]]
    child = np.flatnonzero(parent != np.arange(m))
    rel = np.zeros(m, dtype=np.int8)
    picked = g[child, parent[child]]  # a dense matrix, or sparse for some index shapes and scipy versions
    picked = picked.toarray() if sparse.issparse(picked) else picked
    rel[child] = (np.asarray(picked).reshape(-1) == 2).astype(np.int8)
    anc = parent.copy()
    while np.any(anc != anc[anc]):  # pointer doubling: rel[v] stays the parity from v to anc[v]
        rel ^= rel[anc]
        anc = anc[anc]
    rel ^= rel[anc]  # one last step once every anc is a root (roots have parity 0)
    # flip the minority of each component (the root's choice is arbitrary)
    majority = np.bincount(label, weights=rel) > size / 2
    rel ^= majority[label].astype(np.int8)
    flip: NDArray[np.bool_] = rel.astype(bool)
    return flip


def _orient(vertices: FloatArray, faces: IntArray) -> tuple[IntArray, int, int]:
    """Consistent winding per body, then outward normals: a body with negative volume is
    flipped unless it lies inside another body (then it is a cavity and must stay inward)."""
    faces = faces.copy()
    flip = _consistent_winding(faces, len(vertices))
    rewound = int(flip.sum())
    faces[flip] = faces[flip][:, ::-1]
    n_b, vlab = connected_components(sparse.coo_matrix(
        (np.ones(2 * len(faces)), (faces[:, [0, 1]].reshape(-1), faces[:, [1, 2]].reshape(-1))),
        shape=(len(vertices), len(vertices))), directed=False)
    body = vlab[faces[:, 0]]
    tri = vertices[faces]
    vol = np.bincount(body, weights=np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])),
                      minlength=n_b) / 6.0
    flipped = 0
    for b in np.flatnonzero(vol < 0)[:50]:
        others = body != b
        probe = vertices[faces[np.flatnonzero(body == b)[0], 0]][None, :]
        inside = others.any() and abs(winding_number(probe, vertices, faces[others])[0]) > 0.5
        if not inside:
            faces[body == b] = faces[body == b][:, ::-1]
            flipped += 1
    return faces, rewound, flipped


def repair(vertices: FloatArray, faces: IntArray, tol_rel: float = 1e-6) -> RepairResult:
    """Repair simple defects; `changes` counts merged vertices, removed faces, rewound/flipped faces
    and filled holes (loops of at most REPAIR_MAX_HOLE_EDGES edges)."""
    scale = float(np.ptp(vertices[unique_ints(faces)], axis=0).max()) or 1.0
    v, f, merged = _merge(vertices, faces, tol_rel * scale)
    f, degenerate, duplicate = _clean(f, v)
    v, f, filled = _fill_holes(v, f, limits.REPAIR_MAX_HOLE_EDGES)
    f, rewound, flipped = _orient(v, f) if len(f) else (f, 0, 0)
    changes = {"vertices_merged": merged, "degenerate_faces_removed": degenerate,
               "duplicate_faces_removed": duplicate, "holes_filled": filled,
               "faces_rewound": rewound, "bodies_flipped": flipped}
    labels = {"vertices_merged": "merged {} vertices closer than {:.2g} mm",
              "degenerate_faces_removed": "removed {} zero-area faces",
              "duplicate_faces_removed": "removed {} duplicate faces",
              "holes_filled": "filled {} holes of at most " + str(limits.REPAIR_MAX_HOLE_EDGES) + " edges",
              "faces_rewound": "re-wound {} faces to a consistent orientation",
              "bodies_flipped": "turned {} inside-out bodies the right way out"}
    notes = [labels[k].format(n, tol_rel * scale) for k, n in changes.items() if n]
    return RepairResult(vertices=v, faces=f, changes=changes, notes=notes or ["nothing to repair"])


#: Finding codes that `auto_repair` addresses (a page offers the repair for them; the CLI names --repair).
REPAIRABLE_CODES = frozenset({"mesh.open", "mesh.winding", "mesh.inverted", "mesh.degenerate_faces",
                              "mesh.duplicate_faces"})


@dataclass
class AutoRepair:
    """What the automatic repair found and did: `applied` (the repaired mesh is the one analysed and
    quoted), the defects `before` (boundary edges and loops, inconsistent winding, inverted volume,
    degenerate and duplicate faces), the `changes` of `repair`, and `reason` when it was not applied."""

    needed: bool
    applied: bool
    before: dict[str, int]
    after: dict[str, int]
    changes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None


def _distinct_faces(faces: IntArray, n: int) -> int:
    """How many different vertex sets the faces have (any order): one sort of an integer key per face while
    n**3 fits in 63 bits, else rows compared as bytes."""
    fs = np.sort(faces, axis=1)
    if n >= 2_000_000:
        return len(np.unique(fs, axis=0))
    key = np.sort((fs[:, 0] * n + fs[:, 1]) * n + fs[:, 2])
    return int(np.count_nonzero(key[1:] != key[:-1])) + 1


def defects(vertices: FloatArray, faces: IntArray) -> dict[str, int]:
    """Counts of the defects repair can fix, from the edge topology (one sort of the 3m edges):
    boundary_edges, boundary_loops (connected runs of boundary edges), nonmanifold_edges, inconsistent_edges
    (an edge two faces traverse in the same direction), inverted (1 when a closed mesh has negative volume),
    degenerate_faces, duplicate_faces."""
    if len(faces) == 0:
        return {"boundary_edges": 0, "boundary_loops": 0, "nonmanifold_edges": 0, "inconsistent_edges": 0,
                "inverted": 0, "degenerate_faces": 0, "duplicate_faces": 0}
    n = len(vertices)
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    # each use of an edge keyed lo*n+hi with its direction in the lowest bit: one sort gives every count
    key2 = np.minimum(e[:, 0], e[:, 1]) * n + np.maximum(e[:, 0], e[:, 1])
    key2 *= 2
    key2 += e[:, 0] > e[:, 1]
    srt = np.sort(key2)
    und = srt >> 1
    start = np.flatnonzero(np.r_[True, und[1:] != und[:-1]])
    cnt = np.diff(np.r_[start, len(und)])
    border = und[start[cnt == 1]]
    loops = 0
    if len(border):
        lo, hi = border // n, border % n
        g = sparse.coo_matrix((np.ones(len(border)), (lo, hi)), shape=(n, n))
        _, lab = connected_components(g, directed=False)
        loops = len(np.unique(lab[lo]))
    manifold_pairs = int((cnt == 2).sum())
    pair = start[cnt == 2]  # the two uses of each manifold edge, side by side in the sort
    inconsistent = int(np.count_nonzero((srt[pair] & 1) == (srt[pair + 1] & 1)))  # both traverse it the same way
    tri = vertices[faces]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    scale = float(np.ptp(vertices, axis=0).max()) or 1.0
    rep = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    dup = len(faces) - _distinct_faces(faces, n)
    closed = len(border) == 0 and manifold_pairs == len(cnt)
    vol = float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0
    return {"boundary_edges": len(border), "boundary_loops": int(loops),
            "nonmanifold_edges": int((cnt > 2).sum()), "inconsistent_edges": inconsistent,
            "inverted": int(closed and inconsistent == 0 and vol < 0),
            "degenerate_faces": int((rep | (area2 <= 1e-12 * scale * scale)).sum()), "duplicate_faces": int(dup)}


#: The automatic repair closes holes only while the added faces are at most this share of the surface.
MAX_FILLED_AREA_SHARE = 0.01


#: A hole whose boundary lies in one plane (within this fraction of the part's size) is closed by a flat
#: patch that restores the missing face exactly; such holes may add up to this share of the surface.
FLAT_HOLE_REL_TOL = 1e-6
MAX_FLAT_FILLED_AREA_SHARE = 0.25


def _holes_planar(vertices: FloatArray, faces: IntArray) -> bool:
    """Whether the boundary loop of every hole lies in one plane (smallest singular value of its centred
    vertices, per vertex, within FLAT_HOLE_REL_TOL x the part's size)."""
    e = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    n = len(vertices)
    und = np.minimum(e[:, 0], e[:, 1]) * n + np.maximum(e[:, 0], e[:, 1])
    _, inv, cnt = np.unique(und, return_inverse=True, return_counts=True)
    border = e[cnt[inv.reshape(-1)] == 1]
    if len(border) == 0:
        return True
    g = sparse.coo_matrix((np.ones(len(border)), (border[:, 0], border[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    scale = float(np.ptp(vertices, axis=0).max()) or 1.0
    loop_of = lab[border[:, 0]]
    for loop in np.unique(loop_of)[:1000]:
        pts = vertices[np.unique(border[loop_of == loop])]
        if len(pts) <= 3:
            continue
        sv = np.linalg.svd(pts - pts.mean(axis=0), compute_uv=False)
        if sv[-1] / np.sqrt(len(pts)) > FLAT_HOLE_REL_TOL * scale:
            return False
    return True


def _area(vertices: FloatArray, faces: IntArray) -> float:
    tri = vertices[faces]
    return float(np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()) / 2.0


#: Defect counts that make a mesh worth repairing.
_FIXABLE = ("boundary_edges", "inconsistent_edges", "inverted", "degenerate_faces", "duplicate_faces")


def auto_repair(vertices: FloatArray, faces: IntArray) -> tuple[FloatArray, IntArray, AutoRepair]:
    """Repair a mesh when it has defects `repair` can fix and the result is safe: a closed (watertight,
    manifold), consistently wound solid with outward normals. Otherwise the mesh is returned unchanged
    and `reason` says why (the repair would leave it open, or non-manifold). Returns (vertices, faces,
    outcome)."""
    before = defects(vertices, faces)
    if not any(before[k] for k in _FIXABLE):
        return vertices, faces, AutoRepair(needed=False, applied=False, before=before, after=before)
    fixed = repair(vertices, faces)
    after = defects(fixed.vertices, fixed.faces)
    problems = []
    if after["boundary_edges"]:
        problems.append(f"{after['boundary_edges']} boundary edges in {after['boundary_loops']} holes would stay "
                        f"open (only holes of at most {limits.REPAIR_MAX_HOLE_EDGES} edges are closed)")
    if after["nonmanifold_edges"]:
        problems.append(f"{after['nonmanifold_edges']} edges would be shared by more than two faces")
    if after["inconsistent_edges"] or after["inverted"]:
        problems.append("the winding could not be made consistent")
    if len(fixed.faces) == 0:
        problems.append("no faces would be left")
    total = _area(fixed.vertices, fixed.faces)
    added = total - _area(vertices, np.unique(np.sort(faces, axis=1), axis=0))
    share = added / total if total > 0 else 0.0
    flat = _holes_planar(vertices, faces)
    if share > MAX_FILLED_AREA_SHARE and not (flat and share <= MAX_FLAT_FILLED_AREA_SHARE):
        problems.append(f"the holes are large: closing them adds {100 * share:.1f} % of the surface (at most "
                        f"{100 * MAX_FILLED_AREA_SHARE:g} %, or {100 * MAX_FLAT_FILLED_AREA_SHARE:g} % for flat holes, "
                        "is closed automatically)")
    if problems:
        return vertices, faces, AutoRepair(needed=True, applied=False, before=before, after=after,
                                           changes=fixed.changes, notes=fixed.notes,
                                           reason="; ".join(problems))
    return fixed.vertices, fixed.faces, AutoRepair(needed=True, applied=True, before=before, after=after,
                                                   changes=fixed.changes, notes=fixed.notes)


def auto_repair_part(part: Part) -> tuple[Part, RepairOutcome]:
    """`auto_repair` of a loaded part: the same part when nothing was applied (its cached facts kept), else
    a new part of the repaired mesh (same name, format and units). Deterministic, so the analysis, the
    viewer and the quote of one file see the same mesh."""
    v, f, out = auto_repair(part.vertices, part.faces)
    outcome = RepairOutcome(needed=out.needed, applied=out.applied, before=out.before, after=out.after,
                            changes=out.changes, notes=out.notes, reason=out.reason)
    if not out.applied:
        return part, outcome
    return Part(name=part.name, vertices=v, faces=f, fmt=part.fmt, group_names=part.group_names,
                units=part.units, units_source=part.units_source), outcome

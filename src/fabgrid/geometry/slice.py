"""Layer sections of a mesh, vectorised: per-layer area, perimeter, loops, corners, skins, supports.

One pass over (triangle, layer) pairs with numpy; no per-triangle Python loop. A mesh is anything with the
arrays of `SliceMesh`: a `geometry.mesh_arrays.MeshArrays` (what costing hands in) or a `trimesh.Trimesh`.
Reads only numpy and scipy; must not depend on costing, store, services or any web layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fabgrid.geometry.mesh_arrays import MeshArrays

__all__ = ["LayerStack", "MeshArrays", "SliceMesh", "SliceSettings", "slice_layers"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class SliceMesh(Protocol):
    """The arrays the slicer reads, under trimesh's names (see `geometry.mesh_arrays.MeshArrays`)."""

    @property
    def vertices(self) -> Any: ...
    @property
    def faces(self) -> Any: ...
    @property
    def triangles(self) -> Any: ...
    @property
    def face_normals(self) -> Any: ...
    @property
    def area_faces(self) -> Any: ...
    @property
    def triangles_center(self) -> Any: ...
    @property
    def edges_unique(self) -> Any: ...
    @property
    def faces_unique_edges(self) -> Any: ...
    @property
    def ray(self) -> Any:
        """First-hit rays: `intersects_location(origins, directions, multiple_hits=False)`."""

# a corner is where the horizontal direction of the wall turns by more than this
_CORNER_DEG = 30.0
# faces whose |n_z| is below this are walls: they carry no top/bottom/overhang area
_FLAT_NZ = 1e-3


@dataclass(frozen=True)
class SliceSettings:
    """What to slice for.

    layer_height_mm: layer thickness (the first layer has the same thickness).
    overhang_angle_deg: downward faces flatter than this (from horizontal) need support.
    shell_width_mm: horizontal width of the perimeter shell; skin on slopes narrower than it is
        already covered by perimeters. 0 disables that correction.
    top_layers / bottom_layers: solid layers under a top surface / over a bottom surface.
    support_gap_mm: vertical gap between the support and the part (contact distance).
    contours / supports: False skips the loop/corner topology / the support columns (cheaper when a
        process only needs layer areas).
    support_cell_mm: when > 0, support footprints snap to a grid of this pitch (slicers lay support
        out on a line grid: a cell touched by an overhang is supported whole).
    """

    layer_height_mm: float
    overhang_angle_deg: float = 45.0
    shell_width_mm: float = 0.0
    top_layers: int = 0
    bottom_layers: int = 0
    support_gap_mm: float = 0.0
    support_cell_mm: float = 0.0
    contours: bool = True
    supports: bool = True


@dataclass(frozen=True)
class LayerStack:
    """Per-layer figures of a sliced part, arrays of shape (n_layers,), mm and mm2.

    area_mm2: net cross-section area; perimeter_mm: total contour length; loops: closed
    contours; corners: contour vertices where the wall turns sharply; top_skin_mm2 /
    bottom_skin_mm2: area that must be solid because a top / bottom surface is within the
    skin layers; top_exposed_mm2 / bottom_exposed_mm2: area whose top / bottom surface is at this
    layer (after the shell correction of the skins); support_mm2: area of support columns under
    overhangs; overhang_mm2: area of overhang surface that starts at this layer (support interface).
    """

    settings: SliceSettings
    z_mm: FloatArray
    area_mm2: FloatArray
    perimeter_mm: FloatArray
    loops: IntArray
    euler: IntArray
    corners: IntArray
    corner_balance: IntArray
    top_exposed_mm2: FloatArray
    bottom_exposed_mm2: FloatArray
    top_skin_mm2: FloatArray
    bottom_skin_mm2: FloatArray
    support_mm2: FloatArray
    overhang_mm2: FloatArray

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return int(self.z_mm.shape[0])

    @property
    def volume_mm3(self) -> float:
        """Volume of the layered part (sum of layer area x layer height)."""
        return float(self.area_mm2.sum() * self.settings.layer_height_mm)

    @property
    def support_volume_mm3(self) -> float:
        """Volume enclosed by the support columns."""
        return float(self.support_mm2.sum() * self.settings.layer_height_mm)


def _pairs(zmin: FloatArray, zmax: FloatArray, z0: float, h: float, n: int) -> tuple[IntArray, IntArray]:
    """(face, layer) index pairs where the layer's mid-plane cuts the face's z range."""
    lo = np.ceil((zmin - z0) / h - 0.5).astype(np.int64)
    hi = np.floor((zmax - z0) / h - 0.5).astype(np.int64)
    lo = np.clip(lo, 0, n)
    hi = np.clip(hi, -1, n - 1)
    count = np.maximum(hi - lo + 1, 0)
    face = np.repeat(np.arange(len(zmin), dtype=np.int64), count)
    start = np.repeat(np.cumsum(count) - count, count)
    layer = lo[face] + (np.arange(face.shape[0], dtype=np.int64) - start)
    return face, layer


def _sharp_edges(mesh: SliceMesh) -> NDArray[np.bool_]:
    """(n_unique_edges,) True where the two faces' horizontal directions differ by > _CORNER_DEG."""
    n_edges = len(mesh.edges_unique)
    normals = np.asarray(mesh.face_normals, dtype=np.float64)
    nxy = normals[:, :2]
    norm = np.linalg.norm(nxy, axis=1)
    unit = np.divide(nxy, norm[:, None], out=np.zeros_like(nxy), where=norm[:, None] > 1e-9)
    fue = np.asarray(mesh.faces_unique_edges, dtype=np.int64).ravel()
    owner = np.repeat(np.arange(len(mesh.faces), dtype=np.int64), 3)
    order = np.argsort(fue, kind="stable")
    e_sorted, f_sorted = fue[order], owner[order]
    first = np.ones(e_sorted.shape[0], dtype=bool)
    first[1:] = e_sorted[1:] != e_sorted[:-1]
    # the first two faces of each edge (manifold meshes have exactly two)
    idx_first = np.flatnonzero(first)
    has_second = np.zeros_like(first)
    has_second[idx_first[idx_first + 1 < e_sorted.shape[0]] + 1] = True
    has_second &= ~first
    a = f_sorted[np.flatnonzero(has_second) - 1]
    b = f_sorted[np.flatnonzero(has_second)]
    cos = np.einsum("ij,ij->i", unit[a], unit[b])
    sharp = np.zeros(n_edges, dtype=bool)
    sharp[e_sorted[np.flatnonzero(has_second)]] = cos < np.cos(np.radians(_CORNER_DEG))
    return sharp


def _window_sum(values: FloatArray, before: int, after: int) -> FloatArray:
    """out[i] = sum(values[i - before : i + after + 1]) with zero padding."""
    c = np.concatenate(([0.0], np.cumsum(values)))
    n = values.shape[0]
    idx = np.arange(n)
    hi = np.clip(idx + after + 1, 0, n)
    lo = np.clip(idx - before, 0, n)
    return np.asarray(c[hi] - c[lo], dtype=np.float64)


def _support_columns(
    mesh: SliceMesh, s: SliceSettings, z0: float, n: int
) -> tuple[FloatArray, FloatArray]:
    """Per-layer support area and overhang (interface) area from downward faces."""
    h = s.layer_height_mm
    normals = np.asarray(mesh.face_normals, dtype=np.float64)
    proj = np.asarray(mesh.area_faces, dtype=np.float64) * np.abs(normals[:, 2])
    centroid = np.asarray(mesh.triangles_center, dtype=np.float64)
    over = (-normals[:, 2] > np.cos(np.radians(s.overhang_angle_deg))) & (centroid[:, 2] > z0 + 0.5 * h)
    support = np.zeros(n, dtype=np.float64)
    overhang = np.zeros(n, dtype=np.float64)
    if not over.any():
        return support, overhang
    idx = np.flatnonzero(over)
    # one ray per face: the support column lands on the first surface below, else on the bed
    origins = centroid[idx] - np.array([0.0, 0.0, 1e-4])
    dirs = np.tile(np.array([0.0, 0.0, -1.0]), (idx.shape[0], 1))
    hit_loc, hit_ray, _ = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    land = np.full(idx.shape[0], z0, dtype=np.float64)
    if len(hit_ray):
        land[np.asarray(hit_ray, dtype=np.int64)] = np.asarray(hit_loc, dtype=np.float64)[:, 2]
    top = centroid[idx, 2] - s.support_gap_mm
    k_lo = np.clip(np.ceil((land - z0) / h - 0.5).astype(np.int64), 0, n)
    k_hi = np.clip(np.floor((top - z0) / h - 0.5).astype(np.int64) + 1, 0, n)
    k_hi = np.maximum(k_hi, k_lo)
    if s.support_cell_mm > 0:
        support = _grid_columns(mesh, idx, proj[idx], k_lo, k_hi, s.support_cell_mm, n)
    else:
        diff = np.zeros(n + 1, dtype=np.float64)
        np.add.at(diff, k_lo, proj[idx])
        np.add.at(diff, k_hi, -proj[idx])
        support = np.cumsum(diff[:-1])
    k_top = np.clip(np.floor((centroid[idx, 2] - z0) / h - 1e-6).astype(np.int64), 0, n - 1)
    overhang = np.bincount(k_top, weights=proj[idx], minlength=n).astype(np.float64)
    return np.maximum(support, 0.0), overhang


def _grid_columns(mesh: SliceMesh, idx: IntArray, proj: FloatArray, k_lo: IntArray, k_hi: IntArray,
                  cell: float, n: int) -> FloatArray:
    """Per-layer support area when columns are snapped to grid cells of `cell` mm (union per cell)."""
    # sample each overhang face about 16 times per cell area (low-discrepancy, deterministic)
    per = np.clip(np.ceil(16.0 * proj / (cell * cell)), 1, 1024).astype(np.int64)
    fi = np.repeat(np.arange(idx.shape[0]), per)
    j = np.arange(fi.shape[0], dtype=np.float64)
    r1, r2 = (j * 0.6180339887498949) % 1.0, (j * 0.7548776662466927) % 1.0
    over = r1 + r2 > 1.0
    r1, r2 = np.where(over, 1.0 - r1, r1), np.where(over, 1.0 - r2, r2)
    tri = np.asarray(mesh.triangles, dtype=np.float64)[idx[fi]]
    pts = tri[:, 0, :2] + r1[:, None] * (tri[:, 1, :2] - tri[:, 0, :2]) + r2[:, None] * (tri[:, 2, :2] - tri[:, 0, :2])
    cells = np.floor(pts / cell).astype(np.int64)
    _, cell_id = np.unique(cells, axis=0, return_inverse=True)
    cell_id = cell_id.ravel()
    lo, hi = k_lo[fi], k_hi[fi]
    keep = hi > lo
    cell_id, lo, hi = cell_id[keep], lo[keep], hi[keep]
    if cell_id.shape[0] == 0:
        return np.zeros(n, dtype=np.float64)
    # union of the layer intervals of each cell: sort by (cell, start), merge with a running maximum
    span = n + 1
    key_lo = cell_id * span + lo
    key_hi = cell_id * span + hi
    order = np.argsort(key_lo, kind="stable")
    key_lo, key_hi = key_lo[order], key_hi[order]
    run_hi = np.maximum.accumulate(key_hi)
    new = np.ones(key_lo.shape[0], dtype=bool)
    new[1:] = key_lo[1:] > run_hi[:-1]
    starts = key_lo[new]
    ends = run_hi[np.concatenate([np.flatnonzero(new)[1:] - 1, [key_lo.shape[0] - 1]])]
    base = (starts // span) * span
    diff = np.zeros(n + 1, dtype=np.float64)
    np.add.at(diff, starts - base, cell * cell)
    np.add.at(diff, ends - base, -cell * cell)
    return np.asarray(np.cumsum(diff[:-1]), dtype=np.float64)


def slice_layers(mesh: SliceMesh, settings: SliceSettings) -> LayerStack:
    """Slice `mesh` (mm, build direction +Z) into layers at mid-height of each layer.

    Parameters
    ----------
    mesh
        A watertight, consistently wound triangle mesh.
    settings
        Layer height and the skin/support parameters.

    Returns
    -------
    LayerStack with arrays of shape (n_layers,).
    """
    h = float(settings.layer_height_mm)
    if h <= 0:
        raise ValueError("layer_height_mm must be > 0")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    z0 = float(vertices[:, 2].min())
    height = float(vertices[:, 2].max()) - z0
    # like slicers: a last partial layer thinner than half a layer is dropped
    n = max(int(np.floor(height / h + 0.5 - 1e-9)), 1)
    z_mid = z0 + (np.arange(n) + 0.5) * h
    # a tiny shift of the planes keeps them off vertices that sit exactly on a layer boundary
    z_cut = z_mid + 1e-7 * h

    tri_z = vertices[faces, 2]
    face, layer = _pairs(tri_z.min(axis=1), tri_z.max(axis=1), z0 + 1e-7 * h, h, n)
    tri = vertices[faces[face]]  # (p, 3, 3)
    above = tri[:, :, 2] > z_cut[layer][:, None]
    n_above = above.sum(axis=1)
    keep = (n_above == 1) | (n_above == 2)
    face, layer, tri, above, n_above = face[keep], layer[keep], tri[keep], above[keep], n_above[keep]
    # the vertex alone on its side of the plane
    lone = np.where(n_above == 1, np.argmax(above, axis=1), np.argmin(above, axis=1))
    rows = np.arange(lone.shape[0])
    o1, o2 = (lone + 1) % 3, (lone + 2) % 3
    p_l, p_1, p_2 = tri[rows, lone], tri[rows, o1], tri[rows, o2]
    zc = z_cut[layer]
    t1 = ((zc - p_l[:, 2]) / (p_1[:, 2] - p_l[:, 2]))[:, None]
    t2 = ((zc - p_l[:, 2]) / (p_2[:, 2] - p_l[:, 2]))[:, None]
    a = (p_l + t1 * (p_1 - p_l))[:, :2]
    b = (p_l + t2 * (p_2 - p_l))[:, :2]
    # orient each segment so that its right-hand side faces outward (counter-clockwise outer loops)
    d = b - a
    nxy = np.asarray(mesh.face_normals, dtype=np.float64)[face, :2]
    flip = (d[:, 1] * nxy[:, 0] - d[:, 0] * nxy[:, 1]) < 0
    a2 = np.where(flip[:, None], b, a)
    b2 = np.where(flip[:, None], a, b)
    cross = a2[:, 0] * b2[:, 1] - b2[:, 0] * a2[:, 1]
    length = np.linalg.norm(d, axis=1)
    area = 0.5 * np.bincount(layer, weights=cross, minlength=n)
    perimeter = np.bincount(layer, weights=length, minlength=n)

    # contour graph: nodes are (layer, crossed edge); each segment joins two nodes
    m = 0
    if settings.contours:
        fue = np.asarray(mesh.faces_unique_edges, dtype=np.int64)
        n_edges = len(mesh.edges_unique)
        k1 = layer * n_edges + fue[face, lone]  # edge lone -> lone+1
        k2 = layer * n_edges + fue[face, (lone + 2) % 3]  # edge lone+2 -> lone
        nodes, inverse = np.unique(np.concatenate([k1, k2]), return_inverse=True)
        m = nodes.shape[0]
    if m:
        half = k1.shape[0]
        graph = coo_matrix((np.ones(half), (inverse[:half], inverse[half:])), shape=(m, m))
        n_comp, labels = connected_components(graph, directed=False)
        comp_layer = np.zeros(n_comp, dtype=np.int64)
        comp_layer[labels] = nodes // n_edges
        loops = np.bincount(comp_layer, minlength=n).astype(np.int64)
        comp_area = np.bincount(labels[inverse[:half]], weights=cross, minlength=n_comp)
        sign = np.sign(comp_area).astype(np.float64)
        euler = np.bincount(comp_layer, weights=sign, minlength=n).astype(np.int64)
        sharp = _sharp_edges(mesh)[nodes % n_edges].astype(np.float64)
        corners = np.bincount(nodes // n_edges, weights=sharp, minlength=n).astype(np.int64)
        balance = np.bincount(nodes // n_edges, weights=sharp * sign[labels], minlength=n).astype(np.int64)
    else:
        loops = np.zeros(n, dtype=np.int64)
        euler = np.zeros(n, dtype=np.int64)
        corners = np.zeros(n, dtype=np.int64)
        balance = np.zeros(n, dtype=np.int64)

    (top, top_exp), (bottom, bottom_exp) = _skins(mesh, settings, z0, n)
    if settings.supports:
        support, overhang = _support_columns(mesh, settings, z0, n)
    else:
        support, overhang = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.float64)
    return LayerStack(
        settings=settings,
        z_mm=np.asarray(z_mid, dtype=np.float64),
        area_mm2=np.maximum(area, 0.0),
        perimeter_mm=np.asarray(perimeter, dtype=np.float64),
        loops=loops,
        euler=euler,
        corners=corners,
        corner_balance=balance,
        top_exposed_mm2=top_exp,
        bottom_exposed_mm2=bottom_exp,
        top_skin_mm2=top,
        bottom_skin_mm2=bottom,
        support_mm2=support,
        overhang_mm2=overhang,
    )


def _skins(mesh: SliceMesh, s: SliceSettings, z0: float, n: int
           ) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """((top skin, top exposed), (bottom skin, bottom exposed)) per layer, mm2."""
    h = s.layer_height_mm
    normals = np.asarray(mesh.face_normals, dtype=np.float64)
    nz = normals[:, 2]
    nxy = np.linalg.norm(normals[:, :2], axis=1)
    proj = np.asarray(mesh.area_faces, dtype=np.float64) * np.abs(nz)
    # on a slope, the exposed strip of `layers` layers is layers*h*|nz|/|nxy| wide; the part of it
    # inside the perimeter shell is printed as perimeters, not as skin
    out: list[tuple[FloatArray, FloatArray]] = []
    for layers, up in ((s.top_layers, True), (s.bottom_layers, False)):
        sel = (nz > _FLAT_NZ) if up else (nz < -_FLAT_NZ)
        frac = np.ones_like(nz)
        if s.shell_width_mm > 0 and layers > 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                strip = layers * h * np.abs(nz) / np.maximum(nxy, 1e-9)
                frac = np.clip(1.0 - s.shell_width_mm / strip, 0.0, 1.0)
        weight = np.where(sel, proj * frac, 0.0)
        exposed = _spread(mesh, weight, z0, h, n, up)
        if layers <= 0:
            skin = np.zeros(n, dtype=np.float64)
        elif up:
            skin = _window_sum(exposed, 0, layers - 1)
        else:
            skin = _window_sum(exposed, layers - 1, 0)
        out.append((skin, exposed))
    return out[0], out[1]


def _spread(mesh: SliceMesh, weight: FloatArray, z0: float, h: float, n: int, up: bool) -> FloatArray:
    """Per-layer sum of face weights: split evenly over the layers a face spans, flat faces by z."""
    tri_z = np.asarray(mesh.vertices, dtype=np.float64)[np.asarray(mesh.faces, dtype=np.int64), 2]
    face, layer = _pairs(tri_z.min(axis=1), tri_z.max(axis=1), z0, h, n)
    count = np.bincount(face, minlength=weight.shape[0])
    out = np.bincount(layer, weights=weight[face] / count[face], minlength=n).astype(np.float64)
    flat = count == 0
    zc = tri_z.mean(axis=1)[flat]
    k = np.clip(np.floor((zc - z0) / h + (-1e-6 if up else 1e-6)).astype(np.int64), 0, n - 1)
    out += np.bincount(k, weights=weight[flat], minlength=n)
    return out

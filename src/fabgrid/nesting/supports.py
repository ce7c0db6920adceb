"""Support structures of plate builds (metal PBF): each part lifted off the plate, and a column under
every down-facing triangle flatter than the process's overhang angle, down to the plate or to the
part's own surface below; their volume and a triangle mesh of bounded size for the 3MF and picture.

The columns follow the rule of `geometry.slice`'s support columns (one landing per overhang, found by
a ray cast down); where nothing of the part lies below an overhang, their volume is
`geometry.orient`'s column estimate plus the lift band. The rules come from the process record
(`Process.capability`, handed in); uses numpy and trimesh; must not depend on fabgrid.data, store,
services, api, web or cli.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import trimesh
from numpy.typing import NDArray

from fabgrid.domain.catalog import Process, SupportModel

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MAX_SUPPORT_FACES = 20_000  # triangles of one part's support mesh (8 per column); past it, coarser columns
_INSET = 0.05  # landing rays start this share of the way from each corner to the centroid (off the edges)
_RAY_START_MM = 1e-3  # below the overhang, so the ray does not hit the overhang itself
_MIN_COLUMN_MM = 1e-6  # shorter columns (an overhang resting on the surface below) are left out
# 8 triangles per column: cap (a, c, b) facing up, foot (a', b', c') facing down, two per side wall;
# corners 0-2 are the overhang's (a, b, c, wound clockwise seen from above), 3-5 the same on the foot
_PRISM = np.array([[0, 2, 1], [3, 4, 5], [0, 1, 3], [1, 4, 3], [1, 2, 4], [2, 5, 4], [2, 0, 5], [0, 3, 5]],
                  dtype=np.int64)


@dataclass(frozen=True)
class SupportRules:
    """How one process supports its parts: `lift_mm` of support between the plate and the part's
    lowest point, columns under faces flatter than `overhang_angle_deg` (from horizontal)."""

    lift_mm: float
    overhang_angle_deg: float

    def __post_init__(self) -> None:
        if not (self.lift_mm >= 0 and 0 < self.overhang_angle_deg < 90):
            raise ValueError(f"support rules need lift_mm >= 0 and 0 < overhang_angle_deg < 90, got {self}")


@dataclass(frozen=True)
class PartSupports:
    """The supports of one part in its file coordinates (plate at the part's lowest z - lift).

    volume_mm3: space the columns fill (the melted share of it is the costing's support density);
    overhang_mm2: projected area of the supported faces (the lowest ones included);
    mesh: the columns as closed prisms, at most the requested number of faces; None without supports.
    """

    volume_mm3: float
    overhang_mm2: float
    mesh: trimesh.Trimesh | None


def rules_for(process: Process) -> SupportRules | None:
    """The support rules of `process` (its capability's support lift and its overhang angle), or None
    for a process whose parts sit on the bed or in powder without modelled supports."""
    cap = process.capability
    if cap.supports is not SupportModel.COLUMNS:
        return None
    assert process.overhang_angle_deg is not None  # Process validates: columns need an angle
    return SupportRules(lift_mm=cap.support_lift_mm, overhang_angle_deg=float(process.overhang_angle_deg))


def part_supports(mesh: trimesh.Trimesh, rules: SupportRules, max_faces: int = MAX_SUPPORT_FACES,
                  with_mesh: bool = True) -> PartSupports:
    """Columns under the overhangs of `mesh` (file coordinates, Z up as built), lifted by the rules.

    Each down-facing triangle with -n_z > cos(angle) gets a vertical prism from the triangle down to
    a flat foot at the highest of the landings found by rays cast down from its centroid and from
    near its corners (the plate, lift_mm under the part's lowest point, where they hit nothing).
    `volume_mm3` is the exact volume of these prisms; past `max_faces` the mesh is built from a
    coarser copy of the overhang (vertex clustering), so its volume is close to, not equal to it.
    `with_mesh` False skips the mesh (the figures only).
    """
    if max_faces < len(_PRISM):
        raise ValueError("max_faces must allow at least one column")
    normals = np.asarray(mesh.face_normals, dtype=np.float64)
    down = -normals[:, 2]
    idx = np.flatnonzero(down > math.cos(math.radians(rules.overhang_angle_deg)) + 1e-9)
    if idx.size == 0:
        return PartSupports(0.0, 0.0, None)
    plate = float(mesh.bounds[0][2]) - rules.lift_mm
    top = np.asarray(mesh.triangles, dtype=np.float64)[idx]
    foot = _landing(mesh, top, plate)
    height = top[:, :, 2].mean(axis=1) - foot
    proj = np.asarray(mesh.area_faces, dtype=np.float64)[idx] * down[idx]
    volume = float(proj @ height)
    keep = height > _MIN_COLUMN_MM
    if not with_mesh or not keep.any():
        return PartSupports(volume, float(proj.sum()), None)
    top, foot = top[keep], foot[keep]
    if len(top) * len(_PRISM) > max_faces:
        top = _coarsen(top, max_faces // len(_PRISM))
        if len(top) == 0:
            return PartSupports(volume, float(proj.sum()), None)
        foot = _landing(mesh, top, plate)
    return PartSupports(volume, float(proj.sum()), _prisms(top, foot))


def _landing(mesh: trimesh.Trimesh, top: FloatArray, plate: float) -> FloatArray:
    """Foot height of the column under each triangle of `top` ((k, 3, 3)): the highest point where a
    ray cast down from its centroid or from near one of its corners enters the part (an upward-facing
    hit; a coarsened overhang may start inside the part), the plate when none does; never above the
    triangle's lowest corner."""
    centre = top.mean(axis=1, keepdims=True)
    points = np.concatenate([centre, top + _INSET * (centre - top)], axis=1).reshape(-1, 3)
    origins = points - np.array([0.0, 0.0, _RAY_START_MM])
    rays = np.tile(np.array([0.0, 0.0, -1.0]), (len(origins), 1))
    loc, ray, tri = mesh.ray.intersects_location(origins, rays, multiple_hits=True)
    z = np.full(len(origins), plate)
    if len(ray):
        enters = np.asarray(mesh.face_normals, dtype=np.float64)[np.asarray(tri, dtype=np.int64), 2] > 1e-6
        np.maximum.at(z, np.asarray(ray, dtype=np.int64)[enters], np.asarray(loc, dtype=np.float64)[enters, 2])
    foot = z.reshape(-1, 4).max(axis=1)
    return np.asarray(np.minimum(foot, top[:, :, 2].min(axis=1)), dtype=np.float64)


def _coarsen(top: FloatArray, max_columns: int) -> FloatArray:
    """At most `max_columns` triangles covering about the same overhang: corners snapped to one
    representative corner per grid cell, the smallest cell (within 5 %) that leaves few enough."""
    pts = top.reshape(-1, 3)
    fine = float(np.ptp(pts[:, :2], axis=0).max()) / math.sqrt(max_columns) or 1.0
    coarse = fine
    while len(_snapped(pts, coarse)) > max_columns:
        fine, coarse = coarse, coarse * 2.0
    while coarse > 1.05 * fine:  # bisect: the cell of `coarse` fits, the one of `fine` may not
        mid = 0.5 * (fine + coarse)
        fine, coarse = (fine, mid) if len(_snapped(pts, mid)) <= max_columns else (mid, coarse)
    return _clockwise(pts[_snapped(pts, coarse)])


def _snapped(pts: FloatArray, cell: float) -> IntArray:
    """Corner indices (m, 3) of the triangles of `pts` ((3k, 3), three per triangle) that stay
    triangles when every corner moves to the first corner of its grid cell; repeats dropped."""
    keys = np.floor((pts - pts.min(axis=0)) / cell).astype(np.int64)  # one cell once it spans the part
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    tri = first[inverse.reshape(-1, 3)]
    ok = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
    return np.asarray(np.unique(np.sort(tri[ok], axis=1), axis=0), dtype=np.int64).reshape(-1, 3)


def _clockwise(top: FloatArray) -> FloatArray:
    """The triangles wound clockwise seen from above (as a down-facing face), flat ones dropped."""
    e1, e2 = top[:, 1, :2] - top[:, 0, :2], top[:, 2, :2] - top[:, 0, :2]
    cross = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    out = top[np.abs(cross) > 1e-12].copy()
    flip = cross[np.abs(cross) > 1e-12] > 0
    out[flip] = out[flip][:, [0, 2, 1]]
    return out


def _prisms(top: FloatArray, foot: FloatArray) -> trimesh.Trimesh:
    """One closed prism per triangle of `top` ((k, 3, 3), wound clockwise from above) down to `foot` (k,)."""
    bottom = top.copy()
    bottom[:, :, 2] = foot[:, None]
    vertices = np.concatenate([top, bottom], axis=1).reshape(-1, 3)
    faces = (np.arange(len(top), dtype=np.int64)[:, None, None] * 6 + _PRISM[None]).reshape(-1, 3)
    return trimesh.Trimesh(vertices=vertices, faces=faces, process=False)

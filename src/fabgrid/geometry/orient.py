"""Build orientations: overhang area, support-volume estimate, height and base area for the 26 directions
of a cube (6 faces, 12 edges, 8 corners), and the recommended orientation per process (the chooser that
its capability record names).

Vectorised: one (directions x faces) float32 matrix product per chunk of faces on the coordinate-major
face arrays of `MeshFacts`. Depends on numpy and
`fabgrid.domain`; never on store, services or web.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from fabgrid.domain.catalog import OrientationRule
from fabgrid.domain.part import Orientation
from fabgrid.geometry.analyze import MeshFacts, orientation_directions

FloatArray = NDArray[np.float64]
DEFAULT_OVERHANG_DEG = 45.0
_CHUNK = 262_144


def _frame(up: FloatArray) -> tuple[FloatArray, FloatArray]:
    ref = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(up, ref)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(up, e1)


def evaluate(facts: MeshFacts, overhang_deg: Sequence[float] = (DEFAULT_OVERHANG_DEG,),
             directions: FloatArray | None = None) -> list[list[Orientation]]:
    """Orientations for each overhang angle (degrees from horizontal: a downward face flatter than
    this needs support; the convention of data/processes.yaml and geometry.slice).

    Returns one list of Orientation per angle, in the order of `directions` ((k, 3), default the 26
    cube directions). A face needs support when it faces down more steeply than the angle allows
    (-n.up > cos(angle)) and is not on the plate; its support column reaches the plate:
    support_volume = sum(area * (-n.up) * (centroid height above the plate)).
    """
    dirs = orientation_directions() if directions is None else np.asarray(directions, dtype=np.float64)
    pts = facts.hull_points if len(facts.hull_points) else facts.vertices
    proj = pts @ dirs.T  # (p, k)
    zmin = proj.min(axis=0)
    height = proj.max(axis=0) - zmin
    tol = max(1e-6, 1e-4 * float(np.max(facts.extents_mm)))
    thresholds = np.cos(np.radians(np.asarray(overhang_deg, dtype=np.float64)))
    over_area = np.zeros((len(thresholds), len(dirs)))
    support = np.zeros((len(thresholds), len(dirs)))
    base = np.zeros(len(dirs))
    cos_flat = math.cos(math.radians(1.0))
    d32 = dirs.astype(np.float32)
    zmin32 = zmin.astype(np.float32)[:, None]
    for s in range(0, len(facts.faces), _CHUNK):
        a = facts.areas_mm2[s:s + _CHUNK].astype(np.float32)
        # direction-major (k, c) blocks: one small GEMM each on coordinate-major (3, c) face data
        down = -d32 @ facts.normals[s:s + _CHUNK].T.astype(np.float32)  # downward component of each normal
        h = d32 @ facts.centroids[s:s + _CHUNK].T.astype(np.float32)  # centroid height above the plate
        h -= zmin32
        off_plate = h > tol
        base += ((down > cos_flat) & ~off_plate) @ a
        w = down * h
        for i, t in enumerate(thresholds):
            m = (down > t) & off_plate
            over_area[i] += m @ a
            support[i] += np.multiply(w, m, out=down if i == len(thresholds) - 1 else None) @ a
    out: list[list[Orientation]] = []
    frames = [_frame(d) for d in dirs]
    ext = [(np.ptp(pts @ e1), np.ptp(pts @ e2)) for e1, e2 in frames]
    for i in range(len(thresholds)):
        out.append([Orientation(
            up=(float(d[0]), float(d[1]), float(d[2])), height_mm=float(height[k]),
            bbox_mm=(float(ext[k][0]), float(ext[k][1]), float(height[k])),
            overhang_area_mm2=float(over_area[i, k]), support_volume_mm3=float(support[i, k]),
            base_area_mm2=float(base[k])) for k, d in enumerate(dirs)])
    return out


Chooser = Callable[[Sequence[Orientation]], int]


def least_support(options: Sequence[Orientation]) -> int:
    """Index of the orientation with the least support volume (then lowest, then largest base)."""
    return min(range(len(options)), key=lambda k: (round(options[k].support_volume_mm3, 6),
                                                   round(options[k].height_mm, 6), -options[k].base_area_mm2))


def least_height(options: Sequence[Orientation]) -> int:
    """Index of the lowest orientation (then the smallest footprint): powder-bed builds are priced by height."""
    return min(range(len(options)), key=lambda k: (round(options[k].height_mm, 6),
                                                   round(options[k].bbox_mm[0] * options[k].bbox_mm[1], 6)))


def largest_base(options: Sequence[Orientation]) -> int:
    """Index of the orientation resting on the largest flat face (fixturing on a CNC vice), then lowest."""
    return min(range(len(options)), key=lambda k: (-round(options[k].base_area_mm2, 6),
                                                   round(options[k].height_mm, 6)))


#: The choosers by rule; a process names its rule in its capability record (processes.yaml).
CHOOSERS: dict[OrientationRule, Chooser] = {
    OrientationRule.LEAST_SUPPORT: least_support,
    OrientationRule.LEAST_HEIGHT: least_height,
    OrientationRule.LARGEST_BASE: largest_base,
}

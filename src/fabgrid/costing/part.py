"""A part prepared for costing: the mesh in build orientation and its cached derived figures.

Slices, bounding box, volume and area are computed once per part and reused by every machine,
material and site of a quote. Depends on numpy, trimesh and fabgrid.geometry.slice only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import trimesh

from fabgrid.errors import InputError
from fabgrid.geometry.slice import LayerStack, SliceSettings, slice_layers


@dataclass
class CostingPart:
    """A watertight mesh (mm, +Z up) with cached derived figures.

    Build it with `CostingPart.from_mesh`; the mesh must not be modified afterwards.
    """

    name: str
    mesh: trimesh.Trimesh
    volume_mm3: float
    area_mm2: float
    bbox_mm: tuple[float, float, float]
    digest: str
    dfm_errors: dict[str, list[str]] = field(default_factory=dict)
    hull_volume_mm3: float | None = None
    _slices: dict[SliceSettings, LayerStack] = field(default_factory=dict, repr=False)
    #: estimates already made for this part, keyed by the caller (machine, material, quantity, rates)
    estimates: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_mesh(cls, mesh: trimesh.Trimesh, name: str = "part", dfm_errors: dict[str, list[str]] | None = None,
                  hull_volume_mm3: float | None = None) -> CostingPart:
        """Prepare `mesh` for costing; raises InputError when it has no positive volume.

        `dfm_errors` maps a process id (or "*" for every process) to blocking DFM messages;
        `hull_volume_mm3` (from an analysis report) saves computing the convex hull again.
        """
        if len(mesh.faces) == 0:
            raise InputError(f"{name}: the mesh has no triangles", hint="export the part again",
                             code="costing.empty_mesh")
        volume = float(abs(mesh.volume))
        if not np.isfinite(volume) or volume <= 0:
            raise InputError(f"{name}: the mesh encloses no volume (not a closed solid)",
                             hint="repair the mesh so that it is watertight", code="costing.no_volume")
        ext = np.asarray(mesh.extents, dtype=np.float64)
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(mesh.vertices, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(mesh.faces, dtype=np.int64).tobytes())
        return cls(
            name=name,
            mesh=mesh,
            volume_mm3=volume,
            area_mm2=float(mesh.area),
            bbox_mm=(float(ext[0]), float(ext[1]), float(ext[2])),
            digest=digest.hexdigest(),
            dfm_errors=dict(dfm_errors or {}),
            hull_volume_mm3=hull_volume_mm3,
        )

    @property
    def convex_hull_volume_mm3(self) -> float:
        """Volume of the convex hull (computed on first use)."""
        if self.hull_volume_mm3 is None:
            from scipy.spatial import ConvexHull, QhullError

            try:
                self.hull_volume_mm3 = float(ConvexHull(np.asarray(self.mesh.vertices)).volume)
            except (QhullError, ValueError):  # flat or degenerate input: the bbox is an upper bound
                self.hull_volume_mm3 = float(np.prod(self.bbox_mm))
        return self.hull_volume_mm3

    def layers(self, settings: SliceSettings) -> LayerStack:
        """The part sliced with `settings` (cached per settings)."""
        stack = self._slices.get(settings)
        if stack is None:
            stack = slice_layers(self.mesh, settings)
            self._slices[settings] = stack
        return stack

    def fits(self, build_volume_mm: tuple[float, float, float]) -> bool:
        """True when the bounding box fits the build volume, allowing a 90 degree turn about Z."""
        x, y, z = self.bbox_mm
        bx, by, bz = build_volume_mm
        if z > bz:
            return False
        return (x <= bx and y <= by) or (y <= bx and x <= by)

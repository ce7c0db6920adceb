"""A part as costing reads it: the `domain.Part` (volume, area, bbox, hull computed once on the part) with
the checks costing needs and its layer slices cached on the part for every machine, material and site.

Depends on numpy, `fabgrid.domain` and fabgrid.geometry.slice only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fabgrid.domain.part import Part
from fabgrid.errors import InputError
from fabgrid.geometry.slice import LayerStack, MeshArrays, SliceMesh, SliceSettings, slice_layers

__all__ = ["Part", "checked", "from_mesh", "part_layers"]


def checked(part: Part) -> Part:
    """`part` itself once it is fit for costing; raises InputError when it has no positive volume."""
    if len(part.faces) == 0:
        raise InputError(f"{part.name}: the mesh has no triangles", hint="export the part again",
                         code="costing.empty_mesh")
    volume = abs(part.volume_mm3)
    if not np.isfinite(volume) or volume <= 0:
        raise InputError(f"{part.name}: the mesh encloses no volume (not a closed solid)",
                         hint="repair the mesh so that it is watertight", code="costing.no_volume")
    return part


def from_mesh(mesh: Any, name: str = "part") -> Part:
    """A checked part of a `trimesh.Trimesh` (mm, +Z up; kept as the part's mesh, not to be modified)."""
    if len(mesh.faces) == 0:
        raise InputError(f"{name}: the mesh has no triangles", hint="export the part again",
                         code="costing.empty_mesh")
    return checked(Part.from_trimesh(mesh, name))


def _mesh(part: Part) -> SliceMesh:
    """What the slicer reads of the part: the trimesh it was made from, if any, else its arrays (the same values,
    without importing trimesh); made once per part."""
    made = part.__dict__.get("trimesh")  # Part.from_trimesh keeps the mesh (and what trimesh cached on it)
    return part.memo("costing.mesh", lambda: made if made is not None else MeshArrays(part.vertices, part.faces))


def part_layers(part: Part, settings: SliceSettings) -> LayerStack:
    """The part sliced with `settings` (cached on the part per settings)."""
    return part.memo(("costing.layers", settings), lambda: slice_layers(_mesh(part), settings))

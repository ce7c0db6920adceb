"""Typed records of a planned build: the parts placed in one machine's build volume or on its bed.

Produced by `fabgrid.nesting`, read by scheduling, the CLI, the API and the viewer.
No I/O, no database, no web.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fabgrid.domain.catalog import ProcessFamily

Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


class PartPlacement(BaseModel):
    """Where one copy of a part goes, in build coordinates (mm, origin at the volume's corner, Z up).

    ``rotation`` is the 3x3 rotation matrix (rows) applied to the part file's coordinates; the
    rotated part is then translated so that the minimum corner of its axis-aligned bounding box is
    (`x`, `y`, `z`). ``transform`` is the same placement as one 4x4 row-major matrix
    (``p_build = R @ p_file + t``), as written into the build's 3MF. ``support_volume_mm3`` is the
    space filled by the copy's support structures (metal PBF: under its overhangs and the lift band
    under it; 0 where the process has no modelled supports).
    """

    model_config = ConfigDict(frozen=True)

    part: str
    instance: int = Field(ge=1, default=1)
    x: float
    y: float
    z: float
    rotation: Matrix3
    transform: tuple[tuple[float, float, float, float], ...]
    size_mm: tuple[float, float, float]
    support_volume_mm3: float = Field(ge=0, default=0.0)


class Build(BaseModel):
    """One build (one machine run): the placed parts and how full it is.

    For powder-bed processes ``density`` is the parts' volume over footprint x ``height_mm``; for
    plate processes (FDM, SLA, metal PBF on the plate) it is the parts' footprint area over the bed.
    Metal PBF parts stand ``support_lift_mm`` above the plate on supports (``height_mm`` includes it);
    ``support_volume_mm3`` sums the placements' support volumes; ``support_overhang_deg`` is the
    overhang angle its supports were built for (None without modelled supports).
    """

    model_config = ConfigDict(frozen=True)

    machine_model: str
    process: ProcessFamily
    build_volume_mm: tuple[float, float, float]
    spacing_mm: float = Field(ge=0)
    height_mm: float = Field(ge=0)
    density: float = Field(ge=0, le=1)
    parts_volume_mm3: float = Field(ge=0)
    placements: tuple[PartPlacement, ...]
    support_volume_mm3: float = Field(ge=0, default=0.0)
    support_lift_mm: float = Field(ge=0, default=0.0)
    support_overhang_deg: float | None = Field(default=None, gt=0, lt=90)

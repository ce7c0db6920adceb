"""The typed records of a part's geometry facts, orientations and DFM findings (plain pydantic, no numpy).

Split from `domain.part` (the numpy `Part`) so that the API, the pages and the store can read reports
without loading numpy. Produced by `fabgrid.geometry`, read by DFM, costing, the API and the viewer.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from fabgrid.domain.catalog import ProcessFamily

Vec3 = tuple[float, float, float]


class Severity(StrEnum):
    """How much a finding matters: an error blocks ordering on that process or machine."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class DfmFinding(BaseModel):
    """One design-for-manufacturing finding with where it is and how to fix it."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    message: str
    fix: str
    process: ProcessFamily | None = None
    machine_model: str | None = None
    points_mm: list[Vec3] = Field(default_factory=list)
    face_indices: list[int] = Field(default_factory=list)
    value: float | None = None
    limit: float | None = None


class Orientation(BaseModel):
    """A candidate build orientation: the part's `up` direction becomes +Z."""

    model_config = ConfigDict(frozen=True)

    up: Vec3
    height_mm: float
    bbox_mm: Vec3
    overhang_area_mm2: float
    support_volume_mm3: float
    base_area_mm2: float


class PartGeometry(BaseModel):
    """The facts of a part (one body or the whole file), in mm."""

    model_config = ConfigDict(frozen=True)

    name: str
    units: str = "mm"
    triangles: int
    bodies: int
    bbox_mm: Vec3
    volume_mm3: float
    area_mm2: float
    convex_hull_volume_mm3: float
    center_mass_mm: Vec3
    watertight: bool
    winding_consistent: bool = True
    min_wall_mm: float | None = None
    orientations: list[Orientation] = Field(default_factory=list)

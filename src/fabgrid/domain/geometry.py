"""The full part-intake report: geometry facts, orientations, wall thickness, DFM findings, repairs.

Produced by `fabgrid.geometry.report`, returned by `fabgrid.services.analysis.analyze_file`, printed by
`fabgrid analyze --json`. Pydantic v2; no I/O, no database, no web.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fabgrid.domain.part_facts import DfmFinding, Orientation, PartGeometry, Severity, Vec3


class ThinRegion(BaseModel):
    """A cluster of sampled surface points whose wall is thinner than the threshold."""

    model_config = ConfigDict(frozen=True)

    min_wall_mm: float
    center_mm: Vec3
    points_mm: list[Vec3]
    face_indices: list[int]


class RepairOutcome(BaseModel):
    """The automatic repair of a part (`geometry.repair.auto_repair`): whether it was needed and applied
    (then the repaired mesh is the one analysed, viewed and quoted), the defect counts before and after,
    what it changed, and why it was not applied."""

    model_config = ConfigDict(frozen=True)

    needed: bool
    applied: bool
    before: dict[str, int] = Field(default_factory=dict)
    after: dict[str, int] = Field(default_factory=dict)
    changes: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    reason: str | None = None


class PartReport(BaseModel):
    """Everything part intake knows about one file (or one body with per-body analysis), in mm."""

    model_config = ConfigDict(frozen=True)

    name: str
    format: str
    units: str
    units_source: str = Field(description="file | user | assumed | guessed (a unit-less file read in the unit "
                                          "its size makes plausible)")
    triangles: int
    bodies: int
    objects: list[str] = Field(default_factory=list)
    bbox_mm: Vec3
    bbox_min_mm: Vec3
    volume_mm3: float
    area_mm2: float
    convex_hull_volume_mm3: float
    convex_hull_exact: bool = True
    center_mass_mm: Vec3
    watertight: bool
    winding_consistent: bool
    degenerate_faces: int = 0
    duplicate_faces: int = 0
    boundary_edges: int = 0
    boundary_loops: int = 0
    nonmanifold_edges: int = 0
    genus: int | None = None
    self_intersecting_faces: int | None = None
    self_intersections_checked: bool = False
    min_wall_mm: float | None = None
    min_wall_at_mm: Vec3 | None = None
    min_gap_mm: float | None = None
    thin_regions: list[ThinRegion] = Field(default_factory=list)
    thickness_samples: int = 0
    thickness_engine: str | None = None
    orientations: list[Orientation] = Field(default_factory=list)
    recommended_orientation: dict[str, Orientation] = Field(default_factory=dict)
    findings: list[DfmFinding] = Field(default_factory=list)
    orderable: dict[str, bool] = Field(default_factory=dict)
    machines_ok: dict[str, list[str]] = Field(default_factory=dict)
    repairs: list[str] | None = None
    auto_repair: RepairOutcome | None = None
    part: PartGeometry
    parts: list[PartReport] = Field(default_factory=list)
    timings_s: dict[str, float] = Field(default_factory=dict)

    def errors(self) -> list[DfmFinding]:
        """Findings that block ordering (on their process or machine, or everywhere when both are None)."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

"""Typed records of quality inspection: image anomaly results, layer checks, SPC, genealogy.

Produced by `fabgrid.quality`, read by services, the API, the web pages and the CLI.
Pydantic v2 models; no I/O, no database, no web.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, model_validator

# The quality records share the catalog's base: frozen, unknown keys are an error.
from fabgrid.domain.catalog import Record as QRecord


class Verdict(StrEnum):
    """The outcome of one inspection."""

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"


class ImageResult(QRecord):
    """Anomaly score of one image and the decision at the model's threshold."""

    image: str
    score: float
    defect: bool
    threshold: float
    heatmap: str | None = None


class LayerFindingKind(StrEnum):
    """What the layer check can find."""

    MISSING = "missing_material"
    EXCESS = "excess_material"
    SHIFT = "layer_shift"
    WARP = "warping"


class LayerFinding(QRecord):
    """One finding of a layer check, with its measured amount."""

    kind: LayerFindingKind
    message: str
    area_mm2: float = 0.0
    shift_mm: tuple[float, float] = (0.0, 0.0)
    centroid_mm: tuple[float, float] | None = None
    value: float | None = None
    limit: float | None = None


class LayerCheckResult(QRecord):
    """Result of comparing a camera image of a layer with the expected cross-section."""

    z_mm: float
    verdict: Verdict
    shift_mm: tuple[float, float]
    expected_area_mm2: float
    observed_area_mm2: float
    missing_area_mm2: float
    excess_area_mm2: float
    iou: float
    findings: list[LayerFinding] = Field(default_factory=list)


class Tolerance(QRecord):
    """A feature's nominal and limits; one-sided tolerances leave a limit out."""

    feature: str
    nominal_mm: float
    lsl_mm: float | None = None
    usl_mm: float | None = None

    @model_validator(mode="after")
    def _limits(self) -> Tolerance:
        if self.lsl_mm is None and self.usl_mm is None:
            raise ValueError(f"feature {self.feature!r}: give at least one of lsl_mm, usl_mm")
        if self.lsl_mm is not None and self.usl_mm is not None and self.lsl_mm >= self.usl_mm:
            raise ValueError(f"feature {self.feature!r}: lsl_mm must be below usl_mm")
        return self


class Capability(QRecord):
    """Process capability of one feature (None where a one-sided tolerance leaves it undefined)."""

    feature: str
    n: int
    mean_mm: float
    sigma_within_mm: float
    sigma_overall_mm: float
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None
    out_of_tolerance: int


class RuleViolation(QRecord):
    """A Western Electric rule broken at `index` (the point completing the pattern)."""

    rule: int
    index: int
    points: list[int]
    side: str
    message: str


class ControlChart(QRecord):
    """One control chart: plotted statistic, centre line and limits, and the rule violations."""

    kind: str
    center: float
    lcl: float
    ucl: float
    values: list[float]
    violations: list[RuleViolation] = Field(default_factory=list)


class SpcReport(QRecord):
    """SPC of one feature: capability, the two charts of its chart pair, and alarms."""

    feature: str
    subgroup_size: int
    capability: Capability
    location: ControlChart
    dispersion: ControlChart
    alarms: list[str] = Field(default_factory=list)


class Inspection(QRecord):
    """One inspection done on a part (image, layer, dimensional), with its outcome."""

    id: str
    kind: str
    at: datetime
    verdict: Verdict
    summary: str
    inspector: str | None = None
    measurements: dict[str, float] = Field(default_factory=dict)


class Genealogy(QRecord):
    """A part's genealogy: order -> build -> machine -> material lot -> operator -> inspections."""

    part_serial: str
    part_name: str
    order_id: str
    customer: str
    build_id: str
    site_id: str
    machine_id: str
    material_id: str
    material_lot: str
    operator: str
    built_at: datetime
    inspections: list[Inspection] = Field(default_factory=list)

    @model_validator(mode="after")
    def _utc(self) -> Genealogy:
        stamps = [self.built_at, *(i.at for i in self.inspections)]
        if any(t.tzinfo is None for t in stamps):
            raise ValueError(f"part {self.part_serial!r}: times must be timezone-aware (UTC)")
        return self

    @property
    def verdict(self) -> Verdict:
        """FAIL if any inspection failed, WARN if any warned, else PASS."""
        vs = {i.verdict for i in self.inspections}
        if Verdict.FAIL in vs:
            return Verdict.FAIL
        if Verdict.WARN in vs or not vs:
            return Verdict.WARN
        return Verdict.PASS
